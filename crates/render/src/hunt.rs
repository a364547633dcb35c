//! A hunt's incidents as text for the terminal. The caller hands over what to show (strings
//! and numbers, see [`Incident`]); the layout and the neutralisation of log text are here,
//! beside the hunt's CSV (`table::Csv`) and the JSON the hunt writes itself.

use std::io::{self, Write};

use crate::text::visible;

/// One incident as shown: its alerts in order. Times are already written (`2026-03-15 12:00`).
pub struct Incident<'a> {
    pub kind: &'a str,
    pub key: &'a str,
    pub severity: &'a str,
    pub score: f64,
    pub first_seen: String,
    pub last_seen: String,
    pub rules: &'a [String],
    pub mitre: &'a [String],
    pub ips: &'a [String],
    pub alerts: Vec<Alert<'a>>,
}

/// One alert of an incident, as shown.
pub struct Alert<'a> {
    pub severity: &'a str,
    pub score: f64,
    pub rule: &'a str,
    pub first_seen: String,
    pub explanation: &'a str,
}

/// The ranked incidents, then the totals; "No incidents" when there are none.
pub fn incidents(incidents: &[Incident], rules_ran: usize, out: &mut dyn Write) -> io::Result<()> {
    if incidents.is_empty() {
        return writeln!(out, "No incidents ({rules_ran} rules ran).");
    }
    for (rank, incident) in incidents.iter().enumerate() {
        write_incident(rank + 1, incident, out)?;
    }
    let alerts: usize = incidents.iter().map(|i| i.alerts.len()).sum();
    writeln!(out, "{} incidents, {alerts} alerts, {rules_ran} rules ran.", incidents.len())
}

fn write_incident(rank: usize, incident: &Incident, out: &mut dyn Write) -> io::Result<()> {
    writeln!(
        out,
        "#{rank} {} {}  {}  score {:.0}  {} → {}",
        incident.kind,
        visible(incident.key),
        incident.severity.to_uppercase(),
        incident.score,
        incident.first_seen,
        incident.last_seen
    )?;
    writeln!(out, "   rules: {}   MITRE: {}", incident.rules.join(", "), incident.mitre.join(", "))?;
    if !incident.ips.is_empty() {
        let ips: Vec<String> = incident.ips.iter().map(|ip| visible(ip)).collect();
        writeln!(out, "   addresses: {}", ips.join(", "))?;
    }
    for alert in &incident.alerts {
        writeln!(
            out,
            "   - {:<8} {:>3.0}  {:<25} {}  {}",
            alert.severity,
            alert.score,
            alert.rule,
            alert.first_seen,
            visible(alert.explanation)
        )?;
    }
    writeln!(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incidents_are_ranked_and_log_text_made_visible() {
        let rules = ["password-spray".to_string()];
        let ips = ["203.0.113.7\u{1b}[2J".to_string()];
        let alert = Alert {
            severity: "high",
            score: 81.4,
            rule: "password-spray",
            first_seen: "2026-03-15 12:00".into(),
            explanation: "30 accounts \u{202e}",
        };
        let incident = Incident {
            kind: "source",
            key: "203.0.113.7",
            severity: "high",
            score: 81.4,
            first_seen: "2026-03-15 12:00".into(),
            last_seen: "2026-03-15 13:00".into(),
            rules: &rules,
            mitre: &[],
            ips: &ips,
            alerts: vec![alert],
        };
        let mut out = Vec::new();
        incidents(&[incident], 21, &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with("#1 source 203.0.113.7  HIGH  score 81  2026-03-15 12:00 → 2026-03-15 13:00\n"),
            "{text}"
        );
        assert!(text.contains("addresses: 203.0.113.7\\u{1b}[2J") && text.contains("30 accounts \\u{202e}"), "{text}");
        assert!(text.ends_with("1 incidents, 1 alerts, 21 rules ran.\n"), "{text}");
        let mut none = Vec::new();
        incidents(&[], 21, &mut none).unwrap();
        assert_eq!(String::from_utf8(none).unwrap(), "No incidents (21 rules ran).\n");
    }
}
