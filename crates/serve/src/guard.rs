//! What every request passes before a handler sees it, and what every answer carries.
//!
//! - `Host` must name the bound address (or localhost on loopback): a page on another site
//!   that resolves its own name to 127.0.0.1 (DNS rebinding) is refused. Bound to every
//!   interface (which needs a token), any name is taken: the token guards.
//! - With a token (`--token-env`), every request needs it: `Authorization: Bearer TOKEN`, or
//!   the `sleuth_session` cookie that `POST /api/session` sets for a browser (HttpOnly,
//!   SameSite=Strict). Only the sign-in page, its script and style, and that POST are open.
//! - A request that changes something (POST) must be JSON: an HTML form on another site
//!   cannot send that without a CORS preflight, which is never answered.
//! - Answers forbid inline scripts and every other origin (CSP), sniffing, framing, caching
//!   and referrers.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::Workbench;
use crate::api::error;

/// The workbench's bearer token: never shown, compared in constant time.
#[derive(Clone)]
pub struct Token(String);

impl Token {
    /// A token must be long enough not to be guessed.
    pub fn new(value: String) -> Result<Token, String> {
        if value.trim().len() < 16 {
            return Err("the token must be at least 16 characters".into());
        }
        Ok(Token(value.trim().to_string()))
    }

    pub fn matches(&self, given: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), given.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token([redacted])")
    }
}

pub const SESSION_COOKIE: &str = "sleuth_session";

/// Paths open without the token: the sign-in page and what it needs.
fn open_path(method: &Method, path: &str) -> bool {
    matches!(
        (method, path),
        (&Method::GET, "/login" | "/workbench.js" | "/workbench.css") | (&Method::POST, "/api/session")
    )
}

pub async fn check(State(wb): State<Arc<Workbench>>, request: Request, next: Next) -> Response {
    let host = request.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    if !wb.hosts.is_empty() && !wb.hosts.iter().any(|h| h.eq_ignore_ascii_case(host)) {
        return harden(
            error(
                StatusCode::MISDIRECTED_REQUEST,
                "wrong_host",
                "the Host header does not name this server (bound address or localhost)",
            )
            .into_response(),
        );
    }
    if let Some(token) = &wb.config.token
        && !open_path(request.method(), request.uri().path())
        && !authorised(token, &request)
    {
        let mut answer = error(StatusCode::UNAUTHORIZED, "unauthorised", "this server needs its token").into_response();
        answer.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return harden(answer);
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        let json =
            request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| {
                v.split(';').next().is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
            });
        if !json {
            return harden(
                error(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "json_required",
                    "requests that change something must be application/json",
                )
                .into_response(),
            );
        }
    }
    harden(next.run(request).await)
}

fn authorised(token: &Token, request: &Request) -> bool {
    let headers = request.headers();
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|given| token.matches(given.trim()));
    let cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().strip_prefix(SESSION_COOKIE)?.strip_prefix('='))
        .any(|given| token.matches(given));
    bearer || cookie
}

/// The headers every answer carries. A handler may have set a policy of its own (the report
/// page: inline styles, framed by the workbench, still no script); it stands. Forms may go
/// to this origin only (the queue's filters are a GET form; writes take JSON alone).
fn harden(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.entry(header::CONTENT_SECURITY_POLICY).or_insert(
        HeaderValue::from_static(
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-src 'self'; \
             base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        ),
    );
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.entry(header::X_FRAME_OPTIONS).or_insert(HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
