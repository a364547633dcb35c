//! The attack stories of the seeds, each on its own user with its own infrastructure, and their
//! benign look-alikes. Each story writes its events and returns its manifest entry: the user,
//! the window, the IPs, and the verdict an analyst would reach. One file per attack story,
//! the look-alikes together; this file holds the cast, the window and the shared event helpers.

use std::collections::HashSet;
use std::io;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::json;

use crate::Sink;
use crate::baseline::{Connection, connection, local};
use crate::event::*;
use crate::rng::Rng;
use crate::tenant::{Device, Network, Place, Role, SITES, Tenant, User};

mod credential_stuffing;
mod impossible_travel;
mod look_alikes;
mod password_spray;
mod sspr_takeover_blocked;
mod token_theft_bec;
mod tor_mfa_fatigue_consent;

use credential_stuffing::credential_stuffing;
use impossible_travel::impossible_travel;
use look_alikes::*;
use password_spray::password_spray;
use sspr_takeover_blocked::sspr_takeover_blocked;
use token_theft_bec::token_theft_bec;
use tor_mfa_fatigue_consent::tor_mfa_fatigue_consent;

/// A story in the manifest.
#[derive(Debug, Clone, Serialize)]
pub struct Story {
    pub id: &'static str,
    /// The seed document the story comes from.
    pub seed: &'static str,
    /// `attack` or `benign`.
    pub kind: &'static str,
    pub title: &'static str,
    pub user: String,
    /// Other users the story touches (spray targets, mail recipients).
    pub related_users: Vec<String>,
    pub start: String,
    pub end: String,
    pub ips: Vec<String>,
    /// true_positive, true_positive_blocked, benign_true_positive or false_positive.
    pub expected_verdict: &'static str,
    /// What a detection should notice (or, for look-alikes, what it must not over-rate).
    pub signals: Vec<&'static str>,
    pub narrative: &'static str,
}

/// The story window: where in the tenant's days each story happens.
pub struct Window {
    pub start: DateTime<Utc>,
    pub days: i64,
}

impl Window {
    /// Midnight UTC of the day at `fraction` of the window.
    fn day(&self, fraction: f64) -> DateTime<Utc> {
        self.start + Duration::days(((self.days as f64 * fraction) as i64).clamp(1, self.days - 1))
    }
}

/// Hands out story users: each user appears in one story at most.
struct Cast<'t> {
    tenant: &'t Tenant,
    used: HashSet<usize>,
}

impl<'t> Cast<'t> {
    fn pick(&mut self, what: &str, test: impl Fn(&User) -> bool) -> &'t User {
        let user = self
            .tenant
            .users
            .iter()
            .find(|u| !self.used.contains(&u.index) && u.role != Role::Service && test(u))
            .unwrap_or_else(|| panic!("the demo tenant has no user for the {what} story; use more --users"));
        self.used.insert(user.index);
        user
    }
}

fn place(city: &'static str, state: &'static str, country: &'static str, latitude: f64, longitude: f64) -> Place {
    Place { city, state, country, latitude, longitude, utc_offset: 0 }
}

fn net(asn: i64, org: &'static str) -> Network {
    Network { asn, org, prefixes: &[] }
}

fn conn(ip: &str, place: Place, network: Network) -> Connection {
    Connection { ip: ip.to_string(), place, network }
}

const STRONG_AUTH_DETAIL: &str = "StrongAuthenticationPhoneAppDetail";

pub fn generate(tenant: &Tenant, rng: &Rng, window: &Window, sink: &mut Sink) -> io::Result<Vec<Story>> {
    let mut cast = Cast { tenant, used: HashSet::new() };
    let mut r = rng.fork(7_000_000);
    let stories = vec![
        sspr_takeover_blocked(&mut cast, window, sink)?,
        token_theft_bec(&mut cast, window, sink)?,
        credential_stuffing(&mut cast, window, sink)?,
        impossible_travel(&mut cast, window, sink)?,
        tor_mfa_fatigue_consent(&mut cast, window, sink)?,
        password_spray(&mut cast, window, &mut r, sink)?,
        benign_sspr(&mut cast, window, sink)?,
        benign_new_authenticator(&mut cast, window, sink)?,
        benign_inbox_rule(&mut cast, window, sink)?,
        benign_traveller(&mut cast, window, sink)?,
        benign_typos(&mut cast, window, sink)?,
        benign_mfa_denial(&mut cast, window, sink)?,
        benign_proxy(&mut cast, window),
        benign_service_account(tenant, window),
    ];
    Ok(stories)
}

fn story(id: &'static str, seed: &'static str, kind: &'static str, title: &'static str, user: &User) -> Story {
    Story {
        id,
        seed,
        kind,
        title,
        user: user.upn.clone(),
        related_users: Vec::new(),
        start: String::new(),
        end: String::new(),
        ips: Vec::new(),
        expected_verdict: if kind == "attack" { "true_positive" } else { "benign_true_positive" },
        signals: Vec::new(),
        narrative: "",
    }
}

fn span(s: &mut Story, start: DateTime<Utc>, end: DateTime<Utc>) {
    s.start = iso(start);
    s.end = iso(end);
}

/// One step of a self-service password flow: (activity, success, reason).
type SsprStep<'a> = (&'static str, bool, &'a str);

fn sspr_audit(
    sink: &mut Sink,
    user: &User,
    t: DateTime<Utc>,
    ip: &str,
    step: SsprStep,
    correlation: &str,
) -> io::Result<()> {
    let (activity, success, reason) = step;

    sink.emit_audit(Audit {
        id: String::new(),
        time: t,
        category: "UserManagement",
        activity,
        service: "Self-service Password Management",
        operation_type: "Update",
        success,
        reason: reason.to_string(),
        correlation_id: correlation.to_string(),
        initiator: Initiator::User { id: user.id.clone(), upn: user.upn.clone(), ip: Some(ip.to_string()) },
        targets: vec![Target::user(user)],
        details: Vec::new(),
    })
}

fn risk(
    sink: &mut Sink,
    user: &User,
    t: DateTime<Utc>,
    c: &Connection,
    event_type: &'static str,
    level: &'static str,
    timing: &'static str,
) -> io::Result<()> {
    let r = Risk {
        id: String::new(),
        request_id: sink.guid(),
        time: t,
        event_type,
        level,
        state: "atRisk",
        timing,
        ip: c.ip.clone(),
        place: c.place,
        user_id: user.id.clone(),
        upn: user.upn.clone(),
        display_name: user.display_name.clone(),
    };
    sink.emit_risk(r)
}

/// A device added to the Authenticator app: the security-info registration and the
/// directory's change of StrongAuthenticationPhoneAppDetail from `old` to `new` devices.
fn authenticator_added(
    sink: &mut Sink,
    user: &User,
    t: DateTime<Utc>,
    ip: &str,
    user_agent: &str,
    old: String,
    new: String,
) -> io::Result<()> {
    let initiator = Initiator::User { id: user.id.clone(), upn: user.upn.clone(), ip: Some(ip.to_string()) };
    sink.emit_audit(Audit {
        id: String::new(),
        time: t,
        category: "UserManagement",
        activity: "User registered security info",
        service: "Authentication Methods",
        operation_type: "Add",
        success: true,
        reason: "User registered Authenticator App with Notification and Code".into(),
        correlation_id: String::new(),
        initiator: initiator.clone(),
        targets: vec![Target::user(user)],
        details: vec![("User-Agent", user_agent.to_string())],
    })?;
    let mut target = Target::user(user);
    target.properties = vec![
        (STRONG_AUTH_DETAIL, old, new),
        ("Included Updated Properties", String::new(), format!("\"{STRONG_AUTH_DETAIL}\"")),
    ];
    sink.emit_audit(Audit {
        details: vec![("UserType", "Member".into())],
        ..Audit::update(t + Duration::seconds(2), "UserManagement", "Update user", initiator, vec![target])
    })
}
