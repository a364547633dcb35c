//! A realistic demo tenant, deterministic by seed, written as the exports an analyst receives.
//!
//! ```text
//! tenant (sites, users, devices) ─► baseline (every working day) ─┐
//!                                    stories (attacks, look-alikes) ┴─► output (dialects) + manifest.json
//! ```
//!
//! The manifest lists every story with its user, window, IPs and the verdict an analyst would
//! reach, so that detection and investigation can be tested against it. Nothing downstream
//! may read the manifest to decide anything: it is the answer sheet.

// A Graph sign-in written with `json!` nests deeper than the default limit allows.
#![recursion_limit = "256"]

mod baseline;
mod event;
mod output;
mod rng;
mod stories;
mod tenant;

use std::collections::BTreeMap;
use std::io;
use std::path::Path;

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::{Value, json};

pub use output::Format;
pub use stories::Story;

use event::{Audit, Risk, SignIn, Trace, Ual};
use rng::Rng;
use tenant::{Tenant, User};

/// What to generate.
#[derive(Debug, Clone)]
pub struct DemoConfig {
    pub seed: u64,
    pub users: usize,
    pub days: i64,
    /// The tenant's last day ends here (exclusive).
    pub end: DateTime<Utc>,
    pub format: Format,
}

impl Default for DemoConfig {
    fn default() -> Self {
        DemoConfig {
            seed: 1,
            users: 240,
            days: 30,
            end: DateTime::parse_from_rfc3339("2026-03-24T00:00:00Z").expect("valid date").with_timezone(&Utc),
            format: Format::Mixed,
        }
    }
}

/// The manifest written beside the exports.
#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    /// Marks the file as the demo's answer sheet, so that ingest can say what it is.
    pub sleuth_demo_manifest: u32,
    pub seed: u64,
    pub users: usize,
    pub days: i64,
    pub start: String,
    pub end: String,
    pub tenant: String,
    pub domain: String,
    /// Records written per table.
    pub records: BTreeMap<&'static str, u64>,
    pub stories: Vec<Story>,
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("writing the demo tenant into {path}: {source}")]
    Io { path: String, source: io::Error },
    #[error("{0}")]
    Config(String),
}

/// Writes the demo tenant into `dir` and returns its manifest (also written as
/// `dir/manifest.json`).
pub fn generate(config: &DemoConfig, dir: &Path) -> Result<Manifest, DemoError> {
    if config.users < 60 {
        return Err(DemoError::Config(format!(
            "the demo tenant needs at least 60 users for its stories (got {})",
            config.users
        )));
    }
    if config.days < 7 {
        return Err(DemoError::Config(format!("the demo tenant needs at least 7 days (got {})", config.days)));
    }
    let io_err = |source| DemoError::Io { path: dir.display().to_string(), source };
    let rng = Rng::new(config.seed);
    let tenant = Tenant::generate(&rng, config.users);
    let start = config.end - Duration::days(config.days);
    let output = output::Output::create(dir, config.format, config.end - Duration::days(1)).map_err(io_err)?;
    let mut sink = Sink { out: output, ids: rng.fork(99), away: Vec::new() };
    // Stories first: they say when their users are away from their everyday life (a trip),
    // and the baseline leaves those days out.
    let window = stories::Window { start, days: config.days };
    let stories = stories::generate(&tenant, &rng, &window, &mut sink).map_err(io_err)?;
    baseline::generate(&tenant, &rng, start, config.days, &mut sink).map_err(io_err)?;
    let records = sink.out.finish().map_err(io_err)?;
    let manifest = Manifest {
        sleuth_demo_manifest: 1,
        seed: config.seed,
        users: config.users,
        days: config.days,
        start: event::iso(start),
        end: event::iso(config.end),
        tenant: tenant.name.to_string(),
        domain: tenant.domain.to_string(),
        records,
        stories,
    };
    let text = serde_json::to_string_pretty(&manifest).expect("manifest serialises");
    std::fs::write(dir.join("manifest.json"), text).map_err(io_err)?;
    Ok(manifest)
}

/// Where events go: turns them into Graph objects and hands them to the output, drawing ids
/// from one deterministic stream.
pub(crate) struct Sink {
    out: output::Output,
    ids: Rng,
    /// Users away from their everyday routine: (user index, from, to).
    away: Vec<(usize, DateTime<Utc>, DateTime<Utc>)>,
}

impl Sink {
    /// Marks `user` as away from `from` to `to`: the baseline writes nothing for them on
    /// any day that overlaps.
    pub fn away(&mut self, user: &User, from: DateTime<Utc>, to: DateTime<Utc>) {
        self.away.push((user.index, from, to));
    }

    pub fn is_away(&self, user: &User, day: DateTime<Utc>) -> bool {
        let next = day + Duration::days(1);
        self.away.iter().any(|&(index, from, to)| index == user.index && from < next && to > day)
    }

    pub fn guid(&mut self) -> String {
        self.ids.guid()
    }

    /// Directory audit ids look like `Directory_<correlation>_<5 chars>_<8 digits>`.
    pub fn audit_id(&mut self) -> String {
        let g = self.ids.guid();
        let n = self.ids.below(100_000_000);
        format!("Directory_{g}_{}_{n:08}", &g[..5].to_uppercase())
    }

    pub fn signin(&mut self, user: &User, time: DateTime<Utc>, conn: &baseline::Connection) -> SignIn {
        let id = self.guid();
        SignIn::new(id, user, time, conn.ip.clone(), conn.place, &conn.network)
    }

    pub fn emit_signin(&mut self, s: SignIn) -> io::Result<()> {
        self.out.signin(&s.graph(), s.interactive, s.time)
    }

    /// Emits an audit event, giving it ids where the caller left them empty.
    pub fn emit_audit(&mut self, mut a: Audit) -> io::Result<()> {
        if a.id.is_empty() {
            a.id = self.audit_id();
        }
        if a.correlation_id.is_empty() {
            a.correlation_id = self.guid();
        }
        self.out.audit(&a.graph())
    }

    pub fn emit_risk(&mut self, mut r: Risk) -> io::Result<()> {
        if r.id.is_empty() {
            r.id = self.guid();
        }
        self.out.risk(&r.graph())
    }

    pub fn emit_risky_user(&mut self, v: &Value) -> io::Result<()> {
        self.out.risky_user(v)
    }

    pub fn emit_ual(&mut self, mut u: Ual) -> io::Result<()> {
        if u.id.is_empty() {
            u.id = self.guid();
        }
        self.out.ual(&u)
    }

    /// A mail sent by `user`: the UAL Send record and the message trace row.
    pub fn send_mail(
        &mut self,
        user: &User,
        time: DateTime<Utc>,
        ip: &str,
        client: &'static str,
        subject: &str,
        to: &[String],
    ) -> io::Result<()> {
        let message_id =
            format!("<{}@{}.prod.outlook.com>", self.guid().replace('-', "").to_uppercase(), "BN0PR04MB8123");
        let network_id = self.guid();
        let bytes = 20_000 + self.ids.below(60_000) as i64;
        self.emit_ual(Ual {
            id: String::new(),
            time,
            record_type: 2,
            operation: "Send",
            upn: user.upn.clone(),
            client_ip: ip.to_string(),
            client_info: client,
            session_id: String::new(),
            extra: json!({"LogonType": 0, "MailboxOwnerUPN": user.upn,
                          "Item": {"Id": network_id, "InternetMessageId": message_id, "Subject": subject, "SizeInBytes": bytes}}),
        })?;
        self.out.trace(&Trace {
            time: time + Duration::milliseconds(675),
            sender: user.upn.clone(),
            recipients: to.to_vec(),
            subject: subject.to_string(),
            bytes,
            message_id,
            network_message_id: network_id,
            client_ip: ip.to_string(),
        })
    }
}
