//! Structure-aware chunking: a document is split into sections at its headings (Markdown `#`
//! headings; in plain text and PDF text, a short stand-alone line without closing punctuation),
//! and each section into chunks of whole paragraphs (whole sentences when a paragraph is too
//! long). Consecutive chunks of one section overlap by their boundary sentence.
//!
//! Sizes suit all-MiniLM-L6-v2, which reads at most 256 word pieces (about 1,000 characters of
//! English): a chunk aims at [`TARGET_CHARS`] and never exceeds [`MAX_CHARS`] plus the overlap.
//! Each chunk keeps its section path (`Pricing > Injectables`), which is embedded and searched
//! with it; a document title that every section sits under is left out of the path (measured on
//! the clinic set: "Where are you located?" scores 0.204 against its chunk with the title in
//! the path and 0.274 without).

/// A chunk grows to about this many characters.
pub const TARGET_CHARS: usize = 700;
/// A chunk (without overlap) never exceeds this many characters unless a single sentence does.
pub const MAX_CHARS: usize = 1000;
/// At most this many characters of the previous chunk are repeated at the start of the next.
pub const MAX_OVERLAP_CHARS: usize = 200;

/// One chunk of a document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chunk {
    /// Position in the document, from 0.
    pub ordinal: usize,
    /// Section path, headings joined with ` > ` (empty before the first heading).
    pub heading: String,
    /// The chunk's text.
    pub content: String,
}

impl Chunk {
    /// The text that is embedded: the section path, then the content.
    #[must_use]
    pub fn embedding_text(&self) -> String {
        if self.heading.is_empty() {
            self.content.clone()
        } else {
            format!("{}\n{}", self.heading, self.content)
        }
    }
}

/// A chunk has at most this many passages ([`passages`]).
pub const MAX_PASSAGES: usize = 24;

impl Chunk {
    /// The texts of its passages as they are embedded: `Section path: passage`.
    #[must_use]
    pub fn passage_texts(&self) -> Vec<String> {
        passages(&self.content)
            .into_iter()
            .map(|p| crate::retrieve::chunk_text(&self.heading, &p))
            .collect()
    }
}

/// The passages of a chunk's `content`, each scored on its own at query time (a caller's
/// question usually matches one sentence, list item or table row, and a whole chunk's vector
/// dilutes it): sentences of each paragraph (consecutive lines), each list item without its
/// marker, and table rows as `Header: cell, Header: cell`. At most [`MAX_PASSAGES`].
#[must_use]
pub fn passages(content: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut header: Vec<String> = Vec::new();
    // Consecutive plain lines are one paragraph (PDF text wraps sentences across lines).
    let mut paragraph = String::new();
    let flush = |paragraph: &mut String, out: &mut Vec<String>| {
        out.extend(
            sentences(paragraph)
                .into_iter()
                .filter(|s| s.chars().count() >= 3),
        );
        paragraph.clear();
    };
    let lines: Vec<&str> = content.lines().map(str::trim).collect();
    for (i, line) in lines.iter().enumerate() {
        let item = line.strip_prefix(['-', '*', '•']).map(str::trim_start);
        if line.is_empty() || line.starts_with('|') || item.is_some() {
            flush(&mut paragraph, &mut out);
        }
        if let Some(item) = item {
            paragraph.push_str(item);
            continue;
        }
        if line.starts_with('|') {
            let cells = table_cells(line);
            if cells
                .iter()
                .all(|c| c.chars().all(|ch| matches!(ch, '-' | ':')))
            {
                continue;
            }
            let next_is_rule = lines
                .get(i + 1)
                .is_some_and(|n| n.starts_with('|') && n.contains("--"));
            if next_is_rule {
                header = cells;
            } else {
                out.push(table_row(&header, &cells));
            }
            continue;
        }
        if !paragraph.is_empty() {
            paragraph.push(' ');
        }
        paragraph.push_str(line);
    }
    flush(&mut paragraph, &mut out);
    out.truncate(MAX_PASSAGES);
    out
}

fn table_cells(line: &str) -> Vec<String> {
    line.trim_matches('|')
        .split('|')
        .map(|c| c.trim().replace("**", ""))
        .collect()
}

/// `Day: Monday, Hours: 9am – 5pm` (the cells alone when the header does not fit).
fn table_row(header: &[String], cells: &[String]) -> String {
    if header.len() == cells.len() {
        header
            .iter()
            .zip(cells)
            .map(|(h, c)| {
                if h.is_empty() {
                    c.clone()
                } else {
                    format!("{h}: {c}")
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    } else {
        cells.join(", ")
    }
}

/// Splits `text` into chunks. `markdown` selects `#` headings; otherwise headings are guessed.
#[must_use]
pub fn chunk(text: &str, markdown: bool) -> Vec<Chunk> {
    let mut chunks = Vec::new();
    let sections = sections(text, markdown);
    // A title every section sits under (a Markdown `# Title`) says nothing about any one chunk
    // and dilutes every embedding: it is left out of deeper sections' paths.
    let root = sections
        .first()
        .and_then(|s| s.path.first())
        .filter(|root| sections.iter().all(|s| s.path.first() == Some(*root)))
        .cloned();
    for section in sections {
        let path = match &root {
            Some(_) if section.path.len() > 1 => &section.path[1..],
            _ => &section.path[..],
        };
        let heading = path.join(" > ");
        let mut current = String::new();
        let mut overlap = String::new();
        let flush = |current: &mut String, overlap: &mut String, chunks: &mut Vec<Chunk>| {
            if current.trim().is_empty() {
                return;
            }
            let content = if overlap.is_empty() {
                current.trim().to_owned()
            } else {
                format!("{} {}", overlap.trim(), current.trim())
            };
            *overlap = last_sentence(current)
                .filter(|s| s.chars().count() <= MAX_OVERLAP_CHARS)
                .map(str::to_owned)
                .unwrap_or_default();
            chunks.push(Chunk {
                ordinal: chunks.len(),
                heading: heading.clone(),
                content,
            });
            current.clear();
        };
        for paragraph in &section.paragraphs {
            let pieces: Vec<String> = if paragraph.chars().count() > MAX_CHARS {
                pack(&sentences(paragraph), MAX_CHARS)
            } else {
                vec![paragraph.clone()]
            };
            for piece in pieces {
                let len = current.chars().count();
                if len > 0 && (len >= TARGET_CHARS || len + piece.chars().count() + 2 > MAX_CHARS) {
                    flush(&mut current, &mut overlap, &mut chunks);
                }
                if !current.is_empty() {
                    current.push_str("\n\n");
                }
                current.push_str(&piece);
            }
        }
        flush(&mut current, &mut overlap, &mut chunks);
    }
    chunks
}

struct Section {
    path: Vec<String>,
    paragraphs: Vec<String>,
}

/// Paragraphs grouped under their heading path.
fn sections(text: &str, markdown: bool) -> Vec<Section> {
    let mut out: Vec<Section> = Vec::new();
    let mut path: Vec<(usize, String)> = Vec::new();
    let mut paragraphs: Vec<String> = Vec::new();
    let mut lines: Vec<&str> = Vec::new();
    let close_paragraph = |lines: &mut Vec<&str>, paragraphs: &mut Vec<String>| {
        if !lines.is_empty() {
            let joined = lines.join("\n");
            let joined = joined.trim();
            if !joined.is_empty() {
                paragraphs.push(joined.to_owned());
            }
            lines.clear();
        }
    };
    let open_section =
        |path: &[(usize, String)], paragraphs: &mut Vec<String>, out: &mut Vec<Section>| {
            if !paragraphs.is_empty() {
                out.push(Section {
                    path: path.iter().map(|(_, h)| h.clone()).collect(),
                    paragraphs: std::mem::take(paragraphs),
                });
            }
        };
    let raw: Vec<&str> = text.lines().collect();
    for (i, line) in raw.iter().enumerate() {
        let trimmed = line.trim();
        let heading = if markdown {
            markdown_heading(trimmed)
        } else {
            let alone =
                lines.is_empty() && raw.get(i + 1).is_none_or(|next| next.trim().is_empty());
            (alone && looks_like_heading(trimmed)).then(|| (1, trimmed.to_owned()))
        };
        if let Some((level, title)) = heading {
            close_paragraph(&mut lines, &mut paragraphs);
            open_section(&path, &mut paragraphs, &mut out);
            while path.last().is_some_and(|(l, _)| *l >= level) {
                path.pop();
            }
            path.push((level, title));
            continue;
        }
        if trimmed.is_empty() {
            close_paragraph(&mut lines, &mut paragraphs);
        } else {
            lines.push(trimmed);
        }
    }
    close_paragraph(&mut lines, &mut paragraphs);
    open_section(&path, &mut paragraphs, &mut out);
    out
}

/// `## Title` → `(2, "Title")`, emphasis markers removed.
fn markdown_heading(line: &str) -> Option<(usize, String)> {
    let level = line.chars().take_while(|c| *c == '#').count();
    if !(1..=6).contains(&level) {
        return None;
    }
    let rest = &line[level..];
    if !rest.starts_with(' ') {
        return None;
    }
    let title = rest.trim().trim_end_matches('#').trim().replace("**", "");
    (!title.is_empty()).then_some((level, title))
}

/// A short line standing alone, starting with a letter or digit, without sentence punctuation
/// at its end: `Opening Hours`, `3. Cancellation policy`.
fn looks_like_heading(line: &str) -> bool {
    let n = line.chars().count();
    (2..=60).contains(&n)
        && line.chars().next().is_some_and(char::is_alphanumeric)
        && !line.ends_with(['.', ',', ';', '?', '!', ':'])
        && line.split_whitespace().count() <= 8
}

/// Sentences of `text` (split after `.`, `?`, `!` followed by whitespace).
fn sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut start = 0;
    let bytes: Vec<(usize, char)> = text.char_indices().collect();
    for (k, (i, c)) in bytes.iter().enumerate() {
        if matches!(c, '.' | '?' | '!') && bytes.get(k + 1).is_some_and(|(_, n)| n.is_whitespace())
        {
            let end = i + c.len_utf8();
            let s = text[start..end].trim();
            if !s.is_empty() {
                out.push(s.to_owned());
            }
            start = end;
        }
    }
    let rest = text[start..].trim();
    if !rest.is_empty() {
        out.push(rest.to_owned());
    }
    out
}

/// Packs sentences into pieces of at most `max` characters (a longer sentence is cut at
/// whitespace).
fn pack(sentences: &[String], max: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for sentence in sentences {
        for part in split_long(sentence, max) {
            if !current.is_empty() && current.chars().count() + part.chars().count() + 1 > max {
                out.push(std::mem::take(&mut current));
            }
            if !current.is_empty() {
                current.push(' ');
            }
            current.push_str(&part);
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

fn split_long(sentence: &str, max: usize) -> Vec<String> {
    if sentence.chars().count() <= max {
        return vec![sentence.to_owned()];
    }
    let mut out = Vec::new();
    let mut current = String::new();
    for word in sentence.split_whitespace() {
        if !current.is_empty() && current.chars().count() + word.chars().count() + 1 > max {
            out.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(word);
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

fn last_sentence(text: &str) -> Option<&str> {
    let text = text.trim_end();
    let cut = text
        .char_indices()
        .rev()
        .skip(1)
        .find(|(i, c)| {
            matches!(c, '.' | '?' | '!' | '\n')
                && text[i + c.len_utf8()..].starts_with(char::is_whitespace)
        })
        .map_or(0, |(i, c)| i + c.len_utf8());
    let s = text[cut..].trim();
    (!s.is_empty()).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_headings_make_sections_with_their_path_under_the_document_title() {
        let md = "# Serenity Clinic\nWelcome.\n\n## Opening hours\nMon-Fri 9am-6pm.\n\n### Holidays\nClosed on bank holidays.\n\n## Prices\nBotox from £200.";
        let chunks = chunk(md, true);
        let got: Vec<(&str, &str)> = chunks
            .iter()
            .map(|c| (c.heading.as_str(), c.content.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("Serenity Clinic", "Welcome."),
                ("Opening hours", "Mon-Fri 9am-6pm."),
                ("Opening hours > Holidays", "Closed on bank holidays."),
                ("Prices", "Botox from £200."),
            ]
        );
        assert_eq!(chunks[3].ordinal, 3);
        assert_eq!(chunks[3].embedding_text(), "Prices\nBotox from £200.");
    }

    #[test]
    fn passages_are_sentences_list_items_and_table_rows_with_their_header() {
        let content = "Open late. Parking is\nfree.\n- Card or cash\n- No cheques\n\n| Day | Hours |\n|---|---|\n| Monday | 9am – 5pm |";
        assert_eq!(
            passages(content),
            vec![
                "Open late.",
                "Parking is free.",
                "Card or cash",
                "No cheques",
                "Day: Monday, Hours: 9am – 5pm"
            ]
        );
        let chunk = Chunk {
            ordinal: 0,
            heading: "Hours".into(),
            content: "Open late.".into(),
        };
        assert_eq!(chunk.passage_texts(), vec!["Hours: Open late."]);
    }

    #[test]
    fn plain_text_headings_are_guessed_from_short_standalone_lines() {
        let text = "Opening Hours\n\nWe are open Monday to Friday.\n\nThis line is a sentence.\n\nAftercare\n\nAvoid the sun for two days.";
        let chunks = chunk(text, false);
        assert_eq!(chunks.len(), 2);
        assert_eq!(chunks[0].heading, "Opening Hours");
        assert!(chunks[0].content.contains("This line is a sentence."));
        assert_eq!(chunks[1].heading, "Aftercare");
    }

    #[test]
    fn long_sections_split_at_paragraphs_and_sentences_with_overlap_and_bounded_size() {
        let sentence = "Our hygienists are registered with the General Dental Council and trained in gentle care.";
        let paragraph = [sentence; 6].join(" ");
        let text = format!("## Team\n{}", [paragraph.as_str(); 8].join("\n\n"));
        let chunks = chunk(&text, true);
        assert!(chunks.len() >= 4, "{}", chunks.len());
        for c in &chunks {
            assert_eq!(c.heading, "Team");
            assert!(
                c.content.chars().count() <= MAX_CHARS + MAX_OVERLAP_CHARS + 1,
                "{}",
                c.content.chars().count()
            );
        }
        // The second chunk starts with the last sentence of the first.
        assert!(chunks[1].content.starts_with(sentence));
        let one_giant = "word ".repeat(1000);
        for c in chunk(&one_giant, false) {
            assert!(c.content.chars().count() <= MAX_CHARS + MAX_OVERLAP_CHARS + 1);
        }
    }
}
