//! The quality harness behind `cargo xtask rag-eval`: a clinic knowledge base
//! (`eval/clinic.md`: location, hours, prices, team, policies, aftercare) and caller questions
//! phrased the way people talk (`eval/questions.json`), each labelled with the section whose
//! chunk answers it, plus questions the knowledge base cannot answer.
//!
//! Metrics are over what [`KnowledgeBase::retrieve`] returns to the agent (at most 5 chunks and
//! 2000 characters): recall@5 is the share of questions whose expected chunk is returned; MRR is
//! the mean of 1/rank of the first expected chunk (0 when missing).

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

#[cfg(test)]
mod tests {
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
