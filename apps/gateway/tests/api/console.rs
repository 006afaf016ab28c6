//! The operator console on the gateway's origin: client routes fall back to `index.html`
//! (`no-cache`), hashed assets are cached for a year, every console response carries the
//! Content-Security-Policy, and the API's prefixes keep answering as the API.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use gateway::console::ConsoleConfig;
use gateway::test_support::TestGateway;

const INDEX: &str = "<!doctype html><title>console</title><script type=module src=/assets/index-abc123.js></script>";

/// A built console in a fresh directory: `index.html`, one hashed asset, one top-level file.
fn built_console() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("console-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(dir.join("assets")).unwrap();
    std::fs::write(dir.join("index.html"), INDEX).unwrap();
    std::fs::write(dir.join("assets/index-abc123.js"), "console.log(1)").unwrap();
    // The build's gzip copy (not real gzip here: the test reads the bytes, not a browser).
    std::fs::write(dir.join("assets/index-abc123.js.gz"), "GZ").unwrap();
    std::fs::write(dir.join("favicon.svg"), "<svg/>").unwrap();
    dir
}

async fn gateway() -> TestGateway {
    TestGateway::start_console(ConsoleConfig {
        dir: Some(built_console()),
        media_sources: vec!["https://storage.vapi.ai".into()],
    })
    .await
}

fn header(reply: &gateway::test_support::Reply, name: &str) -> String {
    reply
        .headers
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread")]
async fn client_routes_load_the_app_uncached_with_the_policy() {
    let gw = gateway().await;
    for path in [
        "/",
        "/calls",
        "/calls/3f2b",
        "/contacts?search=ann",
        "/index.html",
    ] {
        let reply = gw.get(path, None).await;
        assert_eq!(reply.status, 200, "{path}");
        assert_eq!(reply.body, INDEX, "{path}");
        assert_eq!(header(&reply, "cache-control"), "no-cache", "{path}");
        let csp = header(&reply, "content-security-policy");
        assert!(csp.contains("script-src 'self';"), "{csp}");
        assert!(csp.contains("connect-src 'self';"), "{csp}");
        assert!(
            csp.contains("media-src 'self' https://storage.vapi.ai;"),
            "{csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert_eq!(header(&reply, "x-content-type-options"), "nosniff");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn hashed_assets_are_immutable_and_missing_ones_are_404() {
    let gw = gateway().await;
    let asset = gw.get("/assets/index-abc123.js", None).await;
    assert_eq!(asset.status, 200);
    assert_eq!(
        header(&asset, "cache-control"),
        "public, max-age=31536000, immutable"
    );
    assert!(header(&asset, "content-type").contains("javascript"));
    let top = gw.get("/favicon.svg", None).await;
    assert_eq!(top.status, 200);
    assert_eq!(header(&top, "cache-control"), "no-cache");
    for missing in [
        "/assets/index-old.js",
        "/assets/..%2Findex.html",
        "/assets/.hidden",
    ] {
        let reply = gw.get(missing, None).await;
        assert_eq!(reply.status, 404, "{missing}");
        assert_eq!(reply.body["code"], "not_found", "{missing}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn assets_go_precompressed_to_browsers_that_accept_gzip() {
    let gw = gateway().await;
    let raw = reqwest::Client::builder().no_gzip().build().unwrap();
    let url = format!("{}/assets/index-abc123.js", gw.base_url);
    let gzipped = raw
        .get(&url)
        .header("accept-encoding", "gzip, deflate, br")
        .send()
        .await
        .unwrap();
    assert_eq!(gzipped.headers()["content-encoding"], "gzip");
    let content_type = gzipped.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.contains("javascript"), "{content_type}");
    assert_eq!(gzipped.headers()["vary"], "accept-encoding");
    assert_eq!(gzipped.text().await.unwrap(), "GZ");
    let plain = raw.get(&url).send().await.unwrap();
    assert!(plain.headers().get("content-encoding").is_none());
    assert_eq!(plain.text().await.unwrap(), "console.log(1)");
    // index.html is never sent from a .gz copy.
    let index = raw
        .get(format!("{}/", gw.base_url))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert!(index.headers().get("content-encoding").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_api_prefixes_never_answer_with_the_console() {
    let gw = gateway().await;
    for path in [
        "/api/nope",
        "/api",
        "/internal/nope",
        "/webhooks/nope",
        "/share/nope/x",
    ] {
        let reply = gw.get(path, None).await;
        assert_ne!(reply.body, INDEX, "{path}");
        assert!(reply.status >= 400, "{path}: {}", reply.status);
        assert!(reply.body.get("code").is_some(), "{path}: {:?}", reply.body);
    }
    assert_eq!(gw.get("/healthz", None).await.status, 200);
    // Only reads load the app; a POST to a client route is the API's 404.
    let post = gw.post("/calls", None, &serde_json::json!({})).await;
    assert_eq!(post.status, 404);
    assert_eq!(post.body["code"], "not_found");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_console_every_unknown_path_is_the_json_404() {
    let gw = TestGateway::start().await;
    let reply = gw.get("/calls", None).await;
    assert_eq!(reply.status, 404);
    assert_eq!(reply.body["code"], "not_found");
}
