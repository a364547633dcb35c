//! A real browser driven the way a person uses it: Debian's Chromium under its ChromeDriver,
//! spoken to in the W3C WebDriver protocol (JSON over HTTP on loopback,
//! <https://www.w3.org/TR/webdriver2/>), so a test can click, type, reload and photograph.
//!
//! ChromeDriver is found as `$SLEUTH_CHROMEDRIVER`, else `chromedriver` on the PATH;
//! `scripts/test` installs Debian's `chromium-driver` when it is missing.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The key WebDriver names an element by in its answers.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A browser session, closed (browser and driver) when dropped.
pub struct Browser {
    driver: Child,
    port: u16,
    session: String,
}

fn chromedriver() -> PathBuf {
    crate::support::installed("SLEUTH_CHROMEDRIVER", "chromedriver", "chromium-driver")
}

/// One WebDriver exchange; the answer's `value`, or a panic naming the command and the error.
fn exchange(port: u16, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    let body = body.map(Value::to_string).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).map_err(|e| e.to_string())?;
    // ChromeDriver keeps the connection open whatever the request says: the answer is read
    // to its Content-Length (written with or without a space after the colon).
    let mut reader = BufReader::new(stream);
    let mut length = 0;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).map_err(|e| e.to_string())? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("content-length")
        {
            length = value.trim().parse().map_err(|_| format!("Content-Length {value:?}"))?;
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).map_err(|e| e.to_string())?;
    let rest = String::from_utf8_lossy(&body);
    let value: Value = serde_json::from_str(&rest).map_err(|e| format!("{e}: {rest}"))?;
    match value["value"].get("error") {
        Some(error) => Err(format!("{error}: {}", value["value"]["message"])),
        None => Ok(value["value"].clone()),
    }
}

impl Browser {
    /// Starts ChromeDriver on a free loopback port and a headless Chromium under it, with a
    /// fresh profile in `profile`, as this machine allows (no sandbox as root, no network).
    pub fn start(profile: &Path) -> Browser {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let driver = Command::new(chromedriver())
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let deadline = Instant::now() + Duration::from_secs(30);
        while exchange(port, "GET", "/status", None).map_or(true, |s| s["ready"] != true) {
            assert!(Instant::now() < deadline, "chromedriver did not get ready in 30 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        // ChromeDriver wants a path, not a name to look up.
        let chromium = crate::report_html::chromium();
        let chromium = if chromium.components().count() > 1 {
            chromium
        } else {
            std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
                .map(|dir| dir.join(&chromium))
                .find(|p| p.is_file())
                .unwrap_or(chromium)
        };
        let capabilities = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": chromium,
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--hide-scrollbars", "--window-size=1400,1000",
                     format!("--user-data-dir={}", profile.display())]}}}});
        let mut browser = Browser { driver, port, session: String::new() };
        let started = browser.call("POST", "/session", Some(&capabilities));
        browser.session = started["sessionId"].as_str().expect("a session id").to_string();
        browser
    }

    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        exchange(self.port, method, path, body).unwrap_or_else(|e| panic!("WebDriver {method} {path}: {e}"))
    }

    fn command(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.call(method, &format!("/session/{}{path}", self.session), body.as_ref())
    }

    pub fn goto(&self, url: &str) {
        self.command("POST", "/url", Some(json!({"url": url})));
    }

    pub fn url(&self) -> String {
        self.command("GET", "/url", None).as_str().unwrap_or_default().to_string()
    }

    pub fn refresh(&self) {
        self.command("POST", "/refresh", Some(json!({})));
    }

    /// The page's script run with `args`, its answer.
    pub fn run(&self, script: &str, args: Value) -> Value {
        self.command("POST", "/execute/sync", Some(json!({"script": script, "args": args})))
    }

    /// Waits up to `seconds` for `script` to answer something other than false, null or "".
    pub fn wait(&self, seconds: u64, what: &str, script: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        loop {
            // A page still loading answers with an error: try again.
            if let Ok(v) = exchange(
                self.port,
                "POST",
                &format!("/session/{}/execute/sync", self.session),
                Some(&json!({"script": script, "args": []})),
            ) && !matches!(&v, Value::Null | Value::Bool(false))
                && v != ""
            {
                return v;
            }
            assert!(Instant::now() < deadline, "waited {seconds} s for {what} at {}", self.url());
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// The first element `css` selects, as WebDriver names it.
    pub fn find(&self, css: &str) -> String {
        let found = self.command("POST", "/element", Some(json!({"using": "css selector", "value": css})));
        found[ELEMENT].as_str().unwrap_or_else(|| panic!("no element {css} at {}", self.url())).to_string()
    }

    pub fn click(&self, css: &str) {
        let element = self.find(css);
        self.command("POST", &format!("/element/{element}/click"), Some(json!({})));
    }

    /// Types `text` into the field `css` selects (for a file field, the file's path).
    pub fn type_into(&self, css: &str, text: &str) {
        let element = self.find(css);
        self.command("POST", &format!("/element/{element}/value"), Some(json!({"text": text})));
    }

    /// The text `css` shows, as the page renders it.
    pub fn text(&self, css: &str) -> String {
        let element = self.find(css);
        self.command("GET", &format!("/element/{element}/text"), None).as_str().unwrap_or_default().to_string()
    }

    /// Goes into the frame `css` selects; `None` back to the page.
    pub fn frame(&self, css: Option<&str>) {
        let id = match css {
            Some(css) => json!({ELEMENT: self.find(css)}),
            None => Value::Null,
        };
        self.command("POST", "/frame", Some(json!({"id": id})));
    }

    /// The window photographed, as PNG.
    pub fn screenshot(&self) -> Vec<u8> {
        use base64::Engine as _;
        let data = self.command("GET", "/screenshot", None);
        base64::engine::general_purpose::STANDARD.decode(data.as_str().unwrap_or_default()).expect("base64 PNG")
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = exchange(self.port, "DELETE", &format!("/session/{}", self.session), None);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
