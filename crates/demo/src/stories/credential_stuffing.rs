//! Seed 004: failures then a success, one account, one source.

use super::*;

/// Seed 004, signal 1 and the legacy-protocol test: failures from many hosting IPs, then a
/// single-factor success over authenticated SMTP.
pub(super) fn credential_stuffing(cast: &mut Cast, w: &Window, sink: &mut Sink) -> io::Result<Story> {
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
