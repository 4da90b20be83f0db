//! A counting proxy in front of moto: every AWS request passes through it unchanged and is
//! written down as `service:Action`, so tests (and the waste discovery benchmark, which
//! includes this file) can say exactly which calls a discovery made.
//!
//! The service comes from the SigV4 credential scope (`…/us-east-1/monitoring/aws4_request`),
//! the action from the form body (`Action=GetMetricData`, query protocols), the JSON target
//! header (`X-Amz-Target`), or else the method and path (REST protocols).

use std::sync::{Arc, Mutex};

use axum::body::{to_bytes, Body};
use axum::http::{HeaderMap, Request, Response};

/// The proxy: its URL, and every request it passed on.
pub struct CountingProxy {
    /// `http://127.0.0.1:PORT`, to use as the AWS endpoint.
    pub url: String,
    calls: Arc<Mutex<Vec<String>>>,
}

impl CountingProxy {
    /// Starts a proxy that forwards everything to `upstream` (moto's URL).
    pub async fn start(upstream: &str) -> CountingProxy {
        let calls = Arc::new(Mutex::new(Vec::new()));
        let (log, upstream, client) = (calls.clone(), upstream.to_string(), reqwest::Client::new());
        let app = axum::Router::new().fallback(move |request: Request<Body>| {
            let (log, upstream, client) = (log.clone(), upstream.clone(), client.clone());
            async move { forward(request, &upstream, &client, &log).await }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the proxy");
        let url = format!("http://{}", listener.local_addr().expect("proxy address"));
        tokio::spawn(async move { axum::serve(listener, app).await });
        CountingProxy { url, calls }
    }

    /// Every call so far, as `service:Action`, in arrival order.
    pub fn calls(&self) -> Vec<String> {
        self.calls.lock().expect("proxy log").clone()
    }

    /// How many calls so far went to `service` (`monitoring`, `ec2`, …).
    pub fn count(&self, service: &str) -> usize {
        self.calls().iter().filter(|c| c.split(':').next() == Some(service)).count()
    }

    /// Forgets the calls so far (after seeding, before the run being measured).
    pub fn clear(&self) {
        self.calls.lock().expect("proxy log").clear();
    }
}

fn service(headers: &HeaderMap) -> String {
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
    // Credential=AKID/20261201/us-east-1/monitoring/aws4_request
    auth.split("Credential=").nth(1).and_then(|c| c.split('/').nth(3)).unwrap_or("unsigned").to_string()
}

fn action(headers: &HeaderMap, body: &[u8], method: &str, path: &str) -> String {
    if let Some(target) = headers.get("x-amz-target").and_then(|v| v.to_str().ok()) {
        return target.rsplit('.').next().unwrap_or(target).to_string();
    }
    let form = String::from_utf8_lossy(body);
    form.split('&')
        .find_map(|pair| pair.strip_prefix("Action="))
        .map(str::to_string)
        .unwrap_or_else(|| format!("{method} {path}"))
}

async fn forward(
    request: Request<Body>,
    upstream: &str,
    client: &reqwest::Client,
    log: &Mutex<Vec<String>>,
) -> Response<Body> {
    let (parts, body) = request.into_parts();
    let body = to_bytes(body, usize::MAX).await.unwrap_or_default();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
    let call = format!("{}:{}", service(&parts.headers), action(&parts.headers, &body, parts.method.as_str(), &path));
    log.lock().expect("proxy log").push(call);
    let mut outbound = client.request(parts.method.clone(), format!("{upstream}{path}")).body(body.to_vec());
    for (name, value) in &parts.headers {
        if name != "host" && name != "content-length" {
            outbound = outbound.header(name, value);
        }
    }
    match outbound.send().await {
        Ok(answer) => {
            let mut response = Response::builder().status(answer.status().as_u16());
            for (name, value) in answer.headers() {
                if name != "content-length" && name != "transfer-encoding" {
                    response = response.header(name, value);
                }
            }
            let bytes = answer.bytes().await.unwrap_or_default();
            response.body(Body::from(bytes)).unwrap_or_else(|_| Response::new(Body::empty()))
        }
        Err(error) => Response::builder()
            .status(502)
            .body(Body::from(error.to_string()))
            .unwrap_or_else(|_| Response::new(Body::empty())),
    }
}
