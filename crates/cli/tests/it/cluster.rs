//! `sleuth cluster`: a Ballista scheduler and two executors as local processes run the hunt,
//! SQL and KQL over the demo store, with the same output as this process's engine; the servers
//! refuse addresses other machines can reach, and a client names a scheduler that is not there.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Stdio};

use serde_json::Value;

use crate::support::*;

/// The processes of a cluster, stopped when dropped; their logs are in `logs`.
struct Cluster {
    url: String,
    children: Vec<Child>,
    logs: tempfile::TempDir,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Cluster {
    /// A scheduler on a port of the system's choosing and `executors` executors working for it.
    fn start(executors: usize) -> Cluster {
        let logs = temp();
        let log = |name: &str| Stdio::from(std::fs::File::create(logs.path().join(name)).unwrap());
        let mut scheduler = sleuth()
            .args(["cluster", "scheduler", "--bind", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(log("scheduler.log"))
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(scheduler.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let url =
            line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("first line: {line:?}")).to_string();
        assert!(url.starts_with("df://127.0.0.1:"), "{url}");
        let mut children = vec![scheduler];
        for i in 0..executors {
            let (results, tasks) = (free_port(), free_port());
            let executor = sleuth()
                .args(["cluster", "executor", "--scheduler", &url, "--cores", "1"])
                .args(["--bind", &format!("127.0.0.1:{results}"), "--task-port", &tasks.to_string()])
                .stdout(Stdio::null())
                .stderr(log(&format!("executor-{i}.log")))
                .spawn()
                .unwrap();
            children.push(executor);
        }
        Cluster { url, children, logs }
    }

    fn logs(&self) -> String {
        let mut all = String::new();
        for entry in std::fs::read_dir(self.logs.path()).unwrap() {
            let path = entry.unwrap().path();
            all.push_str(&format!("--- {}\n{}\n", path.display(), std::fs::read_to_string(&path).unwrap_or_default()));
        }
        all
    }
}

/// A port nobody listens on now (the system's pick, released).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The hunt's JSON without its timing fields (`millis` of each rule run).
fn without_timing(json: &str) -> String {
    json.lines().filter(|line| !line.trim_start().starts_with("\"millis\":")).collect::<Vec<_>>().join("\n")
}

fn hunt(store: &Path, cluster: Option<&str>) -> String {
    let mut args = vec!["hunt", "--store", path(store), "--format", "json", "--min-severity", "low"];
    args.extend(cluster.map(|url| ["--cluster", url]).into_iter().flatten());
    let (code, out, err) = run(&args);
    assert_eq!(code, 0, "hunt {args:?}\n{err}");
    out
}

#[test]
fn a_scheduler_and_two_executors_hunt_and_query_as_this_process_does() {
    let store = &demo().store;
    let cluster = Cluster::start(2);

    let local = hunt(store, None);
    let remote = hunt(store, Some(&cluster.url));
    let report: Value = serde_json::from_str(&remote).unwrap();
    let incidents = report["incidents"].as_array().unwrap();
    assert!(incidents.len() >= 5, "the demo tenant's attacks are found on the cluster: {remote}\n{}", cluster.logs());
    assert!(report["rules"].as_array().unwrap().len() >= 25 && report["failures"].as_array().unwrap().is_empty());
    assert_eq!(without_timing(&remote), without_timing(&local), "\n{}", cluster.logs());

    // Sleuth's functions (intelligence, user agents, the baseline window), DataFusion's array
    // functions and a union with an empty table, all planned here and run there.
    let sql = "WITH seen AS (
          SELECT lower(user_principal_name) AS who, ip_address, time, ua_class(user_agent) AS agent,
                 ip_class(ip_address) AS class, ip_country(ip_address) AS country,
                 count_same_before(ip_address, time, INTERVAL '30 days', INTERVAL '0 seconds')
                   OVER (PARTITION BY lower(user_principal_name) ORDER BY time) AS known
          FROM signins WHERE user_principal_name IS NOT NULL AND time IS NOT NULL
          UNION ALL
          SELECT lower(service_principal_name), ip_address, time, 'none', 'none', 'none', 0
          FROM service_principal_signins)
        SELECT who, count(*) AS sign_ins, sum(CASE WHEN known = 0 THEN 1 ELSE 0 END) AS new_addresses,
               array_to_string(array_sort(array_agg(DISTINCT class)), ',') AS classes,
               array_to_string(array_sort(array_agg(DISTINCT agent)), ',') AS agents, count(DISTINCT country) AS countries
        FROM seen GROUP BY who ORDER BY who";
    // The CSV a query command prints, here or (with `--cluster`) there.
    let query = |command: &str, text: &str, extra: &[&str]| {
        let mut args = vec![command, "--store", path(store), "--format", "csv", text];
        args.extend(extra);
        let (code, out, err) = run(&args);
        assert_eq!(code, 0, "{args:?}\n{err}\n{}", cluster.logs());
        out
    };
    let here = query("sql", sql, &[]);
    assert!(here.lines().count() > 50 && here.contains("hosting"), "{here}");
    assert_eq!(query("sql", sql, &["--cluster", &cluster.url]), here);

    // KQL: a Sentinel view over the store, its dynamic columns read by KQL's own functions
    // (kql_get, kql_tostring ...), which the executors must know by name.
    let kql = "SigninLogs
        | where ResultType != '0'
        | extend City = tostring(LocationDetails.city), Os = tostring(DeviceDetail.operatingSystem)
        | summarize failures = count(), cities = dcount(City), systems = make_set(Os) by UserPrincipalName
        | order by failures desc, UserPrincipalName asc";
    let here = query("kql", kql, &[]);
    assert!(here.lines().count() > 10, "{here}");
    assert_eq!(query("kql", kql, &["--cluster", &cluster.url]), here);
}

#[test]
fn cluster_servers_listen_on_loopback_only_and_clients_name_a_missing_scheduler() {
    for role in [vec!["scheduler"], vec!["executor", "--scheduler", "df://127.0.0.1:1"]] {
        let mut args = vec!["cluster"];
        args.extend(role.iter().copied());
        args.extend(["--bind", "0.0.0.0:50999"]);
        let (code, _, err) = run(&args);
        assert_eq!(code, 2, "{args:?}");
        assert!(err.contains("0.0.0.0:50999") && err.contains("not a loopback address"), "{err}");
    }

    let store = path(&demo().store);
    let nobody = format!("df://127.0.0.1:{}", free_port());
    for args in [
        vec!["hunt", "--store", store, "--cluster", &nobody],
        vec!["sql", "--store", store, "--cluster", &nobody, "SELECT 1"],
        vec!["kql", "--store", store, "--cluster", &nobody, "SigninLogs | take 1"],
    ] {
        let (code, _, err) = run(&args);
        assert_eq!(code, 2, "{args:?}");
        assert!(err.contains(&format!("no scheduler answers at {nobody}")), "{err}");
    }
    let (code, _, err) = run(&["sql", "--store", store, "--cluster", "http://127.0.0.1:50050", "SELECT 1"]);
    assert_eq!(code, 2);
    assert!(err.contains("is not a scheduler address: write df://HOST:PORT"), "{err}");
}
