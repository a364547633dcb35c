//! The subject of an investigation: an account and the window of time to look at. The window
//! comes from the analyst (`--at`, an alert) or, without one, from the account's own records:
//! the day with the most that is out of the ordinary for it.

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

/// How far around the moment of interest the window reaches, each way.
pub const DEFAULT_REACH_HOURS: i64 = 24;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Subject {
    /// The account, lower-cased as the store keeps it.
    pub user: String,
    #[serde(serialize_with = "crate::report::rfc3339")]
    pub start: DateTime<Utc>,
    #[serde(serialize_with = "crate::report::rfc3339")]
    pub end: DateTime<Utc>,
    /// How the window was chosen.
    pub window_from: String,
}

/// Where the window comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Focus {
    /// `reach` hours either side of a moment (an alert's time, `--at`).
    At(DateTime<Utc>),
    /// An alert's or incident's own span, widened by `reach` hours either side.
    Span { first: DateTime<Utc>, last: DateTime<Utc>, what: String },
    /// The account's most unusual day, found from its records.
    MostSuspicious,
}

impl Subject {
    pub fn around(user: &str, first: DateTime<Utc>, last: DateTime<Utc>, reach_hours: i64, why: String) -> Subject {
        let reach = Duration::hours(reach_hours.clamp(0, crate::gather::MAX_REACH_HOURS));
        Subject {
            user: user.trim().to_lowercase(),
            start: shift(first, -reach),
            end: shift(last, reach),
            window_from: why,
        }
    }
}

/// `t` moved by `by`, held at the ends of the calendar rather than overflowing (a record dated
/// near year 262143 must not panic an investigation).
pub(crate) fn shift(t: DateTime<Utc>, by: Duration) -> DateTime<Utc> {
    t.checked_add_signed(by).unwrap_or(if by < Duration::zero() {
        DateTime::<Utc>::MIN_UTC
    } else {
        DateTime::<Utc>::MAX_UTC
    })
}
