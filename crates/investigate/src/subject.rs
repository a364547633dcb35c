//! The subject of an investigation: an account and the window of time to look at. The window
//! comes from the analyst (`--at`, an alert) or, without one, from the account's own records:
//! the day with the most that is out of the ordinary for it.

use chrono::{DateTime, Duration, Utc};

use crate::time::shift;
use serde::{Deserialize, Serialize};

/// How far around the moment of interest the window reaches, each way.
pub const DEFAULT_REACH_HOURS: i64 = 24;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    /// The account (a user principal name, or a service principal's name), lower-cased as the
    /// store keeps it.
    pub user: String,
    /// What the account is: a person's (`user`) or a workload identity's
    /// (`service_principal`: an application's service principal or a managed identity).
    #[serde(default)]
    pub kind: SubjectKind,
    #[serde(with = "crate::time::rfc3339")]
    pub start: DateTime<Utc>,
    #[serde(with = "crate::time::rfc3339")]
    pub end: DateTime<Utc>,
    /// How the window was chosen.
    pub window_from: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SubjectKind {
    #[default]
    User,
    ServicePrincipal,
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
            kind: SubjectKind::User,
            start: shift(first, -reach),
            end: shift(last, reach),
            window_from: why,
        }
    }
}

/// What an investigation is asked to look at, as `sleuth investigate` and the workbench's
/// API name it.
#[derive(Debug, Clone, Copy)]
pub enum Ask<'a> {
    /// A person's account; `at` the moment of interest, if known.
    User { user: &'a str, at: Option<DateTime<Utc>> },
    /// A workload identity by name or id.
    ServicePrincipal { name: &'a str, at: Option<DateTime<Utc>> },
    /// An incident or alert of the store's hunt, by id.
    Incident(&'a str),
}

/// The account, window and kind `ask` means. Without a time, the hunt's most severe alert on
/// the account (medium or above) sets the window, else its records' most unusual day; an
/// incident or alert is looked up in a hunt of every severity. One function, so that every
/// front end reaches the same verdict for the same question.
pub async fn resolve(
    store: &sleuth_store::Store,
    ctx: &datafusion::prelude::SessionContext,
    ask: Ask<'_>,
) -> Result<(String, Focus, SubjectKind), crate::InvestigateError> {
    use sleuth_detect::{Filter, Severity};
    // An incident is looked up among every severity; a window among medium and above (the
    // alerts a hunt reports do not depend on the floor: it only leaves the lower ones out).
    let floor = match ask {
        Ask::Incident(_) => Some(Severity::Informational),
        Ask::User { at: None, .. } | Ask::ServicePrincipal { at: None, .. } => Some(Severity::Medium),
        _ => None,
    };
    let report = match floor {
        Some(min_severity) => Some(builtin_hunt(store, ctx, &Filter { min_severity, ..Filter::default() }).await),
        None => None,
    };
    resolve_in(report.as_ref(), ask)
}

/// The built-in rules' hunt of `store`, as `filter` admits: the hunt kept beside the store
/// when it is current (see [`sleuth_detect::kept`]), else a new one, kept for next time.
pub async fn builtin_hunt(
    store: &sleuth_store::Store,
    ctx: &datafusion::prelude::SessionContext,
    filter: &sleuth_detect::Filter,
) -> sleuth_detect::Report {
    let catalog = sleuth_detect::Catalog::builtin();
    sleuth_detect::kept::findings(store, ctx, &catalog).await.report(&catalog, filter)
}

/// [`resolve`] with a hunt already run, at every severity (or at medium and above when `ask`
/// is not an incident): the workbench keeps one per store generation and asks this.
pub fn resolve_in(
    hunted: Option<&sleuth_detect::Report>,
    ask: Ask<'_>,
) -> Result<(String, Focus, SubjectKind), crate::InvestigateError> {
    let missing = || crate::InvestigateError::Subject("no hunt to look the incident up in".into());
    let (name, at, kind) = match ask {
        Ask::User { user, at } => (user, at, SubjectKind::User),
        Ask::ServicePrincipal { name, at } => (name, at, SubjectKind::ServicePrincipal),
        Ask::Incident(id) => return from_hunt::one(hunted.ok_or_else(missing)?, id),
    };
    let focus = match (at, hunted) {
        (Some(at), _) => Focus::At(at),
        (None, Some(report)) => from_hunt::for_user(report, name).unwrap_or(Focus::MostSuspicious),
        (None, None) => Focus::MostSuspicious,
    };
    Ok((name.to_string(), focus, kind))
}

/// The accounts and windows a hunt's findings point at: what `--alert ID` and `--all` (and
/// the server's "investigate this incident") investigate.
pub mod from_hunt {
    use super::{Focus, SubjectKind};
    use crate::InvestigateError;
    use sleuth_detect::{Alert, Incident, Report, Severity};

    /// What an alert names: a workload identity when its rule judges service principals (its
    /// result has a `service_principal` column), else a user.
    fn kind_of(alert: &Alert) -> SubjectKind {
        if alert.facts.contains_key("service_principal") { SubjectKind::ServicePrincipal } else { SubjectKind::User }
    }

    /// The account, kind and window of one alert or incident of `report`, by id. An incident
    /// on several accounts (a spray from one source) is refused: its accounts are investigated
    /// one by one.
    pub fn one(report: &Report, id: &str) -> Result<(String, Focus, SubjectKind), InvestigateError> {
        let refuse = |why: String| Err(InvestigateError::Subject(why));
        if let Some(incident) = report.incidents.iter().find(|i| i.id == id) {
            if incident.kind != "user" {
                return refuse(format!(
                    "incident {id} is an attack from {} on several accounts; investigate its accounts with --user",
                    incident.key
                ));
            }
            return Ok(of_incident(incident));
        }
        let Some(alert) = report.alerts().find(|a| a.id == id) else {
            return refuse(format!("no alert or incident {id} in this store's hunt"));
        };
        let Some(user) = alert.user.clone() else {
            return refuse(format!("alert {id} names no account; investigate its accounts with --user"));
        };
        let what = format!("alert {id} ({})", alert.rule);
        Ok((user, Focus::Span { first: alert.first_seen, last: alert.last_seen, what }, kind_of(alert)))
    }

    /// The window an investigation of `user` without a given time should look at: the span of
    /// the most severe alert of `report` that names the account (the earliest of equals: the
    /// initial access comes first, and the baseline must end before it), at medium severity or
    /// above. None when the hunt raised nothing about the account at that level.
    pub fn for_user(report: &Report, user: &str) -> Option<Focus> {
        let user = user.trim().to_lowercase();
        let named = |a: &&Alert| a.user.as_deref().is_some_and(|u| u.eq_ignore_ascii_case(&user));
        let alert =
            report.alerts().filter(named).filter(|a| a.severity >= Severity::Medium).min_by(|a, b| {
                b.severity.cmp(&a.severity).then(a.first_seen.cmp(&b.first_seen)).then(a.id.cmp(&b.id))
            })?;
        let what = format!(
            "the hunt's most severe alert on the account, {} ({}, {})",
            alert.id,
            alert.rule,
            alert.severity.name()
        );
        Some(Focus::Span { first: alert.first_seen, last: alert.last_seen, what })
    }

    /// Every account incident of `report`, in its order.
    pub fn every_account(report: &Report) -> Vec<(String, Focus, SubjectKind)> {
        report.incidents.iter().filter(|i| i.kind == "user").map(of_incident).collect()
    }

    fn of_incident(incident: &Incident) -> (String, Focus, SubjectKind) {
        let what = format!("incident {} ({})", incident.id, incident.rules.join(", "));
        let kind = if incident.alerts.iter().all(|a| kind_of(a) == SubjectKind::ServicePrincipal) {
            SubjectKind::ServicePrincipal
        } else {
            SubjectKind::User
        };
        (incident.key.clone(), Focus::Span { first: incident.first_seen, last: incident.last_seen, what }, kind)
    }
}
