//! The benign look-alikes: what an analyst sees every day that resembles an attack story.

use super::*;

/// Look-alike of seed 001: a user forgets the password and resets it from home.
pub(super) fn benign_sspr(cast: &mut Cast, w: &Window, sink: &mut Sink) -> io::Result<Story> {
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
pub(super) fn benign_new_authenticator(cast: &mut Cast, w: &Window, sink: &mut Sink) -> io::Result<Story> {
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
pub(super) fn benign_inbox_rule(cast: &mut Cast, w: &Window, sink: &mut Sink) -> io::Result<Story> {
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
pub(super) fn benign_traveller(cast: &mut Cast, w: &Window, sink: &mut Sink) -> io::Result<Story> {
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
pub(super) fn benign_typos(cast: &mut Cast, w: &Window, sink: &mut Sink) -> io::Result<Story> {
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
pub(super) fn benign_mfa_denial(cast: &mut Cast, w: &Window, sink: &mut Sink) -> io::Result<Story> {
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
pub(super) fn benign_proxy(cast: &mut Cast, w: &Window) -> Story {
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
pub(super) fn benign_service_account(tenant: &Tenant, w: &Window) -> Story {
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
