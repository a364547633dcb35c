//! Graph requests that survive throttling, faults and token expiry
//! (<https://learn.microsoft.com/en-us/graph/throttling>,
//! <https://learn.microsoft.com/en-us/graph/best-practices-concept#handling-expected-errors>).

use std::time::{Duration, Instant};

use crate::auth::{Token, form, token_form};
use crate::{CollectError, Credentials, Key, Secret, Source};

/// How hard to try and how fast to go.
#[derive(Debug, Clone)]
pub struct Pacing {
    /// Attempts per request before giving up (the slice is then left to resume).
    pub attempts: u32,
    /// The first back-off; it doubles each attempt, up to `max_backoff`, with jitter.
    pub backoff: Duration,
    pub max_backoff: Duration,
    /// The least time between two requests: the identity and access reports allow a few
    /// requests per ten seconds per application and tenant.
    pub min_interval: Duration,
    /// How long one request may take.
    pub timeout: Duration,
    /// The longest wait between two polls of a Purview audit search (the first waits a
    /// second, each next one twice as long, up to this).
    pub poll_interval: Duration,
    /// How long one run waits for a Purview audit search to finish; the next run polls the
    /// same search again.
    pub search_wait: Duration,
}

impl Default for Pacing {
    fn default() -> Pacing {
        Pacing {
            attempts: 8,
            backoff: Duration::from_secs(2),
            max_backoff: Duration::from_secs(120),
            min_interval: Duration::from_secs(2),
            timeout: Duration::from_secs(120),
            poll_interval: Duration::from_secs(30),
            search_wait: Duration::from_secs(2 * 3600),
        }
    }
}

/// The largest page accepted: a thousand sign-ins are a few megabytes.
const MAX_PAGE_BYTES: u64 = 256 * 1024 * 1024;

pub struct Client {
    credentials: Credentials,
    pacing: Pacing,
    agent: ureq::Agent,
    token: Option<Token>,
    /// A device-code sign-in's refresh token: in memory only, for the life of the run.
    refresh: Option<Secret>,
    last_request: Option<Instant>,
    retries: u64,
}

/// What one attempt came to.
enum Attempt {
    Done(Vec<u8>),
    /// Try again after this long (a `Retry-After`, or a back-off), saying why.
    Again(Option<Duration>, String),
    Renew,
    Fail(CollectError),
}

impl Client {
    pub fn new(credentials: Credentials, pacing: Pacing) -> Client {
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(pacing.timeout))
            .http_status_as_error(false)
            .user_agent(concat!("sleuth/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Client { credentials, pacing, agent, token: None, refresh: None, last_request: None, retries: 0 }
    }

    pub fn graph_url(&self) -> &str {
        self.credentials.graph_url.trim_end_matches('/')
    }

    pub fn pacing(&self) -> &Pacing {
        &self.pacing
    }

    /// Retries so far (throttling, faults, renewed tokens).
    pub fn retries(&self) -> u64 {
        self.retries
    }

    /// The body of a Graph GET, after as many retries as the pacing allows.
    pub fn get(&mut self, url: &str, source: Source) -> Result<Vec<u8>, CollectError> {
        self.send(url, None, source)
    }

    /// The body of a Graph POST of `json`, retried like a GET. Used to create an audit log
    /// query: a retried creation at worst leaves an unused query behind in the tenant.
    pub fn post(&mut self, url: &str, json: &serde_json::Value, source: Source) -> Result<Vec<u8>, CollectError> {
        self.send(url, Some(json.to_string().as_bytes()), source)
    }

    fn send(&mut self, url: &str, body: Option<&[u8]>, source: Source) -> Result<Vec<u8>, CollectError> {
        let what = source.name().to_string();
        let mut renewed = false;
        let mut last = String::new();
        let mut request_id = String::new();
        let mut attempt = 0;
        while attempt < self.pacing.attempts {
            attempt += 1;
            request_id = request_id_new();
            let token = self.token()?;
            self.pace();
            let outcome = self.attempt(url, body, &token, &request_id, source);
            match outcome {
                Attempt::Done(body) => return Ok(body),
                Attempt::Fail(e) => return Err(e),
                Attempt::Renew if !renewed => {
                    // An expired or revoked token: one new token, then the same request.
                    renewed = true;
                    self.token = None;
                    self.retries += 1;
                    attempt -= 1;
                    tracing::info!(source = %what, request_id, "token refused; getting a new one");
                }
                Attempt::Renew => {
                    return Err(CollectError::Http {
                        what,
                        status: 401,
                        message: "the token was refused again after renewal".into(),
                        request_id,
                        permission: None,
                    });
                }
                Attempt::Again(wait, why) => {
                    self.retries += 1;
                    let wait = wait.unwrap_or_else(|| self.backoff(attempt));
                    tracing::info!(source = %what, request_id, why, wait_ms = wait.as_millis() as u64, "retrying");
                    last = why;
                    if attempt < self.pacing.attempts {
                        std::thread::sleep(wait);
                    }
                }
            }
        }
        Err(CollectError::GaveUp { what, attempts: self.pacing.attempts, last, request_id })
    }

    fn attempt(&mut self, url: &str, body: Option<&[u8]>, token: &str, request_id: &str, source: Source) -> Attempt {
        let what = source.name().to_string();
        let bearer = format!("Bearer {token}");
        let response = match body {
            None => self
                .agent
                .get(url)
                .header("Authorization", &bearer)
                .header("Accept", "application/json")
                .header("client-request-id", request_id)
                .call(),
            Some(body) => self
                .agent
                .post(url)
                .header("Authorization", &bearer)
                .header("Accept", "application/json")
                .header("Content-Type", "application/json")
                .header("client-request-id", request_id)
                .send(body),
        };
        self.last_request = Some(Instant::now());
        let mut response = match response {
            Ok(r) => r,
            Err(e) => return Attempt::Again(None, describe(&e)),
        };
        let status = response.status().as_u16();
        let retry_after = response.headers().get("Retry-After").and_then(|v| v.to_str().ok()).and_then(retry_after);
        let body = match response.body_mut().with_config().limit(MAX_PAGE_BYTES).read_to_vec() {
            Ok(b) => b,
            Err(e) => return Attempt::Again(None, format!("reading the answer: {}", describe(&e))),
        };
        match status {
            200..=299 => Attempt::Done(body),
            401 => Attempt::Renew,
            429 => Attempt::Again(retry_after, "HTTP 429 throttled".into()),
            500 | 502 | 503 | 504 => Attempt::Again(retry_after, format!("HTTP {status}")),
            _ => Attempt::Fail(CollectError::Http {
                what,
                status,
                message: graph_error(&body),
                request_id: request_id.to_string(),
                permission: (status == 403).then(|| source.permission().to_string()),
            }),
        }
    }

    /// A token, renewed before it expires.
    fn token(&mut self) -> Result<String, CollectError> {
        if let Some(t) = self.token.as_ref().filter(|t| t.fresh()) {
            return Ok(t.value.clone());
        }
        if let Key::DeviceCode(prompt) = self.credentials.key
            && self.refresh.is_none()
        {
            return self.device_sign_in(prompt);
        }
        let url = self.token_url();
        let mut last = String::new();
        for attempt in 1..=self.pacing.attempts {
            let form = token_form(&self.credentials, &url, self.refresh.as_ref(), None).map_err(CollectError::Auth)?;
            match self.token_request(&url, &form) {
                Granted::Done(value) => return Ok(value),
                Granted::Again(wait, why) => {
                    last = why;
                    self.retries += 1;
                    std::thread::sleep(wait.unwrap_or_else(|| self.backoff(attempt)));
                }
                Granted::Refused(_, _, _) if self.refresh.is_some() => {
                    // A refresh token revoked or expired mid-run: the person signs in again.
                    self.refresh = None;
                    if let Key::DeviceCode(prompt) = self.credentials.key {
                        return self.device_sign_in(prompt);
                    }
                }
                Granted::Refused(status, error, description) => {
                    let c = &self.credentials;
                    // AADSTS codes say what is wrong (unknown tenant, wrong secret, app not found).
                    return Err(CollectError::Auth(format!(
                        "signing in as application {} to tenant {} failed: HTTP {status} {error}: {description}",
                        c.client_id, c.tenant
                    )));
                }
            }
        }
        Err(CollectError::Auth(format!(
            "signing in to tenant {} failed {} times: {last}",
            self.credentials.tenant, self.pacing.attempts
        )))
    }

    fn token_url(&self) -> String {
        let c = &self.credentials;
        format!("{}/{}/oauth2/v2.0/token", c.login_url.trim_end_matches('/'), crate::source::encode(&c.tenant))
    }

    /// One form POST to the sign-in endpoint: its JSON answer, a reason to try again (with
    /// the `Retry-After` it gave), or its refusal (status, error, first line of its description).
    fn post_form(&mut self, url: &str, form: &str) -> Granted<serde_json::Value> {
        self.pace();
        let response =
            self.agent.post(url).header("Content-Type", "application/x-www-form-urlencoded").send(form.as_bytes());
        self.last_request = Some(Instant::now());
        let mut r = match response {
            Ok(r) => r,
            Err(e) => return Granted::Again(None, describe(&e)),
        };
        let status = r.status().as_u16();
        let wait = r.headers().get("Retry-After").and_then(|v| v.to_str().ok()).and_then(retry_after);
        let bytes = r.body_mut().with_config().limit(1 << 20).read_to_vec().unwrap_or_default();
        let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        if status == 200 {
            return Granted::Done(body);
        }
        if status == 429 || status >= 500 {
            return Granted::Again(wait, format!("HTTP {status}"));
        }
        let error = body["error"].as_str().unwrap_or("error").to_string();
        let description = body["error_description"].as_str().unwrap_or("").lines().next().unwrap_or("").to_string();
        Granted::Refused(status, error, description)
    }

    /// One token request: the token (kept, with a refresh token if one came), or why not.
    fn token_request(&mut self, url: &str, form: &str) -> Granted<String> {
        let body = match self.post_form(url, form) {
            Granted::Done(body) => body,
            Granted::Again(wait, why) => return Granted::Again(wait, why),
            Granted::Refused(status, error, description) => return Granted::Refused(status, error, description),
        };
        let value = body["access_token"].as_str().unwrap_or_default().to_string();
        if value.is_empty() {
            return Granted::Refused(
                200,
                "no_token".into(),
                "the token endpoint answered without an access token".into(),
            );
        }
        let life = body["expires_in"].as_u64().or_else(|| body["expires_in"].as_str()?.parse().ok());
        self.token = Some(Token::new(value.clone(), life.unwrap_or(3600)));
        if let Some(refresh) = body["refresh_token"].as_str().filter(|r| !r.is_empty()) {
            self.refresh = Some(Secret::new(refresh.to_string()));
        }
        Granted::Done(value)
    }

    /// The device authorization grant: a code for the person to enter in a browser, shown
    /// through `prompt`, then the token endpoint polled at the interval it asks until they
    /// have signed in, declined, or the code expired.
    fn device_sign_in(&mut self, prompt: fn(&str)) -> Result<String, CollectError> {
        let c = &self.credentials;
        let url = format!(
            "{}/{}/oauth2/v2.0/devicecode",
            c.login_url.trim_end_matches('/'),
            crate::source::encode(&c.tenant)
        );
        let scope = format!("{}/.default offline_access", c.graph_url.trim_end_matches('/'));
        let request = form(&[("client_id", c.client_id.as_str()), ("scope", scope.as_str())]);
        let mut answer = None;
        for attempt in 1..=self.pacing.attempts {
            match self.post_form(&url, &request) {
                Granted::Done(body) => {
                    answer = Some(body);
                    break;
                }
                Granted::Again(wait, _) => {
                    self.retries += 1;
                    std::thread::sleep(wait.unwrap_or_else(|| self.backoff(attempt)));
                }
                Granted::Refused(status, error, description) => {
                    return Err(CollectError::Auth(format!(
                        "asking for a device code for application {} in tenant {} failed: HTTP {status} {error}: {description}",
                        self.credentials.client_id, self.credentials.tenant
                    )));
                }
            }
        }
        let answer = answer.ok_or_else(|| CollectError::Auth("the device code endpoint did not answer".into()))?;
        let device = Secret::new(answer["device_code"].as_str().unwrap_or_default().to_string());
        let message = answer["message"].as_str().map(str::to_owned).unwrap_or_else(|| {
            format!(
                "To sign in, open {} in a browser and enter the code {}",
                answer["verification_uri"].as_str().unwrap_or("https://microsoft.com/devicelogin"),
                answer["user_code"].as_str().unwrap_or("?")
            )
        });
        prompt(&message);
        let mut interval = Duration::from_secs(answer["interval"].as_u64().unwrap_or(5));
        let expires = Instant::now() + Duration::from_secs(answer["expires_in"].as_u64().unwrap_or(900));
        let token_url = self.token_url();
        while Instant::now() < expires {
            std::thread::sleep(interval);
            let form = token_form(&self.credentials, &token_url, None, Some(&device)).map_err(CollectError::Auth)?;
            match self.token_request(&token_url, &form) {
                Granted::Done(value) => return Ok(value),
                Granted::Again(wait, _) => std::thread::sleep(wait.unwrap_or_default()),
                Granted::Refused(_, error, _) if error == "authorization_pending" => {}
                Granted::Refused(_, error, _) if error == "slow_down" => interval += Duration::from_secs(5),
                Granted::Refused(_, error, description) => {
                    return Err(CollectError::Auth(format!("the device-code sign-in ended: {error}: {description}")));
                }
            }
        }
        Err(CollectError::Auth("the device code expired before anyone signed in with it".into()))
    }

    /// Waits out the least interval between requests.
    fn pace(&self) {
        if let Some(at) = self.last_request {
            let since = at.elapsed();
            if since < self.pacing.min_interval {
                std::thread::sleep(self.pacing.min_interval - since);
            }
        }
    }

    /// Exponential back-off with full jitter on its upper half.
    fn backoff(&self, attempt: u32) -> Duration {
        let base = self.pacing.backoff.saturating_mul(1 << attempt.saturating_sub(1).min(16));
        let base = base.min(self.pacing.max_backoff);
        let half = base / 2;
        half + Duration::from_nanos(fastrand::u64(0..=half.as_nanos() as u64))
    }
}

/// What a request to the sign-in endpoint came to.
enum Granted<T> {
    Done(T),
    /// Try again: after this long if the endpoint said (`Retry-After`), saying why.
    Again(Option<Duration>, String),
    Refused(u16, String, String),
}

/// `Retry-After`: seconds, or an HTTP date.
fn retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = at.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO) + Duration::from_secs(1))
}

/// Graph's error message (`{"error": {"code", "message"}}`), else the body's start.
fn graph_error(body: &[u8]) -> String {
    let parsed: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    match parsed.as_ref().and_then(|v| v.get("error")) {
        Some(e) => format!("{}: {}", e["code"].as_str().unwrap_or("?"), e["message"].as_str().unwrap_or("")),
        None => String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
    }
}

/// A new GUID for `client-request-id` (and an assertion's `jti`).
pub(crate) fn request_id_new() -> String {
    let v = fastrand::u128(..);
    let h = format!("{v:032x}");
    format!("{}-{}-4{}-{}-{}", &h[0..8], &h[8..12], &h[13..16], &h[16..20], &h[20..32])
}

/// A transport error without the URL.
fn describe(e: &ureq::Error) -> String {
    match e {
        ureq::Error::Io(io) => io.to_string(),
        ureq::Error::Timeout(_) => "timed out".to_string(),
        ureq::Error::HostNotFound => "host not found".to_string(),
        ureq::Error::ConnectionFailed => "connection failed".to_string(),
        ureq::Error::BodyExceedsLimit(limit) => format!("answer larger than {limit} bytes"),
        _ => "request failed".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        assert_eq!(retry_after("7"), Some(Duration::from_secs(7)));
        let later = (chrono::Utc::now() + chrono::Duration::seconds(30)).to_rfc2822();
        let wait = retry_after(&later).unwrap();
        assert!(wait >= Duration::from_secs(29) && wait <= Duration::from_secs(32), "{wait:?}");
        assert_eq!(retry_after("soon"), None);
    }

    #[test]
    fn request_ids_are_guids() {
        let id = request_id_new();
        assert_eq!(id.len(), 36);
        assert_eq!(id.matches('-').count(), 4);
        assert_ne!(id, request_id_new());
    }
}
