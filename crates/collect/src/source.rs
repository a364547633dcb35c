//! The Graph sources a collection reads, each with its path, time field, window filter and the
//! application permission it needs.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// Sign-ins of every kind: beta `auditLogs/signIns` filtered on `signInEventTypes` (v1.0
    /// returns interactive sign-ins only).
    Signins,
    /// Directory audits: `auditLogs/directoryAudits`.
    Audits,
    /// Identity Protection risk detections.
    RiskDetections,
    /// Identity Protection risky users.
    RiskyUsers,
}

impl Source {
    pub const ALL: [Source; 4] = [Source::Signins, Source::Audits, Source::RiskDetections, Source::RiskyUsers];

    pub fn name(self) -> &'static str {
        match self {
            Source::Signins => "signins",
            Source::Audits => "audits",
            Source::RiskDetections => "risk_detections",
            Source::RiskyUsers => "risky_users",
        }
    }

    /// A source by the name `--sources` takes (`risk` is both risk sources).
    pub fn parse_list(text: &str) -> Result<Vec<Source>, String> {
        let mut out = Vec::new();
        for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let found: Vec<Source> = match name {
                "all" => Source::ALL.to_vec(),
                "risk" => vec![Source::RiskDetections, Source::RiskyUsers],
                _ => Source::ALL.into_iter().filter(|s| s.name() == name).collect(),
            };
            if found.is_empty() {
                return Err(format!(
                    "unknown source {name:?}: say signins, audits, risk (risk_detections, risky_users) or all"
                ));
            }
            for s in found {
                if !out.contains(&s) {
                    out.push(s);
                }
            }
        }
        if out.is_empty() {
            return Err("no source named".into());
        }
        Ok(out)
    }

    /// The record field that carries its time.
    pub fn time_field(self) -> &'static str {
        match self {
            Source::Signins => "createdDateTime",
            Source::Audits => "activityDateTime",
            Source::RiskDetections => "detectedDateTime",
            Source::RiskyUsers => "riskLastUpdatedDateTime",
        }
    }

    fn path(self) -> &'static str {
        match self {
            Source::Signins => "/beta/auditLogs/signIns",
            Source::Audits => "/v1.0/auditLogs/directoryAudits",
            Source::RiskDetections => "/v1.0/identityProtection/riskDetections",
            Source::RiskyUsers => "/v1.0/identityProtection/riskyUsers",
        }
    }

    /// The application permission Graph wants for the source.
    pub fn permission(self) -> &'static str {
        match self {
            Source::Signins | Source::Audits => "AuditLog.Read.All",
            Source::RiskDetections => "IdentityRiskEvent.Read.All",
            Source::RiskyUsers => "IdentityRiskyUser.Read.All",
        }
    }

    /// What the tenant needs beyond the permission, said when a source comes back empty.
    pub fn licence_note(self) -> &'static str {
        match self {
            Source::Signins => "; sign-in logs through Graph need Microsoft Entra ID P1 or P2",
            Source::Audits => "",
            Source::RiskDetections | Source::RiskyUsers => {
                "; Identity Protection's full detections need Microsoft Entra ID P2"
            }
        }
    }

    /// The path and query of the first page of `[from, to)`, newest first as Graph serves them.
    pub fn query(self, from: DateTime<Utc>, to: DateTime<Utc>) -> String {
        let t = |d: DateTime<Utc>| d.to_rfc3339_opts(SecondsFormat::Secs, true);
        let field = self.time_field();
        let mut filter = format!("{field} ge {} and {field} lt {}", t(from), t(to));
        if self == Source::Signins {
            filter = format!(
                "({filter}) and (signInEventTypes/any(t: t eq 'interactiveUser' or t eq 'nonInteractiveUser' \
                 or t eq 'servicePrincipal' or t eq 'managedIdentity'))"
            );
        }
        let top = match self {
            // signIn list: $top up to 1000 (the documented maximum page size).
            Source::Signins => "&$top=1000",
            _ => "",
        };
        format!("{}?$filter={}{top}", self.path(), encode(&filter))
    }
}

/// Percent-encodes a query value (RFC 3986 unreserved characters stay).
pub(crate) fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_ins_ask_for_every_kind_in_the_window() {
        let from = "2025-03-01T00:00:00Z".parse().unwrap();
        let to = "2025-03-02T00:00:00Z".parse().unwrap();
        let q = Source::Signins.query(from, to);
        assert!(q.starts_with("/beta/auditLogs/signIns?$filter="), "{q}");
        let decoded =
            q.replace("%20", " ").replace("%28", "(").replace("%29", ")").replace("%27", "'").replace("%3A", ":");
        assert!(
            decoded.contains("createdDateTime ge 2025-03-01T00:00:00Z and createdDateTime lt 2025-03-02T00:00:00Z"),
            "{decoded}"
        );
        for kind in ["interactiveUser", "nonInteractiveUser", "servicePrincipal", "managedIdentity"] {
            assert!(decoded.contains(&format!("t eq '{kind}'")), "{decoded}");
        }
        assert!(q.ends_with("&$top=1000"));
    }

    #[test]
    fn source_lists_parse_and_a_wrong_name_is_named() {
        assert_eq!(
            Source::parse_list("signins,risk").unwrap(),
            [Source::Signins, Source::RiskDetections, Source::RiskyUsers]
        );
        assert_eq!(Source::parse_list("all").unwrap().len(), 4);
        assert!(Source::parse_list("signins,ual").unwrap_err().contains("\"ual\""));
    }
}
