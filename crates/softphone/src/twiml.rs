//! The TwiML this service answers with: the few verbs and nouns softphone routing needs
//! (Twilio "TwiML Voice": `<Say>`, `<Gather>`, `<Dial>` with `<Client>` / `<Number>`,
//! `<Hangup>`). Written with `quick-xml`, which escapes every text and attribute, so a caller's
//! number or a user's name can never inject markup.

use quick_xml::Writer;
use quick_xml::events::{BytesDecl, BytesText, Event};

/// Events of a `<Client>` leg Twilio reports to its `statusCallback` (TwiML `<Client>`
/// `statusCallbackEvent`).
pub const CLIENT_STATUS_EVENTS: &str = "ringing answered completed";

/// The longest a `<Dial>` rings before giving up, in seconds (Twilio's default is 30).
pub const DIAL_TIMEOUT_SECS: u8 = 20;

/// How long a `<Gather>` waits for the first digit, in seconds.
pub const GATHER_TIMEOUT_SECS: u8 = 5;

/// Most `<Client>` or `<Number>` nouns one `<Dial>` may ring at once (Twilio: "up to ten").
pub const MAX_DIAL_TARGETS: usize = 10;

/// Whom a `<Dial>` rings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DialTarget {
    /// A softphone: the client identity (here always a user's extension), with the absolute URL
    /// its leg's status callbacks go to.
    Client {
        /// The identity the user's Twilio Device registered with.
        identity: String,
        /// Absolute `statusCallback` URL for [`CLIENT_STATUS_EVENTS`].
        status_callback: String,
    },
    /// A phone number, E.164.
    Number(String),
}

/// One TwiML verb.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verb {
    /// `<Say>` the text.
    Say(String),
    /// `<Gather input="dtmf" finishOnKey="#">` digits and POST them (`Digits`) to `action`,
    /// saying `prompt` while waiting; with no input Twilio falls through to the next verb.
    Gather {
        /// Absolute URL the digits are posted to.
        action: String,
        /// What to say while waiting.
        prompt: String,
    },
    /// `<Dial>` the targets at once (the first to answer takes the call).
    Dial {
        /// `callerId`: an E.164 number of the account, for calls to [`DialTarget::Number`].
        caller_id: Option<String>,
        /// At most [`MAX_DIAL_TARGETS`]; more are dropped.
        targets: Vec<DialTarget>,
    },
    /// `<Hangup/>`.
    Hangup,
}

/// Renders a `<Response>` document (UTF-8, with the XML declaration).
///
/// # Errors
/// Only an I/O error of the in-memory writer, which does not happen in practice.
pub fn render(verbs: &[Verb]) -> std::io::Result<String> {
    let mut writer = Writer::new(Vec::with_capacity(256));
    writer.write_event(Event::Decl(BytesDecl::new("1.0", Some("UTF-8"), None)))?;
    writer.create_element("Response").write_inner_content(|w| {
        for verb in verbs {
            write_verb(w, verb)?;
        }
        Ok(())
    })?;
    String::from_utf8(writer.into_inner())
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

fn write_verb(w: &mut Writer<Vec<u8>>, verb: &Verb) -> std::io::Result<()> {
    match verb {
        Verb::Say(text) => {
            w.create_element("Say")
                .write_text_content(BytesText::new(text))?;
        }
        Verb::Gather { action, prompt } => {
            let timeout = GATHER_TIMEOUT_SECS.to_string();
            w.create_element("Gather")
                .with_attributes([
                    ("input", "dtmf"),
                    ("finishOnKey", "#"),
                    ("timeout", timeout.as_str()),
                    ("action", action.as_str()),
                    ("method", "POST"),
                ])
                .write_inner_content(|w| {
                    w.create_element("Say")
                        .write_text_content(BytesText::new(prompt))?;
                    Ok(())
                })?;
        }
        Verb::Dial { caller_id, targets } => {
            let timeout = DIAL_TIMEOUT_SECS.to_string();
            let mut dial = w
                .create_element("Dial")
                .with_attribute(("timeout", timeout.as_str()));
            if let Some(caller_id) = caller_id {
                dial = dial.with_attribute(("callerId", caller_id.as_str()));
            }
            dial.write_inner_content(|w| {
                for target in targets.iter().take(MAX_DIAL_TARGETS) {
                    match target {
                        DialTarget::Client {
                            identity,
                            status_callback,
                        } => {
                            w.create_element("Client")
                                .with_attributes([
                                    ("statusCallbackEvent", CLIENT_STATUS_EVENTS),
                                    ("statusCallback", status_callback.as_str()),
                                    ("statusCallbackMethod", "POST"),
                                ])
                                .write_text_content(BytesText::new(identity))?;
                        }
                        DialTarget::Number(number) => {
                            w.create_element("Number")
                                .write_text_content(BytesText::new(number))?;
                        }
                    }
                }
                Ok(())
            })?;
        }
        Verb::Hangup => {
            w.create_element("Hangup").write_empty()?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn renders_a_dial_to_clients_with_their_status_callbacks() {
        let xml = render(&[Verb::Dial {
            caller_id: None,
            targets: vec![DialTarget::Client {
                identity: "101".into(),
                status_callback:
                    "https://api.example.com/webhooks/twilio/voice/o/client-status?a=1&b=2".into(),
            }],
        }])
        .unwrap();
        assert_eq!(
            xml,
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><Response><Dial timeout=\"20\">\
             <Client statusCallbackEvent=\"ringing answered completed\" \
             statusCallback=\"https://api.example.com/webhooks/twilio/voice/o/client-status?a=1&amp;b=2\" \
             statusCallbackMethod=\"POST\">101</Client></Dial></Response>"
        );
    }

    #[test]
    fn escapes_text_and_caps_the_targets_at_ten() {
        let targets = (0..12)
            .map(|i| DialTarget::Number(format!("+1555000{i:04}")))
            .collect();
        let xml = render(&[
            Verb::Say("Tom & Jerry <script>".into()),
            Verb::Dial {
                caller_id: Some("+15550001111".into()),
                targets,
            },
            Verb::Hangup,
        ])
        .unwrap();
        assert!(
            xml.contains("<Say>Tom &amp; Jerry &lt;script&gt;</Say>"),
            "{xml}"
        );
        assert_eq!(xml.matches("<Number>").count(), MAX_DIAL_TARGETS);
        assert!(xml.contains("<Dial timeout=\"20\" callerId=\"+15550001111\">"));
        assert!(xml.ends_with("<Hangup/></Response>"));
    }

    #[test]
    fn renders_a_gather_that_posts_the_digits_back() {
        let xml = render(&[Verb::Gather {
            action: "https://x.test/voice".into(),
            prompt: "Enter the extension.".into(),
        }])
        .unwrap();
        assert!(xml.contains(
            "<Gather input=\"dtmf\" finishOnKey=\"#\" timeout=\"5\" action=\"https://x.test/voice\" method=\"POST\"><Say>Enter the extension.</Say></Gather>"
        ), "{xml}");
    }
}
