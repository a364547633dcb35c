//! Gathering for a workload identity: an application's service principal or a managed
//! identity, named by display name, application id or object id. Workloads are creatures of
//! habit (the same addresses, the same credential, a steady cadence), so each is compared with
//! its own history, as the `workload-identity-anomaly` rule does, and the people who changed
//! its credentials with theirs.
//!
//! | table | what |
//! |---|---|
//! | `subject_sp_signins` | the identity's sign-ins (`service_principal_signins`) with `credential`, `known_credential`, `new_credential` |
//! | `subject_signins` | the same in the shape the report and the shared questions read (no agent, device or MFA) |
//! | `subject_audits` | directory changes to the identity or its application, or made by it; `foreign` when the person who made it did so from an address they never signed in from before the window |
//! | `subject_graph` | Microsoft Graph requests the identity made |
//! | `subject_azure` | Azure Resource Manager operations the identity made (Activity log) |
//!
//! `foreign` on a sign-in: a network (ASN, else address) or address the identity never signed
//! in from successfully in the baseline, not explained by the analyst context. A new
//! credential alone, from the usual network, is how a rotation looks and is not foreign.

use chrono::{DateTime, Utc};
use datafusion::prelude::SessionContext;

use crate::InvestigateError;
use crate::context::Context;
use crate::gather::{Bounds, Counts, Span, attribute_others, materialise, register_context, summarise};
use crate::sql::{count, first_time_and_number, literal, texts};
use crate::subject::{Focus, Subject, SubjectKind};
use crate::time::stamp;

/// Reads the identity's records, picks the window and builds the subject tables in `ctx`.
pub async fn gather(
    ctx: &SessionContext,
    name: &str,
    focus: &Focus,
    span: Span,
    context: &Context,
) -> Result<(Subject, Counts), InvestigateError> {
    span.check()?;
    let wanted = name.trim().to_lowercase();
    let display = read_identity(ctx, &wanted).await?;
    let mut subject = match focus {
        Focus::At(at) => Subject::around(&display, *at, *at, span.reach_hours, format!("given time {}", stamp(*at))),
        Focus::Span { first, last, what } => Subject::around(&display, *first, *last, span.reach_hours, what.clone()),
        Focus::MostSuspicious => {
            let (at, why) = most_suspicious(ctx).await?;
            Subject::around(&display, at, at, span.reach_hours, why)
        }
    };
    subject.kind = SubjectKind::ServicePrincipal;
    register_context(ctx, &subject.user, context)?;
    let bounds = Bounds::of(&subject, span);
    let mut counts = Counts::new();
    mark_signins(ctx, &subject.user, &bounds, &mut counts).await?;
    attribute_others(ctx, &subject.user, &bounds, &mut counts).await?;
    judge_changes(ctx, &bounds, &mut counts).await?;
    summarise(ctx, &subject.user, &bounds).await?;
    Ok((subject, counts))
}

/// The identity's records (`sp_*`, and the `user_*` tables the shared stages read: its audits
/// and Graph requests, no mailbox, mail or risk); an identity the store never saw is an error.
/// Returns its display name, lower-cased.
async fn read_identity(ctx: &SessionContext, wanted: &str) -> Result<String, InvestigateError> {
    let w = literal(wanted);
    let named = format!(
        "lower(service_principal_name) = {w} OR lower(app_display_name) = {w} OR lower(app_id) = {w} OR lower(service_principal_id) = {w}"
    );
    materialise(ctx, "sp_all", &format!("SELECT * EXCLUDE (raw) FROM service_principal_signins WHERE {named}")).await?;
    let names = texts(
        ctx,
        "SELECT lower(coalesce(service_principal_name, app_display_name)) AS n FROM sp_all
         WHERE coalesce(service_principal_name, app_display_name) IS NOT NULL GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1",
    )
    .await?;
    let ids = texts(
        ctx,
        "SELECT DISTINCT lower(k) FROM (SELECT service_principal_id AS k FROM sp_all UNION ALL SELECT app_id FROM sp_all) WHERE coalesce(k, '') <> '' ORDER BY 1",
    )
    .await?;
    let display = names.first().cloned().unwrap_or_else(|| wanted.to_owned());
    let mut keys: Vec<String> = ids.iter().chain([&display, &wanted.to_owned()]).map(|k| literal(k)).collect();
    keys.sort();
    keys.dedup();
    let keys = keys.join(", ");
    let reads = [
        (
            "user_audits",
            format!(
                "SELECT * EXCLUDE (raw) FROM audits WHERE lower(target_display_name) IN ({keys}) OR lower(target_id) IN ({keys})
                   OR lower(initiated_by_app) IN ({keys})"
            ),
        ),
        (
            "user_graph",
            format!(
                "SELECT * EXCLUDE (raw) FROM graph_activity WHERE lower(service_principal_id) IN ({keys})
                   OR (lower(app_id) IN ({keys}) AND coalesce(user_id, '') = '')"
            ),
        ),
        (
            "user_azure",
            format!(
                "SELECT * EXCLUDE (raw) FROM azure_activity WHERE lower(caller) IN ({keys}) OR lower(caller_app_id) IN ({keys})"
            ),
        ),
        // The token each Graph request carries was issued by one of the identity's sign-ins.
        (
            "user_signins",
            "SELECT unique_token_identifier, ip_address, ip_asn(ip_address) AS asn FROM sp_all".to_owned(),
        ),
        ("user_mailbox", "SELECT * EXCLUDE (raw, parameters) FROM mailbox_activity WHERE false".to_owned()),
        ("user_mail", "SELECT * EXCLUDE (raw) FROM message_trace WHERE false".to_owned()),
        ("user_risk", "SELECT * EXCLUDE (raw) FROM risk_detections WHERE false".to_owned()),
    ];
    for (table, sql) in &reads {
        materialise(ctx, table, sql).await?;
    }
    if count(ctx, "SELECT count(*) FROM sp_all").await? == 0
        && count(ctx, "SELECT count(*) FROM user_audits").await? == 0
    {
        return Err(InvestigateError::UnknownServicePrincipal(wanted.to_owned()));
    }
    Ok(display)
}

/// The moment to centre on when neither the analyst nor the hunt gives one: the first
/// successful sign-in from a network or with a credential the identity had not used before
/// that day, on the latest such day; else its last record.
async fn most_suspicious(ctx: &SessionContext) -> Result<(DateTime<Utc>, String), InvestigateError> {
    let sql = format!(
        "WITH s AS (SELECT time, {NETWORK} AS net, {CREDENTIAL} AS credential FROM sp_all WHERE result_type = 0 AND time IS NOT NULL),
         firsts AS (SELECT min(time) AS time FROM s GROUP BY net UNION ALL SELECT min(time) FROM s GROUP BY credential),
         history AS (SELECT min(time) AS since FROM s)
         SELECT f.time, 1 AS score FROM firsts f, history h WHERE f.time > h.since ORDER BY f.time DESC LIMIT 1"
    );
    let batches = sleuth_store::read_only(ctx, &sql).await?.collect().await?;
    if let Some((at, _)) = first_time_and_number(&batches) {
        return Ok((at, format!("its latest new network or credential, at {}", stamp(at))));
    }
    let last = "SELECT max(time), 0 FROM (SELECT time FROM sp_all UNION ALL SELECT time FROM user_audits)";
    let batches = sleuth_store::read_only(ctx, last).await?.collect().await?;
    let (at, _) = first_time_and_number(&batches).ok_or(InvestigateError::NoTime)?;
    Ok((at, format!("nothing new found; its last record at {}", stamp(at))))
}

/// The identity's sign-ins over the span weighed against its baseline (`subject_sp_signins`),
/// and the shapes the shared stages read: `subject_signins`, `subject_known_*`,
/// `subject_foreign_ips`, `subject_org_ips`, `subject_owner_ips`.
async fn mark_signins(
    ctx: &SessionContext,
    name: &str,
    bounds: &Bounds,
    counts: &mut Counts,
) -> Result<(), InvestigateError> {
    let Bounds { from, until, phase, .. } = bounds;
    let n = literal(name);
    materialise(
        ctx,
        "sp_scope",
        &format!(
            "SELECT *, {phase} AS phase, ip_asn(ip_address) AS asn, {CREDENTIAL} AS credential FROM sp_all
             WHERE time >= {from} AND time <= {until}"
        ),
    )
    .await?;
    let base = "FROM sp_scope WHERE phase = 'baseline' AND result_type = 0";
    let known = [
        ("subject_known_ips", format!("SELECT DISTINCT ip_address AS k {base} AND ip_address IS NOT NULL")),
        ("subject_known_nets", format!("SELECT DISTINCT {NETWORK} AS k {base}")),
        ("subject_known_countries", format!("SELECT DISTINCT country AS k {base} AND country IS NOT NULL")),
        ("subject_known_credentials", format!("SELECT DISTINCT credential AS k {base}")),
        ("subject_org_ips", "SELECT ip_address AS k FROM sp_scope WHERE false".to_owned()),
        ("subject_owner_ips", "SELECT ip_address AS k FROM sp_scope WHERE false".to_owned()),
    ];
    for (table, sql) in &known {
        materialise(ctx, table, sql).await?;
    }
    let marked = format!(
        "WITH e AS (
           SELECT s.*, result_type = 0 AS succeeded, {OUTCOME} AS outcome,
             ip_class(ip_address) AS ip_class, ip_provider(ip_address) AS provider,
             ki.k IS NOT NULL AS known_ip, kn.k IS NOT NULL AS known_network, kc.k IS NOT NULL AS known_country,
             kr.k IS NOT NULL AS known_credential,
             context_explains({n}, ip_address, country, to_unixtime(time)) AS explained_by
           FROM sp_scope s
           LEFT JOIN subject_known_ips ki ON ki.k = s.ip_address
           LEFT JOIN subject_known_nets kn ON kn.k = coalesce(CAST(s.asn AS VARCHAR), s.ip_address)
           LEFT JOIN subject_known_countries kc ON kc.k = s.country
           LEFT JOIN subject_known_credentials kr ON kr.k = s.credential)
         SELECT *, phase <> 'baseline' AND NOT known_credential AND credential <> 'none' AS new_credential,
           phase <> 'baseline' AND NOT known_ip AND NOT known_network AND explained_by IS NULL AS foreign
         FROM e ORDER BY time, record_id"
    );
    counts.insert("service_principal_signins".into(), materialise(ctx, "subject_sp_signins", &marked).await?);
    // The report and the shared questions read sign-ins in the user's shape.
    let shaped = format!(
        "SELECT record_id, time, phase, {n} AS user_principal_name, ip_address, country, state, city, latitude, longitude,
           coordinates_valid, asn, coalesce(resource_display_name, resource_id) AS app_display_name, resource_display_name,
           CAST(NULL AS VARCHAR) AS user_agent, CAST(NULL AS VARCHAR) AS agent_class, result_type, failure_reason, outcome, succeeded,
           ip_class, provider, known_ip, known_network, known_country, false AS known_device, false AS known_agent, false AS org_egress,
           explained_by, CAST(NULL AS VARCHAR) AS context_refuted, false AS owner_roaming, foreign AS unfamiliar, foreign,
           false AS mfa_satisfied_by_token, CAST(NULL AS VARCHAR) AS mfa_auth_method, CAST(NULL AS VARCHAR) AS mfa_auth_detail,
           CAST(NULL AS VARCHAR) AS authentication_requirement, CAST(NULL AS VARCHAR) AS device_id, CAST(NULL AS VARCHAR) AS device_name,
           CAST(NULL AS VARCHAR) AS device_os, CAST(NULL AS VARCHAR) AS device_browser, false AS is_interactive,
           unique_token_identifier, credential, credential_type, new_credential, identity_type
         FROM subject_sp_signins"
    );
    materialise(ctx, "subject_signins", &shaped).await?;
    materialise(ctx, "subject_foreign_ips", "SELECT DISTINCT ip_address AS k FROM subject_signins WHERE foreign")
        .await?;
    // Who else, person or workload, signed in from the new addresses.
    let neighbours = format!(
        "SELECT ip_address, count(DISTINCT who) AS users, array_agg(DISTINCT CASE WHEN who <> {n} THEN who END) AS other_users
         FROM (SELECT s.ip_address, lower(s.user_principal_name) AS who FROM subject_foreign_ips f JOIN signins s ON s.ip_address = f.k
               UNION ALL SELECT s.ip_address, lower(coalesce(s.service_principal_name, s.app_id))
               FROM subject_foreign_ips f JOIN service_principal_signins s ON s.ip_address = f.k)
         GROUP BY ip_address ORDER BY ip_address"
    );
    counts.insert(
        "sign-ins (same addresses, every identity)".into(),
        materialise(ctx, "subject_ip_users", &neighbours).await?,
    );
    Ok(())
}

/// The directory changes weighed by who made them (`subject_audits`, replacing the shared
/// stage's, which weighs addresses against the identity's own), the Graph requests
/// (`subject_graph`; the Azure operations are the shared stage's `subject_azure`). A change is foreign when the
/// person who made it did so from an address and network they never signed in from
/// successfully before the window, not the tenant's shared egress and not explained by the
/// context; a change an application made is judged by whether that application signed in from
/// foreign networks.
async fn judge_changes(ctx: &SessionContext, bounds: &Bounds, counts: &mut Counts) -> Result<(), InvestigateError> {
    let Bounds { start, from, until, phase, .. } = bounds;
    let initiators =
        "SELECT DISTINCT lower(initiated_by_upn) FROM user_audits WHERE coalesce(initiated_by_upn, '') <> ''";
    materialise(
        ctx,
        "sp_initiator_known",
        &format!(
            "SELECT DISTINCT lower(user_principal_name) AS upn, ip_address, {NETWORK} AS net FROM signins
             WHERE result_type = 0 AND time >= {from} AND time < {start} AND lower(user_principal_name) IN ({initiators})"
        ),
    )
    .await?;
    materialise(
        ctx,
        "sp_org_ips",
        &format!(
            "SELECT a.ip AS k FROM (SELECT DISTINCT initiated_by_ip AS ip FROM user_audits WHERE initiated_by_ip IS NOT NULL) a
             JOIN signins s ON s.ip_address = a.ip AND s.result_type = 0
             GROUP BY a.ip HAVING count(DISTINCT s.user_principal_name) >= {ORG_MIN_ACCOUNTS}
               AND max(ip_class(a.ip)) NOT IN ('tor_exit', 'vpn', 'hosting')"
        ),
    )
    .await?;
    let audits = format!(
        "SELECT a.*, {phase} AS phase, false AS known_ip,
           {CREDENTIAL_CHANGE} AS credential_change,
           ip_class(a.initiated_by_ip) AS initiator_class,
           {phase} <> 'baseline' AND coalesce(a.initiated_by_ip, '') <> '' AND ki.upn IS NULL AND kn.upn IS NULL AND og.k IS NULL
             AND context_explains(coalesce(a.initiated_by_upn, ''), a.initiated_by_ip, ip_country(a.initiated_by_ip), to_unixtime(a.time)) IS NULL
             AS foreign
         FROM user_audits a
         LEFT JOIN (SELECT DISTINCT upn, ip_address FROM sp_initiator_known) ki
           ON ki.upn = lower(a.initiated_by_upn) AND ki.ip_address = a.initiated_by_ip
         LEFT JOIN (SELECT DISTINCT upn, net FROM sp_initiator_known) kn
           ON kn.upn = lower(a.initiated_by_upn) AND kn.net = coalesce(CAST(ip_asn(a.initiated_by_ip) AS VARCHAR), a.initiated_by_ip)
         LEFT JOIN sp_org_ips og ON og.k = a.initiated_by_ip
         WHERE a.time >= {from} AND a.time <= {until} ORDER BY a.time, a.record_id"
    );
    counts.insert("audits".into(), materialise(ctx, "subject_audits", &audits).await?);
    let graph = "SELECT g.*, ip_class(g.ip_address) AS ip_class, ua_class(g.user_agent) AS agent_class,
           request_method IN ('POST', 'PUT', 'PATCH', 'DELETE') AS writes
         FROM subject_graph_calls g ORDER BY time, record_id";
    materialise(ctx, "subject_graph", graph).await?;
    Ok(())
}

/// The credential a sign-in used: its key id, else certificate thumbprint, else federated
/// credential; `none` for a managed identity, which has none of its own.
const CREDENTIAL: &str = "coalesce(nullif(credential_key_id, ''), nullif(credential_thumbprint, ''), nullif(federated_credential_id, ''), 'none')";

/// A sign-in's network: its ASN from the databases, else its address.
const NETWORK: &str = "coalesce(CAST(ip_asn(ip_address) AS VARCHAR), ip_address)";

/// Accounts that must sign in successfully from an address for it to be the tenant's egress.
const ORG_MIN_ACCOUNTS: i64 = 5;

/// Audit activities that give an application or service principal a way in: a secret or
/// certificate, a federated credential, an owner. En and em dashes are read as hyphens.
/// (https://learn.microsoft.com/en-us/entra/identity/monitoring-health/reference-audit-activities)
const CREDENTIAL_CHANGE: &str =
    "(regexp_replace(a.activity, '[–—]', '-', 'g') ILIKE '%Certificates and secrets management%'
  OR a.activity ILIKE 'Add service principal credentials%' OR a.activity ILIKE '%federated identity credential%'
  OR a.activity ILIKE 'Add owner to application%' OR a.activity ILIKE 'Add owner to service principal%')";

/// A workload sign-in's result: a control, a wrong or expired credential, or another failure.
/// (https://learn.microsoft.com/en-us/entra/identity-platform/reference-error-codes)
const OUTCOME: &str = "CASE
  WHEN result_type = 0 THEN 'success'
  WHEN result_type BETWEEN 53000 AND 53999 THEN 'conditional_access'
  WHEN result_type IN (7000215, 7000222, 700027, 700024, 7000112, 700016) THEN 'bad_credential'
  ELSE 'other_failure' END";
