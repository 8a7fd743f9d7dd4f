//! Prometheus text exposition, hand-written: a few counters do not justify a
//! metrics framework, and the format is stable and simple.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use facteur_core::{MessageState, OutboxState};

use crate::{data, AppState};

#[derive(Default)]
pub struct Metrics {
    /// (method, route template, status) → count. Route templates, never raw
    /// paths, so cardinality stays bounded and no id leaks.
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
}

impl Metrics {
    pub fn record(&self, method: &str, route: &str, status: u16) {
        let mut m = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        *m.entry((method.to_string(), route.to_string(), status))
            .or_default() += 1;
    }
}

pub async fn track(State(st): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let method = method_label(req.method()).to_string();
    let res = next.run(req).await;
    st.runtime
        .metrics
        .record(&method, &route, res.status().as_u16());
    res
}

/// The standard methods by name, anything else as `other`: a client may send any
/// token as a method, and one series per invented method would grow the counters
/// (and /metrics, which is public) without bound.
fn method_label(m: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *m {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

fn esc(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Whether this request may read `/metrics`: from `metrics_allow` (default
/// loopback; the client as [`crate::auth::client_ip`] resolves it, so a trusted
/// proxy's clients are judged by their own address), or with the configured
/// bearer token. In-process calls (no socket) are allowed.
fn metrics_allowed(st: &AppState, parts: &axum::http::request::Parts) -> bool {
    if let Some(want) = st.config.metrics_token.as_deref().filter(|t| !t.is_empty()) {
        let given = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if given.is_some_and(|g| crate::auth::ct_eq(g.trim(), want)) {
            return true;
        }
    }
    let peer = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    if peer.is_none() {
        return true;
    }
    crate::auth::client_ip(peer, &parts.headers, &st.config.trusted_proxies)
        .is_some_and(|ip| st.config.metrics_allow.iter().any(|n| n.contains(&ip)))
}

pub async fn metrics(State(st): State<AppState>, req: axum::extract::Request) -> Response {
    let (parts, _) = req.into_parts();
    if !metrics_allowed(&st, &parts) {
        tracing::warn!("/metrics refused to a client outside metrics_allow");
        return (
            axum::http::StatusCode::FORBIDDEN,
            "metrics: allowed from metrics_allow networks or with the metrics token\n",
        )
            .into_response();
    }
    let mut out = String::new();
    out.push_str("# HELP facteur_http_requests_total HTTP requests by route and status.\n");
    out.push_str("# TYPE facteur_http_requests_total counter\n");
    {
        let m = st
            .runtime
            .metrics
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        for ((method, route, status), n) in m.iter() {
            let _ = writeln!(
                out,
                "facteur_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{status}\"}} {n}",
                esc(method),
                esc(route)
            );
        }
    }
    out.push_str("# HELP facteur_messages Messages by state.\n# TYPE facteur_messages gauge\n");
    match data::messages_by_state(&st.store).await {
        Ok(rows) => {
            for (state, n) in rows {
                let _ = writeln!(
                    out,
                    "facteur_messages{{state=\"{}\"}} {n}",
                    state_label(state)
                );
            }
        }
        Err(e) => tracing::warn!(error = %e, "metrics: count messages"),
    }
    out.push_str("# HELP facteur_outbox Outbox replies by state.\n# TYPE facteur_outbox gauge\n");
    for s in OutboxState::ALL {
        match st.store.outbox_count(*s).await {
            Ok(n) => {
                let _ = writeln!(out, "facteur_outbox{{state=\"{}\"}} {n}", s.as_str());
            }
            Err(e) => tracing::warn!(error = %e, "metrics: count outbox"),
        }
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response()
}

fn state_label(s: Option<MessageState>) -> &'static str {
    s.map(MessageState::as_str).unwrap_or("all")
}
