//! `collect` against the Graph test double (tests/double): paging, throttling, faults, token
//! expiry, resume, incremental runs, permissions, empty sources, and the secret nowhere.

mod double;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use double::{Double, Fault};
use sleuth_collect::{
    Certificate, Credentials, Key, Manifest, Pacing, Request, Secret, Source, SourceSummary, collect,
};

const SECRET: &str = "s3cr3t~Value.With-Odd_Chars";
const SIGNINS: &str = "/beta/auditLogs/signIns";

fn credentials(double: &Double, secret: &str) -> Credentials {
    Credentials {
        tenant: "contoso.onmicrosoft.com".into(),
        client_id: "11111111-2222-3333-4444-555555555555".into(),
        key: Key::Secret(Secret::new(secret.into())),
        login_url: double.url.clone(),
        graph_url: double.url.clone(),
    }
}

fn fast() -> Pacing {
    Pacing {
        attempts: 5,
        backoff: Duration::from_millis(20),
        max_backoff: Duration::from_millis(200),
        min_interval: Duration::ZERO,
        timeout: Duration::from_secs(10),
        poll_interval: Duration::from_millis(40),
        search_wait: Duration::from_secs(10),
    }
}

fn request(double: &Double, out: &Path, sources: &[Source], since: &str, until: &str) -> Request {
    Request {
        credentials: credentials(double, SECRET),
        sources: sources.to_vec(),
        since: since.parse().unwrap(),
        until: Some(until.parse().unwrap()),
        out: out.to_path_buf(),
        slice: Duration::from_secs(86_400),
        pacing: fast(),
        overlap: Some(Duration::ZERO),
    }
}

/// Ten sign-ins over two days.
fn ten_signins(double: &Double) {
    let times: Vec<String> = (0..10).map(|i| format!("2025-03-0{}T{:02}:00:00Z", 1 + i / 5, 2 * i)).collect();
    let times: Vec<&str> = times.iter().map(String::as_str).collect();
    double.add(SIGNINS, "createdDateTime", &times, "s");
}

/// Every record id in the pages the manifest names, checking each page's hash.
fn collected_ids(out: &Path) -> Vec<String> {
    let manifest: Manifest =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    let mut ids = Vec::new();
    for slice in &manifest.slices {
        for page in &slice.pages {
            let bytes = std::fs::read(out.join(&page.file)).unwrap();
            let page_json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            let records = page_json["value"].as_array().unwrap();
            assert_eq!(records.len() as u64, page.records, "{}", page.file);
            ids.extend(records.iter().map(|r| r["id"].as_str().unwrap().to_owned()));
        }
    }
    ids
}

fn summary(all: &[SourceSummary], source: &str) -> SourceSummary {
    all.iter().find(|s| s.source == source).unwrap().clone()
}

#[test]
fn pages_come_whole_through_throttling_and_faults_and_retry_after_is_honoured() {
    let double = Double::start(SECRET);
    ten_signins(&double);
    {
        let mut s = double.state.lock().unwrap();
        s.faults.insert(2, Fault::Throttle(Some(1)));
        s.faults.insert(3, Fault::Unavailable);
        s.faults.insert(5, Fault::Throttle(None));
    }
    let out = tempfile::tempdir().unwrap();
    let done = collect(
        &request(&double, out.path(), &[Source::Signins], "2025-03-01T00:00:00Z", "2025-03-03T00:00:00Z"),
        &mut (),
        None,
    )
    .unwrap();
    let s = summary(&done, "signins");
    assert_eq!((s.records, s.slices_complete, s.slices_total), (10, 2, 2), "{s:?}");
    assert_eq!(s.retries, 3, "{s:?}");
    let ids = collected_ids(out.path());
    assert_eq!(ids.len(), 10);
    assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), 10, "no record twice");
    // The request after the 429 with Retry-After: 1 came no sooner than a second later.
    let gets: Vec<_> = double.log().into_iter().filter(|l| l.method == "GET").collect();
    assert_eq!(gets[1].status, 429);
    assert!(gets[2].at.duration_since(gets[1].at) >= Duration::from_secs(1), "Retry-After not honoured");
    // Every request carries its own client-request-id.
    let ids: BTreeSet<_> = gets.iter().map(|g| g.request_id.clone().unwrap()).collect();
    assert_eq!(ids.len(), gets.len());
}

#[test]
fn a_throttled_token_request_waits_out_its_retry_after() {
    let double = Double::start(SECRET);
    ten_signins(&double);
    double.state.lock().unwrap().token_throttle = Some(1);
    let out = tempfile::tempdir().unwrap();
    let r = request(&double, out.path(), &[Source::Signins], "2025-03-01T00:00:00Z", "2025-03-03T00:00:00Z");
    assert_eq!(summary(&collect(&r, &mut (), None).unwrap(), "signins").records, 10);
    let tokens: Vec<_> = double.log().into_iter().filter(|l| l.target.ends_with("/token")).collect();
    assert_eq!(tokens[0].status, 429);
    assert!(tokens[1].at.duration_since(tokens[0].at) >= Duration::from_secs(1), "Retry-After not honoured");
}

/// What a run showed of its progress.
#[derive(Default)]
struct Seen {
    slices: Vec<(usize, usize)>,
    pages: u64,
}

impl sleuth_collect::Progress for Seen {
    fn page(&mut self, _: Source, _: u64, pages: u64) {
        self.pages = pages;
    }
    fn slices(&mut self, _: Source, done: usize, total: usize) {
        self.slices.push((done, total));
    }
}

#[test]
fn progress_counts_slices_for_the_eta_and_pages() {
    let double = Double::start(SECRET);
    ten_signins(&double);
    let out = tempfile::tempdir().unwrap();
    let r = request(&double, out.path(), &[Source::Signins], "2025-03-01T00:00:00Z", "2025-03-03T00:00:00Z");
    let mut seen = Seen::default();
    collect(&r, &mut seen, None).unwrap();
    assert_eq!(seen.slices, [(0, 2), (1, 2), (2, 2)]);
    assert_eq!(seen.pages, 4);
    // A resumed run starts where the folder is.
    let mut again = Seen::default();
    collect(&r, &mut again, None).unwrap();
    assert_eq!(again.slices, [(2, 2)]);
}

#[test]
fn an_expired_token_is_renewed_mid_run() {
    let double = Double::start(SECRET);
    ten_signins(&double);
    {
        let mut s = double.state.lock().unwrap();
        // The endpoint says an hour; the tokens die after 300 ms.
        s.token_life = Duration::from_millis(300);
        s.page_size = 1;
    }
    let out = tempfile::tempdir().unwrap();
    let mut r = request(&double, out.path(), &[Source::Signins], "2025-03-01T00:00:00Z", "2025-03-03T00:00:00Z");
    r.pacing.min_interval = Duration::from_millis(120);
    let done = collect(&r, &mut (), None).unwrap();
    assert_eq!(summary(&done, "signins").records, 10);
    assert!(double.state.lock().unwrap().tokens.len() >= 2, "a new token was fetched");
    assert!(double.log().iter().any(|l| l.status == 401), "the expiry was met");
}

#[test]
fn an_interrupted_collection_resumes_without_fetching_a_page_twice_then_goes_incremental() {
    let double = Double::start(SECRET);
    ten_signins(&double);
    double.state.lock().unwrap().faults.insert(2, Fault::BadRequest);
    let out = tempfile::tempdir().unwrap();
    let r = request(&double, out.path(), &[Source::Signins], "2025-03-01T00:00:00Z", "2025-03-03T00:00:00Z");
    let first = collect(&r, &mut (), None).unwrap();
    let s = summary(&first, "signins");
    assert_eq!(s.gaps.len(), 1, "the failed slice is reported: {s:?}");
    assert!(s.gaps[0].contains("HTTP 400") && s.gaps[0].contains("client-request-id"), "{:?}", s.gaps);
    let before = double.log().len();
    let second = collect(&r, &mut (), None).unwrap();
    let s = summary(&second, "signins");
    assert!(s.gaps.is_empty() && s.slices_complete == 2, "{s:?}");
    // What the first run had on disk was not asked for again.
    let log = double.log();
    let asked: Vec<&String> = log.iter().filter(|l| l.method == "GET" && l.status == 200).map(|l| &l.target).collect();
    let unique: BTreeSet<&&String> = asked.iter().collect();
    assert_eq!(asked.len(), unique.len(), "a page was fetched twice: {asked:#?}");
    assert!(log.len() > before);
    assert_eq!(collected_ids(out.path()).len(), 10);

    // Later: two new sign-ins; the same command with a later end collects only what is newer.
    double.add(SIGNINS, "createdDateTime", &["2025-03-03T05:00:00Z", "2025-03-03T06:00:00Z"], "n");
    let later = request(&double, out.path(), &[Source::Signins], "2025-03-01T00:00:00Z", "2025-03-04T00:00:00Z");
    let mark = double.log().len();
    let third = collect(&later, &mut (), None).unwrap();
    assert_eq!(summary(&third, "signins").records, 2);
    let new: Vec<_> = double.log()[mark..].iter().filter(|l| l.method == "GET").map(|l| l.target.clone()).collect();
    assert!(
        new.iter().all(|t| t.contains("2025-03-03T00%3A00%3A00Z") || t.contains("skiptoken=2025-03-03")),
        "{new:#?}"
    );
    let ids = collected_ids(out.path());
    assert_eq!((ids.len(), ids.iter().collect::<BTreeSet<_>>().len()), (12, 12));
}

#[test]
fn a_missing_permission_is_named_and_an_empty_source_says_so() {
    let double = Double::start(SECRET);
    double.state.lock().unwrap().forbidden_paths.push("/v1.0/identityProtection/riskyUsers".into());
    let out = tempfile::tempdir().unwrap();
    let r = request(
        &double,
        out.path(),
        &[Source::Audits, Source::RiskyUsers],
        "2025-03-01T00:00:00Z",
        "2025-03-04T00:00:00Z",
    );
    let done = collect(&r, &mut (), None).unwrap();
    let risky = summary(&done, "risky_users");
    assert_eq!(risky.gaps.len(), 1, "one gap: the source stops at a 403 {risky:?}");
    assert!(risky.gaps[0].contains("IdentityRiskyUser.Read.All"), "{:?}", risky.gaps);
    let audits = summary(&done, "audits");
    let empty = audits.empty.unwrap();
    assert!(
        empty.contains("no audits records") && empty.contains("/v1.0/auditLogs/directoryAudits?$filter="),
        "{empty}"
    );
}

#[test]
fn the_secret_is_in_no_file_and_no_error() {
    let double = Double::start(SECRET);
    ten_signins(&double);
    let out = tempfile::tempdir().unwrap();
    collect(
        &request(&double, out.path(), &[Source::Signins], "2025-03-01T00:00:00Z", "2025-03-03T00:00:00Z"),
        &mut (),
        None,
    )
    .unwrap();
    for entry in walk(out.path()) {
        let text = std::fs::read(&entry).unwrap();
        assert!(!String::from_utf8_lossy(&text).contains(SECRET), "{} holds the secret", entry.display());
    }
    // A wrong secret: the error says what the endpoint said, never the secret.
    let mut wrong = request(&double, out.path(), &[Source::Signins], "2025-03-01T00:00:00Z", "2025-03-03T00:00:00Z");
    wrong.credentials = credentials(&double, "not-the-secret-123");
    wrong.out = out.path().join("other");
    let summaries = collect(&wrong, &mut (), None).unwrap();
    let gap = &summary(&summaries, "signins").gaps[0];
    assert!(gap.contains("AADSTS7000215") && !gap.contains("not-the-secret-123"), "{gap}");
    assert!(!format!("{:?}", wrong.credentials).contains("not-the-secret-123"));
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() { out.extend(walk(&p)) } else { out.push(p) }
    }
    out
}

#[test]
fn a_certificate_signs_the_token_request_with_its_thumbprint() {
    let double = Double::start(SECRET);
    ten_signins(&double);
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    double.state.lock().unwrap().public_key = Some(std::fs::read(fixtures.join("test-public.der")).unwrap());
    let cert = std::fs::read_to_string(fixtures.join("test-cert.pem")).unwrap();
    let key = std::fs::read_to_string(fixtures.join("test-key.pem")).unwrap();
    let out = tempfile::tempdir().unwrap();
    let mut r = request(&double, out.path(), &[Source::Signins], "2025-03-01T00:00:00Z", "2025-03-03T00:00:00Z");
    r.credentials.key = Key::Certificate(Certificate::from_pem(&cert, &key).unwrap());
    let done = collect(&r, &mut (), None).unwrap();
    assert_eq!(summary(&done, "signins").records, 10);
    let claims = double.state.lock().unwrap().assertions.clone();
    assert_eq!(claims.len(), 1, "one token for the run");
    assert_eq!(claims[0]["iss"], r.credentials.client_id.as_str());
    assert!(
        claims[0]["aud"].as_str().unwrap().ends_with("/contoso.onmicrosoft.com/oauth2/v2.0/token"),
        "{}",
        claims[0]
    );
    assert!(claims[0]["exp"].as_i64().unwrap() > claims[0]["nbf"].as_i64().unwrap());
    // The key is never shown; a certificate file with no key is refused with why.
    assert!(!format!("{:?}", r.credentials).contains("PRIVATE"));
    assert!(Certificate::from_pem(&cert, &cert).unwrap_err().contains("no PRIVATE KEY"));
}

/// Seven unified audit log records over two days.
fn seven_ual(double: &Double) {
    let times: Vec<String> = (0..7).map(|i| format!("2025-03-0{}T{:02}:30:00Z", 1 + i / 4, 3 * i)).collect();
    let times: Vec<&str> = times.iter().map(String::as_str).collect();
    double.add_ual(&times, "u");
}

#[test]
fn the_unified_audit_log_comes_through_a_purview_search_polled_until_it_succeeds() {
    let double = Double::start(SECRET);
    seven_ual(&double);
    double.state.lock().unwrap().search_polls = 2;
    let out = tempfile::tempdir().unwrap();
    let done = collect(
        &request(&double, out.path(), &[Source::Ual], "2025-03-01T00:00:00Z", "2025-03-03T00:00:00Z"),
        &mut (),
        None,
    )
    .unwrap();
    let s = summary(&done, "ual");
    assert_eq!((s.records, s.slices_complete, s.slices_total), (7, 2, 2), "{s:?}");
    let ids = collected_ids(out.path());
    assert_eq!(ids.iter().collect::<BTreeSet<_>>().len(), 7);
    // One search per slice, for the slice's window, each polled until it succeeded.
    let searches = double.state.lock().unwrap().searches.clone();
    let mut windows: Vec<(String, String)> = searches.iter().map(|q| (q.from.clone(), q.to.clone())).collect();
    windows.sort();
    assert_eq!(
        windows,
        [
            ("2025-03-01T00:00:00Z".to_string(), "2025-03-02T00:00:00Z".to_string()),
            ("2025-03-02T00:00:00Z".to_string(), "2025-03-03T00:00:00Z".to_string())
        ]
    );
    assert!(searches.iter().all(|q| q.polls == 3), "{searches:?}");
    // No records were asked for before their search had succeeded.
    let log = double.log();
    for q in &searches {
        let last_poll = log.iter().rposition(|l| l.target.ends_with(&q.id)).unwrap();
        let first_records = log.iter().position(|l| l.target.contains(&format!("{}/records", q.id))).unwrap();
        assert!(first_records > last_poll);
    }
    // Each slice's search is in the manifest, for a later run to poll.
    let manifest: Manifest =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("manifest.json")).unwrap()).unwrap();
    assert!(
        manifest
            .slices
            .iter()
            .all(|s| s.search.as_deref().is_some_and(|u| u.contains("/beta/security/auditLog/queries/")))
    );
}

#[test]
fn a_search_still_running_is_polled_again_next_run_and_a_failed_one_is_made_anew() {
    let double = Double::start(SECRET);
    seven_ual(&double);
    {
        let mut s = double.state.lock().unwrap();
        s.search_polls = 1_000_000;
        s.failing_searches = vec![2];
    }
    let out = tempfile::tempdir().unwrap();
    let mut r = request(&double, out.path(), &[Source::Ual], "2025-03-01T00:00:00Z", "2025-03-03T00:00:00Z");
    r.pacing.search_wait = Duration::from_millis(150);
    let first = collect(&r, &mut (), None).unwrap();
    let s = summary(&first, "ual");
    assert_eq!((s.records, s.gaps.len()), (0, 2), "{s:?}");
    assert!(s.gaps[0].contains("is still running") && s.gaps[0].contains("polls it again"), "{:?}", s.gaps);
    assert_eq!(double.state.lock().unwrap().searches.len(), 2);

    // Purview finishes: the newest slice's search succeeds, the other's fails.
    for q in &mut double.state.lock().unwrap().searches {
        q.polls_left = 0;
    }
    let second = collect(&r, &mut (), None).unwrap();
    let s = summary(&second, "ual");
    assert_eq!(s.gaps.len(), 1, "{s:?}");
    assert!(s.gaps[0].contains("failed") && s.gaps[0].contains("searches again"), "{:?}", s.gaps);
    assert_eq!(double.state.lock().unwrap().searches.len(), 2, "the running searches were polled, not made again");

    double.state.lock().unwrap().search_polls = 0;
    let third = collect(&r, &mut (), None).unwrap();
    let s = summary(&third, "ual");
    assert!(s.gaps.is_empty() && s.slices_complete == 2, "{s:?}");
    assert_eq!(double.state.lock().unwrap().searches.len(), 3, "one new search, for the failed one");
    let ids = collected_ids(out.path());
    assert_eq!((ids.len(), ids.iter().collect::<BTreeSet<_>>().len()), (7, 7));
}

#[test]
fn a_graph_with_audit_search_in_v1_only_gets_it_there_and_a_missing_permission_is_named() {
    let double = Double::start(SECRET);
    seven_ual(&double);
    double.state.lock().unwrap().search_versions = vec!["v1.0".into()];
    let out = tempfile::tempdir().unwrap();
    let r = request(&double, out.path(), &[Source::Ual], "2025-03-01T00:00:00Z", "2025-03-03T00:00:00Z");
    assert_eq!(summary(&collect(&r, &mut (), None).unwrap(), "ual").records, 7);
    assert!(double.log().iter().any(|l| l.method == "POST" && l.target == "/v1.0/security/auditLog/queries"));
    // Graph's own answer to an unknown segment is a 400: the same fallback.
    let strict = Double::start(SECRET);
    seven_ual(&strict);
    {
        let mut s = strict.state.lock().unwrap();
        s.search_versions = vec!["v1.0".into()];
        s.unknown_version_status = 400;
    }
    let out = tempfile::tempdir().unwrap();
    let r = request(&strict, out.path(), &[Source::Ual], "2025-03-01T00:00:00Z", "2025-03-03T00:00:00Z");
    assert_eq!(summary(&collect(&r, &mut (), None).unwrap(), "ual").records, 7);

    let denied = Double::start(SECRET);
    denied.state.lock().unwrap().forbidden_paths.push("/beta/security/auditLog".into());
    let out = tempfile::tempdir().unwrap();
    let done = collect(
        &request(&denied, out.path(), &[Source::Ual], "2025-03-01T00:00:00Z", "2025-03-03T00:00:00Z"),
        &mut (),
        None,
    )
    .unwrap();
    let s = summary(&done, "ual");
    assert_eq!(s.gaps.len(), 1, "{s:?}");
    assert!(s.gaps[0].contains("AuditLogsQuery.Read.All"), "{:?}", s.gaps);
}

#[test]
fn a_record_that_reached_the_log_late_is_collected_by_the_next_incremental_run() {
    let double = Double::start(SECRET);
    ten_signins(&double);
    let out = tempfile::tempdir().unwrap();
    let mut r = request(&double, out.path(), &[Source::Signins], "2025-03-01T00:00:00Z", "2025-03-03T00:00:00Z");
    r.overlap = None;
    assert_eq!(summary(&collect(&r, &mut (), None).unwrap(), "signins").records, 10);
    // A sign-in of 23:10 shows up after the window closed, and one new sign-in after it.
    double.add(SIGNINS, "createdDateTime", &["2025-03-02T23:10:00Z"], "late");
    double.add(SIGNINS, "createdDateTime", &["2025-03-03T01:00:00Z"], "new");
    r.until = Some("2025-03-03T06:00:00Z".parse().unwrap());
    collect(&r, &mut (), None).unwrap();
    let ids = collected_ids(out.path());
    assert!(ids.iter().any(|id| id.starts_with("late-")), "{ids:?}");
    assert!(ids.iter().any(|id| id.starts_with("new-")), "{ids:?}");
    // Only the sign-ins' latency (two hours) was asked again, not the whole window.
    let manifest: Manifest =
        serde_json::from_str(&std::fs::read_to_string(out.path().join("manifest.json")).unwrap()).unwrap();
    let rechecks: Vec<_> = manifest.slices.iter().filter(|s| s.recheck).map(|s| (s.from, s.to)).collect();
    assert_eq!(rechecks, [("2025-03-02T22:00:00Z".parse().unwrap(), "2025-03-03T00:00:00Z".parse().unwrap())]);
}

/// A destination that records what it was handed, failing when told.
#[derive(Default)]
struct Collected {
    batches: Vec<Vec<std::path::PathBuf>>,
    fail: bool,
}

impl sleuth_collect::Deliver for Collected {
    fn target(&self) -> String {
        "test-store".into()
    }
    fn deliver(&mut self, files: &[std::path::PathBuf]) -> Result<(), String> {
        if self.fail {
            return Err("disk full".into());
        }
        assert!(files.iter().all(|f| f.exists()), "only whole pages on disk are delivered");
        self.batches.push(files.to_vec());
        Ok(())
    }
}

#[test]
fn pages_are_delivered_once_and_a_failed_delivery_is_redone_next_run() {
    let double = Double::start(SECRET);
    ten_signins(&double);
    let out = tempfile::tempdir().unwrap();
    let r = request(&double, out.path(), &[Source::Signins], "2025-03-01T00:00:00Z", "2025-03-03T00:00:00Z");
    let mut failing = Collected { fail: true, ..Default::default() };
    let e = collect(&r, &mut (), Some(&mut failing)).unwrap_err();
    assert!(e.to_string().contains("disk full") && e.to_string().contains("next run stores them"), "{e}");
    // The pages are in the folder; the next run fetches nothing again and delivers them all.
    let gets = double.log().len();
    let mut store = Collected::default();
    collect(&r, &mut (), Some(&mut store)).unwrap();
    assert_eq!(double.log().len(), gets, "nothing fetched again");
    let delivered: Vec<_> = store.batches.concat();
    assert_eq!(delivered.len(), 4, "{delivered:?}");
    // A third run delivers nothing twice.
    collect(&r, &mut (), Some(&mut store)).unwrap();
    assert_eq!(store.batches.concat().len(), 4);
}

/// What the device-code prompt showed.
static PROMPTS: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

#[test]
fn a_person_signs_in_with_a_device_code_and_the_refresh_token_renews_it_in_memory() {
    let double = Double::start(SECRET);
    ten_signins(&double);
    {
        let mut s = double.state.lock().unwrap();
        s.device_pending = 1;
        s.token_life = Duration::from_millis(300);
        s.page_size = 1;
    }
    let out = tempfile::tempdir().unwrap();
    let mut r = request(&double, out.path(), &[Source::Signins], "2025-03-01T00:00:00Z", "2025-03-03T00:00:00Z");
    r.credentials.key = Key::DeviceCode(|message| PROMPTS.lock().unwrap().push(message.to_string()));
    r.pacing.min_interval = Duration::from_millis(120);
    let done = collect(&r, &mut (), None).unwrap();
    assert_eq!(summary(&done, "signins").records, 10);
    let prompts = PROMPTS.lock().unwrap().clone();
    assert_eq!(prompts.len(), 1, "one sign-in for the run: {prompts:?}");
    assert!(prompts[0].contains("FJ7Q2KDM") && !prompts[0].contains(double::DEVICE_CODE), "{prompts:?}");
    let s = double.state.lock().unwrap();
    assert!(s.refreshes >= 1, "the expired token was renewed with the refresh token, not a new sign-in");
    let secrets: Vec<String> = s.refresh_tokens.iter().cloned().chain([double::DEVICE_CODE.to_string()]).collect();
    drop(s);
    for file in walk(out.path()) {
        let text = String::from_utf8_lossy(&std::fs::read(&file).unwrap()).into_owned();
        for secret in &secrets {
            assert!(!text.contains(secret.as_str()), "{} holds {secret}", file.display());
        }
    }
}
