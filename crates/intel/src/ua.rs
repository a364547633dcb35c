//! User-agent classes: what kind of client signed in. Seed 003 turned on `node-fetch` being an
//! automation library; credential stuffing shows up as `BAV2ROPC` legacy authentication.

/// What kind of client a user agent string belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum UaClass {
    /// No user agent at all.
    Empty,
    /// A web browser.
    Browser,
    /// A Microsoft first-party native client (Outlook, Teams, Office, Authentication Broker, MSAL).
    MicrosoftClient,
    /// A scripting or HTTP library (node-fetch, python-requests, curl, PowerShell ...).
    Automation,
    /// Publicly documented defaults of offensive tooling (AADInternals, TokenTactics, ROPC spraying).
    OffensiveTool,
    /// A legacy-protocol client (IMAP, POP, SMTP AUTH, Exchange ActiveSync).
    LegacyProtocol,
    /// Anything else.
    Other,
}

impl UaClass {
    pub fn name(self) -> &'static str {
        match self {
            UaClass::Empty => "empty",
            UaClass::Browser => "browser",
            UaClass::MicrosoftClient => "microsoft_client",
            UaClass::Automation => "automation",
            UaClass::OffensiveTool => "offensive_tool",
            UaClass::LegacyProtocol => "legacy_protocol",
            UaClass::Other => "other",
        }
    }
}

/// The class of a user agent, with the product that decided it and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserAgent {
    pub class: UaClass,
    /// The product recognised (browser family, library or tool name).
    pub product: Option<String>,
    pub version: Option<String>,
    pub os: Option<&'static str>,
    /// The marker that decided the class, for the analyst.
    pub evidence: Option<&'static str>,
}

/// Markers, matched case-insensitively as substrings, in order: the first match decides.
/// Offensive tooling first (some tools imitate libraries), then legacy protocols, automation
/// libraries and Microsoft clients; browsers last, because nearly everything says "Mozilla".
const MARKERS: &[(&str, UaClass, &str)] = &[
    (
        "bav2ropc",
        UaClass::OffensiveTool,
        "BAV2ROPC (resource-owner password credentials, typical of password spraying)",
    ),
    ("aadinternals", UaClass::OffensiveTool, "AADInternals"),
    ("tokentactics", UaClass::OffensiveTool, "TokenTactics"),
    ("graphrunner", UaClass::OffensiveTool, "GraphRunner"),
    ("roadtools", UaClass::OffensiveTool, "ROADtools"),
    ("msspray", UaClass::OffensiveTool, "MSSpray"),
    ("trevorspray", UaClass::OffensiveTool, "TREVORspray"),
    ("evilginx", UaClass::OffensiveTool, "Evilginx"),
    ("exchange activesync", UaClass::LegacyProtocol, "Exchange ActiveSync"),
    ("activesync", UaClass::LegacyProtocol, "Exchange ActiveSync"),
    ("imap", UaClass::LegacyProtocol, "IMAP"),
    ("pop3", UaClass::LegacyProtocol, "POP3"),
    ("smtp", UaClass::LegacyProtocol, "SMTP"),
    ("node-fetch", UaClass::Automation, "node-fetch"),
    ("axios", UaClass::Automation, "axios"),
    ("python-requests", UaClass::Automation, "python-requests"),
    ("python-urllib", UaClass::Automation, "Python urllib"),
    ("aiohttp", UaClass::Automation, "aiohttp"),
    ("httpx", UaClass::Automation, "httpx"),
    ("go-http-client", UaClass::Automation, "Go net/http"),
    ("curl/", UaClass::Automation, "curl"),
    ("wget/", UaClass::Automation, "Wget"),
    ("okhttp", UaClass::Automation, "OkHttp"),
    ("java/", UaClass::Automation, "Java HTTP client"),
    ("apache-httpclient", UaClass::Automation, "Apache HttpClient"),
    ("libwww-perl", UaClass::Automation, "libwww-perl"),
    ("postmanruntime", UaClass::Automation, "Postman"),
    ("undici", UaClass::Automation, "undici"),
    ("windowspowershell", UaClass::Automation, "Windows PowerShell"),
    ("powershell", UaClass::Automation, "PowerShell"),
    ("microsoft office", UaClass::MicrosoftClient, "Microsoft Office"),
    ("outlook", UaClass::MicrosoftClient, "Outlook"),
    ("teams", UaClass::MicrosoftClient, "Microsoft Teams"),
    ("msal", UaClass::MicrosoftClient, "MSAL"),
    ("microsoft authentication broker", UaClass::MicrosoftClient, "Authentication Broker"),
    ("onedrive", UaClass::MicrosoftClient, "OneDrive"),
    ("windows-azure", UaClass::MicrosoftClient, "Azure client"),
];

const BROWSERS: &[(&str, &str)] = &[
    ("Edg/", "Edge"),
    ("EdgA/", "Edge"),
    ("OPR/", "Opera"),
    ("Firefox/", "Firefox"),
    ("CriOS/", "Chrome"),
    ("Chrome/", "Chrome"),
    ("Version/", "Safari"),
];

const SYSTEMS: &[(&str, &str)] = &[
    ("Windows NT", "Windows"),
    ("iPhone", "iOS"),
    ("iPad", "iPadOS"),
    ("Android", "Android"),
    ("Mac OS X", "macOS"),
    ("CrOS", "ChromeOS"),
    ("Linux", "Linux"),
];

/// Classifies a user agent string. Never fails: unknown text is `Other`.
pub fn classify(ua: &str) -> UserAgent {
    let text = ua.trim();
    let os = SYSTEMS.iter().find(|(marker, _)| text.contains(marker)).map(|(_, os)| *os);
    if text.is_empty() {
        return UserAgent { class: UaClass::Empty, product: None, version: None, os: None, evidence: None };
    }
    let lower = text.to_ascii_lowercase();
    if let Some((marker, class, evidence)) = MARKERS.iter().find(|(m, _, _)| lower.contains(m)) {
        return UserAgent {
            class: *class,
            product: Some(evidence.split(" (").next().unwrap_or(evidence).to_string()),
            version: version_after(text, marker),
            os,
            evidence: Some(evidence),
        };
    }
    if text.starts_with("Mozilla/") {
        let (product, version) = BROWSERS
            .iter()
            .find(|(marker, _)| text.contains(marker))
            .map(|(marker, name)| (Some(name.to_string()), version_after(text, marker)))
            .unwrap_or((None, None));
        return UserAgent { class: UaClass::Browser, product, version, os, evidence: Some("Mozilla/ browser token") };
    }
    UserAgent { class: UaClass::Other, product: None, version: None, os, evidence: None }
}

/// The version that follows `marker` (e.g. `Chrome/128.0.0.0` → `128.0.0.0`).
fn version_after(text: &str, marker: &str) -> Option<String> {
    let start = text.to_ascii_lowercase().find(&marker.to_ascii_lowercase())? + marker.len();
    let rest = text[start..].trim_start_matches(['/', ' ']);
    let version: String = rest.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
    (!version.is_empty()).then_some(version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_agents_get_their_class() {
        let cases = [
            ("node-fetch/1.0 (+https://github.com/bitinn/node-fetch)", UaClass::Automation, Some("node-fetch")),
            ("python-requests/2.31.0", UaClass::Automation, Some("python-requests")),
            ("axios/1.6.2", UaClass::Automation, Some("axios")),
            ("Go-http-client/1.1", UaClass::Automation, Some("Go net/http")),
            ("curl/8.4.0", UaClass::Automation, Some("curl")),
            (
                "Mozilla/5.0 (Windows NT; Windows NT 10.0; en-US) WindowsPowerShell/5.1.17763.1971",
                UaClass::Automation,
                Some("Windows PowerShell"),
            ),
            ("BAV2ROPC", UaClass::OffensiveTool, Some("BAV2ROPC")),
            ("AADInternals", UaClass::OffensiveTool, Some("AADInternals")),
            ("Outlook-iOS-Android/1.0", UaClass::MicrosoftClient, Some("Outlook")),
            (
                "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17531; Pro)",
                UaClass::MicrosoftClient,
                Some("Microsoft Office"),
            ),
            ("", UaClass::Empty, None),
            ("something-unheard-of", UaClass::Other, None),
        ];
        for (ua, class, product) in cases {
            let got = classify(ua);
            assert_eq!((got.class, got.product.as_deref()), (class, product), "{ua}");
        }
    }

    #[test]
    fn browsers_get_family_version_and_system() {
        let edge = classify(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0.0.0 Safari/537.36 Edg/128.0.2739.67",
        );
        assert_eq!(
            (edge.class, edge.product.as_deref(), edge.version.as_deref(), edge.os),
            (UaClass::Browser, Some("Edge"), Some("128.0.2739.67"), Some("Windows"))
        );
        let safari = classify(
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
        );
        assert_eq!((safari.product.as_deref(), safari.os), (Some("Safari"), Some("iOS")));
        let firefox = classify("Mozilla/5.0 (X11; Linux x86_64; rv:129.0) Gecko/20100101 Firefox/129.0");
        assert_eq!(
            (firefox.product.as_deref(), firefox.version.as_deref(), firefox.os),
            (Some("Firefox"), Some("129.0"), Some("Linux"))
        );
    }
}
