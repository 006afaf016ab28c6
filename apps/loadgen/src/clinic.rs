//! A clinic set up the way its staff would, through the public API only: sign-up, the inbound
//! agent (created on the fake Vapi), opening hours, the clinic's own Twilio number (verified
//! against the fake Twilio, then imported into Vapi by the gateway's dual-sync), transfer
//! routing, a knowledge-base document, and a CRM app with its API key, Dialpad webhook secret
//! and user mappings.

use std::time::Duration;

use anyhow::{Context as _, bail, ensure};
use serde_json::{Value, json};

use crate::api::Api;

/// What a clinic is made of.
pub struct ClinicSpec {
    /// Display name.
    pub name: &'static str,
    /// Organization slug (a run suffix is added so runs against one database do not collide).
    pub slug: &'static str,
    /// The clinic's Twilio account SID (`AC` + 32 hex digits).
    pub twilio_account: &'static str,
    /// The clinic's public number, E.164.
    pub number: &'static str,
    /// Department → transfer destination (E.164 or `sip:` URI).
    pub transfer_departments: Value,
    /// Markdown of the clinic's knowledge-base document.
    pub knowledge_base: String,
    /// Dialpad user id → CRM user id of the clinic's front desk.
    pub dialpad_users: &'static [(i64, &'static str)],
}

/// The password of every demo clinic's manager (a demo login, never a real one).
pub const MANAGER_PASSWORD: &str = "loadgen-sunrise-harbor-2026";

/// A clinic ready to take calls.
pub struct Clinic {
    /// Display name.
    pub name: &'static str,
    /// The manager's sign-in e-mail (password [`MANAGER_PASSWORD`]).
    pub email: String,
    /// The admin's bearer token.
    pub token: String,
    /// The organization id.
    pub org_id: String,
    /// The inbound agent's Vapi assistant id.
    pub inbound_assistant: String,
    /// The clinic's number, E.164.
    pub number: &'static str,
    /// The number's Vapi phone-number id (from the dual-sync).
    pub phone_number_id: String,
    /// The CRM app's id.
    pub app_id: String,
    /// The CRM app's API key.
    pub app_key: String,
    /// The app's Dialpad webhook secret.
    pub dialpad_secret: String,
    /// Service name → price in minor units (cents).
    pub prices: Vec<(String, i64)>,
}

/// Answers `reply` when its status is `want`, else an error naming `what`.
///
/// # Errors
/// On any other status.
pub fn expect(what: &str, reply: crate::api::Reply, want: u16) -> anyhow::Result<Value> {
    ensure!(
        reply.status == want,
        "{what}: HTTP {} (expected {want}): {}",
        reply.status,
        reply.body
    );
    Ok(reply.body)
}

impl Clinic {
    /// Sets the clinic up; `run` makes its slug and e-mail unique.
    ///
    /// # Errors
    /// When any step is refused or the dual-sync or indexing does not finish in time.
    pub async fn open(api: &Api, spec: &ClinicSpec, run: &str) -> anyhow::Result<Self> {
        let slug = format!("{}-{run}", spec.slug);
        let signup = expect(
            "sign-up",
            api.post(
                "/api/auth/signup",
                None,
                &json!({"organization_name": spec.name, "organization_slug": slug, "name": "Practice Manager",
                        "email": format!("manager@{slug}.example"), "password": MANAGER_PASSWORD}),
            )
            .await?,
            201,
        )?;
        let token = signup["token"].as_str().context("token")?.to_owned();
        let org_id = signup["user"]["org_id"]
            .as_str()
            .context("org_id")?
            .to_owned();
        let t = Some(token.as_str());

        let inbound_assistant = save_agent(api, t, spec).await?;
        configure_practice(api, t, spec).await?;
        let phone_number_id = wait_for_number(api, &token).await?;

        let services = expect("services", api.get("/api/services", &token).await?, 200)?;
        let prices = services["services"]
            .as_array()
            .context("services")?
            .iter()
            .filter_map(|s| Some((s["name"].as_str()?.to_owned(), s["price_minor"].as_i64()?)))
            .collect();

        let document = upload_knowledge_base(api, &token, spec).await?;
        let (app_id, app_key, dialpad_secret) = open_crm_app(api, t, spec).await?;
        wait_indexed(api, &token, &document).await?;
        Ok(Self {
            name: spec.name,
            email: format!("manager@{slug}.example"),
            token,
            org_id,
            inbound_assistant,
            number: spec.number,
            phone_number_id,
            app_id,
            app_key,
            dialpad_secret,
            prices,
        })
    }

    /// `GET /internal/apps/{app_id}/{what}` with the app's own key (`voicemails`, `calls`):
    /// the `data` of the seed-000 list `{success, data, pagination}`.
    ///
    /// # Errors
    /// When the request is refused or the reply has no `data` list.
    pub async fn app_list(&self, api: &Api, what: &str) -> anyhow::Result<Vec<Value>> {
        let reply = api
            .send(
                "GET",
                &format!("/internal/apps/{}/{what}", self.app_id),
                None,
                &[("x-app-api-key", &self.app_key)],
                None,
            )
            .await?;
        match expect(what, reply, 200)? {
            Value::Object(mut body) => match body.remove("data") {
                Some(Value::Array(items)) => Ok(items),
                _ => bail!("{what}: no data list"),
            },
            other => bail!("{what}: not a list: {other}"),
        }
    }

    /// The price of service `name`, in cents.
    #[must_use]
    pub fn price(&self, name: &str) -> i64 {
        self.prices
            .iter()
            .find(|(n, _)| n == name)
            .map_or(0, |(_, p)| *p)
    }
}

/// Polls the integration status until Twilio's dual-sync has imported the number into Vapi;
/// returns its Vapi phone-number id.
async fn wait_for_number(api: &Api, token: &str) -> anyhow::Result<String> {
    let mut last = Value::Null;
    for _ in 0..300 {
        let status = api.get("/api/integrations/status", token).await?.body;
        if let Some(twilio) = status["integrations"]
            .as_array()
            .and_then(|all| all.iter().find(|i| i["provider"] == "twilio"))
        {
            let sync = &twilio["details"]["vapi_sync"];
            if sync["state"] == "linked"
                && let Some(id) = sync["vapi_phone_number_id"].as_str()
            {
                return Ok(id.to_owned());
            }
            last = sync.clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    bail!("the number was not imported into Vapi within 30 s: {last}")
}

/// Polls a knowledge-base document until it is `ready`.
async fn wait_indexed(api: &Api, token: &str, id: &str) -> anyhow::Result<()> {
    let mut last = Value::Null;
    for _ in 0..1200 {
        last = api
            .get(&format!("/api/knowledge-base/documents/{id}"), token)
            .await?
            .body;
        match last["document"]["status"].as_str() {
            Some("ready") => return Ok(()),
            Some("failed") => bail!("indexing failed: {last}"),
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    bail!("the knowledge-base document was not indexed within 120 s: {last}")
}

/// Saves the clinic's inbound agent; returns its Vapi assistant id.
async fn save_agent(api: &Api, t: Option<&str>, spec: &ClinicSpec) -> anyhow::Result<String> {
    let agent = expect(
        "saving the inbound agent",
        api.send(
            "PUT",
            "/api/agents/inbound",
            t,
            &[],
            Some(&json!({
            "name": format!("{} front desk", spec.name),
            "first_message": format!("Thank you for calling {}, how can I help?", spec.name)})),
        )
        .await?,
        200,
    )?;
    Ok(agent["agent"]["vapi_assistant_id"]
        .as_str()
        .context("assistant id")?
        .to_owned())
}

/// Opening hours, transfer routing and the clinic's Twilio (which starts the dual-sync).
async fn configure_practice(api: &Api, t: Option<&str>, spec: &ClinicSpec) -> anyhow::Result<()> {
    let hours: Vec<Value> = (1..=7)
        .map(|d| json!({"weekday": d, "opens": "08:00", "closes": "18:00"}))
        .collect();
    expect(
        "opening hours",
        api.send(
            "PUT",
            "/api/scheduling/settings",
            t,
            &[],
            Some(&json!({
            "time_zone": "America/New_York", "business_hours": hours, "slot_step_minutes": 30})),
        )
        .await?,
        200,
    )?;
    expect(
        "transfer routing",
        api.send(
            "PUT",
            "/api/voice-settings",
            t,
            &[],
            Some(&json!({
            "transfer_default": spec.number, "transfer_departments": spec.transfer_departments})),
        )
        .await?,
        200,
    )?;
    expect(
        "connecting Twilio",
        api.post("/api/integrations/twilio", t, &json!({
            "account_sid": spec.twilio_account, "auth_token": "clinic-twilio-auth-token", "phone_number": spec.number}))
            .await?,
        200,
    )?;
    Ok(())
}

/// Uploads the clinic's FAQ to its knowledge base; returns the document id.
async fn upload_knowledge_base(
    api: &Api,
    token: &str,
    spec: &ClinicSpec,
) -> anyhow::Result<String> {
    let added = expect(
        "uploading the knowledge base",
        api.upload(
            "/api/knowledge-base/documents",
            token,
            "clinic-faq.md",
            "text/markdown",
            spec.knowledge_base.clone().into_bytes(),
        )
        .await?,
        202,
    )?;
    Ok(added["document"]["id"]
        .as_str()
        .context("document id")?
        .to_owned())
}

/// Creates the clinic's CRM app with its key and Dialpad webhook secret and maps its Dialpad
/// users; returns the app id, key and secret.
async fn open_crm_app(
    api: &Api,
    t: Option<&str>,
    spec: &ClinicSpec,
) -> anyhow::Result<(String, String, String)> {
    let app = expect(
        "creating the CRM app",
        api.post("/api/apps", t, &json!({"name": "Clinic CRM"}))
            .await?,
        201,
    )?;
    let app_id = app["app"]["id"].as_str().context("app id")?.to_owned();
    let key = expect(
        "issuing the app key",
        api.post(&format!("/internal/apps/{app_id}/api-key"), t, &Value::Null)
            .await?,
        200,
    )?;
    let app_key = key["api_key"].as_str().context("api key")?.to_owned();
    let dialpad_secret = format!(
        "dialpad-{}",
        crate::gateway::hex(&crate::gateway::random_bytes()?[..12])
    );
    expect(
        "setting the Dialpad webhook secret",
        api.send(
            "PUT",
            &format!("/internal/apps/{app_id}/dialpad-webhook-secret"),
            t,
            &[],
            Some(&json!({"secret": dialpad_secret})),
        )
        .await?,
        200,
    )?;
    let mappings: Vec<Value> = spec
        .dialpad_users
        .iter()
        .map(|(dialpad, crm)| json!({"dialpad_user_id": dialpad, "crm_user_id": crm}))
        .collect();
    expect(
        "mapping Dialpad users",
        api.send(
            "POST",
            &format!("/internal/apps/{app_id}/users/batch-map"),
            None,
            &[("x-app-api-key", &app_key)],
            Some(&json!({"mappings": mappings})),
        )
        .await?,
        200,
    )?;
    Ok((app_id, app_key, dialpad_secret))
}
