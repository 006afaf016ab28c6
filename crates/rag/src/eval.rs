//! The quality harness behind `cargo xtask rag-eval`: a clinic knowledge base
//! (`eval/clinic.md`: location, hours, prices, team, policies, aftercare) and caller questions
//! phrased the way people talk (`eval/questions.json`), each labelled with the section whose
//! chunk answers it, plus questions the knowledge base cannot answer.
//!
//! Metrics are over what [`KnowledgeBase::retrieve`] returns to the agent (at most 5 chunks and
//! 2000 characters): recall@5 is the share of questions whose expected chunk is returned; MRR is
//! the mean of 1/rank of the first expected chunk (0 when missing).
//!
//! [`handbooks`] adds three handbooks written for the evaluation (`eval/handbooks/`), each with
//! a tuning and a held-back question set labelled by the facts that answer them; scored by
//! [`KnowledgeBase::evaluate_callers`] (recall@5, MRR, answer-in-context, false-context).

use db::OrgId;
use serde::Deserialize;

use crate::{KnowledgeBase, RagError};

/// The clinic knowledge base (Markdown).
pub const CLINIC_KB: &str = include_str!("../eval/clinic.md");
const QUESTIONS: &str = include_str!("../eval/questions.json");

/// One labelled question.
#[derive(Debug, Clone, Deserialize)]
pub struct Question {
    /// As a caller would say it.
    pub q: String,
    /// Section title(s) whose chunk answers it.
    #[serde(deserialize_with = "one_or_many")]
    pub expect: Vec<String>,
}

fn one_or_many<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match OneOrMany::deserialize(d)? {
        OneOrMany::One(s) => vec![s],
        OneOrMany::Many(v) => v,
    })
}

/// The labelled set.
#[derive(Debug, Clone, Deserialize)]
pub struct EvalSet {
    /// Answerable questions.
    pub questions: Vec<Question>,
    /// Questions about things the knowledge base does not cover (must find nothing).
    pub unanswerable: Vec<String>,
    /// Questions the knowledge base does not answer but touches (car insurance against the
    /// health-insurance section): what they find is reported, not scored.
    #[serde(default)]
    pub adjacent: Vec<String>,
}

/// The built-in clinic set.
///
/// # Panics
/// Never for the file shipped in the crate (a unit test parses it).
#[must_use]
pub fn clinic_set() -> EvalSet {
    serde_json::from_str(QUESTIONS).expect("eval/questions.json is valid")
}

/// What an evaluation measured.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalReport {
    /// The embedding model.
    pub model: String,
    /// Answerable questions asked.
    pub questions: usize,
    /// Share whose expected chunk was returned (0..1).
    pub recall_at_5: f64,
    /// Mean reciprocal rank (0..1).
    pub mrr: f64,
    /// Unanswerable questions asked.
    pub unanswerable: usize,
    /// Unanswerable questions that wrongly found something, with what they found.
    pub false_finds: Vec<(String, String)>,
    /// Answerable questions whose chunk was missed, with the first heading returned.
    pub misses: Vec<(String, String)>,
    /// Adjacent questions with what they found (`(nothing)` when nothing).
    pub adjacent: Vec<(String, String)>,
}

fn section_of(heading: &str) -> &str {
    heading.rsplit(" > ").next().unwrap_or(heading)
}

impl KnowledgeBase {
    /// Asks every question of `set` for `org` (whose knowledge base must hold
    /// [`CLINIC_KB`]) and scores the answers.
    ///
    /// # Errors
    /// As [`KnowledgeBase::retrieve`].
    pub async fn evaluate(&self, org: OrgId, set: &EvalSet) -> Result<EvalReport, RagError> {
        let mut hits = 0usize;
        let mut reciprocal = 0f64;
        let mut misses = Vec::new();
        for question in &set.questions {
            let found = self.retrieve(org, &question.q).await?;
            let rank = found
                .chunks
                .iter()
                .position(|c| question.expect.iter().any(|e| section_of(&c.heading) == e));
            match rank {
                Some(r) => {
                    hits += 1;
                    reciprocal += 1.0 / (r as f64 + 1.0);
                }
                None => misses.push((
                    question.q.clone(),
                    found.chunks.first().map_or("(nothing)".to_owned(), |c| {
                        section_of(&c.heading).to_owned()
                    }),
                )),
            }
        }
        let mut false_finds = Vec::new();
        for q in &set.unanswerable {
            if let Some(found) = self.first_found(org, q).await? {
                false_finds.push((q.clone(), found));
            }
        }
        let mut adjacent = Vec::new();
        for q in &set.adjacent {
            let found = self.first_found(org, q).await?;
            adjacent.push((q.clone(), found.unwrap_or_else(|| "(nothing)".into())));
        }
        let n = set.questions.len().max(1) as f64;
        Ok(EvalReport {
            model: self.model().id.clone(),
            questions: set.questions.len(),
            recall_at_5: hits as f64 / n,
            mrr: reciprocal / n,
            unanswerable: set.unanswerable.len(),
            false_finds,
            misses,
            adjacent,
        })
    }

    /// The first chunk `query` finds, as `section (similarity)`.
    async fn first_found(&self, org: OrgId, query: &str) -> Result<Option<String>, RagError> {
        let found = self.retrieve(org, query).await?;
        Ok(found
            .chunks
            .first()
            .map(|c| format!("{} ({:.3})", section_of(&c.heading), c.similarity)))
    }
}

/// A caller's question about one of the evaluation handbooks (`eval/handbooks/README.md`).
#[derive(Debug, Clone, Deserialize)]
pub struct CallerQuestion {
    /// As a caller would say it.
    pub q: String,
    /// Phrases of the handbook that answer it, all needed (empty when unanswerable).
    #[serde(default)]
    pub facts: Vec<String>,
}

impl CallerQuestion {
    /// Whether the handbook answers it.
    #[must_use]
    pub fn answerable(&self) -> bool {
        !self.facts.is_empty()
    }

    /// Whether `text` holds every fact (case does not matter).
    #[must_use]
    pub fn answered_by(&self, text: &str) -> bool {
        let text = text.to_lowercase();
        self.facts.iter().all(|f| text.contains(&f.to_lowercase()))
    }
}

#[derive(Deserialize)]
struct QuestionFile {
    questions: Vec<CallerQuestion>,
}

/// One evaluation handbook with its tuning and held-back questions.
#[derive(Debug, Clone)]
pub struct Handbook {
    /// File name, e.g. `harbourview-dental.md`.
    pub name: &'static str,
    /// The handbook (Markdown).
    pub text: &'static str,
    /// Questions tuning may look at.
    pub tuning: Vec<CallerQuestion>,
    /// Questions for measurement only.
    pub heldback: Vec<CallerQuestion>,
}

macro_rules! handbook {
    ($name:literal) => {
        (
            concat!($name, ".md"),
            include_str!(concat!("../eval/handbooks/", $name, ".md")),
            include_str!(concat!("../eval/handbooks/", $name, ".tuning.json")),
            include_str!(concat!("../eval/handbooks/", $name, ".heldback.json")),
        )
    };
}

/// The three evaluation handbooks (prose, lists and tables, FAQ) and their questions.
///
/// # Panics
/// Never for the files shipped in the crate (a unit test parses them).
#[must_use]
pub fn handbooks() -> Vec<Handbook> {
    let parse = |json: &str| -> Vec<CallerQuestion> {
        serde_json::from_str::<QuestionFile>(json)
            .expect("eval/handbooks question files are valid")
            .questions
    };
    [
        handbook!("harbourview-dental"),
        handbook!("northside-physio"),
        handbook!("glow-skin-faq"),
    ]
    .into_iter()
    .map(|(name, text, tuning, heldback)| Handbook {
        name,
        text,
        tuning: parse(tuning),
        heldback: parse(heldback),
    })
    .collect()
}

/// What one question set measured.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SetReport {
    /// Answerable questions.
    pub answerable: usize,
    /// Unanswerable questions.
    pub unanswerable: usize,
    /// Share of answerable questions whose facts are all in the returned chunks (0..1).
    pub recall_at_5: f64,
    /// Mean of 1/rank of the first chunk holding the first fact (0..1).
    pub mrr: f64,
    /// Share of answerable questions whose facts are all in the context the agent receives,
    /// after the 2,000-character cut (0..1).
    pub answer_in_context: f64,
    /// Share of unanswerable questions that got context anyway (0..1).
    pub false_context: f64,
    /// Answerable questions whose answer did not reach the context, with the first heading
    /// returned.
    pub misses: Vec<(String, String)>,
    /// Unanswerable questions that got context, with the first heading returned.
    pub false_finds: Vec<(String, String)>,
}

impl KnowledgeBase {
    /// Asks `questions` for `org` (whose knowledge base holds their handbook) and scores what
    /// the agent would receive ([`SetReport`]).
    ///
    /// # Errors
    /// As [`KnowledgeBase::retrieve`].
    pub async fn evaluate_callers(
        &self,
        org: OrgId,
        questions: &[CallerQuestion],
    ) -> Result<SetReport, RagError> {
        let mut report = SetReport::default();
        let (mut recalled, mut in_context, mut reciprocal, mut false_found) = (0, 0, 0f64, 0);
        for question in questions {
            let found = self.retrieve(org, &question.q).await?;
            let first = found
                .chunks
                .first()
                .map_or("(nothing)".to_owned(), |c| c.heading.clone());
            if !question.answerable() {
                report.unanswerable += 1;
                if found.found() {
                    false_found += 1;
                    report.false_finds.push((question.q.clone(), first));
                }
                continue;
            }
            report.answerable += 1;
            let texts: Vec<String> = found.chunks.iter().map(|c| c.text()).collect();
            if question.answered_by(&texts.join("\n")) {
                recalled += 1;
            }
            let first_fact = CallerQuestion {
                q: String::new(),
                facts: question.facts[..1].to_vec(),
            };
            if let Some(rank) = texts.iter().position(|t| first_fact.answered_by(t)) {
                reciprocal += 1.0 / (rank as f64 + 1.0);
            }
            if question.answered_by(&found.context) {
                in_context += 1;
            } else {
                report.misses.push((question.q.clone(), first));
            }
        }
        let share = |n: usize, of: usize| n as f64 / of.max(1) as f64;
        report.recall_at_5 = share(recalled, report.answerable);
        report.mrr = reciprocal / report.answerable.max(1) as f64;
        report.answer_in_context = share(in_context, report.answerable);
        report.false_context = share(false_found, report.unanswerable);
        Ok(report)
    }
}

/// One tuning question as calibration sees it: retrieved with both thresholds at 0.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CalibrationPoint {
    /// The best chunk's score (-1 when the knowledge base is empty).
    pub score: f32,
    /// Whether the question has a focus term the knowledge base never uses.
    pub ungrounded: bool,
    /// `Some(true)`: answerable, and its answer reaches the context when a chunk is given;
    /// `Some(false)`: unanswerable; `None`: answerable but missed at any threshold (left out).
    pub wanted: Option<bool>,
}

/// Thresholds fitted on calibration points ([`fit_thresholds`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FittedThresholds {
    /// For questions whose focus terms the knowledge base uses.
    pub similarity: f32,
    /// For questions with a focus term it never uses.
    pub ungrounded: f32,
}

/// Margin kept under the lowest wanted score (or over the highest unwanted one) when one
/// class is empty.
const FIT_MARGIN: f32 = 0.01;

/// The cut between `wanted` and `unwanted` scores that decides most questions right; among
/// equally good cuts, the middle of the widest gap.
#[must_use]
pub fn fit_cut(wanted: &[f32], unwanted: &[f32]) -> f32 {
    match (wanted.is_empty(), unwanted.is_empty()) {
        (true, true) => 0.0,
        (false, true) => wanted.iter().copied().fold(f32::MAX, f32::min) - FIT_MARGIN,
        (true, false) => unwanted.iter().copied().fold(f32::MIN, f32::max) + FIT_MARGIN,
        (false, false) => {
            let mut all: Vec<f32> = wanted.iter().chain(unwanted).copied().collect();
            all.sort_by(f32::total_cmp);
            let right = |cut: f32| {
                wanted.iter().filter(|s| **s >= cut).count()
                    + unwanted.iter().filter(|s| **s < cut).count()
            };
            let mut best = (0usize, f32::MIN, 0.0f32);
            for pair in all.windows(2) {
                let (low, high) = (pair[0], pair[1]);
                let cut = (low + high) / 2.0;
                let candidate = (right(cut), high - low, cut);
                if (candidate.0, candidate.1) > (best.0, best.1) {
                    best = candidate;
                }
            }
            best.2
        }
    }
}

/// Fits both thresholds on `points` (issue "Knowledge base that understands callers": fitted
/// per local model on the tuning set).
#[must_use]
pub fn fit_thresholds(points: &[CalibrationPoint]) -> FittedThresholds {
    let class = |ungrounded: bool, wanted: bool| -> Vec<f32> {
        points
            .iter()
            .filter(|p| p.ungrounded == ungrounded && p.wanted == Some(wanted))
            .map(|p| p.score)
            .collect()
    };
    let similarity = fit_cut(&class(false, true), &class(false, false));
    let ungrounded = fit_cut(&class(true, true), &class(true, false)).max(similarity);
    FittedThresholds {
        similarity,
        ungrounded,
    }
}

impl KnowledgeBase {
    /// Calibration points of `questions` for `org`. Build this knowledge base with both
    /// thresholds at 0 so that every question gets its best chunk.
    ///
    /// # Errors
    /// As [`KnowledgeBase::retrieve`].
    pub async fn calibration_points(
        &self,
        org: OrgId,
        questions: &[CallerQuestion],
    ) -> Result<Vec<CalibrationPoint>, RagError> {
        let mut points = Vec::with_capacity(questions.len());
        for question in questions {
            let found = self.retrieve(org, &question.q).await?;
            let wanted = if question.answerable() {
                question.answered_by(&found.context).then_some(true)
            } else {
                Some(false)
            };
            points.push(CalibrationPoint {
                score: found.chunks.first().map_or(-1.0, |c| c.similarity),
                ungrounded: !found.ungrounded.is_empty(),
                wanted,
            });
        }
        Ok(points)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_fitted_cut_decides_most_right_in_the_middle_of_the_widest_gap() {
        use super::fit_cut;
        assert!((fit_cut(&[0.5, 0.6, 0.7], &[0.2, 0.3]) - 0.4).abs() < 1e-6);
        // One unwanted score among the wanted: the cut that decides 4 of 5 right.
        let cut = fit_cut(&[0.3, 0.5, 0.6, 0.7], &[0.4]);
        assert!(
            (0.3..0.4).contains(&cut) || (0.4..0.5).contains(&cut),
            "{cut}"
        );
        assert!((fit_cut(&[0.3, 0.5], &[]) - 0.29).abs() < 1e-6);
        assert!((fit_cut(&[], &[0.3]) - 0.31).abs() < 1e-6);
    }

    #[test]
    fn every_handbook_fact_is_in_its_handbook() {
        let books = super::handbooks();
        assert_eq!(books.len(), 3);
        let (mut all, mut unanswerable) = (0, 0);
        for book in &books {
            for q in book.tuning.iter().chain(&book.heldback) {
                all += 1;
                if !q.answerable() {
                    unanswerable += 1;
                }
                for fact in &q.facts {
                    assert!(
                        book.text.to_lowercase().contains(&fact.to_lowercase()),
                        "{}: {fact}",
                        book.name
                    );
                }
            }
        }
        assert!(all >= 200, "{all} questions");
        assert!(
            unanswerable * 100 >= all * 15,
            "{unanswerable} of {all} unanswerable"
        );
    }

    #[test]
    fn the_clinic_set_parses_and_every_label_names_a_section_of_the_knowledge_base() {
        let set = super::clinic_set();
        assert!(set.questions.len() >= 40);
        assert!(set.unanswerable.len() >= 5);
        for q in &set.questions {
            for e in &q.expect {
                assert!(super::CLINIC_KB.contains(&format!("## {e}\n")), "{e}");
            }
        }
    }
}
