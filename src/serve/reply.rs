//! What every answer of the server shares: JSON bodies, errors as
//! `{"error": …}`, and the security headers (the `Content-Security-Policy`
//! that keeps the console to its own origin, `nosniff`, `no-store`).

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// A JSON answer.
pub fn answer(status: StatusCode, v: Value) -> Response {
    let mut r = (status, axum::Json(v)).into_response();
    security_headers(r.headers_mut());
    r
}

pub fn error(status: StatusCode, message: impl Into<String>) -> Response {
    answer(status, json!({ "error": message.into() }))
}

pub fn security_headers(h: &mut HeaderMap) {
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'self'; frame-ancestors 'none'"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
}
