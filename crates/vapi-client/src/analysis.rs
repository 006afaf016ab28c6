//! The assistant's `analysisPlan`: what Vapi computes after a call and sends in the
//! `end-of-call-report`'s `analysis` (contracts/vapi.md §4.2; Vapi's `AnalysisPlan`,
//! `SummaryPlan`, `StructuredDataPlan`, `SuccessEvaluationPlan`).
//!
//! - `summaryPlan` fills `analysis.summary` (the call's outcome summary);
//! - `successEvaluationPlan` with the `PassFail` rubric fills `analysis.successEvaluation`
//!   (`true` when the caller got what they called for);
//! - `structuredDataPlan` fills `analysis.structuredData` with the sentiment fields below, which
//!   [`crate::messages`] reads when `analysis` does not carry them at its top level.
//!
//! Without this plan Vapi sends a summary at most, and the dashboard's sentiment, urgency and
//! lead score stay empty.

use serde_json::{Value, json};

/// `structuredData` key of the sentiment label: `positive`, `neutral` or `negative`.
pub const SENTIMENT: &str = "sentiment";
/// `structuredData` key of the sentiment score, 0 (very negative) to 1 (very positive).
pub const SENTIMENT_SCORE: &str = "sentimentScore";
/// `structuredData` key of one sentence on how the caller felt.
pub const SENTIMENT_SUMMARY: &str = "sentimentSummary";
/// `structuredData` key of the urgency: `low`, `medium` or `high`.
pub const SENTIMENT_URGENCY: &str = "sentimentUrgency";

/// The `analysisPlan` every assistant we save carries.
#[must_use]
pub fn analysis_plan() -> Value {
    json!({
        "summaryPlan": {"enabled": true},
        "successEvaluationPlan": {"enabled": true, "rubric": "PassFail"},
        "structuredDataPlan": {
            "enabled": true,
            "schema": {
                "type": "object",
                "properties": {
                    SENTIMENT: {
                        "type": "string",
                        "enum": ["positive", "neutral", "negative"],
                        "description": "How the caller felt over the whole call.",
                    },
                    SENTIMENT_SCORE: {
                        "type": "number",
                        "description": "The caller's sentiment from 0 (very negative) to 1 (very positive).",
                    },
                    SENTIMENT_SUMMARY: {
                        "type": "string",
                        "description": "One sentence on the caller's mood and why.",
                    },
                    SENTIMENT_URGENCY: {
                        "type": "string",
                        "enum": ["low", "medium", "high"],
                        "description": "How soon the clinic should follow up with this caller.",
                    },
                },
                "required": [SENTIMENT, SENTIMENT_SCORE, SENTIMENT_URGENCY],
            },
        },
    })
}
