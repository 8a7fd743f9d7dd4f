//! The app's own script and stylesheet, and the 404 fallback.

use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::error::WebError;

pub async fn static_js() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../static/app.js"),
    )
        .into_response()
}

pub async fn static_css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../static/app.css"),
    )
        .into_response()
}

pub async fn not_found() -> WebError {
    WebError::NotFound
}

/// The neutral theme's overrides, loaded after the DSFR stylesheet.
pub async fn static_neutral_css() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../../static/neutre.css"),
    )
        .into_response()
}

/// The State design system's files, vendored from `@gouvfr/dsfr` by
/// `scripts/vendor-dsfr.sh` and built into the binary: nothing is fetched from
/// outside, and a node needs no asset folder beside it.
static DSFR: include_dir::Dir<'_> = include_dir::include_dir!("$CARGO_MANIFEST_DIR/static/dsfr");

pub async fn static_dsfr(Path(path): Path<String>) -> Response {
    let Some(file) = DSFR.get_file(&path) else {
        return WebError::NotFound.into_response();
    };
    let kind = match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("woff2") => "font/woff2",
        Some("md") => "text/markdown; charset=utf-8",
        _ => "application/octet-stream",
    };
    (
        [
            (header::CONTENT_TYPE, kind),
            // The files change only with the vendored version, i.e. a new release.
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        file.contents(),
    )
        .into_response()
}
