//! Everyday activity: every user's working days (interactive and background sign-ins, mail
//! read and sent), the ordinary failures and interrupts, admins at work and the reporting
//! service account's noisy failures. The stories happen on top of this.

use std::io;

use chrono::{DateTime, Datelike, Duration, Utc, Weekday};
use serde_json::json;

use crate::Sink;
use crate::event::*;
use crate::rng::Rng;
use crate::tenant::{CLOUD, Network, PROXY, PROXY_NODES, Place, Role, Tenant, User};

const SUBJECTS: [&str; 8] = [
    "Weekly status",
    "Re: Q3 forecast",
    "Meeting notes",
    "Customer escalation",
    "Re: Invoice 4471",
    "Travel plans",
    "Draft proposal",
    "Re: Onboarding checklist",
];

/// Where a user is connected from on a given day.
pub struct Connection {
    pub ip: String,
    pub place: Place,
    pub network: Network,
}

impl Connection {
    pub fn home(user: &User) -> Connection {
        Connection { ip: user.home_ip.clone(), place: user.site().place, network: user.site().home }
    }

    pub fn office(user: &User) -> Connection {
        Connection { ip: user.office_ip.clone(), place: user.site().place, network: user.site().office }
    }
}

/// The user's usual connection for a working day (office, home, or home through the proxy).
pub fn connection(user: &User, day: DateTime<Utc>) -> Connection {
    let weekday = day.weekday().num_days_from_monday() as usize;
    let at_home = weekday >= 5 || user.home_days[weekday];
    if !at_home {
        return Connection::office(user);
    }
    if user.proxied {
        let (place, prefix) = proxy_node(user);
        let host = (user.index % 200) + 20;
        return Connection { ip: format!("{prefix}.{host}"), place, network: PROXY };
    }
    Connection::home(user)
}

fn proxy_node(user: &User) -> (Place, &'static str) {
    let i = match user.site().place.country {
        "ES" | "IN" => 0,
        "GB" => 2,
        _ => 1,
    };
    PROXY_NODES[i]
}

pub fn generate(tenant: &Tenant, rng: &Rng, start: DateTime<Utc>, days: i64, sink: &mut Sink) -> io::Result<()> {
    for user in &tenant.users {
        let mut r = rng.fork(50_000 + user.index as u64);
        let mut directory = rng.fork(90_000 + user.index as u64);
        for d in 0..days {
            let day = start + Duration::days(d);
            if sink.is_away(user, day) {
                continue;
            }
            if user.role == Role::Service {
                service_day(user, day, &mut r, sink)?;
            } else if matches!(day.weekday(), Weekday::Sat | Weekday::Sun) {
                if r.chance(0.15) {
                    phone_check(user, day + Duration::hours(r.range(14, 20) - user.site().place.utc_offset), sink)?;
                }
            } else {
                work_day(tenant, user, day, &mut r, sink)?;
                directory_day(user, day, &mut directory, sink)?;
            }
        }
    }
    Ok(())
}

/// A random offset between `lo` and `hi` minutes, to the second: everyday events do not fall
/// on whole minutes (and seldom tie).
fn minutes_later(r: &mut Rng, lo: i64, hi: i64) -> Duration {
    Duration::seconds(r.range(lo * 60, hi * 60))
}

/// Local clock time `hour:minute` of `day` for the user, in UTC.
pub fn local(user: &User, day: DateTime<Utc>, hour: i64, minute: i64) -> DateTime<Utc> {
    day + Duration::hours(hour - user.site().place.utc_offset) + Duration::minutes(minute)
}

fn work_day(tenant: &Tenant, user: &User, day: DateTime<Utc>, r: &mut Rng, sink: &mut Sink) -> io::Result<()> {
    let conn = connection(user, day);
    let begin = local(user, day, user.start_hour, 0) + minutes_later(r, 0, 50);
    let session = r.guid();

    // Ordinary trouble before the first sign-in of the day.
    if r.chance(0.03) {
        let mut s = sink.signin(user, begin - Duration::seconds(r.range(30, 90)), &conn).wrong_password();
        s.session_id = session.clone();
        sink.emit_signin(s)?;
    }
    if r.chance(0.04) {
        let mut s = sink.signin(user, begin - Duration::seconds(20), &conn);
        s.steps = vec![password_step(true)];
        s.session_id = session.clone();
        sink.emit_signin(s.fail(50074, "Strong Authentication is required."))?;
    }
    // First sign-in of the day: password and push.
    let mut first = sink.signin(user, begin, &conn);
    first.app = OFFICE;
    first.resource = OFFICE_HOME;
    first.steps = vec![password_step(true), push_step(true, "MFA successfully completed")];
    first.mfa = Some(("PhoneAppNotification", String::new()));
    first.session_id = session.clone();
    sink.emit_signin(first)?;

    // More interactive sign-ins within the session: MFA satisfied by the token's claim.
    let apps = [TEAMS, EXCHANGE, SHAREPOINT, OFFICE_HOME];
    for _ in 0..r.range(1, 3) {
        let t = begin + minutes_later(r, 20, 8 * 60);
        let mut s = sink.signin(user, t, &conn);
        s.app = *r.pick(&apps);
        s.resource = s.app;
        s.additional = Some("MFA requirement satisfied by claim in the token");
        s.session_id = session.clone();
        sink.emit_signin(s)?;
    }
    // Phone: Outlook mobile.
    if r.chance(0.6) {
        let t = begin + minutes_later(r, 60, 9 * 60);
        let phone_conn = match user.site().mobile {
            Some(mobile) if r.chance(0.7) => {
                Connection { ip: mobile.host(user.index as u64), place: user.site().place, network: mobile }
            }
            _ => connection(user, day),
        };
        let s = outlook_mobile(sink, user, t, &phone_conn);
        sink.emit_signin(s)?;
    }
    // Background token refreshes.
    let background = [TEAMS, EXCHANGE, SHAREPOINT, BROKER];
    for _ in 0..r.range(6, 12) {
        let t = begin + minutes_later(r, 5, 9 * 60);
        let mut s = sink.signin(user, t, &conn);
        s.interactive = false;
        s.app = *r.pick(&background);
        s.resource = if s.app.name == BROKER.name { GRAPH } else { s.app };
        s.client_app = "Mobile Apps and Desktop clients";
        s.additional = Some("MFA requirement satisfied by claim in the token");
        s.token_type = if r.chance(0.5) { "primaryRefreshToken" } else { "refreshToken" };
        s.session_id = session.clone();
        if r.chance(0.01) {
            s = s.fail(
                70044,
                "The session has expired or is invalid due to sign-in frequency checks by conditional access.",
            );
        }
        sink.emit_signin(s)?;
    }
    // Mail: read and sent.
    let reads = r.range(1, 2);
    for _ in 0..reads {
        let t = begin + minutes_later(r, 10, 8 * 60);
        sink.emit_ual(Ual {
            id: String::new(),
            time: t,
            record_type: 50,
            operation: "MailItemsAccessed",
            upn: user.upn.clone(),
            client_ip: conn.ip.clone(),
            client_info: "Client=OUTLOOK.EXE;Action=ViaProxy",
            session_id: session.clone(),
            extra: json!({"LogonType": 0, "MailboxOwnerUPN": user.upn, "OperationCount": r.range(1, 30),
                          "OperationProperties": [{"Name": "MailAccessType", "Value": "Bind"}]}),
        })?;
    }
    for _ in 0..r.range(0, 3) {
        let t = begin + minutes_later(r, 10, 8 * 60);
        let peer = &tenant.users[1 + r.below(tenant.users.len() as u64 - 1) as usize];
        if peer.upn == user.upn {
            continue;
        }
        let subject = r.pick(&SUBJECTS).to_string();
        sink.send_mail(user, t, &conn.ip, "Client=OUTLOOK.EXE", &subject, std::slice::from_ref(&peer.upn))?;
    }
    if user.role == Role::Admin {
        admin_day(tenant, user, begin, &conn, r, sink)?;
    }
    // Now and then someone changes their password because it is about to expire.
    if user.index % 29 == 11 && r.chance(0.06) {
        password_change(user, begin + minutes_later(r, 30, 300), &conn, sink)?;
    }
    Ok(())
}

/// What the directory itself records about a user on a working day: the laptop checking in
/// with device registration, and now and then a directory-sync update of the profile. Most of
/// a real tenant's audit log is this kind of noise.
fn directory_day(user: &User, day: DateTime<Utc>, r: &mut Rng, sink: &mut Sink) -> io::Result<()> {
    let begin = local(user, day, user.start_hour, 0);
    if r.chance(0.95) {
        let laptop = &user.laptop;
        let device = Target {
            id: laptop.id.clone(),
            display_name: laptop.name.clone(),
            kind: "Device",
            upn: None,
            properties: vec![("ApproximateLastSignInDateTime", String::new(), format!("\"{}\"", iso(begin)))],
        };
        let registration =
            Initiator::App { id: "01cb2876-7ebd-4aa4-9cc9-d28bd4d359a9", name: "Device Registration Service" };
        let time = begin + minutes_later(r, 0, 120);
        sink.emit_audit(Audit::update(time, "Device", "Update device", registration, vec![device]))?;
    }
    if r.chance(0.4) {
        let mut target = Target::user(user);
        target.properties = vec![("LastDirSyncTime", String::new(), format!("\"{}\"", iso(begin)))];
        let sync = Initiator::App { id: "1a4721b3-e57f-4451-ae87-ef078703ec94", name: "Microsoft Entra Connect Sync" };
        let time = begin + minutes_later(r, 60, 9 * 60);
        sink.emit_audit(Audit::update(time, "UserManagement", "Update user", sync, vec![target]))?;
    }
    Ok(())
}

fn password_change(user: &User, t: DateTime<Utc>, conn: &Connection, sink: &mut Sink) -> io::Result<()> {
    let mut s = sink.signin(user, t, conn);
    s.app = MY_SIGNINS;
    s.resource = MY_SIGNINS;
    s.steps = vec![password_step(true), push_step(true, "MFA successfully completed")];
    sink.emit_signin(s)?;
    sink.emit_audit(Audit {
        id: String::new(),
        time: t + Duration::minutes(1),
        category: "UserManagement",
        activity: "Change password (self-service)",
        service: "Self-service Password Management",
        operation_type: "Update",
        success: true,
        reason: "Successfully completed change.".into(),
        correlation_id: String::new(),
        initiator: Initiator::User { id: user.id.clone(), upn: user.upn.clone(), ip: Some(conn.ip.clone()) },
        targets: vec![Target::user(user)],
        details: Vec::new(),
    })
}

/// Outlook on the user's phone, riding the session's token.
fn outlook_mobile(sink: &mut Sink, user: &User, t: DateTime<Utc>, conn: &Connection) -> SignIn {
    let mut s = sink.signin(user, t, conn);
    s.app = OUTLOOK_MOBILE;
    s.resource = EXCHANGE;
    s.client_app = "Mobile Apps and Desktop clients";
    s.user_agent = "Outlook-iOS-Android/1.0".into();
    s.device = Some(user.phone.clone());
    s.additional = Some("MFA requirement satisfied by claim in the token");
    s
}

/// A weekend glance at mail from home: a background refresh.
fn phone_check(user: &User, t: DateTime<Utc>, sink: &mut Sink) -> io::Result<()> {
    let mut s = outlook_mobile(sink, user, t, &Connection::home(user));
    s.interactive = false;
    s.token_type = "refreshToken";
    sink.emit_signin(s)
}

fn admin_day(
    tenant: &Tenant,
    admin: &User,
    begin: DateTime<Utc>,
    conn: &Connection,
    r: &mut Rng,
    sink: &mut Sink,
) -> io::Result<()> {
    let mut s = sink.signin(admin, begin + Duration::minutes(15), conn);
    s.app = AZURE_PORTAL;
    s.resource = App { name: "Windows Azure Service Management API", id: "797f4846-ba00-4fd7-ba43-dac1f8f63013" };
    s.policies[3].1 = "success";
    s.additional = Some("MFA requirement satisfied by claim in the token");
    sink.emit_signin(s)?;
    for _ in 0..r.range(0, 2) {
        let target = &tenant.users[1 + r.below(tenant.users.len() as u64 - 1) as usize];
        let t = begin + minutes_later(r, 30, 7 * 60);
        let (activity, category, op, props): (
            &'static str,
            &'static str,
            &'static str,
            Vec<(&'static str, String, String)>,
        ) = match r.below(3) {
            0 => (
                "Update user",
                "UserManagement",
                "Update",
                vec![("JobTitle", "[]".into(), format!("[\"{}\"]", target.role.title()))],
            ),
            1 => (
                "Add member to group",
                "GroupManagement",
                "Assign",
                vec![("Group.DisplayName", "".into(), "\"Project Atlas\"".into())],
            ),
            _ => ("Reset user password", "UserManagement", "Update", vec![]),
        };
        let mut target_entry = Target::user(target);
        target_entry.properties = props;
        sink.emit_audit(Audit {
            id: String::new(),
            time: t,
            category,
            activity,
            service: "Core Directory",
            operation_type: op,
            success: true,
            reason: String::new(),
            correlation_id: String::new(),
            initiator: Initiator::User { id: admin.id.clone(), upn: admin.upn.clone(), ip: Some(conn.ip.clone()) },
            targets: vec![target_entry],
            details: vec![("User-Agent", admin.laptop.user_agent.to_string())],
        })?;
    }
    Ok(())
}

/// The reporting connector signs in every hour from the cloud with a script; one of its
/// workers still has an old password, so failures come in bursts before each success.
fn service_day(user: &User, day: DateTime<Utc>, r: &mut Rng, sink: &mut Sink) -> io::Result<()> {
    let conn = Connection {
        ip: CLOUD.host(99),
        place: Place {
            city: "Boydton",
            state: "Virginia",
            country: "US",
            latitude: 36.6676,
            longitude: -78.3875,
            utc_offset: -5,
        },
        network: CLOUD,
    };
    for hour in 0..24 {
        let t = day + Duration::hours(hour) + minutes_later(r, 0, 5);
        let failures = if r.chance(0.3) { r.range(1, 6) } else { 0 };
        for f in 0..failures {
            let s = service_signin(user, t + Duration::seconds(f * 7), &conn, sink).wrong_password();
            sink.emit_signin(s)?;
        }
        let s = service_signin(user, t + Duration::seconds(failures * 7 + 3), &conn, sink);
        sink.emit_signin(s)?;
    }
    Ok(())
}

fn service_signin(user: &User, t: DateTime<Utc>, conn: &Connection, sink: &mut Sink) -> SignIn {
    let mut s = sink.signin(user, t, conn);
    s.app = REPORTING;
    s.resource = GRAPH;
    s.client_app = "Mobile Apps and Desktop clients";
    s.user_agent = "python-requests/2.31.0".into();
    s.device = None;
    s.multifactor = false;
    s.steps = vec![password_step(true)];
    s.policies[0].1 = "notApplied";
    s
}
