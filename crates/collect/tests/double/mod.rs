//! A Graph test double on the loopback interface: the client credentials token endpoint
//! (tokens that really expire), the four sources paged with `@odata.nextLink` and filtered on
//! their time field, Purview audit searches (created, `running` for a scripted number of polls,
//! then `succeeded` or `failed`, their records paged), and scripted faults (429 with and
//! without `Retry-After`, 503, 400, 403) by request number. Every request is logged with its
//! time and answer.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub enum Fault {
    Throttle(Option<u64>),
    Unavailable,
    BadRequest,
}

#[derive(Debug, Clone)]
pub struct Logged {
    pub at: Instant,
    pub method: String,
    pub target: String,
    pub status: u16,
    pub request_id: Option<String>,
}

#[derive(Default)]
pub struct State {
    /// Records per Graph path: (time, record).
    pub data: HashMap<String, Vec<(String, serde_json::Value)>>,
    pub page_size: usize,
    /// Faults by the number of the GET request (1-based) they answer.
    pub faults: HashMap<usize, Fault>,
    /// Faults for every request to a path.
    pub forbidden_paths: Vec<String>,
    pub token_life: Duration,
    pub expires_in_said: u64,
    pub tokens: Vec<(String, Instant)>,
    pub secret: String,
    /// The certificate's public key (PKCS#1 DER) that client assertions must verify with.
    pub public_key: Option<Vec<u8>>,
    /// The claims of the assertions accepted.
    pub assertions: Vec<serde_json::Value>,
    pub gets: usize,
    pub log: Vec<Logged>,
    /// Purview audit searches created: (id, from, to, polls left before it finishes).
    pub searches: Vec<Search>,
    /// Polls a new search answers `running` before it finishes.
    pub search_polls: usize,
    /// The searches to fail (by creation number, 1-based) instead of succeeding.
    pub failing_searches: Vec<usize>,
    /// The API versions that know audit searches (`beta` unless said), and the status the
    /// others answer (404 unless said).
    pub search_versions: Vec<String>,
    pub unknown_version_status: u16,
    /// Device-code sign-in: polls answered `authorization_pending` before the person signs in.
    pub device_pending: usize,
    /// The refresh tokens issued, and how many times one was redeemed.
    pub refresh_tokens: Vec<String>,
    pub refreshes: usize,
    /// The next token request is throttled: 429 with this `Retry-After`.
    pub token_throttle: Option<u64>,
}

/// The device code the double hands out (a secret: it must reach no file or output).
pub const DEVICE_CODE: &str = "DAQABAAEAAAD--device-code-secret";

#[derive(Debug, Clone)]
pub struct Search {
    pub id: String,
    pub from: String,
    pub to: String,
    pub polls_left: usize,
    pub fails: bool,
    pub polls: usize,
}

/// Where the double keeps the unified audit log's records.
pub const UAL: &str = "ual";

pub struct Double {
    pub url: String,
    pub state: Arc<Mutex<State>>,
}

impl Double {
    pub fn start(secret: &str) -> Double {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State {
            page_size: 3,
            token_life: Duration::from_secs(3600),
            expires_in_said: 3600,
            secret: secret.to_string(),
            search_versions: vec!["beta".into()],
            ..Default::default()
        }));
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let shared = shared.clone();
                std::thread::spawn(move || serve(stream, &shared));
            }
        });
        Double { url, state }
    }

    pub fn add(&self, path: &str, time_field: &str, times: &[&str], prefix: &str) {
        let mut s = self.state.lock().unwrap();
        let rows = s.data.entry(path.to_string()).or_default();
        for (i, t) in times.iter().enumerate() {
            // Shaped like the source's records, enough for `sleuth ingest` to know them.
            let id = format!("{prefix}-{i:04}-0000-4000-8000-000000000000");
            let record = match time_field {
                "createdDateTime" => {
                    serde_json::json!({"id": id, time_field: t, "userPrincipalName": "someone@contoso.example",
                    "userId": "4b3a2918-0716-4f5e-8d7c-00000000a001", "appDisplayName": "Office 365 Exchange Online",
                    "appId": "00000002-0000-0ff1-ce00-000000000000", "ipAddress": "81.2.69.142", "clientAppUsed": "Browser",
                    "status": {"errorCode": 0}, "isInteractive": true, "signInEventTypes": ["interactiveUser"]})
                }
                _ => serde_json::json!({"id": id, time_field: t, "userPrincipalName": "someone@contoso.example"}),
            };
            rows.push((t.to_string(), record));
        }
        // Newest first, as Graph serves the logs.
        rows.sort_by(|a, b| b.0.cmp(&a.0));
    }

    /// Unified audit log records, shaped as the audit search's records come (auditLogRecord
    /// with its `auditData`).
    pub fn add_ual(&self, times: &[&str], prefix: &str) {
        let mut s = self.state.lock().unwrap();
        let rows = s.data.entry(UAL.to_string()).or_default();
        for (i, t) in times.iter().enumerate() {
            let id = format!("{prefix}-{i:04}-0000-4000-8000-000000000000");
            let record = serde_json::json!({
                "id": id, "createdDateTime": t, "auditLogRecordType": "exchangeItem", "operation": "MailItemsAccessed",
                "organizationId": "3c1e5a7d-9b2f-4d8e-a6c4-0f1e2d3c4b5a", "userType": "regular",
                "userId": "someone@contoso.example", "service": "Exchange", "objectId": "",
                "userPrincipalName": "someone@contoso.example", "clientIp": "81.2.69.142", "administrativeUnits": [],
                "auditData": {"CreationTime": t.trim_end_matches('Z'), "Id": id, "Operation": "MailItemsAccessed",
                    "RecordType": 50, "UserId": "someone@contoso.example", "ClientIPAddress": "81.2.69.142",
                    "Workload": "Exchange", "ResultStatus": "Succeeded"}
            });
            rows.push((t.to_string(), record));
        }
        rows.sort_by(|a, b| b.0.cmp(&a.0));
    }

    pub fn log(&self) -> Vec<Logged> {
        self.state.lock().unwrap().log.clone()
    }
}

fn serve(stream: TcpStream, state: &Mutex<State>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = line.split_whitespace();
        let (method, target) = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
        let mut headers = HashMap::new();
        loop {
            let mut h = String::new();
            reader.read_line(&mut h).unwrap();
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((k, v)) = h.split_once(':') {
                headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
            }
        }
        let length: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
        let mut body = vec![0; length];
        reader.read_exact(&mut body).unwrap();
        let (status, extra, answer) = answer(state, &method, &target, &headers, &body);
        {
            let mut s = state.lock().unwrap();
            s.log.push(Logged {
                at: Instant::now(),
                method,
                target,
                status,
                request_id: headers.get("client-request-id").cloned(),
            });
        }
        let mut out = stream.try_clone().unwrap();
        let head = format!(
            "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}\r\n",
            answer.len()
        );
        if out.write_all(head.as_bytes()).and_then(|_| out.write_all(answer.as_bytes())).is_err() {
            return;
        }
    }
}

fn base64_url(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text).unwrap_or_default()
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            out.push(u8::from_str_radix(&text[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

fn answer(
    state: &Mutex<State>,
    method: &str,
    target: &str,
    headers: &HashMap<String, String>,
    body: &[u8],
) -> (u16, String, String) {
    let mut s = state.lock().unwrap();
    let form = String::from_utf8_lossy(body).to_string();
    let field = |name: &str| form.split('&').find_map(|kv| kv.strip_prefix(&format!("{name}="))).map(decode);
    if method == "POST" && target.ends_with("/oauth2/v2.0/devicecode") {
        let answer = serde_json::json!({"device_code": DEVICE_CODE, "user_code": "FJ7Q2KDM",
            "verification_uri": "https://microsoft.com/devicelogin", "expires_in": 900, "interval": 1,
            "message": "To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code FJ7Q2KDM to authenticate."});
        return (200, String::new(), answer.to_string());
    }
    if method == "POST" && target.ends_with("/oauth2/v2.0/token") {
        if let Some(after) = s.token_throttle.take() {
            return (429, format!("Retry-After: {after}\r\n"), r#"{"error":"temporarily_unavailable"}"#.into());
        }
        let grant = field("grant_type").unwrap_or_default();
        if grant == "urn:ietf:params:oauth:grant-type:device_code" {
            if field("device_code").as_deref() != Some(DEVICE_CODE) {
                return (400, String::new(), r#"{"error":"bad_verification_code"}"#.into());
            }
            if s.device_pending > 0 {
                s.device_pending -= 1;
                return (400, String::new(), r#"{"error":"authorization_pending","error_description":"AADSTS70016: OAuth 2.0 device flow error. Authorization is pending."}"#.into());
            }
        } else if grant == "refresh_token" {
            let given = field("refresh_token").unwrap_or_default();
            if !s.refresh_tokens.contains(&given) {
                return (400, String::new(), r#"{"error":"invalid_grant"}"#.into());
            }
            s.refreshes += 1;
        } else if let Some(assertion) = field("client_assertion") {
            let ok = field("client_assertion_type").as_deref()
                == Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
                && s.public_key.as_ref().is_some_and(|key| {
                    let parts: Vec<&str> = assertion.split('.').collect();
                    let signature = base64_url(parts.get(2).unwrap_or(&""));
                    parts.len() == 3
                        && ring::signature::UnparsedPublicKey::new(&ring::signature::RSA_PKCS1_2048_8192_SHA256, key)
                            .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature)
                            .is_ok()
                });
            if !ok {
                return (401, String::new(), r#"{"error":"invalid_client","error_description":"AADSTS700027: The certificate with identifier used to sign the client assertion is not registered on application."}"#.into());
            }
            let claims: serde_json::Value =
                serde_json::from_slice(&base64_url(assertion.split('.').nth(1).unwrap())).unwrap();
            s.assertions.push(claims);
        } else if field("client_secret").unwrap_or_default() != s.secret {
            return (
                401,
                String::new(),
                r#"{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided."}"#
                    .into(),
            );
        }
        let token = format!("token-{}", s.tokens.len() + 1);
        let life = s.token_life;
        s.tokens.push((token.clone(), Instant::now() + life));
        let mut answer =
            serde_json::json!({"token_type": "Bearer", "expires_in": s.expires_in_said, "access_token": token});
        if grant != "client_credentials" {
            let refresh = format!("refresh-secret-{}", s.refresh_tokens.len() + 1);
            s.refresh_tokens.push(refresh.clone());
            answer["refresh_token"] = refresh.into();
        }
        return (200, String::new(), answer.to_string());
    }
    s.gets += 1;
    let n = s.gets;
    let bearer = headers.get("authorization").and_then(|v| v.strip_prefix("Bearer ")).unwrap_or("");
    let valid = s.tokens.iter().any(|(t, until)| t == bearer && Instant::now() < *until);
    if !valid {
        return (401, String::new(), r#"{"error":{"code":"InvalidAuthenticationToken","message":"Lifetime validation failed, the token is expired."}}"#.into());
    }
    match s.faults.remove(&n) {
        Some(Fault::Throttle(Some(after))) => {
            return (
                429,
                format!("Retry-After: {after}\r\n"),
                r#"{"error":{"code":"TooManyRequests","message":"throttled"}}"#.into(),
            );
        }
        Some(Fault::Throttle(None)) => {
            return (429, String::new(), r#"{"error":{"code":"TooManyRequests","message":"throttled"}}"#.into());
        }
        Some(Fault::Unavailable) => {
            return (503, String::new(), r#"{"error":{"code":"ServiceUnavailable","message":"down"}}"#.into());
        }
        Some(Fault::BadRequest) => {
            return (400, String::new(), r#"{"error":{"code":"BadRequest","message":"scripted"}}"#.into());
        }
        None => {}
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    if s.forbidden_paths.iter().any(|p| path.starts_with(p.as_str())) {
        return (403, String::new(), r#"{"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges to complete the operation."}}"#.into());
    }
    let mut query = decode(query);
    let mut data_path = path.to_string();
    if let Some((version, rest)) = path.trim_start_matches('/').split_once("/security/auditLog/queries") {
        if !s.search_versions.iter().any(|v| v == version) {
            // Graph answers an unknown segment with 400 BadRequest, some proxies with 404.
            return (
                if s.unknown_version_status == 0 { 404 } else { s.unknown_version_status },
                String::new(),
                r#"{"error":{"code":"BadRequest","message":"Resource not found for the segment 'auditLog'."}}"#.into(),
            );
        }
        let id = rest.trim_start_matches('/').split('/').next().unwrap_or("").to_string();
        if method == "POST" && id.is_empty() {
            let asked: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
            let number = s.searches.len() + 1;
            let search = Search {
                id: format!("0a1b2c3d-0000-4000-8000-{number:012}"),
                from: asked["filterStartDateTime"].as_str().unwrap_or("").to_string(),
                to: asked["filterEndDateTime"].as_str().unwrap_or("").to_string(),
                polls_left: s.search_polls,
                fails: s.failing_searches.contains(&number),
                polls: 0,
            };
            let answer = serde_json::json!({"id": search.id, "status": "notStarted",
                "filterStartDateTime": search.from, "filterEndDateTime": search.to});
            s.searches.push(search);
            return (201, String::new(), answer.to_string());
        }
        let Some(search) = s.searches.iter_mut().find(|q| q.id == id) else {
            return (404, String::new(), r#"{"error":{"code":"NotFound","message":"no such query"}}"#.into());
        };
        if !rest.ends_with("/records") {
            search.polls += 1;
            let status = if search.polls_left > 0 {
                search.polls_left -= 1;
                "running"
            } else if search.fails {
                "failed"
            } else {
                "succeeded"
            };
            return (200, String::new(), serde_json::json!({"id": search.id, "status": status}).to_string());
        }
        if !query.contains("$skiptoken=") {
            query = format!(" ge {} lt {}", search.from, search.to);
        }
        data_path = UAL.to_string();
    }
    // The window: the filter's `ge` and `lt` times, or the skip token's.
    let (from, to, offset) = if let Some(token) = query.split("$skiptoken=").nth(1) {
        let mut p = token.split(',');
        (p.next().unwrap().to_string(), p.next().unwrap().to_string(), p.next().unwrap().parse::<usize>().unwrap())
    } else {
        let after = |op: &str| query.split(op).nth(1).map(|r| r[..20].to_string()).unwrap_or_default();
        (after(" ge "), after(" lt "), 0)
    };
    let rows: Vec<serde_json::Value> = s
        .data
        .get(&data_path)
        .map(|rows| rows.iter().filter(|(t, _)| *t >= from && *t < to).map(|(_, r)| r.clone()).collect())
        .unwrap_or_default();
    let page: Vec<serde_json::Value> = rows.iter().skip(offset).take(s.page_size).cloned().collect();
    let mut out =
        serde_json::json!({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#auditLogs", "value": page});
    if offset + s.page_size < rows.len() {
        let host = headers.get("host").cloned().unwrap_or_default();
        out["@odata.nextLink"] = format!("http://{host}{path}?$skiptoken={from},{to},{}", offset + s.page_size).into();
    }
    (200, String::new(), out.to_string())
}
