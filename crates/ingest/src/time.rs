//! Timestamp parsing for every format the exports use. Everything becomes UTC; a timestamp
//! without a zone is taken as UTC (Log Analytics and Graph write UTC without saying so).

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};

/// Formats without a zone, tried in order. Locale dates are month-first (the US format the
/// portals write); a first number above 12 switches to day-first, see [`parse`].
const NAIVE: [&str; 12] = [
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M",
    "%m/%d/%Y, %I:%M:%S%.f %p",
    "%m/%d/%Y %I:%M:%S%.f %p",
    "%m/%d/%Y, %I:%M %p",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y %H:%M:%S%.f",
    "%m/%d/%Y %H:%M",
    "%d.%m.%Y %H:%M:%S%.f",
    "%Y/%m/%d %H:%M:%S%.f",
    "%Y%m%d%H%M%S",
];

/// Parses a timestamp from any of the dialects. Returns `None` for text that is not one, and
/// for times outside 1970..2200 (such as .NET's `0001-01-01T00:00:00`, which exports use for
/// "no value").
pub fn parse(text: &str) -> Option<DateTime<Utc>> {
    use chrono::Datelike;
    parse_any(text).filter(|t| (1970..2200).contains(&t.year()))
}

fn parse_any(text: &str) -> Option<DateTime<Utc>> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    if let Some(ms) = dotnet_json_date(t) {
        return Utc.timestamp_millis_opt(ms).single();
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Some(dt.with_timezone(&Utc));
    }
    // RFC 3339 with a space instead of 'T', or a zone without a colon.
    for fmt in ["%Y-%m-%d %H:%M:%S%.f%:z", "%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%.f%z"] {
        if let Ok(dt) = DateTime::parse_from_str(t, fmt) {
            return Some(dt.with_timezone(&Utc));
        }
    }
    let naive = t.strip_suffix('Z').or_else(|| t.strip_suffix(" UTC")).unwrap_or(t);
    let naive = day_first_to_month_first(naive);
    NAIVE.iter().find_map(|fmt| NaiveDateTime::parse_from_str(&naive, fmt).ok()).map(|n| n.and_utc())
}

/// `/Date(1727375016000)/`, as Windows PowerShell's ConvertTo-Json writes dates.
fn dotnet_json_date(t: &str) -> Option<i64> {
    let inner = t.strip_prefix("/Date(")?.strip_suffix(")/")?;
    let digits = inner.split(['+', '-']).find(|s| !s.is_empty())?;
    let ms: i64 = digits.parse().ok()?;
    Some(if inner.starts_with('-') { -ms } else { ms })
}

/// `28/04/2021 14:08` is day-first; swap it into month-first so one set of formats serves.
fn day_first_to_month_first(t: &str) -> String {
    let mut parts = t.splitn(3, '/');
    if let (Some(a), Some(b), Some(rest)) = (parts.next(), parts.next(), parts.next())
        && let (Ok(first), Ok(second)) = (a.parse::<u32>(), b.parse::<u32>())
        && first > 12
        && second <= 12
    {
        return format!("{b}/{a}/{rest}");
    }
    t.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iso(t: &str) -> String {
        parse(t).unwrap_or_else(|| panic!("could not parse {t:?}")).to_rfc3339()
    }

    #[test]
    fn every_dialect_format_parses_to_utc() {
        assert_eq!(iso("2024-09-26T18:03:36Z"), "2024-09-26T18:03:36+00:00");
        assert_eq!(iso("2024-09-26T18:09:06.2493168Z"), "2024-09-26T18:09:06.249316800+00:00");
        assert_eq!(iso("2024-09-23T12:50:07-08:00"), "2024-09-23T20:50:07+00:00");
        assert_eq!(iso("2020-05-20T18:19:04.423"), "2020-05-20T18:19:04.423+00:00");
        assert_eq!(iso("4/28/2021, 2:08:45.221 PM"), "2021-04-28T14:08:45.221+00:00");
        assert_eq!(iso("4/28/2021 2:08:45 PM "), "2021-04-28T14:08:45+00:00");
        assert_eq!(iso("28/04/2021 14:08:45"), "2021-04-28T14:08:45+00:00");
        assert_eq!(iso("2021-04-28 14:08:45"), "2021-04-28T14:08:45+00:00");
        assert_eq!(iso("/Date(1727375016000)/"), "2024-09-26T18:23:36+00:00");
        assert_eq!(iso("2021-04-28T14:08:45.2213421+00:00"), "2021-04-28T14:08:45.221342100+00:00");
    }

    #[test]
    fn garbage_is_not_a_time() {
        for t in [
            "",
            "yesterday",
            "13/13/2021 10:00",
            "2021-02-30T10:00:00Z",
            "0001-01-01T00:00:00",
            "/Date(99999999999999999)/",
        ] {
            assert_eq!(parse(t), None, "{t:?}");
        }
    }
}
