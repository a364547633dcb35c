//! Seed 002: one source, many accounts, few attempts each.

use super::*;

/// Seed 002: one network sprays a common password across the tenant; smart lockout fires,
/// unknown usernames are enumerated, and one account without MFA falls, signing in from a
/// country new to it.
pub(super) fn password_spray(cast: &mut Cast, w: &Window, r: &mut Rng, sink: &mut Sink) -> io::Result<Story> {
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
