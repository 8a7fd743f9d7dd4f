//! Security headers on every response. A handler that needs a different policy
//! (the sandboxed mail body, the cacheable static files) sets its own header
//! first; this layer never overwrites one already present.

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

/// No inline script or style anywhere in the app: the CSP would block them.
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; form-action 'self'; frame-src 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Browsers that saw the site over TLS keep to TLS for a year (only sent when
/// `secure_cookies` says the app is served over TLS).
pub const HSTS: &str = "max-age=31536000; includeSubDomains";

pub async fn headers(
    axum::extract::State(st): axum::extract::State<crate::AppState>,
    req: Request,
    next: Next,
) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    if st.config.secure_cookies {
        h.insert(
            HeaderName::from_static("strict-transport-security"),
            HeaderValue::from_static(HSTS),
        );
    }
    let set = |h: &mut axum::http::HeaderMap, name: &'static str, value: &'static str| {
        h.entry(HeaderName::from_static(name))
            .or_insert(HeaderValue::from_static(value));
    };
    set(h, "content-security-policy", CSP);
    // Pages and API answers carry subjects, names and, once revealed, the
    // original mail: kept out of browser and proxy caches, so that neither the
    // Back button nor the next user of a shared computer finds them after logout.
    // Static files set their own (public) caching.
    set(h, "cache-control", "no-store");
    set(h, "x-frame-options", "DENY");
    set(h, "x-content-type-options", "nosniff");
    set(h, "referrer-policy", "no-referrer");
    set(h, "cross-origin-opener-policy", "same-origin");
    set(
        h,
        "permissions-policy",
        "camera=(), microphone=(), geolocation=()",
    );
    res
}
