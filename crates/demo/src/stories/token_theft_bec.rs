//! Seed 003: a stolen session token replayed from hosting, then business email compromise.

use super::*;

/// Seed 003: AiTM phishing, token replay from hosting IPs with node-fetch, a rogue
/// Authenticator registered, an inbox rule hiding replies, and invoice mail sent from the
/// attacker's IPs to colleagues.
pub(super) fn token_theft_bec(cast: &mut Cast, w: &Window, sink: &mut Sink) -> io::Result<Story> {
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
