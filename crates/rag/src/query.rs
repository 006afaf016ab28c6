//! A caller's question as the retriever reads it (issue "Knowledge base that understands
//! callers"): speech-to-text output rewritten and expanded, and its focus terms.
//!
//! - **Rewriting** ([`SpokenQuery::parse`]): lower case, filler removed (`um`, `you know`, `I was
//!   wondering`), spelled numbers as digits (`three` → `3`, as handbooks write them), `'s` and
//!   hyphens split.
//! - **Everyday synonyms** ([`EVERYDAY`]): a caller's word → the words a clinic handbook uses for
//!   it (`whereabouts` → `address location`, `cap` → `crown`). The expansion is added to the
//!   text that is embedded, and its words ground the question's focus terms. The list is general clinic vocabulary
//!   (front desk, access, payment, dental, physiotherapy and aesthetics terms), not the wording
//!   of any one handbook.
//! - **Focus terms** ([`SpokenQuery::focus`]): the words that name what is asked about — not
//!   function words, not the conversational words of [`GENERIC`] (`mum`, `today`, `weird`). A
//!   focus term is *grounded* in a knowledge base when the knowledge base uses its stem or the
//!   stem of one of its synonyms ([`Vocabulary`]). A question with an ungrounded focus term
//!   ("do you sell electric toothbrushes?" to a practice whose handbook never mentions them)
//!   asks about something the knowledge base does not cover, so it needs a much closer match
//!   before any context is given ([`crate::retrieve`]).

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use rust_stemmers::{Algorithm, Stemmer};

/// Words callers say that carry no meaning for retrieval.
const FILLER: &[&str] = &[
    "um",
    "umm",
    "uh",
    "uhm",
    "er",
    "erm",
    "hmm",
    "ah",
    "oh",
    "hi",
    "hello",
    "hiya",
    "yeah",
    "okay",
    "ok",
    "so",
    "well",
    "basically",
    "actually",
    "literally",
    "please",
    "then",
];

/// Filler phrases, removed before words are read.
const FILLER_PHRASES: &[&str] = &[
    "you know",
    "i mean",
    "i was wondering",
    "i wondered",
    "i was just wondering",
    "just wondering",
    "i wanted to ask",
    "i want to ask",
    "can you tell me",
    "could you tell me",
    "do you know",
    "sort of",
    "kind of",
];

/// Spelled numbers a speech-to-text engine may produce, as digits.
const NUMBERS: &[(&str, &str)] = &[
    ("zero", "0"),
    ("one", "1"),
    ("two", "2"),
    ("three", "3"),
    ("four", "4"),
    ("five", "5"),
    ("six", "6"),
    ("seven", "7"),
    ("eight", "8"),
    ("nine", "9"),
    ("ten", "10"),
    ("eleven", "11"),
    ("twelve", "12"),
    ("fifteen", "15"),
    ("twenty", "20"),
    ("thirty", "30"),
    ("forty", "40"),
    ("fifty", "50"),
    ("sixty", "60"),
    ("ninety", "90"),
    ("hundred", "100"),
];

/// Function words: never focus terms.
const STOPWORDS: &[&str] = &[
    "a",
    "about",
    "after",
    "again",
    "all",
    "along",
    "around",
    "also",
    "am",
    "an",
    "and",
    "any",
    "anyone",
    "anything",
    "are",
    "as",
    "at",
    "be",
    "because",
    "been",
    "before",
    "being",
    "between",
    "both",
    "but",
    "by",
    "can",
    "cannot",
    "could",
    "did",
    "do",
    "does",
    "doing",
    "done",
    "down",
    "during",
    "each",
    "either",
    "else",
    "even",
    "ever",
    "every",
    "for",
    "from",
    "further",
    "had",
    "has",
    "have",
    "having",
    "he",
    "her",
    "here",
    "hers",
    "him",
    "his",
    "how",
    "i",
    "if",
    "in",
    "into",
    "is",
    "it",
    "its",
    "just",
    "let",
    "me",
    "might",
    "mine",
    "more",
    "most",
    "much",
    "must",
    "my",
    "myself",
    "no",
    "nor",
    "not",
    "of",
    "off",
    "on",
    "once",
    "only",
    "or",
    "other",
    "our",
    "ours",
    "out",
    "over",
    "own",
    "same",
    "shall",
    "she",
    "should",
    "some",
    "someone",
    "something",
    "somewhere",
    "such",
    "than",
    "that",
    "the",
    "their",
    "them",
    "there",
    "these",
    "they",
    "this",
    "those",
    "through",
    "to",
    "too",
    "under",
    "until",
    "up",
    "us",
    "very",
    "was",
    "we",
    "were",
    "what",
    "whatever",
    "when",
    "where",
    "whether",
    "which",
    "while",
    "who",
    "whom",
    "whose",
    "why",
    "will",
    "with",
    "within",
    "without",
    "would",
    "yes",
    "you",
    "your",
    "yours",
    "yourself",
    "d",
    "ll",
    "m",
    "re",
    "s",
    "t",
    "ve",
    "don",
    "won",
    "isn",
    "aren",
    "doesn",
    "didn",
    "haven",
    "hasn",
    "wasn",
    "weren",
    "shouldn",
    "wouldn",
    "couldn",
    "ain",
];

/// Conversational words that describe the caller's situation rather than name what is asked
/// about: people, time, size, feelings and everyday verbs. Never focus terms.
const GENERIC: &[&str] = &[
    // people
    "mum",
    "mom",
    "mother",
    "dad",
    "father",
    "parent",
    "kid",
    "kids",
    "child",
    "children",
    "son",
    "daughter",
    "baby",
    "toddler",
    "teen",
    "teenager",
    "sister",
    "brother",
    "husband",
    "wife",
    "partner",
    "friend",
    "family",
    "nan",
    "gran",
    "grandma",
    "grandad",
    "grandmother",
    "grandfather",
    "boyfriend",
    "girlfriend",
    "person",
    "people",
    "somebody",
    "anybody",
    "everyone",
    "guy",
    "lady",
    "man",
    "woman",
    "mate",
    // time
    "today",
    "tonight",
    "tomorrow",
    "yesterday",
    "now",
    "soon",
    "later",
    "early",
    "late",
    "morning",
    "afternoon",
    "evening",
    "night",
    "day",
    "days",
    "week",
    "weeks",
    "weekday",
    "month",
    "months",
    "year",
    "years",
    "time",
    "times",
    "hour",
    "hours",
    "minute",
    "minutes",
    "moment",
    "middle",
    "first",
    "last",
    "next",
    "ago",
    "already",
    "still",
    "always",
    "never",
    "sometimes",
    "usually",
    "often",
    "exactly",
    "long",
    "quick",
    "quickly",
    "straight",
    "away",
    // size, kind, degree
    "big",
    "small",
    "little",
    "bit",
    "lot",
    "lots",
    "loads",
    "huge",
    "tiny",
    "best",
    "better",
    "good",
    "great",
    "bad",
    "worse",
    "worst",
    "normal",
    "usual",
    "regular",
    "standard",
    "basic",
    "extra",
    "new",
    "old",
    "different",
    "whole",
    "full",
    "half",
    "real",
    "really",
    "proper",
    "weird",
    "strange",
    "odd",
    "nice",
    "fine",
    "ok",
    "sure",
    "right",
    "wrong",
    "able",
    "possible",
    "likely",
    "near",
    "nearest",
    "close",
    "far",
    "anywhere",
    "everywhere",
    "thing",
    "things",
    "stuff",
    "kind",
    "sort",
    "type",
    "way",
    "ways",
    "many",
    "few",
    "several",
    "enough",
    "apart",
    "instead",
    "based",
    "located",
    "cheap",
    "cheaper",
    "cup",
    // feelings
    "happy",
    "unhappy",
    "sad",
    "worried",
    "scared",
    "afraid",
    "nervous",
    "sorry",
    "glad",
    // everyday verbs
    "get",
    "got",
    "getting",
    "go",
    "going",
    "gone",
    "went",
    "come",
    "coming",
    "came",
    "use",
    "used",
    "using",
    "make",
    "made",
    "making",
    "take",
    "took",
    "taken",
    "taking",
    "give",
    "gave",
    "given",
    "put",
    "putting",
    "see",
    "seen",
    "saw",
    "look",
    "looking",
    "want",
    "wanted",
    "need",
    "needed",
    "needs",
    "like",
    "liked",
    "know",
    "knew",
    "think",
    "thought",
    "say",
    "said",
    "tell",
    "told",
    "ask",
    "asked",
    "asking",
    "try",
    "tried",
    "help",
    "helps",
    "work",
    "works",
    "working",
    "happen",
    "happens",
    "happened",
    "keep",
    "kept",
    "leave",
    "left",
    "stay",
    "start",
    "started",
    "stop",
    "stopped",
    "bring",
    "bringing",
    "brought",
    "find",
    "found",
    "feel",
    "feeling",
    "felt",
    "talk",
    "talking",
    "speak",
    "speaking",
    "meant",
    "mean",
    "supposed",
    "allowed",
    "wear",
    "wearing",
    "buy",
    "bought",
    "pay",
    "paying",
    "paid",
    "fix",
    "sorted",
    "manage",
    "wait",
    "waiting",
    "ring",
    "call",
    "calling",
    "phone",
    "rid",
    "turn",
    "show",
    "book",
    "booking",
    "booked",
    "offer",
    "offers",
    "provide",
    "provided",
    "run",
    "running",
    "cover",
    "covered",
    "covering",
    "sell",
    "sells",
    "fit",
    "set",
    "pop",
    "drop",
    "nip",
    "grab",
    "hold",
    "reach",
    "cope",
    "hang",
    "head",
    "bother",
    "mind",
    "worry",
    "matter",
    "problem",
    "issue",
    "question",
    "idea",
    "chance",
    "place",
    "okay",
    "alright",
    "available",
    "roughly",
    "approximately",
    "pretty",
    "quite",
    "rather",
    "normally",
    "typically",
    "generally",
    "probably",
    "maybe",
    "perhaps",
    "definitely",
    "certainly",
    "honestly",
    "anyway",
    "though",
    "although",
    "yet",
    "entire",
    "per",
    "gonna",
    "wanna",
    "gotta",
    "explain",
    "guess",
    "suppose",
    "reckon",
    "hope",
    "wish",
    "plan",
    "planning",
    "thinking",
    "wondering",
    "curious",
    "interested",
    "fancy",
    "prefer",
    "choose",
    "pick",
    "decide",
    "alone",
    "together",
    "another",
    "everybody",
    "nobody",
    "nothing",
    "everything",
    "lovely",
    "thanks",
    "thank",
    "cheers",
    "hey",
    "excuse",
    "wonder",
    "stuck",
];

/// Everyday words and what clinic handbooks call them (see the module documentation).
/// Keys are single words, matched by stem (`weekends` finds `weekend`); values are added to
/// the query. Only true equivalents: mapping a caller's word to a merely related one would make
/// questions about things a clinic does not offer look covered.
pub const EVERYDAY: &[(&str, &str)] = &[
    // where, and getting there
    ("whereabouts", "address location find us"),
    ("address", "address location"),
    ("directions", "address location find us"),
    ("postcode", "address"),
    ("chemist", "pharmacy"),
    ("rail", "train station"),
    ("train", "station"),
    ("tube", "station underground"),
    ("metro", "station"),
    ("bus", "buses stop"),
    ("tram", "tram stop"),
    ("walk", "walk minutes"),
    ("car", "parking car park"),
    ("drive", "parking car park"),
    ("park", "parking car park"),
    ("parking", "car park"),
    ("badge", "blue badge"),
    ("disabled", "accessible access blue badge step-free"),
    ("disability", "accessible access blue badge step-free"),
    (
        "wheelchair",
        "accessible access step-free lift ground floor",
    ),
    ("mobility", "accessible access step-free lift ground floor"),
    ("frame", "accessible access step-free ground floor lift"),
    ("walker", "accessible access step-free ground floor lift"),
    ("crutches", "accessible access step-free ground floor lift"),
    ("scooter", "accessible access step-free ground floor lift"),
    ("stairs", "lift step-free ground floor"),
    ("steps", "lift step-free ground floor"),
    ("elevator", "lift"),
    ("ramp", "step-free access"),
    ("level", "ground floor step-free"),
    ("upstairs", "floor lift stairs"),
    ("pram", "pushchair step-free lift"),
    ("buggy", "pushchair step-free lift"),
    ("stroller", "pushchair step-free lift"),
    ("loo", "toilet"),
    ("bathroom", "toilet"),
    // when
    ("shut", "close closed closing opening hours"),
    ("close", "closed closing opening hours"),
    ("open", "opening hours"),
    ("hours", "opening hours"),
    ("weekend", "saturday sunday"),
    ("holiday", "bank holidays closed"),
    ("easter", "bank holidays"),
    ("christmas", "closed"),
    ("lunchtime", "opening hours"),
    ("evening", "evening opening hours"),
    // contact
    ("ring", "phone telephone call"),
    ("number", "phone telephone"),
    ("text", "message whatsapp sms"),
    ("message", "whatsapp text email"),
    ("whatsapp", "message"),
    ("zoom", "video online remote"),
    ("skype", "video online remote"),
    ("facetime", "video online remote"),
    ("teams", "video online remote"),
    ("virtual", "video online remote"),
    ("online", "online video website"),
    ("house", "home visit"),
    ("home", "home visit"),
    // joining, who
    ("register", "new patients registered"),
    ("join", "new patients joining"),
    ("accepting", "new patients welcoming"),
    ("gp", "doctor referral"),
    ("refer", "referral"),
    ("referral", "referral"),
    ("qualified", "registered qualification"),
    ("trained", "registered qualification"),
    ("physio", "physiotherapist physiotherapy"),
    ("dentist", "dentists"),
    // money
    ("cost", "price fee fees costs"),
    ("charge", "price fee fees costs"),
    ("price", "fee fees cost costs"),
    ("fee", "price cost costs"),
    ("expensive", "price fee cost"),
    ("afford", "payment plan finance spread cost monthly"),
    ("discount", "concession reduced off"),
    ("concession", "reduced off"),
    ("pensioner", "over 65 over-65s concession senior"),
    ("oap", "over 65 over-65s concession senior"),
    ("retired", "over 65 over-65s concession senior"),
    ("student", "students concession"),
    ("bundle", "package block course"),
    ("package", "block course"),
    ("cash", "cash card payment"),
    ("card", "card payment contactless"),
    ("credit", "card payment"),
    ("debit", "card payment"),
    ("contactless", "card payment"),
    ("cheque", "cheques payment"),
    ("instalment", "finance monthly spread"),
    ("installment", "finance monthly spread"),
    ("finance", "payment plan monthly spread"),
    ("monthly", "finance plan monthly"),
    ("subscription", "membership plan monthly"),
    ("spread", "finance monthly instalments"),
    ("free", "free charge no cost"),
    ("deposit", "deposit"),
    ("refund", "refund"),
    ("receipt", "receipt itemised"),
    ("claim", "insurance insurer receipt"),
    ("voucher", "gift voucher"),
    ("gift", "gift voucher"),
    ("present", "gift voucher"),
    ("bupa", "insurance insurer"),
    ("axa", "insurance insurer"),
    ("aviva", "insurance insurer"),
    ("vitality", "insurance insurer"),
    ("wpa", "insurance insurer"),
    ("insured", "insurance insurer"),
    ("excess", "insurance insurer"),
    // appointments
    ("miss", "missed no-show cancellation"),
    ("forget", "missed no-show cancellation"),
    ("cancel", "cancellation cancel notice"),
    ("rearrange", "reschedule change move appointment"),
    ("reschedule", "change move appointment"),
    ("postpone", "reschedule change move appointment"),
    ("notice", "cancellation notice"),
    ("reminder", "reminder text"),
    ("urgent", "emergency same day"),
    ("emergency", "emergency urgent"),
    ("asap", "emergency same day"),
    ("seen", "appointment"),
    ("session", "appointment"),
    ("slot", "appointment"),
    ("age", "age under 18 eighteen"),
    ("old", "age under 18 eighteen"),
    ("id", "photo id"),
    ("passport", "photo id"),
    ("licence", "photo id"),
    ("complaint", "complaints feedback unhappy"),
    ("complain", "complaints feedback unhappy"),
    ("unhappy", "complaints feedback"),
    // dental
    ("cap", "crown"),
    ("cleaned", "hygienist clean scale polish"),
    ("clean", "hygienist scale polish"),
    ("scale", "hygienist"),
    ("polish", "hygienist"),
    ("checkup", "check-up examination"),
    ("check", "check-up examination"),
    ("gum", "gums hygienist"),
    ("braces", "orthodontic aligners straightening"),
    ("straighten", "orthodontic aligners straightening"),
    ("crooked", "orthodontic aligners straightening"),
    ("retainer", "aligners"),
    ("invisalign", "aligners orthodontic"),
    ("whiten", "whitening"),
    ("whiter", "whitening"),
    ("bleach", "whitening"),
    ("yellow", "whitening"),
    ("stain", "whitening"),
    ("toothache", "pain emergency"),
    ("throbbing", "pain emergency"),
    ("killing", "pain emergency"),
    ("agony", "pain emergency"),
    ("hurt", "pain"),
    ("sore", "pain"),
    ("ache", "pain"),
    ("abscess", "swelling pain emergency"),
    ("chipped", "broken tooth emergency"),
    ("cracked", "broken tooth emergency"),
    ("snapped", "broken tooth emergency"),
    ("pulled", "extraction"),
    ("extract", "extraction"),
    ("wisdom", "extraction"),
    ("nerve", "root canal"),
    ("xray", "x-rays"),
    ("terrified", "nervous anxious sedation"),
    ("scared", "nervous anxious sedation"),
    ("frightened", "nervous anxious sedation"),
    ("phobia", "nervous anxious sedation"),
    ("anxiety", "nervous anxious"),
    ("sleep", "sedation"),
    ("asleep", "sedation"),
    ("sedated", "sedation"),
    ("numb", "anaesthetic numbness"),
    ("tea", "hot drinks"),
    ("coffee", "hot drinks"),
    ("eat", "eating chewing meals"),
    ("chew", "chewing"),
    ("rinse", "rinse mouthwash"),
    ("mouthwash", "rinse"),
    ("kids", "children child"),
    ("kid", "children child"),
    ("child", "children"),
    ("son", "children child"),
    ("daughter", "children child"),
    ("toddler", "children"),
    ("baby", "children first birthday"),
    ("teenager", "under 18 under-16s"),
    // physiotherapy
    ("needles", "acupuncture dry needling"),
    ("gait", "running analysis"),
    ("run", "running analysis gait"),
    ("runner", "running analysis gait"),
    ("jog", "running analysis gait"),
    ("marathon", "running analysis gait"),
    ("sport", "sports"),
    ("football", "sports"),
    ("injury", "injury rehabilitation"),
    ("injured", "injury rehabilitation"),
    ("operation", "surgery post-operative"),
    ("op", "surgery post-operative"),
    ("replacement", "surgery post-operative replacement"),
    ("rehab", "rehabilitation"),
    ("heel", "plantar fasciitis"),
    ("tendonitis", "tendon"),
    ("solicitor", "solicitor personal injury"),
    ("lawyer", "solicitor personal injury"),
    ("accident", "personal injury"),
    ("pregnant", "pregnancy antenatal"),
    ("pregnancy", "antenatal postnatal pregnant"),
    ("birth", "postnatal pelvic"),
    ("bladder", "pelvic floor continence"),
    ("leaking", "pelvic floor continence bladder"),
    ("thinners", "anticoagulants warfarin blood-thinning"),
    ("warfarin", "anticoagulants blood-thinning"),
    ("class", "classes"),
    ("group", "classes groups"),
    ("exercise", "exercise classes"),
    ("clothes", "wear clothing"),
    ("shorts", "wear clothing"),
    ("pool", "hydrotherapy swimming"),
    ("below", "numbness groin bladder bowel"),
    ("adjustment", "chiropractic manipulation"),
    ("crack", "chiropractic manipulation"),
    // aesthetics
    ("botox", "anti-wrinkle injections"),
    ("wrinkle", "anti-wrinkle"),
    ("lines", "anti-wrinkle"),
    ("frown", "anti-wrinkle"),
    ("forehead", "anti-wrinkle area"),
    ("injectables", "injections filler anti-wrinkle"),
    ("lip", "lip filler"),
    ("filler", "dermal filler"),
    ("peel", "chemical peel"),
    ("needling", "microneedling"),
    ("profhilo", "skin booster"),
    ("facial", "facials hydrafacial"),
    ("shave", "shaving laser hair removal"),
    ("wax", "waxing laser hair removal"),
    ("gym", "exercise strenuous"),
    ("workout", "exercise strenuous"),
    ("swim", "swimming pool chlorine"),
    ("sunbed", "sun tanning"),
    ("tan", "sun tanning"),
    ("sunbathe", "sun"),
    ("alcohol", "alcohol drink"),
    ("booze", "alcohol drink"),
    ("makeup", "makeup"),
    ("swollen", "swelling"),
    ("bruise", "bruising bruises"),
    ("breastfeeding", "breastfeeding pregnant"),
    ("feeding", "breastfeeding"),
    ("colour", "discolouration blanching"),
    ("skin", "skin tones"),
    ("dark", "skin tones"),
    ("brown", "skin tones"),
    ("result", "results"),
    ("last", "lasts"),
    ("touch", "top-up review"),
];

/// A caller's question, rewritten (see the module documentation).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpokenQuery {
    /// The question rewritten: filler removed, numbers as digits, lower case.
    pub text: String,
    /// Handbook words for the caller's everyday words ([`EVERYDAY`]), space-separated.
    pub expansion: String,
    /// Stems of the words that name what is asked about, each with the stems of its synonyms.
    pub focus: Vec<FocusTerm>,
}

/// A word naming what is asked about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FocusTerm {
    /// As said.
    pub word: String,
    /// Its stem.
    pub stem: String,
    /// Stems of its everyday synonyms.
    pub synonyms: Vec<String>,
}

fn stemmer() -> Stemmer {
    Stemmer::create(Algorithm::English)
}

/// Lower-case words of `text`: runs of letters and digits (`what's` → `what`, `s`).
#[must_use]
pub fn words(text: &str) -> Vec<String> {
    text.to_lowercase()
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

/// [`EVERYDAY`] by the stem of its keys.
fn lexicon() -> &'static HashMap<String, &'static str> {
    static LEXICON: OnceLock<HashMap<String, &'static str>> = OnceLock::new();
    LEXICON.get_or_init(|| {
        let stemmer = stemmer();
        EVERYDAY
            .iter()
            .map(|(word, synonyms)| (stemmer.stem(word).into_owned(), *synonyms))
            .collect()
    })
}

impl SpokenQuery {
    /// Rewrites `question` and finds its focus terms.
    #[must_use]
    pub fn parse(question: &str) -> Self {
        let mut lowered = format!(" {} ", words(question).join(" "));
        for phrase in FILLER_PHRASES {
            lowered = lowered.replace(&format!(" {phrase} "), " ");
        }
        // Numbers as digits; the spelled word stays in the expansion, as handbooks use both.
        let mut expansion: Vec<&str> = Vec::new();
        let said: Vec<String> = words(&lowered)
            .into_iter()
            .filter(|w| !FILLER.contains(&w.as_str()))
            .map(|w| match NUMBERS.iter().find(|(n, _)| *n == w) {
                Some((spelled, digits)) => {
                    expansion.push(spelled);
                    (*digits).to_owned()
                }
                None => w,
            })
            .collect();
        let stemmer = stemmer();
        let mut focus = Vec::new();
        for word in &said {
            let stem = stemmer.stem(word).into_owned();
            let synonyms = lexicon().get(&stem).copied();
            if let Some(s) = synonyms
                && !expansion.contains(&s)
            {
                expansion.push(s);
            }
            let generic = STOPWORDS.contains(&word.as_str())
                || GENERIC.contains(&word.as_str())
                || word.chars().all(|c| c.is_ascii_digit())
                || word.chars().count() < 2;
            if !generic {
                focus.push(FocusTerm {
                    word: word.clone(),
                    stem,
                    synonyms: synonyms
                        .map(|s| {
                            words(s)
                                .iter()
                                .map(|w| stemmer.stem(w).into_owned())
                                .collect()
                        })
                        .unwrap_or_default(),
                });
            }
        }
        Self {
            text: said.join(" "),
            expansion: expansion.join(" "),
            focus,
        }
    }

    /// The text that is embedded: the rewritten question, then its expansion.
    #[must_use]
    pub fn embedding_text(&self) -> String {
        if self.expansion.is_empty() {
            self.text.clone()
        } else {
            format!("{} ({})", self.text, self.expansion)
        }
    }

    /// Focus terms that `vocabulary` does not use, not even through a synonym.
    #[must_use]
    pub fn ungrounded<'a>(&'a self, vocabulary: &Vocabulary) -> Vec<&'a FocusTerm> {
        self.focus
            .iter()
            .filter(|t| !vocabulary.grounds(t))
            .collect()
    }
}

/// The words and stems a knowledge base uses (built with its in-memory index).
#[derive(Debug, Clone, Default)]
pub struct Vocabulary {
    /// Words and their stems.
    stems: HashSet<String>,
}

impl Vocabulary {
    /// The words of `texts` and their stems.
    pub fn new<'a>(texts: impl IntoIterator<Item = &'a str>) -> Self {
        let stemmer = stemmer();
        let mut stems = HashSet::new();
        for text in texts {
            for word in words(text) {
                let stem = stemmer.stem(&word).into_owned();
                if !stems.contains(&stem) {
                    stems.insert(stem);
                }
                if !stems.contains(&word) {
                    stems.insert(word);
                }
            }
        }
        Self { stems }
    }

    /// Whether the knowledge base uses `term` (its word or stem), one of its synonyms, or a
    /// compound that starts or ends with its word (`hydrafacial` for `facial`, `breastfeeding`
    /// for `feeding`; words of at least four letters, the compound at least three longer, so
    /// `heart` does not ground `hear`).
    #[must_use]
    pub fn grounds(&self, term: &FocusTerm) -> bool {
        self.stems.contains(&term.stem)
            || self.stems.contains(&term.word)
            || term.synonyms.iter().any(|s| self.stems.contains(s))
            || self.in_compound(&term.word)
            || self.misheard(&term.word)
    }

    /// Whether `word` is a speech-to-text misspelling of a word the knowledge base uses: one
    /// edit away for words of 5–7 letters, two for longer ones (`hygenist` for `hygienist`).
    fn misheard(&self, word: &str) -> bool {
        let n = word.chars().count();
        let most = match n {
            0..=4 => return false,
            5..=7 => 1,
            _ => 2,
        };
        self.stems.iter().any(|s| {
            s.len().abs_diff(word.len()) <= most
                && s.chars().count() >= 5
                && strsim::levenshtein(s, word) <= most
        })
    }

    fn in_compound(&self, word: &str) -> bool {
        let n = word.len();
        n >= 4
            && self
                .stems
                .iter()
                .any(|s| s.len() >= n + 3 && (s.starts_with(word) || s.ends_with(word)))
    }

    /// Distinct words and stems.
    #[must_use]
    pub fn len(&self) -> usize {
        self.stems.len()
    }

    /// Approximate memory in bytes.
    #[must_use]
    pub fn bytes(&self) -> usize {
        self.stems.iter().map(|s| s.len() + 32).sum()
    }

    /// Whether there are none.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.stems.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filler_goes_numbers_become_digits_and_everyday_words_are_expanded() {
        let q =
            SpokenQuery::parse("Um, I was wondering, how much for three areas of anti-wrinkle?");
        assert_eq!(q.text, "how much for 3 areas of anti wrinkle");
        let q = SpokenQuery::parse("whereabouts are you, is it near the chemist");
        assert!(q.expansion.contains("address location"));
        assert!(q.expansion.contains("pharmacy"));
        assert_eq!(q.embedding_text(), format!("{} ({})", q.text, q.expansion));
    }

    #[test]
    fn focus_terms_leave_out_function_and_conversational_words() {
        let q = SpokenQuery::parse("can my mum bring her dog along today");
        let focus: Vec<&str> = q.focus.iter().map(|t| t.word.as_str()).collect();
        assert_eq!(focus, vec!["dog"]);
    }

    #[test]
    fn a_term_is_grounded_by_its_stem_a_synonym_or_a_compound() {
        let vocabulary = Vocabulary::new([
            "Crowns from £650. Breastfeeding mothers: no injections. Our hygienist.",
        ]);
        let q = SpokenQuery::parse("how much is a cap, and what about while feeding");
        assert!(
            q.ungrounded(&vocabulary).is_empty(),
            "{:?}",
            q.ungrounded(&vocabulary)
        );
        let q = SpokenQuery::parse("do you sell electric toothbrushes");
        let missing: Vec<&str> = q
            .ungrounded(&vocabulary)
            .iter()
            .map(|t| t.word.as_str())
            .collect();
        assert_eq!(missing, vec!["electric", "toothbrushes"]);
        let q = SpokenQuery::parse("hygenist");
        assert!(q.ungrounded(&vocabulary).is_empty(), "misheard");
        let q = SpokenQuery::parse("do you do crowbars");
        assert_eq!(
            q.ungrounded(&vocabulary).len(),
            1,
            "two edits from a 6-letter word"
        );
    }
}
