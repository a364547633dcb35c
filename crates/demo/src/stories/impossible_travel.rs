//! Seed 004: sign-ins too far apart to travel between.

use super::*;

/// Seed 004, signal 2: successes from two countries within the hour, the second from an
/// unknown device, followed by external mail forwarding.
pub(super) fn impossible_travel(cast: &mut Cast, w: &Window, sink: &mut Sink) -> io::Result<Story> {
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
