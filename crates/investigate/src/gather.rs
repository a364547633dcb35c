//! Gathering: the subject's records read from the store once, held in memory, and enriched so
//! that every question asks small tables instead of the whole store.
//!
//! | table | what |
//! |---|---|
//! | `subject_signins` | the account's sign-ins from `baseline_days` before the window to `follow_days` after it |
//! | `subject_audits` | directory audit events about or by the account, same span |
//! | `subject_mailbox` | unified audit log records by the account or on its mailbox |
//! | `subject_mail` | message trace rows the account sent |
//! | `subject_risk` | Identity Protection detections and risk states for the account |
//! | `subject_graph` | Microsoft Graph requests made with the account's tokens, with the sign-in that issued each token |
//! | `subject_azure` | Azure Resource Manager operations the account made (Activity log) |
//! | `subject_sspr_history` | self-service resets of the account and the organisation, in the window and the 90 days before |
//! | `context_notes` | the analyst's triage notes about the account |
//! | `subject` | one row: the account, the window, and how much baseline there is |
//!
//! Every row has `phase` (`baseline` before the window, `window`, `after`). Sign-ins carry what
//! the questions reason with: `outcome` (success, conditional_access, smart_lockout,
//! wrong_password, mfa_denied, mfa_required, no_such_user, other_failure), the address's
//! `ip_class`/`provider`, the agent's `agent_class`, whether the address, network (ASN),
//! country, device and agent were `known_*` from the baseline's successes (a compliant,
//! registered device is known: it is the organisation's), whether it is the
//! organisation's `org_egress` (five or more accounts succeed from it; no Tor, VPN or hosting), the analyst
//! context's `explained_by` (void, with `context_refuted` saying why, when a travel notice
//! would explain a success that no traveller could connect to the success before or after
//! it), `owner_roaming` (the owner's device changing network in the account's own countries: a
//! mobile-carrier address, or a home network for a Microsoft app (Outlook, Office) whose session
//! follows it, with an agent the account used before, versions aside; a browser's session
//! replayed with a token's claim is not roaming, that is how adversary-in-the-middle looks), and `foreign`: not in the baseline by address, network or device,
//! not the owner roaming and not explained by the context (an actor other than the account's
//! owner, until shown otherwise). After the window only the same actor is followed: an unfamiliar sign-in there
//! is foreign when its address, network or (unfamiliar) agent was the window's actor's, so an
//! unrelated attack days later does not blur the question asked about this one. Audit, mailbox and mail rows carry `foreign` and `known_ip` for their address.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use datafusion::arrow::array::{Array, ArrayRef, AsArray, StringArray, TimestampMicrosecondArray};
use datafusion::arrow::datatypes::{DataType, Field, Int64Type, Schema, TimeUnit};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::logical_expr::{ColumnarValue, Volatility, create_udf};
use datafusion::prelude::SessionContext;

use crate::InvestigateError;
use crate::context::{Context, Explainer};
use crate::sql::{count, first_time_and_number, in_list, literal, ts};
use crate::subject::{Focus, Subject};
use crate::time::{shift, stamp};

/// How much history the baseline covers and how long after the window actions are followed.
#[derive(Debug, Clone, Copy)]
pub struct Span {
    pub baseline_days: i64,
    pub follow_days: i64,
    pub reach_hours: i64,
}

/// The largest spans accepted: ten years of baseline or follow-up, a year either side of
/// the moment of interest. Beyond them an investigation is no longer about an incident.
pub const MAX_BASELINE_DAYS: i64 = 3650;
pub const MAX_FOLLOW_DAYS: i64 = 3650;
pub const MAX_REACH_HOURS: i64 = 8760;

impl Span {
    /// Refuses negative spans and spans past the limits above, naming the setting.
    pub fn check(&self) -> Result<(), InvestigateError> {
        let limits = [
            ("baseline days", self.baseline_days, MAX_BASELINE_DAYS),
            ("follow-up days", self.follow_days, MAX_FOLLOW_DAYS),
            ("reach hours", self.reach_hours, MAX_REACH_HOURS),
        ];
        for (what, value, max) in limits {
            if !(0..=max).contains(&value) {
                return Err(InvestigateError::Span(format!("{what} must be from 0 to {max}, not {value}")));
            }
        }
        Ok(())
    }
}

impl Default for Span {
    fn default() -> Self {
        Span { baseline_days: 30, follow_days: 14, reach_hours: crate::subject::DEFAULT_REACH_HOURS }
    }
}

/// Records read per data source, for the report's metrics.
pub type Counts = BTreeMap<String, usize>;

/// Reads the account's records, picks the window, and builds the subject tables in `ctx`.
pub async fn gather(
    ctx: &SessionContext,
    user: &str,
    focus: &Focus,
    span: Span,
    context: &Context,
) -> Result<(Subject, Counts), InvestigateError> {
    span.check()?;
    let user = user.trim().to_lowercase();
    read_account(ctx, &user).await?;
    let subject = place_window(ctx, &user, focus, span).await?;
    register_context(ctx, &user, context)?;
    let bounds = Bounds::of(&subject, span);
    let mut counts = Counts::new();
    scope(ctx, &user, &bounds, &mut counts).await?;
    baseline(ctx).await?;
    mark_signins(ctx, &mut counts).await?;
    attribute_others(ctx, &user, &bounds, &mut counts).await?;
    sspr_history(ctx, &user, &bounds).await?;
    peers(ctx, &user, &bounds).await?;
    summarise(ctx, &user, &bounds).await?;
    Ok((subject, counts))
}

/// Peers at least this many make a peer group; fewer, and the group is widened.
pub const MIN_PEERS: usize = 3;

/// The account's peers and what they did in the baseline (`subject_peers`, `subject_peer_usage`):
/// what UEBA calls "uncommon among peers", without Sentinel's peer groups. Peers are, the first
/// of these with at least [`MIN_PEERS`]: the accounts of the same department in a directory
/// export (`directory_users`), the ones with the same manager, the other accounts that signed
/// in successfully in the baseline from the account's own baseline addresses (its site: an
/// office egress, a shared network), the accounts that used its baseline applications. For
/// each country and application new to the account in the window, how many peers used it in
/// the baseline.
async fn peers(ctx: &SessionContext, user: &str, bounds: &Bounds) -> Result<(), InvestigateError> {
    let u = literal(user);
    let Bounds { start, from, .. } = bounds;
    // Sign-ins' accounts are lower-cased at ingest: `lower()` here cost a string per row over
    // an office egress's millions.
    let baseline =
        format!("s.time >= {from} AND s.time < {start} AND s.result_type = 0 AND s.user_principal_name <> {u}");
    // The directory's peer groups first (a directory export in the store), then the site, then
    // the applications: the first with enough peers is the account's peer group.
    let me = format!(
        "(SELECT max(department) AS department, max(manager_id) AS manager FROM directory_users WHERE user_principal_name = {u})"
    );
    let own = |column: &str| {
        format!(
            "SELECT DISTINCT {column} FROM subject_signins
             WHERE phase = 'baseline' AND succeeded AND {column} IS NOT NULL ORDER BY 1"
        )
    };
    let apps = in_list(ctx, &own("app_id")).await?;
    let groups = [
        format!(
            "SELECT DISTINCT d.user_principal_name AS who, concat('accounts of the same department (', me.department, ')') AS basis
             FROM {me} me JOIN directory_users d ON d.department = me.department
             WHERE coalesce(me.department, '') <> '' AND d.user_principal_name <> {u}"
        ),
        format!(
            "SELECT DISTINCT d.user_principal_name AS who, 'accounts with the same manager' AS basis
             FROM {me} me JOIN directory_users d ON d.manager_id = me.manager
             WHERE coalesce(me.manager, '') <> '' AND d.user_principal_name <> {u}"
        ),
        format!(
            "SELECT DISTINCT who, 'accounts that signed in from the same site addresses in the baseline' AS basis
             FROM subject_address_accounts WHERE site AND signed_in_baseline AND who <> {u}"
        ),
        format!(
            "SELECT DISTINCT s.user_principal_name AS who, 'accounts that used the same applications in the baseline' AS basis
             FROM signins s WHERE s.app_id IN ({apps}) AND {baseline}"
        ),
    ];
    let mut found = 0;
    for group in &groups {
        found = materialise(ctx, "subject_peers", group).await?;
        if found >= MIN_PEERS {
            break;
        }
    }
    // The window's new countries and applications, with the peers that used each before; the
    // small side of each join first (joins run in written order).
    let new = "SELECT DISTINCT 'country' AS what, country AS value, country AS name FROM subject_signins
           WHERE phase <> 'baseline' AND succeeded AND NOT known_country AND coalesce(country, '') <> ''
           UNION ALL
           SELECT 'application', s.app_id, max(s.app_display_name) FROM subject_signins s
           LEFT JOIN (SELECT DISTINCT app_id FROM subject_signins WHERE phase = 'baseline' AND succeeded) b ON b.app_id = s.app_id
           WHERE s.phase <> 'baseline' AND s.succeeded AND s.app_id IS NOT NULL AND b.app_id IS NULL
           GROUP BY s.app_id";
    materialise(ctx, "subject_new_things", new).await?;
    let new_ones = |what: &str| format!("SELECT value FROM subject_new_things WHERE what = '{what}' ORDER BY 1");
    let (countries, applications) =
        (in_list(ctx, &new_ones("country")).await?, in_list(ctx, &new_ones("application")).await?);
    let usage = format!(
        "WITH used AS (
           SELECT DISTINCT 'country' AS what, s.country AS value, s.user_principal_name AS who
           FROM signins s WHERE s.country IN ({countries}) AND {baseline}
           UNION ALL
           SELECT DISTINCT 'application', s.app_id, s.user_principal_name
           FROM signins s WHERE s.app_id IN ({applications}) AND {baseline}),
         peers_used AS (SELECT u.what, u.value, u.who FROM subject_peers p JOIN used u ON u.who = p.who)
         SELECT n.what, n.value, n.name, count(DISTINCT pu.who) AS peers_there, CAST({found} AS BIGINT) AS peers,
           (SELECT max(basis) FROM subject_peers) AS basis
         FROM subject_new_things n LEFT JOIN peers_used pu ON pu.what = n.what AND pu.value = n.value
         WHERE {found} >= {MIN_PEERS}
         GROUP BY n.what, n.value, n.name ORDER BY n.what, n.value"
    );
    materialise(ctx, "subject_peer_usage", &usage).await?;
    Ok(())
}

/// Days of history a self-service reset is compared against (seed 001, step 4).
pub const SSPR_HISTORY_DAYS: i64 = 90;

/// Self-service resets and unlocks of the account and of the whole organisation, in the window
/// and in the `SSPR_HISTORY_DAYS` before it (`subject_sspr_history`, one row): what seed 001's
/// step 4 compares, and step 7's organisation-wide sweep. `coverage_days` says how much of the
/// 90 days the store actually holds audits for.
async fn sspr_history(ctx: &SessionContext, user: &str, bounds: &Bounds) -> Result<(), InvestigateError> {
    let u = literal(user);
    let Bounds { start, end, .. } = bounds;
    // The resets first, in one scan of the audits: a `WITH` is planned into every query that
    // names it, and the counts below name it five times.
    let resets = format!(
        "SELECT time, lower(coalesce(target_upn, user_principal_name, initiated_by_upn)) AS who, activity
         FROM audits
         WHERE time >= {start} - INTERVAL '{SSPR_HISTORY_DAYS} days' AND time <= {end}
           AND (activity ILIKE 'Reset password (self-service)%' OR activity ILIKE 'Unlock user account (self-service)%'
                OR activity ILIKE 'Self-service password reset%' AND activity NOT ILIKE '%flow activity progress%')"
    );
    materialise(ctx, "subject_resets", &resets).await?;
    let sql = format!(
        "WITH resets AS (SELECT * FROM subject_resets),
         held AS (SELECT min(time) AS first FROM audits)
         SELECT
           (SELECT count(*) FROM resets WHERE who = {u} AND time >= {start}) AS user_window,
           (SELECT count(*) FROM resets WHERE who = {u} AND time < {start}) AS user_prior,
           (SELECT count(DISTINCT date_trunc('day', time)) FROM resets WHERE who = {u} AND time < {start}) AS user_prior_days,
           (SELECT count(*) FROM resets WHERE time >= {start}) AS org_window,
           (SELECT count(*) FROM resets WHERE time < {start}) AS org_prior,
           CAST(greatest(least({SSPR_HISTORY_DAYS},
             (SELECT CAST(floor((to_unixtime({start}) - to_unixtime(first)) / 86400) AS BIGINT) FROM held)), 0) AS BIGINT) AS coverage_days,
           round((to_unixtime({end}) - to_unixtime({start})) / 86400.0, 1) AS window_days"
    );
    materialise(ctx, "subject_sspr_history", &sql).await?;
    Ok(())
}

/// The window and the span around it, as SQL literals, and each row's phase.
pub(crate) struct Bounds {
    pub(crate) start: String,
    pub(crate) end: String,
    pub(crate) from: String,
    pub(crate) until: String,
    pub(crate) phase: String,
}

impl Bounds {
    pub(crate) fn of(subject: &Subject, span: Span) -> Bounds {
        let from = shift(subject.start, -Duration::days(span.baseline_days));
        let until = shift(subject.end, Duration::days(span.follow_days));
        let (start, end, from, until) = (ts(subject.start), ts(subject.end), ts(from), ts(until));
        let phase =
            format!("CASE WHEN time < {start} THEN 'baseline' WHEN time <= {end} THEN 'window' ELSE 'after' END");
        Bounds { start, end, from, until, phase }
    }
}

/// Everything the store holds of the account (`user_*`); an account it never saw is an error.
async fn read_account(ctx: &SessionContext, user: &str) -> Result<(), InvestigateError> {
    let u = literal(user);
    let reads = [
        (
            "user_signins",
            format!(
                "SELECT * EXCLUDE (raw, authentication_details, ca_policies) FROM signins WHERE user_principal_name = {u}"
            ),
        ),
        (
            "user_audits",
            format!(
                "SELECT * EXCLUDE (raw) FROM audits WHERE user_principal_name = {u} OR initiated_by_upn = {u} OR target_upn = {u}"
            ),
        ),
        (
            "user_mailbox",
            format!(
                "SELECT * EXCLUDE (raw, parameters) FROM mailbox_activity WHERE user_principal_name = {u} OR mailbox_owner_upn = {u}"
            ),
        ),
        ("user_mail", format!("SELECT * EXCLUDE (raw) FROM message_trace WHERE sender_address = {u}")),
        ("user_risk", format!("SELECT * EXCLUDE (raw) FROM risk_detections WHERE user_principal_name = {u}")),
        ("user_azure", format!("SELECT * EXCLUDE (raw) FROM azure_activity WHERE lower(caller) = {u}")),
    ];
    for (table, sql) in &reads {
        materialise(ctx, table, sql).await?;
    }
    // Graph activity names the account by object id only: the ids its sign-ins carry.
    let ids =
        in_list(ctx, "SELECT DISTINCT user_id FROM user_signins WHERE coalesce(user_id, '') <> '' ORDER BY 1").await?;
    materialise(ctx, "user_graph", &format!("SELECT * EXCLUDE (raw) FROM graph_activity WHERE user_id IN ({ids})"))
        .await?;
    if count(ctx, "SELECT count(*) FROM user_signins").await? == 0
        && count(ctx, "SELECT count(*) FROM user_audits").await? == 0
        && count(ctx, "SELECT count(*) FROM user_mailbox").await? == 0
    {
        return Err(InvestigateError::UnknownUser(user.to_string()));
    }
    Ok(())
}

/// The window: the analyst's moment, an alert's span, or the account's most unusual day.
async fn place_window(
    ctx: &SessionContext,
    user: &str,
    focus: &Focus,
    span: Span,
) -> Result<Subject, InvestigateError> {
    Ok(match focus {
        Focus::At(at) => Subject::around(user, *at, *at, span.reach_hours, format!("given time {}", stamp(*at))),
        Focus::Span { first, last, what } => Subject::around(user, *first, *last, span.reach_hours, what.clone()),
        Focus::MostSuspicious => {
            let (at, why) = most_suspicious(ctx).await?;
            Subject::around(user, at, at, span.reach_hours, why)
        }
    })
}

/// The account's sign-ins over the whole span with their phase (`subject_scope`), and who
/// else used the addresses of the window and the account's baseline sites
/// (`subject_address_accounts`, `subject_ip_users`, `subject_org_ips`).
async fn scope(ctx: &SessionContext, user: &str, bounds: &Bounds, counts: &mut Counts) -> Result<(), InvestigateError> {
    let u = literal(user);
    let Bounds { start, from, until, phase, .. } = bounds;
    // What the account's successful sign-ins before the window used: the baseline.
    let scoped = format!("SELECT *, {phase} AS phase FROM user_signins WHERE time >= {from} AND time <= {until}");
    materialise(ctx, "subject_scope", &scoped).await?;
    // Who else used the window's addresses, across the whole store: one scan shared by the
    // campaign and shared-egress questions, and the organisation's own egress: an address
    // that many accounts sign in from, and that is no Tor exit, VPN or hosting, is not an actor's.
    let addresses = in_list(
        ctx,
        &format!(
            "SELECT ip_address FROM subject_scope WHERE phase <> 'baseline'
             UNION SELECT initiated_by_ip FROM user_audits WHERE time >= {start} AND time <= {until}
             UNION SELECT client_ip FROM user_mailbox WHERE time >= {start} AND time <= {until}
             UNION SELECT original_client_ip FROM user_mail WHERE time >= {start} AND time <= {until}
             ORDER BY 1"
        ),
    )
    .await?;
    // The account's own sites: the addresses of its successful sign-ins in the baseline, where
    // its peers sign in too (`peers`).
    let sites = in_list(
        ctx,
        "SELECT DISTINCT ip_address FROM subject_scope
         WHERE phase = 'baseline' AND result_type = 0 AND ip_address IS NOT NULL ORDER BY 1",
    )
    .await?;
    // One scan for both: each address's accounts, what they got, and whether they signed in
    // there in the baseline (`subject_address_accounts`). An office egress has millions of
    // sign-ins and thousands of accounts; the lists below hash the pairs, not the sign-ins.
    // A compacted store has the sign-ins' columns this reads in address order: a few row groups.
    let by_address = signins_by_address(ctx)?;
    materialise(
        ctx,
        "subject_address_accounts",
        &format!(
            "SELECT ip_address, user_principal_name AS who, bool_or(result_type = 0) AS signed_in,
               bool_or(result_type = 0 AND time >= {from} AND time < {start}) AS signed_in_baseline,
               count(*) AS sign_ins, ip_address IN ({addresses}) AS nearby, ip_address IN ({sites}) AS site
             FROM {by_address} WHERE ip_address IN ({addresses}) OR ip_address IN ({sites})
             GROUP BY ip_address, user_principal_name"
        ),
    )
    .await?;
    let neighbours = format!(
        "SELECT ip_address, count(who) AS users,
           count(CASE WHEN signed_in THEN who END) AS users_signed_in,
           array_agg(DISTINCT CASE WHEN who <> {u} THEN who END) AS other_users,
           array_agg(DISTINCT CASE WHEN who <> {u} AND signed_in THEN who END) AS others_signed_in,
           sum(sign_ins) AS sign_ins
         FROM subject_address_accounts WHERE nearby
         GROUP BY ip_address ORDER BY ip_address"
    );
    counts.insert(
        "signins (same addresses, every account)".into(),
        materialise(ctx, "subject_ip_users", &neighbours).await?,
    );
    materialise(
        ctx,
        "subject_org_ips",
        &format!(
            "SELECT ip_address AS k FROM subject_ip_users
         WHERE users_signed_in >= {ORG_MIN_ACCOUNTS} AND ip_class(ip_address) NOT IN ('tor_exit', 'vpn', 'hosting')"
        ),
    )
    .await?;
    Ok(())
}

/// What the account's successful sign-ins before the window used: addresses, networks,
/// countries, devices and agents (`subject_known_*`).
async fn baseline(ctx: &SessionContext) -> Result<(), InvestigateError> {
    let base = "FROM subject_scope WHERE phase = 'baseline' AND result_type = 0";
    let known = [
        ("subject_known_ips", format!("SELECT DISTINCT ip_address AS k {base} AND ip_address IS NOT NULL")),
        ("subject_known_nets", format!("SELECT DISTINCT {NETWORK} AS k {base}")),
        ("subject_known_countries", format!("SELECT DISTINCT country AS k {base} AND country IS NOT NULL")),
        ("subject_known_devices", format!("SELECT DISTINCT device_id AS k {base} AND device_id <> ''")),
        ("subject_known_agents", format!("SELECT DISTINCT user_agent AS k {base} AND user_agent IS NOT NULL")),
        (
            "subject_known_agent_families",
            format!("SELECT DISTINCT {AGENT_FAMILY} AS k {base} AND coalesce(user_agent, '') <> ''"),
        ),
    ];
    for (table, sql) in &known {
        materialise(ctx, table, sql).await?;
    }
    Ok(())
}

/// Each sign-in weighed against the baseline (`subject_unfamiliar`), the window's actor and
/// what it used (`subject_actor_*`), and the sign-ins with `foreign` set (`subject_signins`).
async fn mark_signins(ctx: &SessionContext, counts: &mut Counts) -> Result<(), InvestigateError> {
    let hops = hops();
    let signins = format!(
        "WITH e AS (
           SELECT s.*,
             result_type = 0 AS succeeded,
             {OUTCOME} AS outcome,
             ip_class(ip_address, asn) AS ip_class,
             ip_provider(ip_address, asn) AS provider,
             ua_class(user_agent) AS agent_class,
             coalesce(array_has(authentication_step_results, 'Correct password'), false)
               OR result_type IN (500121, 50074, 50076) AS password_correct,
             ki.k IS NOT NULL AS known_ip,
             kn.k IS NOT NULL AS known_network,
             kc.k IS NOT NULL AS known_country,
             kd.k IS NOT NULL OR (coalesce(device_is_compliant, false) AND coalesce(device_id, '') <> '') AS known_device,
             ka.k IS NOT NULL AS known_agent,
             kf.k IS NOT NULL AS known_agent_family,
             og.k IS NOT NULL AS org_egress,
             context_explains(user_principal_name, ip_address, country, to_unixtime(time)) AS explained_by
           FROM subject_scope s
           LEFT JOIN subject_known_ips ki ON ki.k = s.ip_address
           LEFT JOIN subject_known_nets kn ON kn.k = coalesce(CAST(s.asn AS VARCHAR), s.ip_address)
           LEFT JOIN subject_known_countries kc ON kc.k = s.country
           LEFT JOIN subject_known_devices kd ON kd.k = s.device_id
           LEFT JOIN subject_known_agents ka ON ka.k = s.user_agent
           LEFT JOIN subject_known_agent_families kf ON kf.k = {AGENT_FAMILY}
           LEFT JOIN subject_org_ips og ON og.k = s.ip_address),
         {hops},
         marked AS (
           SELECT e.* EXCLUDE (explained_by),
             CASE WHEN h.km IS NOT NULL AND e.explained_by LIKE 'travel notice%' THEN NULL ELSE e.explained_by END AS explained_by,
             CASE WHEN h.km IS NOT NULL AND e.explained_by LIKE 'travel notice%'
               THEN concat(e.explained_by, ' does not explain ', e.ip_address, ': the account signed in from ', h.other_ip,
                           ' (', h.other_country, ') at least ', CAST(h.km AS BIGINT), ' km and ', CAST(h.minutes AS BIGINT),
                           ' minute(s) apart, faster than any traveller') END AS context_refuted,
             e.phase <> 'baseline' AND e.known_country AND e.known_agent_family
               AND (e.ip_class = 'mobile' OR (e.ip_class = 'isp' AND e.agent_class = 'microsoft_client'))
               AND (NOT coalesce(e.mfa_satisfied_by_token, false) OR e.agent_class = 'microsoft_client') AS owner_roaming
           FROM e LEFT JOIN hops h ON h.record_id = e.record_id)
         SELECT *, phase <> 'baseline' AND NOT known_ip AND NOT known_network AND NOT known_device
                   AND NOT org_egress AND NOT owner_roaming AND explained_by IS NULL AS unfamiliar
         FROM marked"
    );
    materialise(ctx, "subject_unfamiliar", &signins).await?;
    let actor = "FROM subject_unfamiliar WHERE unfamiliar AND phase = 'window'";
    let actor_keys = [
        ("subject_actor_ips", format!("SELECT DISTINCT ip_address AS k {actor}")),
        ("subject_actor_nets", format!("SELECT DISTINCT {NETWORK} AS k {actor}")),
        (
            "subject_actor_agents",
            format!("SELECT DISTINCT user_agent AS k {actor} AND NOT known_agent AND user_agent IS NOT NULL"),
        ),
    ];
    for (table, sql) in &actor_keys {
        materialise(ctx, table, sql).await?;
    }
    let signins =
        "SELECT s.*, unfamiliar AND (phase = 'window' OR ai.k IS NOT NULL OR an.k IS NOT NULL OR aa.k IS NOT NULL) AS foreign
         FROM subject_unfamiliar s
         LEFT JOIN subject_actor_ips ai ON ai.k = s.ip_address
         LEFT JOIN subject_actor_nets an ON an.k = coalesce(CAST(s.asn AS VARCHAR), s.ip_address)
         LEFT JOIN subject_actor_agents aa ON aa.k = s.user_agent
         ORDER BY time, record_id";
    counts.insert("signins".into(), materialise(ctx, "subject_signins", signins).await?);
    materialise(ctx, "subject_foreign_ips", "SELECT DISTINCT ip_address AS k FROM subject_signins WHERE foreign")
        .await?;
    // What the sign-ins showed to be the owner (a known device on a new network, the owner's
    // phone moving between carriers) is the owner's in the audit and mailbox records too: an
    // address that signed in successfully in the window and was not judged foreign.
    materialise(
        ctx,
        "subject_owner_ips",
        "SELECT DISTINCT ip_address AS k FROM subject_signins WHERE phase <> 'baseline' AND succeeded AND NOT foreign",
    )
    .await?;
    Ok(())
}

/// Audit, mailbox, mail and risk records with their phase and whether their address is
/// foreign (`subject_audits`, `subject_mailbox`, `subject_mail`, `subject_risk`).
pub(crate) async fn attribute_others(
    ctx: &SessionContext,
    user: &str,
    bounds: &Bounds,
    counts: &mut Counts,
) -> Result<(), InvestigateError> {
    let u = literal(user);
    let Bounds { from, until, phase, .. } = bounds;
    // An address of an audit, mailbox or mail record is foreign when an actor used it to sign
    // in, or when neither it nor its network (from the databases) signed in in the baseline
    // and the analyst context does not explain it.
    let attributed = |table: &str, ip: &str| {
        format!(
            "SELECT t.*, {phase} AS phase, ki.k IS NOT NULL AS known_ip,
               {phase} <> 'baseline' AND coalesce(t.{ip}, '') <> '' AND (fi.k IS NOT NULL
                 OR (ki.k IS NULL AND kn.k IS NULL AND og.k IS NULL AND oi.k IS NULL
                     AND context_explains({u}, t.{ip}, ip_country(t.{ip}), to_unixtime(time)) IS NULL)) AS foreign
             FROM {table} t
             LEFT JOIN subject_known_ips ki ON ki.k = t.{ip}
             LEFT JOIN subject_known_nets kn ON kn.k = coalesce(CAST(ip_asn(t.{ip}) AS VARCHAR), t.{ip})
             LEFT JOIN subject_foreign_ips fi ON fi.k = t.{ip}
             LEFT JOIN subject_org_ips og ON og.k = t.{ip}
             LEFT JOIN subject_owner_ips oi ON oi.k = t.{ip}
             WHERE time >= {from} AND time <= {until} ORDER BY time, record_id"
        )
    };
    let others = [
        ("audits", "subject_audits", "user_audits", "initiated_by_ip"),
        ("mailbox_activity", "subject_mailbox", "user_mailbox", "client_ip"),
        ("message_trace", "subject_mail", "user_mail", "original_client_ip"),
        ("risk_detections", "subject_risk", "user_risk", "ip_address"),
        ("graph_activity", "subject_graph_calls", "user_graph", "ip_address"),
        ("azure_activity", "subject_azure", "user_azure", "caller_ip"),
    ];
    for (source, table, from_table, ip) in others {
        counts.insert(source.into(), materialise(ctx, table, &attributed(from_table, ip)).await?);
    }
    // Each Graph request with the sign-in that issued its token (SignInActivityId is that
    // sign-in's unique token identifier): a token used from a network other than its own was
    // copied, unless the account's own habits or its phone explain the network.
    let graph = "SELECT g.*, i.ip AS issued_ip, i.net AS issued_net, ip_class(g.ip_address) AS ip_class,
           ua_class(g.user_agent) AS agent_class, coalesce(CAST(ip_asn(g.ip_address) AS VARCHAR), g.ip_address) AS net,
           g.foreign AND coalesce(CAST(ip_asn(g.ip_address) AS VARCHAR), g.ip_address) IS DISTINCT FROM i.net AS off_token_network
         FROM subject_graph_calls g
         LEFT JOIN (SELECT unique_token_identifier AS token, max(ip_address) AS ip, max(coalesce(CAST(asn AS VARCHAR), ip_address)) AS net
                    FROM user_signins WHERE coalesce(unique_token_identifier, '') <> '' GROUP BY 1) i ON i.token = g.sign_in_activity_id
         ORDER BY time, record_id";
    materialise(ctx, "subject_graph", graph).await?;
    Ok(())
}

/// One row about the account and its window (`subject`).
pub(crate) async fn summarise(ctx: &SessionContext, user: &str, bounds: &Bounds) -> Result<(), InvestigateError> {
    let u = literal(user);
    let Bounds { start, end, .. } = bounds;
    let summary = format!(
        "SELECT {u} AS user_principal_name, {start} AS window_start, {end} AS window_end,
           (SELECT count(DISTINCT date_trunc('day', time)) FROM subject_signins WHERE phase = 'baseline' AND succeeded) AS baseline_days,
           (SELECT count(*) FROM subject_signins WHERE phase = 'baseline' AND succeeded) AS baseline_successes,
           (SELECT string_agg(country, ', ') FROM (SELECT country, count(*) AS n FROM subject_signins
              WHERE phase = 'baseline' AND succeeded AND country <> '' GROUP BY country ORDER BY n DESC, country LIMIT 3)) AS home_countries"
    );
    materialise(ctx, "subject", &summary).await?;
    Ok(())
}

/// The fastest plausible travel between two successful sign-ins (an airliner), km/h.
const MAX_TRAVEL_KMH: f64 = 900.0;

/// Coordinates the log reports are trusted to this many km; an address located from the
/// databases carries its own accuracy radius.
const LOG_ACCURACY_KM: f64 = 50.0;

/// Successful sign-ins of the subject that no traveller could connect to the success before
/// or after them (`hops`: the record, the other address and country, the distance beyond both
/// accuracy radii, the minutes between). Shared egress, secure web gateways and reserved
/// addresses are left out, as the impossible-travel rule leaves them. Reads `e`.
fn hops() -> String {
    format!(
        "located AS (
  SELECT record_id, time, ip_address, coalesce(nullif(country, ''), ip_country(ip_address), '?') AS country,
    CASE WHEN coordinates_valid THEN latitude ELSE ip_latitude(ip_address) END AS lat,
    CASE WHEN coordinates_valid THEN longitude ELSE ip_longitude(ip_address) END AS lon,
    CASE WHEN coordinates_valid THEN {LOG_ACCURACY_KM} ELSE coalesce(CAST(ip_accuracy_km(ip_address) AS DOUBLE), 0.0) END AS acc
  FROM e WHERE succeeded AND NOT org_egress AND ip_class NOT IN ('secure_web_gateway', 'reserved')),
steps AS (
  SELECT record_id, ip_address, time, lat, lon, acc,
    lag(ip_address) OVER w AS p_ip, lag(country) OVER w AS p_country, lag(time) OVER w AS p_time,
    lag(lat) OVER w AS p_lat, lag(lon) OVER w AS p_lon, lag(acc) OVER w AS p_acc,
    lead(ip_address) OVER w AS n_ip, lead(country) OVER w AS n_country, lead(time) OVER w AS n_time,
    lead(lat) OVER w AS n_lat, lead(lon) OVER w AS n_lon, lead(acc) OVER w AS n_acc
  FROM located WHERE lat IS NOT NULL AND lon IS NOT NULL
  WINDOW w AS (ORDER BY time, record_id)),
moves AS (
  SELECT record_id, p_ip, p_country, n_ip, n_country,
    greatest(geo_distance_km(p_lat, p_lon, lat, lon) - acc - p_acc, 0.0) AS p_km,
    greatest((to_unixtime(time) - to_unixtime(p_time)) / 3600.0, 1.0 / 3600.0) AS p_hours,
    greatest(geo_distance_km(lat, lon, n_lat, n_lon) - acc - n_acc, 0.0) AS n_km,
    greatest((to_unixtime(n_time) - to_unixtime(time)) / 3600.0, 1.0 / 3600.0) AS n_hours
  FROM steps),
hops AS (
  SELECT record_id,
    CASE WHEN coalesce(p_km / p_hours > {MAX_TRAVEL_KMH}, false) THEN p_ip ELSE n_ip END AS other_ip,
    CASE WHEN coalesce(p_km / p_hours > {MAX_TRAVEL_KMH}, false) THEN p_country ELSE n_country END AS other_country,
    round(CASE WHEN coalesce(p_km / p_hours > {MAX_TRAVEL_KMH}, false) THEN p_km ELSE n_km END) AS km,
    round(CASE WHEN coalesce(p_km / p_hours > {MAX_TRAVEL_KMH}, false) THEN p_hours ELSE n_hours END * 60.0) AS minutes
  FROM moves
  WHERE coalesce(p_km / p_hours > {MAX_TRAVEL_KMH}, false) OR coalesce(n_km / n_hours > {MAX_TRAVEL_KMH}, false))"
    )
}

/// Accounts that must sign in successfully from an address for it to count as the
/// organisation's own egress.
const ORG_MIN_ACCOUNTS: i64 = 5;

/// A user agent without its version numbers: an updated browser or app is the same agent.
const AGENT_FAMILY: &str = "translate(user_agent, '0123456789', '')";

/// A sign-in's network: its ASN, or its address when the export has no ASN.
const NETWORK: &str = "coalesce(CAST(asn AS VARCHAR), ip_address)";

/// The sign-in's result, as a control or a mistake.
const OUTCOME: &str = "CASE
  WHEN result_type = 0 THEN 'success'
  WHEN result_type BETWEEN 53000 AND 53999 OR result_type BETWEEN 530000 AND 539999 THEN 'conditional_access'
  WHEN result_type = 50053 THEN 'smart_lockout'
  WHEN result_type IN (50126, 50055, 50056) THEN 'wrong_password'
  WHEN result_type = 500121 THEN 'mfa_denied'
  WHEN result_type IN (50074, 50076, 50079) THEN 'mfa_required'
  WHEN result_type IN (50034, 50057) THEN 'no_such_user'
  ELSE 'other_failure' END";

/// Days of an account's history that come before a day it can be judged against.
const MIN_HISTORY_DAYS: i64 = 3;

/// The moment to centre on when the analyst gives none: the first unusual record of the day
/// with the most unusual records, where unusual means a risk detection, a sign-in from a
/// network the account used on at most two days, a failed sign-in, or a change to the account
/// or its mailbox. Days with at least three days of the account's history before them come
/// first (a day without a baseline cannot be judged). Ties go to the later day; an account with nothing unusual is looked at
/// around its last record.
async fn most_suspicious(ctx: &SessionContext) -> Result<(DateTime<Utc>, String), InvestigateError> {
    let sql = format!(
        "WITH nets AS (
           SELECT coalesce(CAST(asn AS VARCHAR), ip_address) AS net, count(DISTINCT date_trunc('day', time)) AS days
           FROM user_signins WHERE result_type = 0 GROUP BY 1),
         scored AS (
           SELECT s.time, CASE WHEN coalesce(n.days, 0) <= 2 THEN (CASE WHEN s.result_type = 0 THEN 4 ELSE 2 END) ELSE 0 END
                  + CASE WHEN s.result_type <> 0 THEN 1 ELSE 0 END AS score
           FROM user_signins s LEFT JOIN nets n ON n.net = coalesce(CAST(s.asn AS VARCHAR), s.ip_address)
           UNION ALL SELECT time, 5 FROM user_risk
           UNION ALL SELECT time, 3 FROM user_audits WHERE {CHANGE}
           UNION ALL SELECT time, 3 FROM user_mailbox WHERE {MAILBOX_CHANGE}),
         days AS (SELECT date_trunc('day', time) AS day, sum(score) AS score, min(time) AS first FROM scored WHERE score > 0 GROUP BY 1),
         history AS (SELECT min(time) AS since FROM user_signins WHERE result_type = 0)
         SELECT first, score FROM days, history
         ORDER BY coalesce(day >= since + INTERVAL '{MIN_HISTORY_DAYS} days', false) DESC, score DESC, day DESC LIMIT 1"
    );
    let batches = sleuth_store::read_only(ctx, &sql).await?.collect().await?;
    if let Some((at, score)) = first_time_and_number(&batches) {
        return Ok((at, format!("most unusual day (score {score}), from its first unusual record at {}", stamp(at))));
    }
    let last = "SELECT max(time) AS first, 0 AS score FROM (SELECT time FROM user_signins UNION ALL SELECT time FROM user_audits UNION ALL SELECT time FROM user_mailbox)";
    let last = sleuth_store::read_only(ctx, last).await?.collect().await?;
    // Records kept without a readable time (ingest counts them) cannot place a window.
    let (at, _) = first_time_and_number(&last).ok_or(InvestigateError::NoTime)?;
    Ok((at, format!("nothing unusual found; the account's last record at {}", stamp(at))))
}

/// Directory activities that change how an account signs in or what it may do.
pub const CHANGE: &str = "(activity ILIKE '%security info%' OR activity ILIKE '%authentication method%'
  OR activity ILIKE '%password%' OR activity ILIKE 'Unlock user account%' OR activity ILIKE 'Consent to application%'
  OR activity ILIKE 'Add member to role%' OR activity ILIKE 'Add eligible member to role%'
  OR activity ILIKE 'Add app role assignment%' OR activity ILIKE 'Add delegated permission grant%'
  OR activity ILIKE 'Register device%' OR activity ILIKE '%StrongAuthentication%')";

/// Mailbox operations that change where mail goes or what the account may do.
pub const MAILBOX_CHANGE: &str = "(operation IN ('New-InboxRule', 'Set-InboxRule', 'UpdateInboxRules', 'Set-Mailbox',
  'New-TransportRule', 'Add-MailboxPermission', 'Add-RecipientPermission', 'Consent to application.')
  OR operation ILIKE '%forward%')";

pub(crate) fn register_context(ctx: &SessionContext, user: &str, context: &Context) -> Result<(), InvestigateError> {
    let explainer: Explainer =
        context.explainer().map_err(|why| InvestigateError::Context { path: "context".into(), why })?;
    let explain = move |args: &[ColumnarValue]| -> datafusion::error::Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(args)?;
        let text = |a: &ArrayRef| datafusion::arrow::compute::cast(a, &DataType::Utf8);
        let (users, ips, countries) = (text(&arrays[0])?, text(&arrays[1])?, text(&arrays[2])?);
        let seconds = datafusion::arrow::compute::cast(&arrays[3], &DataType::Int64)?;
        let (users, ips, countries) = (users.as_string::<i32>(), ips.as_string::<i32>(), countries.as_string::<i32>());
        let seconds = seconds.as_primitive::<Int64Type>();
        let out: StringArray = (0..users.len())
            .map(|i| explainer.explains(users.value(i), valid(ips, i), valid(countries, i), seconds.value(i)))
            .collect();
        Ok(ColumnarValue::Array(Arc::new(out)))
    };
    ctx.register_udf(create_udf(
        "context_explains",
        vec![DataType::Utf8, DataType::Utf8, DataType::Utf8, DataType::Int64],
        DataType::Utf8,
        Volatility::Immutable,
        Arc::new(explain),
    ));
    let notes: Vec<_> = context.notes_for(user).collect();
    let schema = Arc::new(Schema::new(vec![
        Field::new("time", DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())), true),
        Field::new("disposition", DataType::Utf8, false),
        Field::new("text", DataType::Utf8, false),
    ]));
    let times: TimestampMicrosecondArray = notes
        .iter()
        .map(|n| n.time.as_deref().and_then(|t| DateTime::parse_from_rfc3339(t).ok()).map(|t| t.timestamp_micros()))
        .collect::<TimestampMicrosecondArray>()
        .with_timezone("UTC");
    let dispositions: StringArray = notes.iter().map(|n| Some(n.disposition.as_str())).collect();
    let texts: StringArray = notes.iter().map(|n| Some(n.text.as_str())).collect();
    let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(times), Arc::new(dispositions), Arc::new(texts)])?;
    ctx.deregister_table("context_notes")?;
    ctx.register_table("context_notes", Arc::new(MemTable::try_new(schema, vec![vec![batch]])?))?;
    Ok(())
}

fn valid(a: &StringArray, i: usize) -> Option<&str> {
    a.is_valid(i).then(|| a.value(i))
}

/// Runs `sql`, holds the result in memory as `name` (replacing an earlier one) and returns
/// its row count.
/// The sign-ins' address index when the store has one (`sleuth compact`), else the sign-ins:
/// for queries that read only its columns (time, account, address, result) by address.
pub(crate) fn signins_by_address(ctx: &SessionContext) -> Result<&'static str, InvestigateError> {
    Ok(if ctx.table_exist(sleuth_store::SIGNINS_BY_ADDRESS)? { sleuth_store::SIGNINS_BY_ADDRESS } else { "signins" })
}

pub(crate) async fn materialise(ctx: &SessionContext, name: &str, sql: &str) -> Result<usize, InvestigateError> {
    let started = std::time::Instant::now();
    tracing::trace!(table = name, sql, "gathering");
    let fail = |e| InvestigateError::query(name, e);
    let frame = sleuth_store::read_only(ctx, sql).await.map_err(fail)?.cache().await.map_err(fail)?;
    let rows = frame.clone().count().await.map_err(fail)?;
    ctx.deregister_table(name)?;
    ctx.register_table(name, frame.into_view())?;
    tracing::debug!(table = name, rows, millis = started.elapsed().as_millis() as u64, "gathered");
    Ok(rows)
}
