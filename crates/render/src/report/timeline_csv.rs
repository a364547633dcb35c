//! The investigation's timeline as CSV (`sleuth investigate --format csv`): one row per event,
//! time first, in the shape Timeline Explorer and spreadsheets read. Text cells are neutralised
//! like every CSV Sleuth writes (hidden characters shown, formulas made text); record ids are
//! joined by spaces so that each can be looked up in the JSON report's `records`.

use serde_json::Value;

use super::{field, list};
use crate::table::Csv;

/// The columns, in order.
pub const COLUMNS: [&str; 12] = [
    "time",
    "last",
    "kind",
    "who",
    "what",
    "ip",
    "country",
    "ip_class",
    "provider",
    "user_agent",
    "account",
    "record_ids",
];

/// The report's timeline as CSV text.
pub fn render(report: &Value) -> String {
    let account = field(&report["subject"], "user");
    // The class and provider of an address are in the IOCs when the actor used it.
    let ioc = |ip: &str, key: &str| {
        list(&report["iocs"], "ips").iter().find(|i| i["ip"] == ip).map(|i| field(i, key)).unwrap_or_default()
    };
    let mut out = Vec::new();
    let mut csv = Csv::new(&mut out, &COLUMNS).expect("writing to memory");
    for t in list(report, "timeline") {
        let ip = field(t, "ip");
        let who = if t["actor"].as_bool() == Some(true) { "actor" } else { "owner" };
        let records: Vec<String> = list(t, "records").iter().map(super::text).collect();
        let cells = [
            field(t, "time"),
            field(t, "last"),
            field(t, "kind"),
            who.to_owned(),
            field(t, "what"),
            ip.clone(),
            field(t, "country"),
            ioc(&ip, "class"),
            ioc(&ip, "provider"),
            field(t, "user_agent"),
            account.clone(),
            records.join(" "),
        ];
        csv.row(&cells).expect("writing to memory");
    }
    csv.finish().expect("writing to memory");
    String::from_utf8(out).expect("CSV of UTF-8 text")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn one_row_per_event_with_the_actors_address_described_and_text_neutralised() {
        let report = json!({
            "subject": {"user": "a@contoso.example"},
            "iocs": {"ips": [{"ip": "159.89.214.31", "class": "hosting", "provider": "DigitalOcean"}]},
            "timeline": [
                {"time": "2025-03-12T09:00:00Z", "last": "2025-03-12T09:10:00Z", "kind": "sign-in", "actor": true,
                 "what": "2 sign-in(s) to Office: success", "ip": "159.89.214.31", "country": "NL", "user_agent": "=cmd|' /C calc'!A0",
                 "records": ["r1", "r2"]},
                {"time": "2025-03-12T09:45:00Z", "last": "2025-03-12T09:45:00Z", "kind": "mailbox", "actor": false,
                 "what": "Set-InboxRule rule \"fwd\"\u{202e}", "ip": "82.132.220.1", "country": null, "user_agent": null, "records": ["r3"]}
            ]
        });
        let text = render(&report);
        let mut rows = csv::Reader::from_reader(text.as_bytes());
        assert_eq!(rows.headers().unwrap().iter().collect::<Vec<_>>(), COLUMNS);
        let rows: Vec<csv::StringRecord> = rows.records().map(Result::unwrap).collect();
        assert_eq!(rows.len(), 2);
        assert_eq!(
            (&rows[0][3], &rows[0][7], &rows[0][8], &rows[0][11]),
            ("actor", "hosting", "DigitalOcean", "r1 r2")
        );
        assert!(rows[0][9].starts_with("'="), "a formula is made text: {}", &rows[0][9]);
        assert_eq!((&rows[1][3], &rows[1][7]), ("owner", ""));
        assert!(rows[1][4].contains("\\u{202e}"), "the bidi override is shown: {}", &rows[1][4]);
    }
}
