//! Analyst context: what the SOC already knows and the logs cannot say. Known networks
//! (corporate egress, an authorised red team), travel notices and earlier triage notes. Given
//! with `--context FILE` as TOML:
//!
//! ```toml
//! [[networks]]
//! cidr = "203.0.113.0/24"
//! label = "Red team, engagement RT-12"
//! kind = "authorised_testing"        # or "corporate"
//!
//! [[travel]]
//! user = "someone@contoso.com"
//! countries = ["US", "CA"]
//! from = "2026-03-01"
//! until = "2026-03-10"
//!
//! [[notes]]
//! user = "someone@contoso.com"
//! time = "2026-03-05T10:00:00Z"
//! disposition = "benign"              # benign, malicious or open
//! text = "Called the user: new phone, expected."
//! ```
//!
//! A question reads it through the SQL function `context_explains(user, ip, country, unix_seconds)`
//! (the label of the first network or travel notice that covers the event, or NULL) and the
//! table `context_notes`.

use std::net::IpAddr;
use std::path::Path;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use ipnetwork::IpNetwork;
use serde::Deserialize;

use crate::InvestigateError;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Context {
    #[serde(default)]
    pub networks: Vec<KnownNetwork>,
    #[serde(default)]
    pub travel: Vec<TravelNotice>,
    #[serde(default)]
    pub notes: Vec<TriageNote>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KnownNetwork {
    pub cidr: String,
    pub label: String,
    #[serde(default = "corporate")]
    pub kind: String,
}

fn corporate() -> String {
    "corporate".to_owned()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TravelNotice {
    pub user: String,
    pub countries: Vec<String>,
    pub from: String,
    pub until: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriageNote {
    pub user: String,
    #[serde(default)]
    pub time: Option<String>,
    pub disposition: String,
    pub text: String,
}

/// The context with its ranges and dates parsed, ready to answer `context_explains`.
#[derive(Debug, Clone, Default)]
pub struct Explainer {
    networks: Vec<(IpNetwork, String)>,
    travel: Vec<(String, Vec<String>, i64, i64)>,
}

impl Context {
    pub fn load(path: &Path) -> Result<Context, InvestigateError> {
        let bad = |why: String| InvestigateError::Context { path: path.display().to_string(), why };
        let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
        let context: Context = toml::from_str(&text).map_err(|e| bad(e.to_string()))?;
        context.explainer().map_err(bad)?;
        for note in &context.notes {
            if !matches!(note.disposition.as_str(), "benign" | "malicious" | "open") {
                return Err(bad(format!("note disposition {:?} is not benign, malicious or open", note.disposition)));
            }
        }
        Ok(context)
    }

    /// Parses the ranges and dates; the error names the entry.
    pub fn explainer(&self) -> Result<Explainer, String> {
        let mut explainer = Explainer::default();
        for n in &self.networks {
            let net: IpNetwork = n.cidr.trim().parse().map_err(|e| format!("network {:?}: {e}", n.cidr))?;
            explainer.networks.push((net, format!("{} ({})", n.label, n.kind)));
        }
        for t in &self.travel {
            let from =
                day(&t.from).ok_or_else(|| format!("travel notice for {}: from {:?} is not a date", t.user, t.from))?;
            let until = day(&t.until)
                .ok_or_else(|| format!("travel notice for {}: until {:?} is not a date", t.user, t.until))?;
            let countries = t.countries.iter().map(|c| c.trim().to_uppercase()).collect();
            explainer.travel.push((t.user.trim().to_lowercase(), countries, from, until + 86_400));
        }
        Ok(explainer)
    }

    /// Notes about `user`, in file order.
    pub fn notes_for<'c>(&'c self, user: &'c str) -> impl Iterator<Item = &'c TriageNote> + 'c {
        self.notes.iter().filter(move |n| n.user.trim().eq_ignore_ascii_case(user))
    }
}

impl Explainer {
    /// The label of the first known network holding `ip`, else of the first travel notice of
    /// `user` that names `country` at `unix_seconds`.
    pub fn explains(&self, user: &str, ip: Option<&str>, country: Option<&str>, unix_seconds: i64) -> Option<String> {
        let ip = ip.and_then(|ip| ip.trim().parse::<IpAddr>().ok());
        if let Some((_, label)) = ip.and_then(|ip| self.networks.iter().find(|(net, _)| net.contains(ip))) {
            return Some(label.clone());
        }
        let country = country?.trim().to_uppercase();
        self.travel
            .iter()
            .find(|(u, countries, from, until)| {
                u.eq_ignore_ascii_case(user) && countries.contains(&country) && (*from..*until).contains(&unix_seconds)
            })
            .map(|(_, _, _, _)| format!("travel notice ({country})"))
    }
}

fn day(text: &str) -> Option<i64> {
    let date = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d").ok()?;
    Some(DateTime::<Utc>::from_naive_utc_and_offset(date.and_time(NaiveTime::MIN), Utc).timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_win_and_travel_covers_whole_days() {
        let context: Context = toml::from_str(
            r#"
            [[networks]]
            cidr = "203.0.113.0/24"
            label = "Red team"
            kind = "authorised_testing"
            [[travel]]
            user = "A@Contoso.com"
            countries = ["us"]
            from = "2026-03-01"
            until = "2026-03-02"
            "#,
        )
        .unwrap();
        let e = context.explainer().unwrap();
        assert_eq!(e.explains("x", Some("203.0.113.9"), None, 0).as_deref(), Some("Red team (authorised_testing)"));
        assert_eq!(e.explains("x", Some("203.0.114.9"), None, 0), None);
        let late_on_the_last_day = day("2026-03-02").unwrap() + 86_000;
        assert!(e.explains("a@contoso.com", Some("198.51.100.1"), Some("US"), late_on_the_last_day).is_some());
        assert_eq!(e.explains("a@contoso.com", None, Some("US"), late_on_the_last_day + 1_000), None);
        assert_eq!(e.explains("b@contoso.com", None, Some("US"), late_on_the_last_day), None);
    }

    #[test]
    fn a_bad_range_is_named() {
        let context: Context = toml::from_str("[[networks]]\ncidr = \"10.0.0.0/99\"\nlabel = \"x\"").unwrap();
        assert!(context.explainer().unwrap_err().contains("10.0.0.0/99"));
    }
}
