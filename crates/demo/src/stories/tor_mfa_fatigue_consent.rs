//! Seed 004: from Tor, MFA fatigue, then an illicit consent.

use super::*;

/// Seed 004, signal 3, with MFA fatigue and an illicit consent grant: pushes denied from a
/// Tor exit until one is approved, then access and consent from bulletproof hosting.
pub(super) fn tor_mfa_fatigue_consent(cast: &mut Cast, w: &Window, sink: &mut Sink) -> io::Result<Story> {
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
