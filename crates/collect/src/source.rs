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
    /// The unified audit log, through the Purview audit search API: one query per slice,
    /// created, polled until it succeeds, then its records paged.
    Ual,
}

impl Source {
    pub const ALL: [Source; 5] =
        [Source::Signins, Source::Audits, Source::RiskDetections, Source::RiskyUsers, Source::Ual];

    pub fn name(self) -> &'static str {
        match self {
            Source::Signins => "signins",
            Source::Audits => "audits",
            Source::RiskDetections => "risk_detections",
            Source::RiskyUsers => "risky_users",
            Source::Ual => "ual",
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
                    "unknown source {name:?}: say signins, audits, risk (risk_detections, risky_users), ual or all"
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
            Source::Signins | Source::Ual => "createdDateTime",
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
            Source::Ual => UAL_QUERIES,
        }
    }

    /// The application permission Graph wants for the source.
    pub fn permission(self) -> &'static str {
        match self {
            Source::Signins | Source::Audits => "AuditLog.Read.All",
            Source::RiskDetections => "IdentityRiskEvent.Read.All",
            Source::RiskyUsers => "IdentityRiskyUser.Read.All",
            // Or one per service (AuditLogsQuery-Exchange.Read.All, -Entra, -SharePoint, ...),
            // which return only that service's records.
            Source::Ual => "AuditLogsQuery.Read.All",
        }
    }

    /// How late records can reach the source after their time, the part of a closed window
    /// an incremental run collects once more. Entra's sign-in and audit logs take minutes,
    /// rarely hours; Identity Protection's offline detections up to 48 hours
    /// (<https://learn.microsoft.com/en-us/entra/identity/monitoring-health/reference-reports-latencies>);
    /// the unified audit log up to 24 hours
    /// (<https://learn.microsoft.com/en-us/purview/audit-search>).
    pub fn latency(self) -> std::time::Duration {
        let hours = match self {
            Source::Signins | Source::Audits => 2,
            Source::RiskDetections | Source::RiskyUsers => 48,
            Source::Ual => 24,
        };
        std::time::Duration::from_secs(hours * 3600)
    }

    /// What the tenant needs beyond the permission, said when a source comes back empty.
    pub fn licence_note(self) -> &'static str {
        match self {
            Source::Signins => "; sign-in logs through Graph need Microsoft Entra ID P1 or P2",
            Source::Audits => "",
            Source::RiskDetections | Source::RiskyUsers => {
                "; Identity Protection's full detections need Microsoft Entra ID P2"
            }
            Source::Ual => {
                "; the audit search API needs auditing turned on in Microsoft Purview, and serves the global cloud only"
            }
        }
    }

    /// The path and query of the first page of `[from, to)`, newest first as Graph serves them.
    /// For the unified audit log, the path the search is created at, with its window.
    pub fn query(self, from: DateTime<Utc>, to: DateTime<Utc>) -> String {
        let t = |d: DateTime<Utc>| d.to_rfc3339_opts(SecondsFormat::Secs, true);
        if self == Source::Ual {
            return format!("POST {UAL_QUERIES} {}", ual_search(from, to));
        }
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

/// Where Purview audit searches are created, polled (`/{id}`) and read (`/{id}/records`):
/// <https://learn.microsoft.com/en-us/graph/api/security-auditcoreroot-post-auditlogqueries>.
pub(crate) const UAL_QUERIES: &str = "/beta/security/auditLog/queries";

/// The body that creates the audit search of `[from, to)`: every record type and service.
/// `filterEndDateTime` is exclusive like the other sources' `lt`; the records' own times
/// decide at ingest.
pub(crate) fn ual_search(from: DateTime<Utc>, to: DateTime<Utc>) -> serde_json::Value {
    let t = |d: DateTime<Utc>| d.to_rfc3339_opts(SecondsFormat::Secs, true);
    serde_json::json!({
        "@odata.type": "#microsoft.graph.security.auditLogQuery",
        "displayName": format!("sleuth collect {} to {}", t(from), t(to)),
        "filterStartDateTime": t(from),
        "filterEndDateTime": t(to),
    })
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
        assert_eq!(Source::parse_list("all").unwrap().len(), 5);
        assert_eq!(Source::parse_list("ual,signins").unwrap(), [Source::Ual, Source::Signins]);
        assert!(Source::parse_list("signins,uals").unwrap_err().contains("\"uals\""));
    }
}
