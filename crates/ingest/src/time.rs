//! Timestamp parsing for every format the exports use. Everything becomes UTC; a timestamp
//! without a zone is taken as UTC (Log Analytics and Graph write UTC without saying so).

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};

/// Formats without a zone, tried in order. Locale dates arrive here rewritten as
/// `month/day/year` by [`locale_date`], whatever their separator and order.
const NAIVE: [&str; 14] = [
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M",
    "%m/%d/%Y, %I:%M:%S%.f %p",
    "%m/%d/%Y %I:%M:%S%.f %p",
    "%m/%d/%Y, %I:%M %p",
    "%m/%d/%Y %I:%M %p",
    "%m/%d/%Y %H:%M:%S%.f",
    "%m/%d/%Y, %H:%M:%S%.f",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y, %H:%M",
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
    let naive = locale_date(naive);
    NAIVE.iter().find_map(|fmt| NaiveDateTime::parse_from_str(&naive, fmt).ok()).map(|n| n.and_utc())
}

/// `/Date(1727375016000)/`, as Windows PowerShell's ConvertTo-Json writes dates.
fn dotnet_json_date(t: &str) -> Option<i64> {
    let inner = t.strip_prefix("/Date(")?.strip_suffix(")/")?;
    let digits = inner.split(['+', '-']).find(|s| !s.is_empty())?;
    let ms: i64 = digits.parse().ok()?;
    Some(if inner.starts_with('-') { -ms } else { ms })
}

/// Rewrites a locale date at the start of `t` as `month/day/year`, so that one set of formats
/// serves every locale the portals and PowerShell write: `3/15/2026` and `3-15-2026` (US,
/// month first), `15/03/2026` and `15-03-2026` (day first, told by a first number above 12),
/// `15.03.2026` (dotted dates are day first: German, Russian, ...). Years come last with four
/// digits; anything else is left as it is.
fn locale_date(t: &str) -> String {
    let end = t.find([' ', ',', 'T']).unwrap_or(t.len());
    let (date, rest) = t.split_at(end);
    let Some(separator) = date.chars().find(|c| matches!(c, '/' | '-' | '.')) else {
        return t.to_string();
    };
    let parts: Vec<&str> = date.split(separator).collect();
    let [a, b, year] = parts[..] else {
        return t.to_string();
    };
    let number = |s: &str| (1..=2).contains(&s.len()).then(|| s.parse::<u32>().ok()).flatten();
    let (Some(a), Some(b)) = (number(a), number(b)) else {
        return t.to_string();
    };
    if year.len() != 4 || !year.bytes().all(|c| c.is_ascii_digit()) {
        return t.to_string();
    }
    let day_first = separator == '.' || (a > 12 && b <= 12);
    let (month, day) = if day_first { (b, a) } else { (a, b) };
    format!("{month}/{day}/{year}{rest}")
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
    fn locale_dates_in_every_order_and_separator() {
        assert_eq!(iso("3-15-2026, 12:00:00.000 PM"), "2026-03-15T12:00:00+00:00");
        assert_eq!(iso("3/15/2026, 12:00:00.000 AM"), "2026-03-15T00:00:00+00:00");
        assert_eq!(iso("15-03-2026 13:05:00"), "2026-03-15T13:05:00+00:00");
        assert_eq!(iso("15.03.2026 13:05:00"), "2026-03-15T13:05:00+00:00");
        assert_eq!(iso("03.04.2026 13:05"), "2026-04-03T13:05:00+00:00");
        assert_eq!(iso("15/03/2026, 13:05:00"), "2026-03-15T13:05:00+00:00");
        assert_eq!(iso("4/28/2021 2:08 pm"), "2021-04-28T14:08:00+00:00");
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
            "13-13-2021 10:00",
            "1-2-3",
            "99999-01-01T00:00:00Z",
        ] {
            assert_eq!(parse(t), None, "{t:?}");
        }
    }
}
