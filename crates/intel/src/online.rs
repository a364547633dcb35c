//! Optional online providers: IPinfo, IPData and AbuseIPDB for addresses, Have I Been Pwned
//! for breached accounts. Never required and never called without the provider's key in the
//! environment; answers are cached on disk (a week by default) and requests to each provider
//! are spaced by a minimum interval, so an investigation of many addresses stays inside the
//! free tiers' limits. Keys travel only in request headers or parameters, never in messages.
//!
//! Each provider's base URL can be replaced (`SLEUTH_<PROVIDER>_URL`), for a corporate proxy
//! or a local stand-in server.

use std::collections::HashMap;
use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A provider, its key's environment variable, its default address and its pace.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    IpInfo,
    IpData,
    AbuseIpDb,
    Hibp,
}

impl Provider {
    pub const ALL: [Provider; 4] = [Provider::IpInfo, Provider::IpData, Provider::AbuseIpDb, Provider::Hibp];

    pub fn name(self) -> &'static str {
        match self {
            Provider::IpInfo => "ipinfo",
            Provider::IpData => "ipdata",
            Provider::AbuseIpDb => "abuseipdb",
            Provider::Hibp => "hibp",
        }
    }

    /// The environment variable holding the key.
    pub fn key_variable(self) -> &'static str {
        match self {
            Provider::IpInfo => "IPINFO_TOKEN",
            Provider::IpData => "IPDATA_API_KEY",
            Provider::AbuseIpDb => "ABUSEIPDB_API_KEY",
            Provider::Hibp => "HIBP_API_KEY",
        }
    }

    fn url_variable(self) -> &'static str {
        match self {
            Provider::IpInfo => "SLEUTH_IPINFO_URL",
            Provider::IpData => "SLEUTH_IPDATA_URL",
            Provider::AbuseIpDb => "SLEUTH_ABUSEIPDB_URL",
            Provider::Hibp => "SLEUTH_HIBP_URL",
        }
    }

    fn default_url(self) -> &'static str {
        match self {
            Provider::IpInfo => "https://ipinfo.io",
            Provider::IpData => "https://api.ipdata.co",
            Provider::AbuseIpDb => "https://api.abuseipdb.com/api/v2",
            Provider::Hibp => "https://haveibeenpwned.com/api/v3",
        }
    }

    /// Least time between two requests: free tiers allow about 50,000 a month (IPinfo),
    /// 1,500 a day (IPData), 1,000 a day (AbuseIPDB), and HIBP's smallest plan 10 a minute.
    pub fn min_interval(self) -> Duration {
        match self {
            Provider::IpInfo | Provider::IpData => Duration::from_millis(200),
            Provider::AbuseIpDb => Duration::from_secs(1),
            Provider::Hibp => Duration::from_secs(6),
        }
    }

    fn is_for_ips(self) -> bool {
        self != Provider::Hibp
    }
}

/// What one provider said about an address.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct IpAnswer {
    pub provider: Provider,
    /// From the cache rather than a request just now.
    pub cached: bool,
    pub fetched_at: String,
    pub country: Option<String>,
    pub city: Option<String>,
    pub asn: Option<u32>,
    pub org: Option<String>,
    /// What the provider flags: tor, vpn, proxy, hosting, relay, known_attacker ...
    pub flags: Vec<String>,
    /// AbuseIPDB's abuse confidence, 0 to 100.
    pub abuse_score: Option<u8>,
    pub reports: Option<u64>,
}

/// A breach an account appears in (Have I Been Pwned).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Breach {
    pub name: String,
    pub date: Option<String>,
    pub data_classes: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum OnlineError {
    #[error("{provider}: could not connect to {host}: {reason}")]
    Transport { provider: &'static str, host: String, reason: String },
    #[error("{provider}: the key in {variable} was refused (HTTP {status})")]
    Unauthorised { provider: &'static str, variable: &'static str, status: u16 },
    #[error("{provider}: rate limited (HTTP 429); retry after {retry_after}")]
    RateLimited { provider: &'static str, retry_after: String },
    #[error("{provider}: HTTP {status}")]
    Status { provider: &'static str, status: u16 },
    #[error("{provider}: unexpected answer: {reason}")]
    Unexpected { provider: &'static str, reason: String },
}

#[derive(Debug)]
struct Configured {
    provider: Provider,
    key: String,
    base_url: String,
}

/// The providers whose keys are set, with the cache and the pacing.
#[derive(Debug)]
pub struct Online {
    providers: Vec<Configured>,
    cache_dir: PathBuf,
    ttl: chrono::Duration,
    agent: ureq::Agent,
    last_request: Mutex<HashMap<Provider, Instant>>,
}

#[derive(Debug, Serialize, Deserialize)]
struct CacheEntry {
    /// Unix seconds.
    fetched_at: i64,
    status: u16,
    body: Value,
}

/// Where answers are cached: `$SLEUTH_CACHE_DIR`, else `$XDG_CACHE_HOME/sleuth`, else
/// `~/.cache/sleuth`; in its `online` folder.
pub fn default_cache_dir() -> PathBuf {
    let env = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
    let base = env("SLEUTH_CACHE_DIR")
        .or_else(|| env("XDG_CACHE_HOME").map(|d| d.join("sleuth")))
        .or_else(|| env("HOME").map(|h| h.join(".cache/sleuth")))
        .unwrap_or_else(|| PathBuf::from(".sleuth-cache"));
    base.join("online")
}

impl Online {
    /// The providers whose key variables are set (and not empty).
    pub fn from_env(cache_dir: PathBuf) -> Online {
        Online::new(cache_dir, |name| std::env::var(name).ok())
    }

    /// As [`Online::from_env`], reading variables through `var`.
    pub fn new(cache_dir: PathBuf, var: impl Fn(&str) -> Option<String>) -> Online {
        let providers = Provider::ALL
            .into_iter()
            .filter_map(|provider| {
                let key = var(provider.key_variable()).filter(|k| !k.trim().is_empty())?;
                let base_url = var(provider.url_variable()).unwrap_or_else(|| provider.default_url().to_string());
                Some(Configured {
                    provider,
                    key: key.trim().to_string(),
                    base_url: base_url.trim_end_matches('/').into(),
                })
            })
            .collect();
        let agent = ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(20)))
            .http_status_as_error(false)
            .user_agent(concat!("sleuth/", env!("CARGO_PKG_VERSION")))
            .build()
            .into();
        Online { providers, cache_dir, ttl: chrono::Duration::days(7), agent, last_request: Mutex::new(HashMap::new()) }
    }

    /// How long a cached answer is used.
    pub fn with_ttl(mut self, ttl: chrono::Duration) -> Online {
        self.ttl = ttl;
        self
    }

    pub fn providers(&self) -> Vec<Provider> {
        self.providers.iter().map(|c| c.provider).collect()
    }

    /// Every configured address provider's answer, in provider order.
    pub fn lookup_ip(&self, ip: IpAddr) -> Vec<Result<IpAnswer, OnlineError>> {
        self.providers.iter().filter(|c| c.provider.is_for_ips()).map(|c| self.ask_ip(c, ip)).collect()
    }

    /// The breaches an account appears in; `None` when HIBP_API_KEY is not set.
    pub fn breaches(&self, account: &str) -> Option<Result<Vec<Breach>, OnlineError>> {
        let configured = self.providers.iter().find(|c| c.provider == Provider::Hibp)?;
        let account = account.trim().to_lowercase();
        let url = format!("{}/breachedaccount/{}?truncateResponse=false", configured.base_url, encode(&account));
        Some(self.fetch(configured, &account, &url).and_then(|(entry, _)| parse_breaches(&entry)))
    }

    fn ask_ip(&self, configured: &Configured, ip: IpAddr) -> Result<IpAnswer, OnlineError> {
        let base = &configured.base_url;
        let url = match configured.provider {
            Provider::IpInfo => format!("{base}/{ip}/json"),
            Provider::IpData => format!("{base}/{ip}?api-key={}", encode(&configured.key)),
            Provider::AbuseIpDb => format!("{base}/check?ipAddress={}&maxAgeInDays=90", encode(&ip.to_string())),
            Provider::Hibp => unreachable!("HIBP answers about accounts"),
        };
        let (entry, cached) = self.fetch(configured, &ip.to_string(), &url)?;
        let mut answer = parse_ip_answer(configured.provider, &entry.body)?;
        answer.cached = cached;
        let fetched = DateTime::<Utc>::from_timestamp(entry.fetched_at, 0).unwrap_or_default();
        answer.fetched_at = fetched.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        Ok(answer)
    }

    /// The cached answer for `subject`, or a fresh one (paced, then cached).
    fn fetch(&self, configured: &Configured, subject: &str, url: &str) -> Result<(CacheEntry, bool), OnlineError> {
        let provider = configured.provider;
        let path = self.cache_dir.join(provider.name()).join(format!("{}.json", encode(subject)));
        if let Some(entry) =
            read_cache(&path).filter(|e| Utc::now().timestamp() - e.fetched_at < self.ttl.num_seconds())
        {
            return Ok((entry, true));
        }
        self.pace(provider);
        let mut request = self.agent.get(url).header("Accept", "application/json");
        request = match provider {
            Provider::IpInfo => request.header("Authorization", &format!("Bearer {}", configured.key)),
            Provider::AbuseIpDb => request.header("Key", &configured.key),
            Provider::Hibp => request.header("hibp-api-key", &configured.key),
            Provider::IpData => request,
        };
        let host = host_of(&configured.base_url);
        let transport =
            |reason: String| OnlineError::Transport { provider: provider.name(), host: host.clone(), reason };
        let mut response = request.call().map_err(|e| transport(describe(&e)))?;
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string().map_err(|e| transport(describe(&e)))?;
        let body = match status {
            200 => serde_json::from_str(&text)
                .map_err(|e| OnlineError::Unexpected { provider: provider.name(), reason: e.to_string() })?,
            // HIBP: the account is in no breach.
            404 if provider == Provider::Hibp => Value::Array(Vec::new()),
            401 | 403 => {
                return Err(OnlineError::Unauthorised {
                    provider: provider.name(),
                    variable: provider.key_variable(),
                    status,
                });
            }
            429 => {
                let retry = response.headers().get("retry-after").and_then(|v| v.to_str().ok());
                let retry_after = retry.map_or("a while".to_string(), |s| format!("{s} s"));
                return Err(OnlineError::RateLimited { provider: provider.name(), retry_after });
            }
            _ => return Err(OnlineError::Status { provider: provider.name(), status }),
        };
        let entry = CacheEntry { fetched_at: Utc::now().timestamp(), status, body };
        write_cache(&path, &entry);
        Ok((entry, false))
    }

    fn pace(&self, provider: Provider) {
        let mut last = self.last_request.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(previous) = last.get(&provider) {
            let wait = provider.min_interval().saturating_sub(previous.elapsed());
            if !wait.is_zero() {
                std::thread::sleep(wait);
            }
        }
        last.insert(provider, Instant::now());
    }
}

fn read_cache(path: &Path) -> Option<CacheEntry> {
    serde_json::from_slice(&fs::read(path).ok()?).ok()
}

/// A cache that cannot be written costs only a repeated request later.
fn write_cache(path: &Path, entry: &CacheEntry) {
    let written = path.parent().map(fs::create_dir_all).transpose().and_then(|_| {
        let temp = path.with_extension("tmp");
        fs::write(&temp, serde_json::to_vec(entry).expect("cache entry serialises"))?;
        fs::rename(&temp, path)
    });
    if let Err(e) = written {
        tracing::warn!("could not cache an online answer in {}: {e}", path.display());
    }
}

/// Percent-encodes everything but unreserved characters (RFC 3986): for URL parts and file
/// names alike.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~@".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split(['/', '?']).next().unwrap_or(rest).to_string()
}

/// A transport error without the URL (which may carry a key).
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

fn text(value: &Value, pointer: &str) -> Option<String> {
    value.pointer(pointer).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_string)
}

/// "AS15169" or "AS15169 Google LLC" -> 15169
fn asn_of(text: &str) -> Option<u32> {
    text.strip_prefix("AS")?.split_whitespace().next()?.parse().ok()
}

fn parse_ip_answer(provider: Provider, body: &Value) -> Result<IpAnswer, OnlineError> {
    let mut answer = IpAnswer {
        provider,
        cached: false,
        fetched_at: String::new(),
        country: None,
        city: None,
        asn: None,
        org: None,
        flags: Vec::new(),
        abuse_score: None,
        reports: None,
    };
    let flag = |answer: &mut IpAnswer, on: bool, name: &str| {
        if on {
            answer.flags.push(name.to_string());
        }
    };
    let is = |pointer: &str| body.pointer(pointer).and_then(Value::as_bool).unwrap_or(false);
    match provider {
        Provider::IpInfo => {
            answer.country = text(body, "/country");
            answer.city = text(body, "/city");
            let org = text(body, "/org").or_else(|| {
                text(body, "/asn/asn").map(|a| format!("{a} {}", text(body, "/asn/name").unwrap_or_default()))
            });
            answer.asn = org.as_deref().and_then(asn_of);
            answer.org = org.map(|o| o.split_once(' ').map_or(o.clone(), |(_, name)| name.to_string()));
            for kind in ["vpn", "proxy", "tor", "relay", "hosting"] {
                flag(&mut answer, is(&format!("/privacy/{kind}")), kind);
            }
            if text(body, "/asn/type").as_deref() == Some("hosting") && !answer.flags.iter().any(|f| f == "hosting") {
                answer.flags.push("hosting".into());
            }
        }
        Provider::IpData => {
            answer.country = text(body, "/country_code");
            answer.city = text(body, "/city");
            answer.asn = text(body, "/asn/asn").as_deref().and_then(asn_of);
            answer.org = text(body, "/asn/name");
            for (pointer, name) in [
                ("/threat/is_tor", "tor"),
                ("/threat/is_vpn", "vpn"),
                ("/threat/is_proxy", "proxy"),
                ("/threat/is_icloud_relay", "relay"),
                ("/threat/is_datacenter", "hosting"),
                ("/threat/is_known_attacker", "known_attacker"),
                ("/threat/is_known_abuser", "known_abuser"),
                ("/threat/is_threat", "threat"),
            ] {
                flag(&mut answer, is(pointer), name);
            }
        }
        Provider::AbuseIpDb => {
            let data = body.get("data").ok_or_else(|| OnlineError::Unexpected {
                provider: provider.name(),
                reason: "no `data` object".into(),
            })?;
            answer.country = text(data, "/countryCode");
            answer.org = text(data, "/isp");
            answer.abuse_score = data.get("abuseConfidenceScore").and_then(Value::as_u64).map(|s| s.min(100) as u8);
            answer.reports = data.get("totalReports").and_then(Value::as_u64);
            flag(&mut answer, is("/data/isTor"), "tor");
            if text(data, "/usageType").is_some_and(|u| u.contains("Data Center") || u.contains("Hosting")) {
                answer.flags.push("hosting".into());
            }
        }
        Provider::Hibp => unreachable!("HIBP answers about accounts"),
    }
    Ok(answer)
}

fn parse_breaches(entry: &CacheEntry) -> Result<Vec<Breach>, OnlineError> {
    let list = entry.body.as_array().ok_or_else(|| OnlineError::Unexpected {
        provider: Provider::Hibp.name(),
        reason: "not a list of breaches".into(),
    })?;
    Ok(list
        .iter()
        .map(|b| Breach {
            name: text(b, "/Name").unwrap_or_default(),
            date: text(b, "/BreachDate"),
            data_classes: b["DataClasses"]
                .as_array()
                .map(|c| c.iter().filter_map(Value::as_str).map(str::to_string).collect())
                .unwrap_or_default(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_is_configured_without_keys() {
        let online = Online::new(PathBuf::from("/nonexistent"), |_| None);
        assert!(online.providers().is_empty());
        assert!(online.lookup_ip("8.8.8.8".parse().unwrap()).is_empty());
        assert!(online.breaches("a@example.com").is_none());
        let blank = Online::new(PathBuf::from("/nonexistent"), |name| (name == "IPINFO_TOKEN").then(|| "  ".into()));
        assert!(blank.providers().is_empty());
    }

    #[test]
    fn parts_of_urls_and_names() {
        assert_eq!(encode("2001:db8::1"), "2001%3Adb8%3A%3A1");
        assert_eq!(encode("Eve+x@Example.com/../"), "Eve%2Bx@Example.com%2F..%2F");
        assert_eq!(host_of("http://127.0.0.1:8080/api/v2"), "127.0.0.1:8080");
        assert_eq!(asn_of("AS15169 Google LLC"), Some(15169));
        assert_eq!(asn_of("Google"), None);
    }
}
