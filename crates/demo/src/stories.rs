//! The attack stories of the seeds, each on its own user with its own infrastructure, and their
//! benign look-alikes. Each story writes its events and returns its manifest entry: the user,
//! the window, the IPs, and the verdict an analyst would reach.

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

/// Seed 000: risky sign-ins from five countries blocked by Conditional Access, two
/// self-service unlocks that passed SMS verification, four resets refused by password policy.
fn sspr_takeover_blocked(cast: &mut Cast, w: &Window, sink: &mut Sink) -> io::Result<Story> {
    let user = cast.pick("SSPR takeover", |u| u.role == Role::CustomerExperience);
    let day = w.day(0.8);
    let attempts = [
        (
            conn(
                "103.148.72.19",
                place("Dhaka", "Dhaka Division", "BD", 23.8103, 90.4125),
                net(138915, "VPN exit (hosting)"),
            ),
            AZURE_PORTAL,
            53003,
            vec!["anonymizedIPAddress", "unfamiliarFeatures"],
        ),
        (
            conn("175.139.201.44", place("Kuala Lumpur", "Kuala Lumpur", "MY", 3.1390, 101.6869), net(4788, "TM Net")),
            MY_SIGNINS,
            53004,
            vec!["unfamiliarFeatures"],
        ),
        (
            conn("185.253.98.12", place("Barcelona", "Catalonia", "ES", 41.3874, 2.1686), net(209854, "hosting")),
            CX_PORTAL,
            53003,
            vec!["unfamiliarFeatures"],
        ),
        (
            conn(
                "112.198.64.203",
                place("Manila", "Metro Manila", "PH", 14.5995, 120.9842),
                net(4775, "Globe Telecom"),
            ),
            AZURE_PORTAL,
            53003,
            vec!["unfamiliarFeatures"],
        ),
        (
            conn(
                "187.190.33.8",
                place("Mexico City", "Ciudad de Mexico", "MX", 19.4326, -99.1332),
                net(8151, "Uninet"),
            ),
            MY_SIGNINS,
            53004,
            vec!["unfamiliarFeatures"],
        ),
    ];
    let first = day + Duration::hours(2);
    let mut s = story(
        "sspr-takeover-blocked",
        "000",
        "attack",
        "Account takeover attempt blocked: multi-country attack with SSPR abuse",
        user,
    );
    s.expected_verdict = "true_positive_blocked";
    for (i, (c, app, code, types)) in attempts.iter().enumerate() {
        let t = first + Duration::minutes(i as i64 * 315);
        let mut si = sink.signin(user, t, c);
        si.app = *app;
        si.resource = *app;
        si.device = None;
        si.user_agent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/122.0.0.0 Safari/537.36".into();
        si.steps = vec![Step {
            method: "Text message",
            detail: None,
            succeeded: false,
            result: "Access has been blocked by Conditional Access policies",
            requirement: "Primary authentication",
        }];
        si.risk = Some(("high", "atRisk", types.clone()));
        si.policies = vec![
            (CA_MFA, "notApplied"),
            (CA_RISK, "failure"),
            (CA_ADMIN_DEVICE, if *app == AZURE_PORTAL { "failure" } else { "notApplied" }),
        ];
        let reason = if *code == 53003 {
            "Access has been blocked by Conditional Access policies. The access policy does not allow token issuance."
        } else {
            "Based on the user's risk, they must complete multi-factor authentication registration; the request was blocked."
        };
        sink.emit_signin(si.fail(*code, reason))?;
        for ty in types {
            risk(sink, user, t + Duration::seconds(5), c, ty, "high", "realtime")?;
        }
        s.ips.push(c.ip.clone());
    }
    // Two self-service unlocks that passed SMS verification, from a Honduran residential IP
    // that is not the user's own.
    let site = user.site();
    let unlock_ip = "186.2.130.77";
    let reset_ip = "186.2.131.204";
    let unlock = conn(unlock_ip, site.place, site.home);
    for (n, hours) in [(0, 7), (1, 9)] {
        let t = first + Duration::hours(hours);
        let correlation = sink.guid();
        sspr_audit(
            sink,
            user,
            t,
            unlock_ip,
            ("Self-service password reset flow activity progress", true, "User started the unlock flow"),
            &correlation,
        )?;
        sspr_audit(
            sink,
            user,
            t + Duration::seconds(40),
            unlock_ip,
            (
                "Self-service password reset flow activity progress",
                true,
                "User verified their identity with a code sent by SMS",
            ),
            &correlation,
        )?;
        sspr_audit(
            sink,
            user,
            t + Duration::seconds(55),
            unlock_ip,
            ("Unlock user account (self-service)", true, "User successfully unlocked their account"),
            &correlation,
        )?;
        // Right after the unlock, rapid failed sign-ins: the password is still unknown.
        for k in 0..3 {
            let mut si = sink.signin(user, t + Duration::seconds(90 + k * 25 + n), &unlock);
            si.device = None;
            sink.emit_signin(si.wrong_password())?;
        }
    }
    // Four password resets refused by the password policy, from a second Honduran IP.
    for k in 0..4 {
        let t = first + Duration::hours(11) + Duration::minutes(k * 6);
        let correlation = sink.guid();
        sspr_audit(
            sink,
            user,
            t,
            reset_ip,
            ("Self-service password reset flow activity progress", true, "User submitted a new password"),
            &correlation,
        )?;
        let reason = if k % 2 == 0 { "OnPremisesPolicyViolation" } else { "FuzzyPolicyViolation" };
        sspr_audit(
            sink,
            user,
            t + Duration::seconds(3),
            reset_ip,
            ("Reset password (self-service)", false, reason),
            &correlation,
        )?;
    }
    sink.emit_risky_user(&risky_user(user, first + Duration::hours(21), "high", "atRisk", "none"))?;
    s.ips.extend([unlock_ip.to_string(), reset_ip.to_string()]);
    span(&mut s, first, first + Duration::hours(21));
    s.signals = vec![
        "risky_signins_five_countries",
        "ca_block_burst",
        "vpn_admin_portal",
        "sspr_unlock_from_new_ip",
        "sspr_reset_policy_failures",
        "identity_protection_risk",
        "password_not_known",
    ];
    s.narrative = "Risky sign-ins from BD (VPN), MY, ES, PH and MX to Azure Portal, My Signins and the CX portal are all blocked by Conditional Access (53003/53004); the attacker unlocks the account twice via SSPR with SMS verification from a Honduran IP that is not the user's, fails three sign-ins, and four password resets are refused by password policy.";
    Ok(s)
}

/// Seed 003: AiTM phishing, token replay from hosting IPs with node-fetch, a rogue
/// Authenticator registered, an inbox rule hiding replies, and invoice mail sent from the
/// attacker's IPs to colleagues.
fn token_theft_bec(cast: &mut Cast, w: &Window, sink: &mut Sink) -> io::Result<Story> {
    let user = cast.pick("BEC", |u| u.role == Role::Finance && u.site().place.country == "US");
    let colleagues: Vec<&User> = (0..3).map(|_| cast.pick("BEC recipient", |u| u.role != Role::Admin)).collect();
    // Seed 003 spans eight days: start early enough to end inside the window, and in windows
    // shorter than ten days, close the gaps in proportion.
    let d1 = w.day(0.55).min(w.start + Duration::days((w.days - 9).max(1)));
    let on_day = |day: i64| if w.days >= 10 { day } else { day * (w.days - 2) / 8 };
    let dallas = place("Dallas", "Texas", "US", 32.7767, -96.7970);
    let newyork = place("New York", "New York", "US", 40.7128, -74.0060);
    let chicago = place("Chicago", "Illinois", "US", 41.8781, -87.6298);
    let datacamp = net(60068, "Datacamp Limited");
    let ip82 = conn("89.187.164.82", dallas, datacamp);
    let ip135 = conn("89.187.164.135", dallas, datacamp);
    let ip77 = conn("89.187.164.77", dallas, datacamp);
    let ny = conn("212.102.33.83", newyork, datacamp);
    let chi248 = conn("181.214.107.248", chicago, net(9009, "M247 Europe SRL"));
    let chi154 = conn("181.214.107.154", chicago, net(9009, "M247 Europe SRL"));

    // The phishing proxy relays the victim's own password and push approval.
    let aitm_time = d1 + Duration::hours(17) + Duration::minutes(58);
    let mut si = sink.signin(user, aitm_time, &ip82);
    si.device = None;
    si.steps = vec![password_step(true), push_step(true, "MFA successfully completed")];
    si.mfa = Some(("PhoneAppNotification", String::new()));
    sink.emit_signin(si)?;

    let node_fetch = "node-fetch/1.0 (+https://github.com/bitinn/node-fetch)";
    let replays: [(i64, i64, i64, &Connection, App, bool); 14] = [
        (0, 18 * 3600 + 3 * 60 + 36, 0, &ip135, GRAPH, true),
        (0, 18 * 3600 + 3 * 60 + 36, 0, &ip135, EXCHANGE_MICROSERVICES, false),
        (0, 18 * 3600 + 9 * 60 + 9, 0, &ny, GRAPH, true),
        (0, 18 * 3600 + 9 * 60 + 9, 0, &ny, EXCHANGE_MICROSERVICES, false),
        (0, 19 * 3600 + 24 * 60 + 29, 0, &ip135, GRAPH, true),
        (0, 19 * 3600 + 24 * 60 + 29, 0, &ip135, EXCHANGE_MICROSERVICES, false),
        (0, 19 * 3600 + 24 * 60 + 45, 0, &ip135, AUGMENTATION_LOOP, false),
        (7, 16 * 3600 + 26 * 60 + 42, 0, &chi248, EXCHANGE_MICROSERVICES, false),
        (7, 16 * 3600 + 26 * 60 + 42, 0, &chi248, GRAPH, true),
        (7, 18 * 3600 + 28 * 60 + 34, 0, &chi154, EXCHANGE_MICROSERVICES, false),
        (7, 18 * 3600 + 28 * 60 + 34, 0, &chi154, GRAPH, true),
        (7, 18 * 3600 + 30 * 60 + 2, 0, &chi154, GRAPH, true),
        (8, 14 * 3600 + 14 * 60 + 49, 0, &chi154, GRAPH, true),
        (8, 14 * 3600 + 14 * 60 + 49, 0, &chi154, EXCHANGE_MICROSERVICES, false),
    ];
    let mut last = aitm_time;
    for (day, secs, _, c, app, interactive) in replays {
        let t = d1 + Duration::days(on_day(day)) + Duration::seconds(secs);
        last = last.max(t);
        let mut si = sink.signin(user, t, c);
        si.app = app;
        si.resource = app;
        si.interactive = interactive;
        si.device = None;
        si.user_agent = node_fetch.into();
        si.client_app = "Mobile Apps and Desktop clients";
        si.additional = Some("MFA requirement satisfied by claim in the token");
        si.token_type = "refreshToken";
        sink.emit_signin(si)?;
    }

    // A rogue Authenticator device joins the victim's iPhone.
    let t = d1 + Duration::hours(18) + Duration::minutes(15);
    let old = format!(
        "[{{\"DeviceName\":\"iPhone XR\",\"DeviceToken\":\"apsn2-{}\",\"DeviceTag\":\"SoftwareTokenActivated\",\"PhoneAppVersion\":\"6.8.14\"}}]",
        &user.phone.id[..8]
    );
    let new = format!(
        "[{{\"DeviceName\":\"iPhone XR\",\"DeviceToken\":\"apsn2-{}\",\"DeviceTag\":\"SoftwareTokenActivated\",\"PhoneAppVersion\":\"6.8.14\"}},{{\"DeviceName\":\"Infinix HOT 40\",\"DeviceToken\":\"fcm-7f3a91c2\",\"DeviceTag\":\"SoftwareTokenActivated\",\"PhoneAppVersion\":\"6.2408.5481\"}}]",
        &user.phone.id[..8]
    );
    authenticator_added(sink, user, t, &ip82.ip, node_fetch, old, new)?;

    // Reading the mailbox, then a rule that hides the replies.
    sink.emit_ual(Ual {
        id: String::new(),
        time: d1 + Duration::hours(18) + Duration::minutes(5),
        record_type: 50,
        operation: "MailItemsAccessed",
        upn: user.upn.clone(),
        client_ip: ip135.ip.clone(),
        client_info: "Client=REST;Client=RESTSystem;;",
        session_id: String::new(),
        extra: json!({"LogonType": 0, "MailboxOwnerUPN": user.upn, "OperationCount": 214,
                      "OperationProperties": [{"Name": "MailAccessType", "Value": "Bind"}]}),
    })?;
    sink.emit_ual(Ual {
        id: String::new(),
        time: d1 + Duration::hours(18) + Duration::minutes(20),
        record_type: 1,
        operation: "New-InboxRule",
        upn: user.upn.clone(),
        client_ip: format!("{}:{}", ip82.ip, 50432),
        client_info: "Client=REST;Client=RESTSystem;;",
        session_id: String::new(),
        extra: json!({"ObjectId": format!("{}\\..", user.upn),
                      "Parameters": [{"Name": "Name", "Value": ".."},
                                     {"Name": "SubjectOrBodyContainsWords", "Value": "invoice;payment;1099;wire"},
                                     {"Name": "MoveToFolder", "Value": "RSS Subscriptions"},
                                     {"Name": "MarkAsRead", "Value": "True"},
                                     {"Name": "StopProcessingRules", "Value": "True"}]}),
    })?;
    // Invoice fraud mail to colleagues from the attacker's IPs.
    let mails = [
        (0, 18 * 3600 + 9 * 60 + 6, &ip135, "Vendor banking details", 0),
        (0, 19 * 3600 + 27 * 60 + 1, &ip82, "1099 contractors", 1),
        (5, 13 * 3600 + 30 * 60 + 46, &ip77, "Re: 1099 contractors", 1),
        (7, 16 * 3600 + 29 * 60, &chi248, "AR Report", 2),
    ];
    for (day, secs, c, subject, who) in mails {
        let t = d1 + Duration::days(on_day(day)) + Duration::seconds(secs);
        sink.send_mail(user, t, &c.ip, "Client=REST;Client=RESTSystem;;", subject, &[colleagues[who].upn.clone()])?;
    }
    let mut s = story(
        "token-theft-bec",
        "003",
        "attack",
        "Business email compromise through token theft, rogue authenticator and invoice mail",
        user,
    );
    s.related_users = colleagues.iter().map(|u| u.upn.clone()).collect();
    s.ips = [&ip82, &ip135, &ip77, &ny, &chi248, &chi154].iter().map(|c| c.ip.clone()).collect();
    span(&mut s, aitm_time, last);
    s.signals = vec![
        "token_replay_from_hosting",
        "automation_user_agent",
        "rogue_authenticator",
        "inbox_rule_finance_keywords",
        "mail_sent_from_attacker_ip",
        "takeover_chain",
    ];
    s.narrative = "An AiTM sign-in from 89.187.164.82 is followed by node-fetch sign-ins whose MFA is satisfied by a token claim, from Datacamp and M247 addresses; a second Authenticator (Infinix HOT 40) is registered, an inbox rule moves invoice and payment mail to RSS Subscriptions, and invoice mail goes to three colleagues from the attacker's IPs.";
    Ok(s)
}

/// Seed 004, signal 1 and the legacy-protocol test: failures from many hosting IPs, then a
/// single-factor success over authenticated SMTP.
fn credential_stuffing(cast: &mut Cast, w: &Window, sink: &mut Sink) -> io::Result<Story> {
    let user = cast.pick("credential stuffing", |u| u.role == Role::Staff && u.site().place.country == "GB");
    let t0 = w.day(0.7) + Duration::hours(3);
    let sources = [
        conn("45.141.87.21", place("Amsterdam", "North Holland", "NL", 52.3676, 4.9041), net(206728, "Media Land LLC")),
        conn("193.32.162.70", place("Bucharest", "Bucuresti", "RO", 44.4268, 26.1025), net(47890, "Unmanaged Ltd")),
        conn(
            "5.188.206.14",
            place("Saint Petersburg", "Saint Petersburg", "RU", 59.9343, 30.3351),
            net(49453, "Global Layer B.V."),
        ),
        conn("91.92.245.10", place("Sofia", "Sofia-Capital", "BG", 42.6977, 23.3219), net(394711, "Limenet")),
        conn(
            "194.165.16.73",
            place("Frankfurt am Main", "Hesse", "DE", 50.1109, 8.6821),
            net(48721, "Flyservers S.A."),
        ),
        conn("185.244.31.9", place("Warsaw", "Mazovia", "PL", 52.2297, 21.0122), net(207656, "EpiNet")),
    ];
    // SMTP AUTH: single factor, and the legacy-auth block only in report-only mode.
    let smtp = |sink: &mut Sink, t: DateTime<Utc>, c: &Connection| {
        let mut si = sink.signin(user, t, c);
        si.app = EXCHANGE;
        si.resource = EXCHANGE;
        si.client_app = "Authenticated SMTP";
        si.user_agent = "BAV2ROPC".into();
        si.device = None;
        si.multifactor = false;
        si.steps = vec![password_step(true)];
        si.policies = vec![(CA_MFA, "notApplied"), (CA_LEGACY, "reportOnlyFailure")];
        si
    };
    for k in 0..12 {
        let si = smtp(sink, t0 + Duration::minutes(k as i64 * 7), &sources[k % sources.len()]);
        sink.emit_signin(si.wrong_password())?;
    }
    let win = &sources[2];
    let success_time = t0 + Duration::minutes(12 * 7 + 4);
    let si = smtp(sink, success_time, win);
    sink.emit_signin(si)?;
    let recipients: Vec<String> = cast.tenant.users.iter().skip(5).step_by(9).take(5).map(|u| u.upn.clone()).collect();
    sink.send_mail(
        user,
        success_time + Duration::minutes(3),
        &win.ip,
        "Client=SMTP",
        "Shared document: Q4 bonus plan",
        &recipients,
    )?;
    let mut s = story(
        "credential-stuffing",
        "004",
        "attack",
        "Credential stuffing from hosting networks, then a legacy-protocol success",
        user,
    );
    s.ips = sources.iter().map(|c| c.ip.clone()).collect();
    s.related_users = recipients;
    span(&mut s, t0, success_time + Duration::minutes(3));
    s.signals = vec!["credential_stuffing", "legacy_protocol_success", "hosting_signin"];
    s.narrative = "Twelve failed SMTP AUTH sign-ins (BAV2ROPC) from six hosting networks in 80 minutes, then a single-factor success from one of them and a phishing mail to five colleagues.";
    Ok(s)
}

/// Seed 004, signal 2: successes from two countries within the hour, the second from an
/// unknown device, followed by external mail forwarding.
fn impossible_travel(cast: &mut Cast, w: &Window, sink: &mut Sink) -> io::Result<Story> {
    let user =
        cast.pick("impossible travel", |u| u.role == Role::Staff && u.site().place.country == "GB" && !u.proxied);
    let day = w.day(0.6);
    let home = Connection::home(user);
    let t_home = day + Duration::hours(9) + Duration::minutes(12);
    let mut si = sink.signin(user, t_home, &home);
    si.steps = vec![password_step(true), push_step(true, "MFA successfully completed")];
    sink.emit_signin(si)?;
    let lagos = conn("102.89.34.117", place("Lagos", "Lagos", "NG", 6.5244, 3.3792), net(29465, "MTN Nigeria"));
    let t_far = t_home + Duration::minutes(28);
    let mut si = sink.signin(user, t_far, &lagos);
    si.device = Some(Device {
        id: String::new(),
        name: String::new(),
        os: "Linux",
        browser: "Firefox 129.0",
        user_agent: "Mozilla/5.0 (X11; Linux x86_64; rv:129.0) Gecko/20100101 Firefox/129.0",
        trust_type: "",
        managed: false,
    });
    si.user_agent = "Mozilla/5.0 (X11; Linux x86_64; rv:129.0) Gecko/20100101 Firefox/129.0".into();
    si.compliant = false;
    si.additional = Some("MFA requirement satisfied by claim in the token");
    si.risk = Some(("medium", "atRisk", vec!["unfamiliarFeatures"]));
    sink.emit_signin(si)?;
    risk(sink, user, t_far + Duration::seconds(4), &lagos, "unfamiliarFeatures", "medium", "realtime")?;
    risk(sink, user, t_far + Duration::hours(2), &lagos, "impossibleTravel", "medium", "offline")?;
    let t_fwd = t_far + Duration::minutes(11);
    sink.emit_ual(Ual {
        id: String::new(),
        time: t_fwd,
        record_type: 1,
        operation: "Set-Mailbox",
        upn: user.upn.clone(),
        client_ip: lagos.ip.clone(),
        client_info: "Client=OWA",
        session_id: String::new(),
        extra: json!({"ObjectId": user.upn, "Parameters": [
            {"Name": "Identity", "Value": user.upn},
            {"Name": "ForwardingSmtpAddress", "Value": "smtp:payments.desk@protonmail.example"},
            {"Name": "DeliverToMailboxAndForward", "Value": "True"}]}),
    })?;
    let mut s = story(
        "impossible-travel",
        "004",
        "attack",
        "Impossible travel: London then Lagos within 30 minutes, then external forwarding",
        user,
    );
    s.ips = vec![home.ip.clone(), lagos.ip.clone()];
    span(&mut s, t_home, t_fwd);
    s.signals = vec![
        "impossible_travel",
        "countries_within_hour",
        "new_country",
        "unknown_device",
        "identity_protection_risk",
        "mailbox_forwarding_external",
        "takeover_chain",
    ];
    s.narrative = "A success from the user's London home is followed 28 minutes later by a success from Lagos on an unknown Linux device with a replayed token, and the mailbox starts forwarding to an external address.";
    Ok(s)
}

/// Seed 004, signal 3, with MFA fatigue and an illicit consent grant: pushes denied from a
/// Tor exit until one is approved, then access and consent from bulletproof hosting.
fn tor_mfa_fatigue_consent(cast: &mut Cast, w: &Window, sink: &mut Sink) -> io::Result<Story> {
    let user = cast.pick("Tor", |u| u.role == Role::Staff && u.site().place.country == "CA");
    let t0 = w.day(0.75) + Duration::hours(2);
    let tor = conn(
        "185.220.101.47",
        place("Berlin", "Land Berlin", "DE", 52.5200, 13.4050),
        net(208294, "Stiftung Erneuerbare Freiheit (Tor exit)"),
    );
    let tor_ua = "Mozilla/5.0 (Windows NT 10.0; rv:128.0) Gecko/20100101 Firefox/128.0";
    for k in 0..6 {
        let mut si = sink.signin(user, t0 + Duration::minutes(k * 2), &tor);
        si.device = None;
        si.user_agent = tor_ua.into();
        si.steps = vec![password_step(true), push_step(false, "MFA denied; user declined the authentication")];
        sink.emit_signin(si.fail(500121, "Authentication failed during strong authentication request."))?;
    }
    let t_ok = t0 + Duration::minutes(13);
    let mut si = sink.signin(user, t_ok, &tor);
    si.device = None;
    si.user_agent = tor_ua.into();
    si.steps = vec![password_step(true), push_step(true, "MFA successfully completed")];
    si.mfa = Some(("PhoneAppNotification", String::new()));
    si.risk = Some(("high", "atRisk", vec!["anonymizedIPAddress"]));
    sink.emit_signin(si)?;
    risk(sink, user, t_ok + Duration::seconds(3), &tor, "anonymizedIPAddress", "high", "realtime")?;
    let bph = conn(
        "209.141.58.146",
        place("Las Vegas", "Nevada", "US", 36.1699, -115.1398),
        net(53667, "FranTech Solutions"),
    );
    let t_bph = t_ok + Duration::minutes(12);
    let mut si = sink.signin(user, t_bph, &bph);
    si.app = GRAPH;
    si.resource = GRAPH;
    si.device = None;
    si.user_agent = tor_ua.into();
    si.additional = Some("MFA requirement satisfied by claim in the token");
    sink.emit_signin(si)?;
    let mut app_target = Target {
        id: "9c1b5e2a-7d3f-4a8e-b6c1-2e5f8a9d0b3c".into(),
        display_name: "Mail Sync Pro".into(),
        kind: "ServicePrincipal",
        upn: None,
        properties: Vec::new(),
    };
    app_target.properties = vec![
        ("ConsentContext.IsAdminConsent", String::new(), "\"False\"".into()),
        ("ConsentAction.Permissions", String::new(), "\"[] => [[Id: x, ClientId: 9c1b5e2a, PrincipalId: user, ResourceId: graph, ConsentType: Principal, Scope: Mail.Read Mail.Send offline_access User.Read]]\"".into()),
    ];
    sink.emit_audit(Audit {
        id: String::new(),
        time: t_bph + Duration::minutes(2),
        category: "ApplicationManagement",
        activity: "Consent to application",
        service: "Core Directory",
        operation_type: "Assign",
        success: true,
        reason: String::new(),
        correlation_id: String::new(),
        initiator: Initiator::User { id: user.id.clone(), upn: user.upn.clone(), ip: Some(bph.ip.clone()) },
        targets: vec![app_target],
        details: vec![("User-Agent", tor_ua.to_string()), ("AppId", "9c1b5e2a-7d3f-4a8e-b6c1-2e5f8a9d0b3c".into())],
    })?;
    let mut s = story(
        "tor-mfa-fatigue-consent",
        "004",
        "attack",
        "MFA fatigue from a Tor exit, then consent to a mail-reading app from bulletproof hosting",
        user,
    );
    s.ips = vec![tor.ip.clone(), bph.ip.clone()];
    span(&mut s, t0, t_bph + Duration::minutes(2));
    s.signals = vec![
        "tor_signin",
        "mfa_fatigue",
        "bulletproof_hosting_signin",
        "identity_protection_risk",
        "illicit_consent",
        "takeover_chain",
    ];
    s.narrative = "Six pushes denied from a Tor exit with the correct password, the seventh approved; twelve minutes later Graph access from FranTech (AS53667) and consent to 'Mail Sync Pro' with Mail.Read, Mail.Send and offline_access.";
    Ok(s)
}

/// Seed 002: one network sprays a common password across the tenant; smart lockout fires,
/// unknown usernames are enumerated, and one account without MFA falls, signing in from a
/// country new to it.
fn password_spray(cast: &mut Cast, w: &Window, r: &mut Rng, sink: &mut Sink) -> io::Result<Story> {
    let victim = cast.pick("spray victim", |u| u.role == Role::Engineer && u.site().place.country == "IN");
    let t0 = w.day(0.85) + Duration::hours(1);
    let amsterdam = place("Amsterdam", "North Holland", "NL", 52.3676, 4.9041);
    let stark = net(44477, "Stark Industries Solutions");
    let ips = ["45.134.26.17", "45.134.26.41", "45.134.26.88"];
    let ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/91.0.4472.124 Safari/537.36";
    let targets: Vec<&User> =
        cast.tenant.users.iter().filter(|u| u.role != Role::Service && u.index % 3 == 1).take(80).collect();
    let mut n = 0i64;
    let mut attempt =
        |sink: &mut Sink, user: &User, t: DateTime<Utc>, code: i64, reason: &'static str| -> io::Result<()> {
            let c = conn(ips[(n % 3) as usize], amsterdam, stark);
            n += 1;
            let mut si = sink.signin(user, t, &c);
            si.device = None;
            si.user_agent = ua.into();
            si.app = OFFICE_HOME;
            si.resource = OFFICE_HOME;
            si.steps = vec![password_step(false)];
            sink.emit_signin(si.fail(code, reason))
        };
    for (i, u) in targets.iter().enumerate() {
        attempt(sink, u, t0 + Duration::seconds(i as i64 * 75 + r.range(0, 30)), 50126, INVALID_PASSWORD)?;
    }
    let second = t0 + Duration::hours(2) + Duration::minutes(10);
    for (i, u) in targets.iter().take(20).enumerate() {
        attempt(
            sink,
            u,
            second + Duration::seconds(i as i64 * 40),
            50053,
            "Account is locked because user tried to sign in too many times with an incorrect user ID or password.",
        )?;
    }
    let unknown = [
        "admin",
        "administrator",
        "helpdesk",
        "it.support",
        "j.smith",
        "test",
        "backup",
        "scanner",
        "finance",
        "hr",
        "info",
        "sales",
        "payroll",
        "reception",
        "m.jones",
        "ceo",
        "office",
        "support",
        "noreply",
        "training",
        "guest",
        "marketing",
        "security",
        "web",
        "mail",
    ];
    for (i, name) in unknown.iter().enumerate() {
        let t = t0 + Duration::minutes(30) + Duration::seconds(i as i64 * 50);
        let c = conn(ips[i % 3], amsterdam, stark);
        let ghost = User {
            upn: format!("{name}@{}", cast.tenant.domain),
            id: String::new(),
            display_name: String::new(),
            ..victim.clone()
        };
        let mut si = sink.signin(&ghost, t, &c);
        si.device = None;
        si.user_agent = ua.into();
        si.steps = Vec::new();
        si.policies = Vec::new();
        sink.emit_signin(si.fail(50034, "The user account does not exist in the northwind.example directory."))?;
    }
    // The victim is in the MFA exclusion group: one password is enough.
    let c = conn(ips[1], amsterdam, stark);
    let t_ok = t0 + Duration::minutes(95);
    let mut si = sink.signin(victim, t_ok, &c);
    si.device = None;
    si.user_agent = ua.into();
    si.multifactor = false;
    si.steps = vec![password_step(true)];
    si.policies = vec![(CA_MFA, "notApplied")];
    si.risk = Some(("medium", "atRisk", vec!["newCountry", "unfamiliarFeatures"]));
    sink.emit_signin(si)?;
    risk(sink, victim, t_ok + Duration::minutes(20), &c, "newCountry", "medium", "offline")?;
    risk(sink, victim, t_ok + Duration::hours(3), &c, "passwordSpray", "high", "offline")?;
    let mut s = story(
        "password-spray",
        "002",
        "attack",
        "Password spray with smart lockout and enumeration; one account without MFA falls",
        victim,
    );
    s.related_users = targets.iter().map(|u| u.upn.clone()).collect();
    s.ips = ips.iter().map(|i| i.to_string()).collect();
    span(&mut s, t0, t_ok + Duration::hours(3));
    s.signals = vec![
        "password_spray",
        "smart_lockout_surge",
        "username_enumeration",
        "new_country",
        "identity_protection_risk",
    ];
    s.narrative = "Three Stark Industries addresses try one password on 80 users, lock out 20 on a second pass and probe 25 usernames that do not exist; an account excluded from MFA signs in from the Netherlands, a country new to it.";
    Ok(s)
}

/// Look-alike of seed 001: a user forgets the password and resets it from home.
fn benign_sspr(cast: &mut Cast, w: &Window, sink: &mut Sink) -> io::Result<Story> {
    let user = cast.pick("benign SSPR", |u| u.site().place.country == "ES" && !u.proxied);
    let day = w.day(0.5);
    let home = Connection::home(user);
    let t = local(user, day, 8, 30);
    for k in 0..2 {
        let si = sink.signin(user, t + Duration::seconds(k * 40), &home).wrong_password();
        sink.emit_signin(si)?;
    }
    let correlation = sink.guid();
    let t_reset = t + Duration::minutes(3);
    sspr_audit(
        sink,
        user,
        t_reset,
        &home.ip,
        ("Self-service password reset flow activity progress", true, "User started the password reset flow"),
        &correlation,
    )?;
    sspr_audit(
        sink,
        user,
        t_reset + Duration::seconds(35),
        &home.ip,
        (
            "Self-service password reset flow activity progress",
            true,
            "User verified their identity with a mobile app notification",
        ),
        &correlation,
    )?;
    sspr_audit(
        sink,
        user,
        t_reset + Duration::seconds(70),
        &home.ip,
        ("Reset password (self-service)", true, "Successfully completed reset."),
        &correlation,
    )?;
    let mut si = sink.signin(user, t_reset + Duration::minutes(2), &home);
    si.steps = vec![password_step(true), push_step(true, "MFA successfully completed")];
    sink.emit_signin(si)?;
    let mut s = story("benign-sspr", "001", "benign", "Forgotten password reset from home on the usual device", user);
    s.ips = vec![home.ip.clone()];
    span(&mut s, t, t_reset + Duration::minutes(2));
    s.signals = vec!["sspr_reset"];
    s.narrative = "Two wrong passwords, a self-service reset verified with the Authenticator app from the user's home IP, and a normal sign-in on the user's compliant laptop.";
    Ok(s)
}

/// Look-alike of seed 003's rogue authenticator: a new phone registered from the office.
fn benign_new_authenticator(cast: &mut Cast, w: &Window, sink: &mut Sink) -> io::Result<Story> {
    let user = cast.pick("new authenticator", |u| u.site().place.country == "US" && u.role != Role::Finance);
    let day = w.day(0.45);
    let office = Connection::office(user);
    let t = local(user, day, 10, 5);
    let mut si = sink.signin(user, t, &office);
    si.app = MY_SIGNINS;
    si.resource = MY_SIGNINS;
    si.steps = vec![password_step(true), push_step(true, "MFA successfully completed")];
    sink.emit_signin(si)?;
    let old = "[{\"DeviceName\":\"iPhone\",\"DeviceTag\":\"SoftwareTokenActivated\",\"PhoneAppVersion\":\"6.8.14\"}]"
        .to_string();
    let new = "[{\"DeviceName\":\"iPhone\",\"DeviceTag\":\"SoftwareTokenActivated\",\"PhoneAppVersion\":\"6.8.14\"},{\"DeviceName\":\"iPhone 15 Pro\",\"DeviceTag\":\"SoftwareTokenActivated\",\"PhoneAppVersion\":\"6.8.16\"}]".to_string();
    authenticator_added(sink, user, t + Duration::minutes(3), &office.ip, user.laptop.user_agent, old, new)?;
    let mut s = story(
        "benign-new-authenticator",
        "003",
        "benign",
        "New phone registered in the Authenticator app from the office",
        user,
    );
    s.ips = vec![office.ip.clone()];
    span(&mut s, t, t + Duration::minutes(4));
    s.signals = vec!["authenticator_registered"];
    s.narrative = "After a full MFA sign-in on the compliant laptop at the office, the user adds a new iPhone to the Authenticator app.";
    Ok(s)
}

/// Look-alike of seed 003's inbox rule: filing newsletters.
fn benign_inbox_rule(cast: &mut Cast, w: &Window, sink: &mut Sink) -> io::Result<Story> {
    let user = cast.pick("benign inbox rule", |u| u.role == Role::Finance);
    let day = w.day(0.4);
    let conn = connection(user, day);
    let t = local(user, day, 11, 20);
    sink.emit_ual(Ual {
        id: String::new(),
        time: t,
        record_type: 1,
        operation: "New-InboxRule",
        upn: user.upn.clone(),
        client_ip: conn.ip.clone(),
        client_info: "Client=OWA;Action=ViaProxy",
        session_id: String::new(),
        extra: json!({"ObjectId": format!("{}\\Newsletters", user.upn),
                      "Parameters": [{"Name": "Name", "Value": "Newsletters"},
                                     {"Name": "FromAddressContainsWords", "Value": "newsletter;digest"},
                                     {"Name": "MoveToFolder", "Value": "Newsletters"}]}),
    })?;
    let mut s = story(
        "benign-inbox-rule",
        "003",
        "benign",
        "Inbox rule filing newsletters, created from the usual place",
        user,
    );
    s.ips = vec![conn.ip.clone()];
    span(&mut s, t, t);
    s.signals = vec!["inbox_rule_created"];
    s.narrative =
        "The user files newsletters into a folder named Newsletters, from the usual network, with Outlook on the web.";
    Ok(s)
}

/// Look-alike of impossible travel and new-country: a real trip, on the usual laptop.
fn benign_traveller(cast: &mut Cast, w: &Window, sink: &mut Sink) -> io::Result<Story> {
    let user = cast.pick("traveller", |u| u.site().place.country == "ES" && !u.proxied);
    let day = w.day(0.3);
    let home = Connection::home(user);
    let t_leave = day + Duration::hours(7);
    let mut si = sink.signin(user, t_leave, &home);
    si.additional = Some("MFA requirement satisfied by claim in the token");
    sink.emit_signin(si)?;
    let hotel = conn(
        "24.187.42.133",
        place("New York", "New York", "US", 40.7128, -74.0060),
        net(6128, "Optimum (Cablevision)"),
    );
    let t_arrive = t_leave + Duration::hours(10);
    // From the morning of departure to the last day in New York, no everyday Madrid activity.
    sink.away(user, t_leave, t_arrive + Duration::days(4));
    for d in 0..4 {
        let t = t_arrive + Duration::days(d);
        let mut si = sink.signin(user, t, &hotel);
        si.steps = vec![password_step(true), push_step(true, "MFA successfully completed")];
        if d == 0 {
            si.risk = Some(("low", "atRisk", vec!["unfamiliarFeatures"]));
        }
        sink.emit_signin(si)?;
    }
    risk(sink, user, t_arrive + Duration::minutes(1), &hotel, "unfamiliarFeatures", "low", "realtime")?;
    let mut s =
        story("benign-traveller", "004", "benign", "Business trip from Madrid to New York on the usual laptop", user);
    s.ips = vec![home.ip.clone(), hotel.ip.clone()];
    span(&mut s, t_leave, t_arrive + Duration::days(3));
    s.signals = vec!["new_country", "travel_possible", "same_device"];
    s.narrative = "A sign-in from home in Madrid, then ten hours later (a plausible flight) sign-ins from a New York hotel on the same compliant laptop with full MFA.";
    Ok(s)
}

/// Look-alike of credential stuffing: typos before coffee.
fn benign_typos(cast: &mut Cast, w: &Window, sink: &mut Sink) -> io::Result<Story> {
    let user = cast.pick("typos", |u| u.site().place.country == "US" && !u.proxied);
    let day = w.day(0.65);
    let home = Connection::home(user);
    let t = local(user, day, 7, 2);
    for k in 0..6 {
        let si = sink.signin(user, t + Duration::seconds(k * 35), &home).wrong_password();
        sink.emit_signin(si)?;
    }
    let mut si = sink.signin(user, t + Duration::minutes(4), &home);
    si.steps = vec![password_step(true), push_step(true, "MFA successfully completed")];
    sink.emit_signin(si)?;
    let mut s = story(
        "benign-typos",
        "004",
        "benign",
        "Six mistyped passwords, then success, from home on the usual laptop",
        user,
    );
    s.expected_verdict = "false_positive";
    s.ips = vec![home.ip.clone()];
    span(&mut s, t, t + Duration::minutes(4));
    s.signals = vec!["failures_then_success"];
    s.narrative =
        "Six failures in three minutes from the user's home IP and compliant laptop, then a normal MFA sign-in.";
    Ok(s)
}

/// Look-alike of MFA fatigue: one accidental denial.
fn benign_mfa_denial(cast: &mut Cast, w: &Window, sink: &mut Sink) -> io::Result<Story> {
    let user = cast.pick("MFA denial", |u| u.site().place.country == "GB" && !u.proxied);
    let day = w.day(0.35);
    let conn = connection(user, day);
    let t = local(user, day, 9, 40);
    let mut si = sink.signin(user, t, &conn);
    si.steps = vec![password_step(true), push_step(false, "MFA denied; user declined the authentication")];
    sink.emit_signin(si.fail(500121, "Authentication failed during strong authentication request."))?;
    let mut si = sink.signin(user, t + Duration::minutes(1), &conn);
    si.steps = vec![password_step(true), push_step(true, "MFA successfully completed")];
    sink.emit_signin(si)?;
    let mut s =
        story("benign-mfa-denial", "004", "benign", "One push denied by mistake, approved a minute later", user);
    s.expected_verdict = "false_positive";
    s.ips = vec![conn.ip.clone()];
    span(&mut s, t, t + Duration::minutes(1));
    s.signals = vec!["mfa_denied_then_approved"];
    s.narrative = "A single denied push followed by an approval from the same place and device.";
    Ok(s)
}

/// Look-alike of impossible travel: home and the corporate proxy's egress in another country.
fn benign_proxy(cast: &mut Cast, w: &Window) -> Story {
    let user = cast.pick("proxy", |u| u.proxied && matches!(u.site().place.country, "ES" | "IN" | "HN"));
    let mut s = story(
        "benign-corporate-proxy",
        "004",
        "benign",
        "Working from home through the corporate proxy's egress abroad",
        user,
    );
    s.expected_verdict = "false_positive";
    s.ips = vec![user.home_ip.clone()];
    span(&mut s, w.start, w.start + Duration::days(w.days));
    s.signals = vec!["proxy_egress", "many_users_same_location"];
    s.narrative = "On home days the user's traffic leaves through Zscaler (AS22616) in another country, shared by many users of every site; on office days it comes from the local office.";
    s
}

/// Look-alike of credential stuffing, hosting sign-ins and automation user agents.
fn benign_service_account(tenant: &Tenant, w: &Window) -> Story {
    let user = tenant.users.iter().find(|u| u.role == Role::Service).expect("user 0 is the service account");
    let mut s = story(
        "benign-service-account",
        "004",
        "benign",
        "Reporting service account: hourly script from the cloud with a stale password in one worker",
        user,
    );
    s.ips = vec![crate::tenant::CLOUD.host(99)];
    span(&mut s, w.start, w.start + Duration::days(w.days));
    s.signals = vec!["failures_then_success", "hosting_signin", "automation_user_agent"];
    s.narrative = "Every hour python-requests signs in from a Microsoft Azure address; a worker with an old password fails first in about a third of the hours. Documented, same IP and agent for the whole month.";
    let _ = SITES;
    s
}
