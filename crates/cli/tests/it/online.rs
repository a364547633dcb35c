//! The optional online providers, against a local stand-in server that replays recorded-format
//! responses: keys from the environment only, sent in headers and never printed, answers cached,
//! requests paced, and nothing called without a key.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use serde_json::Value;

use crate::support::*;

const KEYS: [(&str, &str); 4] = [
    ("IPINFO_TOKEN", "secret-ipinfo-token"),
    ("IPDATA_API_KEY", "secret-ipdata-key"),
    ("ABUSEIPDB_API_KEY", "secret-abuseipdb-key"),
    ("HIBP_API_KEY", "secret-hibp-key"),
];

/// One request the stand-in server received.
#[derive(Debug, Clone)]
struct Seen {
    target: String,
    headers: Vec<(String, String)>,
    at: Instant,
}

/// A loopback HTTP server answering as the four providers would, from the fixtures.
struct StandIn {
    url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl StandIn {
    fn start() -> StandIn {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                let target = line.split_whitespace().nth(1).unwrap_or_default().to_string();
                let mut headers = Vec::new();
                loop {
                    let mut header = String::new();
                    reader.read_line(&mut header).unwrap();
                    let Some((name, value)) = header.trim_end().split_once(": ") else { break };
                    headers.push((name.to_lowercase(), value.to_string()));
                }
                log.lock().unwrap().push(Seen { target: target.clone(), headers, at: Instant::now() });
                let (status, body) = answer(&target);
                let response = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                stream.write_all(response.as_bytes()).unwrap();
            }
        });
        StandIn { url, seen }
    }

    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// Runs `sleuth` with the providers pointed at this server, `keys` set and a cache in `cache`.
    fn run(&self, cache: &std::path::Path, keys: &[(&str, &str)], args: &[&str]) -> (i32, String, String) {
        let mut command = sleuth();
        for (variable, _) in KEYS {
            command.env_remove(variable);
        }
        for (variable, value) in keys {
            command.env(variable, value);
        }
        for (variable, path) in [
            ("SLEUTH_IPINFO_URL", "ipinfo"),
            ("SLEUTH_IPDATA_URL", "ipdata"),
            ("SLEUTH_ABUSEIPDB_URL", "abuseipdb"),
            ("SLEUTH_HIBP_URL", "hibp"),
        ] {
            command.env(variable, format!("{}/{path}", self.url));
        }
        command.env("SLEUTH_CACHE_DIR", cache);
        decode(command.args(args).output().unwrap())
    }
}

fn fixture_text(name: &str) -> String {
    std::fs::read_to_string(fixture(&format!("online/{name}"))).unwrap()
}

fn answer(target: &str) -> (&'static str, String) {
    let ok = |name: &str| ("200 OK", fixture_text(name));
    match target {
        "/ipinfo/185.220.101.5/json" => ok("ipinfo-185.220.101.5.json"),
        "/ipinfo/8.8.8.8/json" => ok("ipinfo-8.8.8.8.json"),
        t if t.starts_with("/ipdata/185.220.101.5?api-key=") => ok("ipdata-185.220.101.5.json"),
        "/abuseipdb/check?ipAddress=185.220.101.5&maxAgeInDays=90" => ok("abuseipdb-185.220.101.5.json"),
        "/hibp/breachedaccount/pwned@example.com?truncateResponse=false" => ok("hibp-breached.json"),
        t if t.starts_with("/hibp/breachedaccount/") => ("404 Not Found", String::new()),
        _ => ("401 Unauthorized", r#"{"error":"invalid token"}"#.to_string()),
    }
}

fn header<'a>(seen: &'a Seen, name: &str) -> Option<&'a str> {
    seen.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
}

fn assert_no_secret(text: &str) {
    for (_, key) in KEYS {
        assert!(!text.contains(key), "a key reached the output: {text}");
    }
}

#[test]
fn providers_answer_once_then_from_the_cache() {
    intel_dir();
    let server = StandIn::start();
    let cache = temp();
    let args = ["intel", "--online", "--format", "json", "185.220.101.5"];
    let (code, out, err) = server.run(cache.path(), &KEYS[..3], &args);
    assert_eq!(code, 0, "{err}");
    assert_no_secret(&(out.clone() + &err));
    let all: Value = serde_json::from_str(&out).unwrap();
    let tor = &all["ips"][0];
    assert_eq!(tor["class"], "tor_exit", "the offline answer stands beside the online ones");
    let online = tor["online"].as_array().unwrap();
    let providers: Vec<&str> = online.iter().map(|a| a["provider"].as_str().unwrap()).collect();
    assert_eq!(providers, ["ipinfo", "ipdata", "abuseipdb"]);
    assert!(online.iter().all(|a| a["cached"] == false && a["country"] == "DE"));
    assert_eq!(online[0]["asn"], 60729);
    assert_eq!(online[0]["flags"], serde_json::json!(["tor", "hosting"]));
    assert_eq!(online[1]["flags"], serde_json::json!(["tor", "known_attacker", "known_abuser", "threat"]));
    assert_eq!((online[2]["abuse_score"].as_u64(), online[2]["reports"].as_u64()), (Some(100), Some(2874)));

    // Keys went in the providers' headers (IPData takes its key as a parameter).
    let seen = server.seen();
    assert_eq!(seen.len(), 3);
    assert_eq!(header(&seen[0], "authorization"), Some("Bearer secret-ipinfo-token"));
    assert!(seen[1].target.ends_with("api-key=secret-ipdata-key"), "{:?}", seen[1].target);
    assert_eq!(header(&seen[2], "key"), Some("secret-abuseipdb-key"));
    assert!(seen.iter().all(|s| header(s, "user-agent").is_some_and(|ua| ua.starts_with("sleuth/"))));

    // The second time, nothing leaves the machine.
    let (code, out, err) = server.run(cache.path(), &KEYS[..3], &args);
    assert_eq!(code, 0, "{err}");
    let all: Value = serde_json::from_str(&out).unwrap();
    assert!(all["ips"][0]["online"].as_array().unwrap().iter().all(|a| a["cached"] == true));
    assert_eq!(server.seen().len(), 3);
    // The cache holds answers, never keys.
    for entry in walk(cache.path()) {
        assert_no_secret(&std::fs::read_to_string(entry).unwrap());
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() { files.extend(walk(&path)) } else { files.push(path) }
    }
    files
}

#[test]
fn without_keys_nothing_is_called() {
    intel_dir();
    let server = StandIn::start();
    let cache = temp();
    let (code, out, err) = server.run(cache.path(), &[], &["intel", "--online", "8.8.8.8"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("no online provider is configured"), "{err}");
    assert!(out.contains("class      hosting"), "{out}");
    assert!(server.seen().is_empty());
    let (code, _, err) = server.run(cache.path(), &[], &["intel", "--breaches", "pwned@example.com"]);
    assert_eq!(code, 2);
    assert!(err.contains("HIBP_API_KEY"), "{err}");
    assert!(server.seen().is_empty());
}

#[test]
fn requests_to_one_provider_are_spaced() {
    intel_dir();
    let server = StandIn::start();
    let cache = temp();
    let (code, out, err) = server.run(cache.path(), &KEYS[..1], &["intel", "--online", "8.8.8.8", "185.220.101.5"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("ipinfo: US, Mountain View; AS15169; Google LLC"), "{out}");
    let seen = server.seen();
    assert_eq!(seen.len(), 2);
    // IPinfo is paced at one request per 200 ms at most.
    assert!(seen[1].at.duration_since(seen[0].at).as_millis() >= 190, "{:?}", seen[1].at - seen[0].at);
}

#[test]
fn breaches_and_refused_keys() {
    intel_dir();
    let server = StandIn::start();
    let cache = temp();
    let (code, out, err) = server.run(
        cache.path(),
        &KEYS[3..],
        &["intel", "--breaches", "Pwned@Example.com", "--breaches", "clean@example.com"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("breaches   Adobe (2013-10-04): Email addresses, Password hints, Passwords, Usernames"),
        "{out}"
    );
    assert!(out.contains("clean@example.com\n  breaches   none known to Have I Been Pwned"), "{out}");
    assert_eq!(header(&server.seen()[0], "hibp-api-key"), Some("secret-hibp-key"));

    // A refused key names its variable, not its value; the offline answer is still given.
    let (code, out, err) = server.run(cache.path(), &KEYS[..1], &["intel", "--online", "24.187.42.133"]);
    assert_eq!(code, 1, "{out}");
    assert!(err.contains("ipinfo: the key in IPINFO_TOKEN was refused (HTTP 401)"), "{err}");
    assert!(out.contains("class      isp"), "{out}");
    assert_no_secret(&(out + &err));
}
