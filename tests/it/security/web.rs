//! Web access: the proxy header only from proxies, stored sessions with honest cookies,
//! protective headers on every page, and the pages on their own listener.

use chrono::Utc;

use super::{serve_all, Peers, Served, WEB_TOKEN};

const PROXY_SECRET: &str = "security-proxy-secret-0123456789";

fn client() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

#[tokio::test]
async fn a_spoofed_user_header_from_a_non_proxy_address_gets_401() {
    std::env::set_var("COSTBOT_SEC_PROXY_SECRET", PROXY_SECRET);
    // The proxy lives at 10.0.0.0/8; this test's requests come from 127.0.0.1.
    let web = "user_header = \"X-Forwarded-User\"\ntrusted_proxies = [\"10.0.0.0/8\"]\n\
               proxy_secret = { env = \"COSTBOT_SEC_PROXY_SECRET\" }";
    let Peers { base, .. } = serve_all("", web).await;
    let http = client();
    let spoofed = http.get(format!("{base}/dashboard")).header("x-forwarded-user", "ana").send().await.unwrap();
    assert_eq!(spoofed.status(), 401);
    let command = serde_json::json!({"channel": "finops", "text": "mtd"});
    let spoofed = http
        .post(format!("{base}/api/console/command"))
        .header("x-forwarded-user", "ana")
        .json(&command)
        .send()
        .await
        .unwrap();
    assert_eq!(spoofed.status(), 401, "nor can it act as an approver");
    let guessed = http
        .get(format!("{base}/"))
        .header("x-forwarded-user", "ana")
        .header("x-costbot-proxy-secret", "guess")
        .send()
        .await
        .unwrap();
    assert_eq!(guessed.status(), 401);
    let proxied = http
        .get(format!("{base}/"))
        .header("x-forwarded-user", "ana")
        .header("x-costbot-proxy-secret", PROXY_SECRET)
        .send()
        .await
        .unwrap();
    assert_eq!(proxied.status(), 200, "the proxy, proven by its secret");
    assert!(proxied.text().await.unwrap().contains("Signed in as <strong>ana</strong>"));
}

#[tokio::test]
async fn session_cookie_flags_and_expiry() {
    let Peers { base, store, .. } = serve_all("", "session_hours = 2\nsecure_cookies = true").await;
    let http = client();
    let by_url = http.get(format!("{base}/login?token={WEB_TOKEN}")).send().await.unwrap();
    assert_eq!(by_url.status(), 401, "a token in a URL is refused");
    assert!(by_url.headers().get("set-cookie").is_none());
    let wrong = http.post(format!("{base}/login")).form(&[("token", "not-the-token")]).send().await.unwrap();
    assert_eq!(wrong.status(), 401);

    let before = Utc::now().naive_utc();
    let login = http.post(format!("{base}/login")).form(&[("token", WEB_TOKEN)]).send().await.unwrap();
    assert_eq!(login.status(), 303);
    let cookie = login.headers()["set-cookie"].to_str().unwrap().to_string();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=7200", "Secure"] {
        assert!(cookie.split("; ").any(|part| part == flag), "{flag} in {cookie}");
    }
    let pair = cookie.split(';').next().unwrap().to_string();
    let id = pair.strip_prefix("costbot_session=").unwrap();
    assert_eq!(id.len(), 64, "32 random bytes, hex: {id}");
    assert!(!cookie.contains(WEB_TOKEN));
    let hash = costbot::web::auth::session_hash(id);
    let stored = store.live_session(&hash, before).await.unwrap().expect("the session is stored");
    assert_eq!(stored.user, "ops");
    assert_eq!((stored.expires_at - stored.created_at).num_hours(), 2);
    assert_eq!(store.live_session(&hash, stored.expires_at).await.unwrap(), None, "expired at its end");

    let page = http.get(format!("{base}/")).header("cookie", &pair).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let logout = http.post(format!("{base}/logout")).header("cookie", &pair).send().await.unwrap();
    assert_eq!(logout.status(), 303);
    assert!(logout.headers()["set-cookie"].to_str().unwrap().contains("Max-Age=0"));
    let after = http.get(format!("{base}/")).header("cookie", &pair).send().await.unwrap();
    assert_eq!(after.status(), 401, "a revoked session is refused even if the cookie was copied");
}

#[tokio::test]
async fn every_page_sends_csp_frame_and_referrer_headers() {
    let Peers { base, .. } = serve_all("", "").await;
    let http = client();
    for path in ["/", "/dashboard", "/login", "/api/console/messages?channel=finops", "/assets/console.js"] {
        let answer = http.get(format!("{base}{path}")).bearer_auth(WEB_TOKEN).send().await.unwrap();
        let headers = answer.headers();
        let csp = headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"), "{path}: {csp}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
    }
    let refused = http.get(format!("{base}/")).send().await.unwrap();
    assert_eq!(refused.status(), 401);
    assert_eq!(refused.headers()["x-frame-options"], "DENY", "refusals too");
}

#[tokio::test]
async fn the_pages_can_listen_on_their_own_address() {
    let served = Served::start("").await;
    let (http, pages, public_base) = (client(), &served.pages, &served.public);
    assert_eq!(http.get(format!("{pages}/")).bearer_auth(WEB_TOKEN).send().await.unwrap().status(), 200);
    let public = http.get(format!("{public_base}/")).bearer_auth(WEB_TOKEN).send().await.unwrap();
    assert_eq!(public.status(), 404, "the public listener has no pages");
    assert_eq!(http.get(format!("{public_base}/healthz")).send().await.unwrap().status(), 200);
    assert_eq!(http.post(format!("{public_base}/slack/commands")).send().await.unwrap().status(), 401, "webhooks");
    served.stop().await;
}
