//! User-agent classes: what kind of client signed in. Seed 003 turned on `node-fetch` being an
//! automation library; credential stuffing shows up as `BAV2ROPC` legacy authentication. The
//! classes come from a curated list, `lists/user-agents.tsv`, each entry with its source; users
//! add their own in `user-agents.tsv` in the intelligence folder. Families, versions and
//! operating systems come from uap-core's maintained parsers (`data/uap-core`, Apache 2.0),
//! through the `ua-parser` crate: an agent that starts `Mozilla/` is a browser only when they
//! recognise one.

use std::sync::OnceLock;

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
    /// The class a list names, by its name.
    pub fn from_name(name: &str) -> Option<UaClass> {
        [
            UaClass::Empty,
            UaClass::Browser,
            UaClass::MicrosoftClient,
            UaClass::Automation,
            UaClass::OffensiveTool,
            UaClass::LegacyProtocol,
            UaClass::Other,
        ]
        .into_iter()
        .find(|c| c.name() == name)
    }

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
    /// Operating system and its version, as uap-core's parsers name them.
    pub os: Option<String>,
    /// Why: the source of the list entry that decided the class, for the analyst.
    pub evidence: Option<&'static str>,
}

/// One entry of the user-agent list (`lists/user-agents.tsv`, or the user's own file): a
/// lower-case marker matched as a substring, the class and product it says, and its source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Marker {
    pub marker: String,
    pub class: UaClass,
    pub product: String,
    pub source: String,
}

/// The built-in list, compiled in.
const BUILT_IN: &str = include_str!("../lists/user-agents.tsv");

/// The name of the user's own list in the intelligence folder, tried before the built-in one.
pub const USER_FILE: &str = "user-agents.tsv";

/// Parses a user-agent list; the error names the line.
pub fn parse_markers(text: &str) -> Result<Vec<Marker>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').map(str::trim).collect();
        let [marker, class, product, source] = fields[..] else {
            return Err(format!("line {}: expected marker, class, product and source separated by tabs", n + 1));
        };
        let class = UaClass::from_name(class).ok_or_else(|| format!("line {}: unknown class {class:?}", n + 1))?;
        if marker.is_empty() || product.is_empty() || source.is_empty() {
            return Err(format!("line {}: marker, product and source must not be empty", n + 1));
        }
        out.push(Marker { marker: marker.to_lowercase(), class, product: product.into(), source: source.into() });
    }
    Ok(out)
}

/// The markers in force: the user's file (`USER_FILE` in the intelligence folder), if any,
/// then the built-in list. Read once per process. A user file that does not parse is left out
/// with a warning naming the line; `sleuth intel --ua` reports it too.
pub fn markers() -> &'static [Marker] {
    static MARKERS: OnceLock<Vec<Marker>> = OnceLock::new();
    MARKERS.get_or_init(|| {
        let mut all = match user_markers() {
            Some(Ok(mine)) => mine,
            Some(Err(why)) => {
                tracing::warn!("{why}; using the built-in user-agent list only");
                Vec::new()
            }
            None => Vec::new(),
        };
        all.extend(parse_markers(BUILT_IN).unwrap_or_else(|e| panic!("built-in user-agent list: {e}")));
        all
    })
}

/// The user's own list, when the intelligence folder holds one: its entries, or why not.
pub fn user_markers() -> Option<Result<Vec<Marker>, String>> {
    let path = crate::default_dir().join(USER_FILE);
    let text = std::fs::read_to_string(&path).ok()?;
    Some(parse_markers(&text).map_err(|e| format!("{}: {e}", path.display())))
}

/// uap-core's user-agent and OS parsers, converted to JSON by `data/uap-core/convert.py`.
const UAP_CORE: &str = include_str!("../data/uap-core/regexes.json");
/// Said as the evidence of a family that uap-core's parsers recognised.
pub const UAP_CORE_SOURCE: &str = "uap-core 0.18.0 parsers (github.com/ua-parser/uap-core, Apache 2.0)";

struct Uap {
    agents: ua_parser::user_agent::Extractor<'static>,
    systems: ua_parser::os::Extractor<'static>,
}

/// uap-core's parsers, compiled once per process.
fn uap() -> &'static Uap {
    static UAP: OnceLock<Uap> = OnceLock::new();
    UAP.get_or_init(|| {
        let regexes: ua_parser::Regexes<'static> =
            serde_json::from_str(UAP_CORE).expect("the vendored uap-core parsers are valid JSON (tested)");
        let compiled = "the vendored uap-core parsers compile (tested)";
        let agents = ua_parser::user_agent::Builder::new()
            .push_all(regexes.user_agent_parsers)
            .expect(compiled)
            .build()
            .expect(compiled);
        let systems =
            ua_parser::os::Builder::new().push_all(regexes.os_parsers).expect(compiled).build().expect(compiled);
        Uap { agents, systems }
    })
}

/// Dotted version from a parser's segments.
fn dotted<'a>(parts: impl IntoIterator<Item = Option<&'a str>>) -> Option<String> {
    let parts: Vec<&str> = parts.into_iter().map_while(|p| p.filter(|p| !p.is_empty())).collect();
    (!parts.is_empty()).then(|| parts.join("."))
}

/// The operating system and its version.
fn system(text: &str) -> Option<String> {
    let os = uap().systems.extract(text)?;
    let version = dotted([os.major.as_deref(), os.minor.as_deref(), os.patch.as_deref()]);
    Some(match version {
        Some(v) => format!("{} {v}", os.os),
        None => os.os.into_owned(),
    })
}

/// The curated entry that decides an agent's class, if any.
fn marker(text: &str) -> Option<&'static Marker> {
    let lower = text.to_ascii_lowercase();
    markers().iter().find(|m| lower.contains(&m.marker))
}

/// A `Mozilla/` token is what every browser sends and what scripts imitate: a browser only
/// when uap-core recognises one.
fn unlisted_class(text: &str, recognised: bool) -> UaClass {
    if text.starts_with("Mozilla/") && recognised { UaClass::Browser } else { UaClass::Other }
}

/// The class alone, as the `ua_class` SQL function asks it of every distinct agent: the same
/// as [`classify`]'s, without parsing the system or the version.
pub fn class_of(ua: &str) -> UaClass {
    let text = ua.trim();
    if text.is_empty() {
        return UaClass::Empty;
    }
    match marker(text) {
        Some(m) => m.class,
        None => unlisted_class(text, uap().agents.extract(text).is_some()),
    }
}

/// Classifies a user agent string. Never fails: unknown text is `Other`.
pub fn classify(ua: &str) -> UserAgent {
    let text = ua.trim();
    if text.is_empty() {
        return UserAgent { class: UaClass::Empty, product: None, version: None, os: None, evidence: None };
    }
    let os = system(text);
    if let Some(m) = marker(text) {
        return UserAgent {
            class: m.class,
            product: Some(m.product.clone()),
            version: version_after(text, &m.marker),
            os,
            evidence: Some(m.source.as_str()),
        };
    }
    let family = uap().agents.extract(text);
    let (product, version) = match &family {
        Some(f) => (Some(f.family.to_string()), dotted([f.major, f.minor, f.patch, f.patch_minor])),
        None => (None, None),
    };
    let class = unlisted_class(text, family.is_some());
    let evidence = family.is_some().then_some(UAP_CORE_SOURCE);
    UserAgent { class, product, version, os, evidence }
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
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Teams/1.3.00.30866 Chrome/80.0.3987.165 Electron/8.5.1 Safari/537.36",
                UaClass::OffensiveTool,
                Some("TeamFiltration"),
            ),
            ("Mozilla/4.0 (Hydra)", UaClass::OffensiveTool, Some("THC Hydra")),
            ("sqlmap/1.8.2#stable (https://sqlmap.org)", UaClass::OffensiveTool, Some("sqlmap")),
            (
                "Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)",
                UaClass::OffensiveTool,
                Some("Nmap Scripting Engine"),
            ),
            ("azurehound/v2.1.7", UaClass::OffensiveTool, Some("AzureHound")),
            ("python/3.11.8 (Windows-10-10.0.22631-SP0) AZURECLI/2.61.0 (MSI)", UaClass::Automation, Some("Azure CLI")),
            (
                "Mozilla/4.0 (compatible; ms-office; MSOffice 16)",
                UaClass::MicrosoftClient,
                Some("Office embedded browser"),
            ),
            (
                "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Teams/1.7.00.13456 Chrome/108.0.5359.215 Electron/22.3.27 Safari/537.36",
                UaClass::MicrosoftClient,
                Some("Microsoft Teams"),
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
    fn every_list_entry_names_its_source_and_a_bad_line_is_named() {
        let built_in = parse_markers(BUILT_IN).unwrap();
        assert!(built_in.len() >= 40);
        assert!(built_in.iter().all(|m| m.source.len() > 10 && m.marker == m.marker.to_lowercase()));
        // An agent keeps its evidence: the source of the entry that decided it.
        let got = classify("sqlmap/1.8.2#stable (https://sqlmap.org)");
        assert!(got.evidence.unwrap().contains("sqlmap.org"));
        let err = parse_markers("# comment\nfoo\tautomation\tFoo\n").unwrap_err();
        assert!(err.contains("line 2"), "{err}");
        let err = parse_markers("foo\tscripty\tFoo\tsomewhere\n").unwrap_err();
        assert!(err.contains("scripty"), "{err}");
    }

    #[test]
    fn browsers_get_family_version_and_system() {
        let edge = classify(
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/128.0.0.0 Safari/537.36 Edg/128.0.2739.67",
        );
        assert_eq!(
            (edge.class, edge.product.as_deref(), edge.version.as_deref(), edge.os.as_deref()),
            (UaClass::Browser, Some("Edge"), Some("128.0.2739.67"), Some("Windows 10"))
        );
        let safari = classify(
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.6 Mobile/15E148 Safari/604.1",
        );
        assert_eq!((safari.product.as_deref(), safari.os.as_deref()), (Some("Mobile Safari"), Some("iOS 17.6.1")));
        let firefox = classify("Mozilla/5.0 (X11; Linux x86_64; rv:129.0) Gecko/20100101 Firefox/129.0");
        assert_eq!(
            (firefox.product.as_deref(), firefox.version.as_deref(), firefox.os.as_deref()),
            (Some("Firefox"), Some("129.0"), Some("Linux"))
        );
    }
}
