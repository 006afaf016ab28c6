//! Where a call to the organization's TwiML application goes (seed 002 "Call Flow
//! Architecture", step 3: "TwiML webhook routes calls to connected clients via extension ID").
//! Pure: the caller loads the organization's directory and renders the verbs.
//!
//! - **Inbound** (a caller on the phone network reached the organization's number):
//!   - with `Digits` (the caller keyed an extension into our `<Gather>`): ring that extension's
//!     softphone; an unknown extension is said so, then everyone is rung;
//!   - without: offer the extension prompt (`<Gather>`), and if nothing is keyed ring every
//!     active user with an extension at once (the first ten by extension; the first to answer
//!     takes the call, which is what `call_answered` tells the others).
//! - **Outgoing** (`From` is `client:<extension>`, a user's softphone placing a call): `To` an
//!   extension rings that softphone; `To` a phone number (typed forms are normalised to E.164,
//!   default country US) is dialled with the organization's number as caller ID. A `From`
//!   identity that is not an active extension of the organization is refused.

use crate::twiml::{DialTarget, MAX_DIAL_TARGETS, Verb};

/// A user who can take calls: active, with an extension (the softphone identity).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The user.
    pub user_id: uuid::Uuid,
    /// Display name.
    pub name: String,
    /// 2–8 digits, unique in the organization.
    pub extension: String,
}

/// The parameters of Twilio's voice request this routing reads.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VoiceCall {
    /// `From`: a phone number, or `client:<identity>` for a softphone.
    pub from: String,
    /// `To`: the number called, or what a softphone dialled.
    pub to: String,
    /// `Digits` keyed into a `<Gather>`, if this request is its action.
    pub digits: Option<String>,
}

/// Absolute URLs the TwiML points back to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackUrls {
    /// The voice endpoint itself (the `<Gather>` action).
    pub voice: String,
    /// The `<Client>` status callback endpoint.
    pub client_status: String,
}

/// The prefix Twilio puts before a client identity in `From` / `To`.
pub const CLIENT_PREFIX: &str = "client:";

/// What was said to the caller when no one can take the call.
pub const NO_ONE_AVAILABLE: &str = "No one is available to take your call. Please try again later.";

/// The extension prompt.
pub const EXTENSION_PROMPT: &str = "Thank you for calling. If you know the extension of the person you are calling, enter it now, followed by the pound key.";

/// Decides the verbs for one voice request. `org_number` is the organization's Twilio number
/// (E.164), the caller ID of outgoing calls.
#[must_use]
pub fn route(
    call: &VoiceCall,
    directory: &[Member],
    org_number: &str,
    urls: &CallbackUrls,
) -> Vec<Verb> {
    let find = |extension: &str| directory.iter().find(|m| m.extension == extension);
    if let Some(identity) = call.from.strip_prefix(CLIENT_PREFIX) {
        if find(identity).is_none() {
            return vec![
                Verb::Say("This softphone may not place calls.".into()),
                Verb::Hangup,
            ];
        }
        let to = call
            .to
            .strip_prefix(CLIENT_PREFIX)
            .unwrap_or(&call.to)
            .trim();
        if let Some(member) = find(to) {
            return vec![dial_clients([member], urls)];
        }
        return match telephony_gsm::E164::normalize(to, Some("1")) {
            Ok(number) => vec![Verb::Dial {
                caller_id: Some(org_number.to_owned()),
                targets: vec![DialTarget::Number(number.as_str().to_owned())],
            }],
            Err(_) => vec![
                Verb::Say(format!(
                    "{} is neither an extension nor a phone number.",
                    spell(to)
                )),
                Verb::Hangup,
            ],
        };
    }
    match call.digits.as_deref().map(str::trim) {
        Some(digits) if !digits.is_empty() => match find(digits) {
            Some(member) => vec![dial_clients([member], urls)],
            None => {
                let mut verbs = vec![Verb::Say(format!(
                    "There is no extension {}.",
                    spell(digits)
                ))];
                verbs.extend(ring_everyone(directory, urls));
                verbs
            }
        },
        _ => {
            let mut verbs = Vec::with_capacity(3);
            if !directory.is_empty() {
                verbs.push(Verb::Gather {
                    action: urls.voice.clone(),
                    prompt: EXTENSION_PROMPT.into(),
                });
            }
            verbs.extend(ring_everyone(directory, urls));
            verbs
        }
    }
}

fn ring_everyone(directory: &[Member], urls: &CallbackUrls) -> Vec<Verb> {
    if directory.is_empty() {
        return vec![Verb::Say(NO_ONE_AVAILABLE.into()), Verb::Hangup];
    }
    let mut members: Vec<&Member> = directory.iter().collect();
    members.sort_by(|a, b| a.extension.cmp(&b.extension));
    members.truncate(MAX_DIAL_TARGETS);
    vec![dial_clients(members, urls)]
}

fn dial_clients<'a>(members: impl IntoIterator<Item = &'a Member>, urls: &CallbackUrls) -> Verb {
    Verb::Dial {
        caller_id: None,
        targets: members
            .into_iter()
            .map(|m| DialTarget::Client {
                identity: m.extension.clone(),
                status_callback: urls.client_status.clone(),
            })
            .collect(),
    }
}

/// Digits spelled one by one for `<Say>` ("1 0 1", not "one hundred and one"); anything else is
/// dropped, so nothing the caller controls is read out beyond digits.
fn spell(raw: &str) -> String {
    let digits: Vec<String> = raw
        .chars()
        .filter(char::is_ascii_digit)
        .take(16)
        .map(String::from)
        .collect();
    if digits.is_empty() {
        "That".into()
    } else {
        digits.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(extension: &str) -> Member {
        Member {
            user_id: uuid::Uuid::new_v4(),
            name: format!("User {extension}"),
            extension: extension.into(),
        }
    }

    fn urls() -> CallbackUrls {
        CallbackUrls {
            voice: "https://x.test/voice".into(),
            client_status: "https://x.test/status".into(),
        }
    }

    fn clients(verb: &Verb) -> Vec<&str> {
        match verb {
            Verb::Dial { targets, .. } => targets
                .iter()
                .map(|t| match t {
                    DialTarget::Client { identity, .. } => identity.as_str(),
                    DialTarget::Number(n) => n.as_str(),
                })
                .collect(),
            other => panic!("not a dial: {other:?}"),
        }
    }

    fn inbound(digits: Option<&str>) -> VoiceCall {
        VoiceCall {
            from: "+15557654321".into(),
            to: "+15550001111".into(),
            digits: digits.map(str::to_owned),
        }
    }

    #[test]
    fn keyed_extension_rings_only_that_softphone() {
        let dir = [member("101"), member("102")];
        let verbs = route(&inbound(Some("102")), &dir, "+15550001111", &urls());
        assert_eq!(verbs.len(), 1);
        assert_eq!(clients(&verbs[0]), ["102"]);
    }

    #[test]
    fn no_digits_prompts_then_rings_everyone_sorted_and_capped() {
        let dir: Vec<Member> = (0..12)
            .rev()
            .map(|i| member(&format!("{}", 100 + i)))
            .collect();
        let verbs = route(&inbound(None), &dir, "+15550001111", &urls());
        assert!(
            matches!(&verbs[0], Verb::Gather { action, .. } if action == "https://x.test/voice")
        );
        let rung = clients(&verbs[1]);
        assert_eq!(rung.len(), MAX_DIAL_TARGETS);
        assert_eq!(rung[0], "100");
        assert_eq!(rung[9], "109");
    }

    #[test]
    fn unknown_extension_is_said_then_everyone_rings() {
        let dir = [member("101")];
        let verbs = route(&inbound(Some("999")), &dir, "+15550001111", &urls());
        assert_eq!(verbs[0], Verb::Say("There is no extension 9 9 9.".into()));
        assert_eq!(clients(&verbs[1]), ["101"]);
    }

    #[test]
    fn nobody_to_ring_says_so_and_hangs_up() {
        let verbs = route(&inbound(None), &[], "+15550001111", &urls());
        assert_eq!(verbs, [Verb::Say(NO_ONE_AVAILABLE.into()), Verb::Hangup]);
    }

    #[test]
    fn softphone_calls_an_extension_or_a_normalised_number_with_the_org_caller_id() {
        let dir = [member("101"), member("102")];
        let mut call = VoiceCall {
            from: "client:101".into(),
            to: "102".into(),
            digits: None,
        };
        assert_eq!(
            clients(&route(&call, &dir, "+15550001111", &urls())[0]),
            ["102"]
        );
        call.to = "(555) 123-4567".into();
        match &route(&call, &dir, "+15550001111", &urls())[0] {
            Verb::Dial { caller_id, targets } => {
                assert_eq!(caller_id.as_deref(), Some("+15550001111"));
                assert_eq!(targets, &[DialTarget::Number("+15551234567".into())]);
            }
            other => panic!("{other:?}"),
        }
        call.to = "nonsense<>".into();
        assert_eq!(route(&call, &dir, "+15550001111", &urls())[1], Verb::Hangup);
    }

    #[test]
    fn an_identity_outside_the_directory_cannot_place_calls() {
        let call = VoiceCall {
            from: "client:555".into(),
            to: "+15551234567".into(),
            digits: None,
        };
        let verbs = route(&call, &[member("101")], "+15550001111", &urls());
        assert_eq!(verbs.last(), Some(&Verb::Hangup));
        assert!(!verbs.iter().any(|v| matches!(v, Verb::Dial { .. })));
    }
}
