//! Datetime and timespan literals, and the units `datetime_diff`, `datetime_add` and `bin` use.
//! <https://learn.microsoft.com/en-us/kusto/query/scalar-data-types/datetime>

use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

/// Nanoseconds since the Unix epoch of an ISO 8601 date (the forms KQL accepts: with `T` or a
/// space, with or without seconds, fractions and zone; a bare date is midnight UTC).
pub fn parse_datetime(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return t.with_timezone(&Utc).timestamp_nanos_opt();
    }
    let trimmed = text.trim_end_matches('Z').trim_end_matches(" UTC");
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y%m%d%H%M%S"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(trimmed, format) {
            return t.and_utc().timestamp_nanos_opt();
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(trimmed, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0)?.and_utc().timestamp_nanos_opt();
    }
    // RFC 822 / 850 forms, e.g. `Sat, 8 Nov 2014 15:05:02 GMT`.
    DateTime::parse_from_rfc2822(text).ok()?.with_timezone(&Utc).timestamp_nanos_opt()
}

/// Nanoseconds of a `timespan(...)` literal: `[-][d.]hh:mm[:ss[.fffffff]]`, or a number with a
/// unit (`5d`, `1.5h`).
pub fn parse_timespan(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Some(rest) = text.strip_prefix('-') {
        return parse_timespan(rest).map(|n| -n);
    }
    if let Ok(tokens) = crate::lex::lex(text)
        && let [token, end] = tokens.as_slice()
        && matches!(end.tok, crate::lex::Tok::End)
        && let crate::lex::Tok::Span(n) = token.tok
    {
        return Some(n);
    }
    let (days, clock) = match text.split_once(':') {
        Some((head, _)) if head.contains('.') => {
            let (d, rest) = text.split_once('.')?;
            (d.parse::<i64>().ok()?, rest)
        }
        Some(_) => (0, text),
        None => (text.parse::<i64>().ok()?, "0:0"),
    };
    let parts: Vec<&str> = clock.split(':').collect();
    if parts.len() < 2 || parts.len() > 3 {
        return None;
    }
    let hours: i64 = parts[0].parse().ok()?;
    let minutes: i64 = parts[1].parse().ok()?;
    let seconds: f64 = parts.get(2).map_or(Some(0.0), |s| s.parse().ok())?;
    let nanos = ((days * 24 + hours) * 60 + minutes) * 60_000_000_000 + (seconds * 1e9).round() as i64;
    Some(nanos)
}

/// A datetime part as `datetime_diff`, `datetime_add` and `datetime_part` name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Year,
    Quarter,
    Month,
    Week,
    Day,
    Hour,
    Minute,
    Second,
    Millisecond,
    Microsecond,
    Nanosecond,
}

impl Part {
    pub fn parse(name: &str) -> Option<Part> {
        Some(match name.to_ascii_lowercase().as_str() {
            "year" => Part::Year,
            "quarter" => Part::Quarter,
            "month" => Part::Month,
            "week" | "weekofyear" => Part::Week,
            "day" | "dayofyear" => Part::Day,
            "hour" => Part::Hour,
            "minute" => Part::Minute,
            "second" => Part::Second,
            "millisecond" => Part::Millisecond,
            "microsecond" => Part::Microsecond,
            "nanosecond" => Part::Nanosecond,
            _ => return None,
        })
    }

    /// Nanoseconds in one unit, for the parts of fixed length.
    fn fixed(self) -> Option<i64> {
        Some(match self {
            Part::Week => 7 * 86_400_000_000_000,
            Part::Day => 86_400_000_000_000,
            Part::Hour => 3_600_000_000_000,
            Part::Minute => 60_000_000_000,
            Part::Second => 1_000_000_000,
            Part::Millisecond => 1_000_000,
            Part::Microsecond => 1_000,
            Part::Nanosecond => 1,
            _ => return None,
        })
    }
}

fn months(t: i64) -> i64 {
    let d = DateTime::from_timestamp_nanos(t);
    use chrono::Datelike;
    d.year() as i64 * 12 + d.month0() as i64
}

/// `datetime_diff(part, a, b)`: how many boundaries of `part` lie between `b` and `a` (the
/// difference of both values truncated to the part; weeks start on Sunday).
/// <https://learn.microsoft.com/en-us/kusto/query/datetime-diff-function>
pub fn diff(part: Part, a: i64, b: i64) -> i64 {
    match part {
        Part::Year => months(a).div_euclid(12) - months(b).div_euclid(12),
        Part::Quarter => months(a).div_euclid(3) - months(b).div_euclid(3),
        Part::Month => months(a) - months(b),
        Part::Week => {
            // 1970-01-01 was a Thursday: shift so weeks start on Sunday.
            let unit = Part::Week.fixed().unwrap_or(1);
            let shift = 4 * 86_400_000_000_000;
            (a + shift).div_euclid(unit) - (b + shift).div_euclid(unit)
        }
        other => {
            let unit = other.fixed().unwrap_or(1);
            a.div_euclid(unit) - b.div_euclid(unit)
        }
    }
}

/// `datetime_add(part, amount, t)`; months and years keep the day of the month where it exists
/// (Jan 31 + 1 month is the last day of February).
pub fn add(part: Part, amount: i64, t: i64) -> Option<i64> {
    use chrono::Months;
    let months = match part {
        Part::Year => amount.checked_mul(12)?,
        Part::Quarter => amount.checked_mul(3)?,
        Part::Month => amount,
        other => return t.checked_add(amount.checked_mul(other.fixed()?)?),
    };
    let d = DateTime::from_timestamp_nanos(t);
    let moved = if months >= 0 {
        d.checked_add_months(Months::new(u32::try_from(months).ok()?))?
    } else {
        d.checked_sub_months(Months::new(u32::try_from(-months).ok()?))?
    };
    moved.timestamp_nanos_opt()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(text: &str) -> i64 {
        parse_datetime(text).unwrap()
    }

    #[test]
    fn datetime_diff_counts_boundaries_as_the_reference_examples_do() {
        // The examples of the datetime_diff page.
        assert_eq!(diff(Part::Year, t("2017-01-01"), t("2000-12-31")), 17);
        assert_eq!(diff(Part::Quarter, t("2017-07-01"), t("2017-03-30")), 2);
        assert_eq!(diff(Part::Month, t("2017-01-01"), t("2015-12-30")), 13);
        assert_eq!(diff(Part::Week, t("2017-10-29 00:00"), t("2017-09-30 23:59")), 5);
        assert_eq!(diff(Part::Day, t("2017-10-29 00:00"), t("2017-09-30 23:59")), 29);
        assert_eq!(diff(Part::Hour, t("2017-10-31 01:00"), t("2017-10-30 23:59")), 2);
        assert_eq!(diff(Part::Minute, t("2017-10-30 23:05:01"), t("2017-10-30 23:00:59")), 5);
        assert_eq!(diff(Part::Second, t("2017-10-30 23:00:10.100"), t("2017-10-30 23:00:00.900")), 10);
        assert_eq!(diff(Part::Millisecond, t("2017-10-30 23:00:00.200100"), t("2017-10-30 23:00:00.100900")), 100);
    }

    #[test]
    fn timespans_read_in_both_notations() {
        assert_eq!(parse_timespan("1.02:03:04"), Some(((24 + 2) * 3600 + 3 * 60 + 4) * 1_000_000_000));
        assert_eq!(parse_timespan("00:30:00"), Some(30 * 60_000_000_000));
        assert_eq!(parse_timespan("90d"), Some(90 * 86_400_000_000_000));
        assert_eq!(parse_timespan("-1h"), Some(-3_600_000_000_000));
        assert_eq!(parse_timespan("nonsense"), None);
    }

    #[test]
    fn months_keep_the_day_where_it_exists() {
        assert_eq!(add(Part::Month, 1, t("2017-01-31")), Some(t("2017-02-28")));
        assert_eq!(add(Part::Day, -1, t("2017-03-01")), Some(t("2017-02-28")));
    }
}
