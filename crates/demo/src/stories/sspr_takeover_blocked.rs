//! Seed 000: self-service password reset abused from anonymising infrastructure, blocked before the takeover held.

use super::*;

/// Seed 000: risky sign-ins from five countries blocked by Conditional Access, two
/// self-service unlocks that passed SMS verification, four resets refused by password policy.
pub(super) fn sspr_takeover_blocked(cast: &mut Cast, w: &Window, sink: &mut Sink) -> io::Result<Story> {
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
