#!/usr/bin/env python3
"""Hunt benchmark: every built-in rule over a large demo tenant, and three representative rules
written as DuckDB SQL and run by DuckDB on the same Parquet files, as the reference.

    python3 bench/hunt.py [--users 36600] [--days 30] [--keep-export]
    python3 bench/hunt.py --sigma [--users 36600] [--days 30]

Generates the demo tenant (mixed dialects; about 10 million sign-ins and 1 million audit
events with the defaults), ingests it into bench/out/hunt-store-USERSxDAYS (kept between runs;
the export is deleted after ingesting unless --keep-export), then times `sleuth hunt` over the
whole store (wall time and peak resident memory from wait4, and each rule's own time from the
report). DuckDB (from PyPI into bench/out/venv, 2 threads like this machine's cores) runs the
logic of password-spray, credential-stuffing and impossible-travel on the store's Parquet; its
time is the query's, measured inside its process, like the rule times the hunt reports. The
DuckDB versions do without the intelligence databases, which DuckDB does not have: no address
class (it only changes severities), and impossible travel uses the log's coordinates only, so
it may find fewer moves. Alert counts are compared where they must agree. Results are printed
and written to bench/out/hunt.json.

With --sigma, the same store is hunted with the SigmaHQ Azure / M365 rules of ../shared and the
examples/sigma correlations instead: once with the built-in rules turned off (a --config that
disables each), once with them; every severity is reported. Results go to bench/out/sigma.json.
"""
import argparse
import json
import shutil
import subprocess

from common import OUT, ROOT, SLEUTH, build, duckdb_python, measured

# Each rule's logic in DuckDB's dialect, one row per alert.
DUCKDB_RULES = {
    "password-spray": ("""
WITH attempts AS (
  SELECT record_id, time, user_principal_name AS u, ip_address AS ip, result_type, asn,
         coalesce(asn, -1) AS sa, CASE WHEN asn IS NULL THEN ip_address ELSE '' END AS si
  FROM signins WHERE ip_address IS NOT NULL AND user_principal_name IS NOT NULL AND time IS NOT NULL
),
failures AS (
  SELECT f.*, time_bucket(INTERVAL '24 hours', f.time) AS bucket FROM attempts f
  WHERE f.result_type IN (50126, 50053, 50034, 50055, 50056, 50057, 50064)
    AND NOT EXISTS (SELECT 1 FROM attempts s WHERE s.result_type = 0 AND s.sa = f.sa AND s.si = f.si AND s.u = f.u
                    AND s.time > f.time AND s.time <= f.time + INTERVAL '60 minutes')
),
sprays AS (
  SELECT sa, si, bucket, min(time) AS first_seen, max(time) AS last_seen, count(DISTINCT u) AS users,
         list(record_id) AS record_ids, list(DISTINCT u) AS targets, list(DISTINCT ip) AS addresses
  FROM failures GROUP BY sa, si, bucket HAVING count(DISTINCT u) >= 5
),
busy AS (
  SELECT c.sa, c.si FROM (SELECT DISTINCT sa, si FROM sprays) c
  JOIN attempts a ON a.sa = c.sa AND a.si = c.si AND a.result_type = 0
  GROUP BY c.sa, c.si HAVING count(DISTINCT a.u) >= 10
),
hits AS (
  SELECT s.*, b.sa IS NOT NULL AS busy FROM sprays s LEFT JOIN busy b ON b.sa = s.sa AND b.si = s.si
  WHERE s.users >= CASE WHEN b.sa IS NOT NULL THEN 15 ELSE 5 END
),
won AS (
  SELECT h.sa, h.si, h.bucket, count(DISTINCT a.u) AS successes, list(a.record_id) AS success_ids
  FROM hits h JOIN attempts a ON a.sa = h.sa AND a.si = h.si AND a.result_type = 0
   AND a.time >= h.first_seen AND a.time <= h.last_seen + INTERVAL '24 hours'
   AND (NOT h.busy OR list_contains(h.targets, a.u))
  GROUP BY h.sa, h.si, h.bucket
)
SELECT h.sa, h.si, h.bucket, h.users, coalesce(w.successes, 0) AS successes
FROM hits h LEFT JOIN won w ON w.sa = h.sa AND w.si = h.si AND w.bucket = h.bucket
""", True),
    "credential-stuffing": ("""
WITH s AS (
  SELECT record_id, time, user_principal_name AS u, ip_address AS ip, result_type
  FROM signins WHERE user_principal_name IS NOT NULL AND time IS NOT NULL AND ip_address IS NOT NULL
),
ok AS (
  SELECT record_id, time, u, ip, lag(time) OVER (PARTITION BY u ORDER BY time, record_id) AS previous_success
  FROM s WHERE result_type = 0
),
hits AS (
  SELECT ok.u, ok.ip, ok.time, ok.record_id, count(*) AS failures, count(DISTINCT f.ip) AS failure_ips,
         list(f.record_id) AS failure_ids
  FROM ok JOIN s f ON f.u = ok.u AND f.result_type IN (50126, 50053, 50055, 50056, 50064)
   AND f.time < ok.time AND f.time >= ok.time - INTERVAL '24 hours'
   AND (ok.previous_success IS NULL OR f.time > ok.previous_success)
  GROUP BY ok.u, ok.ip, ok.time, ok.record_id
  HAVING count(*) >= 5
),
habit AS (
  SELECT h.u, h.record_id, count(DISTINCT date_trunc('day', p.time)) AS days_seen
  FROM hits h JOIN ok p ON p.u = h.u AND p.ip = h.ip AND date_trunc('day', p.time) <> date_trunc('day', h.time)
  GROUP BY h.u, h.record_id
)
SELECT h.u, h.record_id, h.failures, h.failure_ips, coalesce(b.days_seen, 0) AS days
FROM hits h LEFT JOIN habit b ON b.u = h.u AND b.record_id = h.record_id
""", True),
    "impossible-travel": ("""
WITH shared AS (
  SELECT ip_address AS ip FROM signins WHERE result_type = 0 AND ip_address IS NOT NULL
  GROUP BY ip_address HAVING count(DISTINCT user_principal_name) >= 5
),
located AS (
  SELECT record_id, time, user_principal_name AS u, ip_address AS ip, device_id,
         latitude AS lat, longitude AS lon, 50.0 AS accuracy, upper(nullif(country, '')) AS country
  FROM signins
  WHERE result_type = 0 AND coordinates_valid AND user_principal_name IS NOT NULL AND time IS NOT NULL
    AND ip_address IS NOT NULL AND ip_address NOT IN (SELECT ip FROM shared)
),
steps AS (
  SELECT *, lag(record_id) OVER w AS pid, lag(time) OVER w AS pt, lag(ip) OVER w AS pip, lag(lat) OVER w AS plat,
         lag(lon) OVER w AS plon, lag(accuracy) OVER w AS pacc, lag(country) OVER w AS pcountry,
         lag(device_id) OVER w AS pdevice
  FROM located WINDOW w AS (PARTITION BY u ORDER BY time, record_id)
),
moves AS (
  SELECT *, 2 * 6371 * asin(sqrt(power(sin(radians(lat - plat) / 2), 2)
                                 + cos(radians(plat)) * cos(radians(lat)) * power(sin(radians(lon - plon) / 2), 2))) AS km,
         greatest((epoch(time) - epoch(pt)) / 3600.0, 1.0 / 3600.0) AS hours
  FROM steps WHERE pt IS NOT NULL AND ip <> pip
)
SELECT u, pid, record_id, km FROM moves
WHERE greatest(km - accuracy - pacc, 0) > 0 AND greatest(km - accuracy - pacc, 0) / hours > 900
""", False),
}

DUCKDB_SCRIPT = """
import duckdb, sys, time
con = duckdb.connect()
con.execute("SET threads = 2")
con.execute("SET TimeZone = 'UTC'")
con.execute("SET enable_progress_bar = false")
con.execute(f"CREATE VIEW signins AS SELECT * FROM read_parquet('{sys.argv[1]}/signins/*.parquet')")
start = time.perf_counter()
con.execute(f"CREATE TEMP TABLE alerts AS {sys.argv[2]}")
seconds = time.perf_counter() - start
print(con.execute("SELECT count(*) FROM alerts").fetchone()[0], seconds)
"""


def tenant_store(users, days, keep_export):
    store = OUT / f"hunt-store-{users}x{days}"
    if (store / "_sleuth" / "manifest.json").exists():
        return store, None
    export = OUT / f"hunt-tenant-{users}x{days}"
    shutil.rmtree(export, ignore_errors=True)
    shutil.rmtree(store, ignore_errors=True)
    g_sec, _, _ = measured([SLEUTH, "demo", export, "--users", str(users), "--days", str(days)])
    i_sec, i_rss, _ = measured([SLEUTH, "ingest", export, "--store", store, "--quiet"])
    if not keep_export:
        shutil.rmtree(export)
    return store, {"generate_seconds": round(g_sec, 1), "ingest_seconds": round(i_sec, 1), "ingest_peak_rss_mib": round(i_rss)}


def count(store, table):
    out = subprocess.run([SLEUTH, "sql", "--store", store, "--format", "csv", f"SELECT count(*) AS n FROM {table}"],
                         capture_output=True, text=True, check=True).stdout
    return int(out.splitlines()[1])


def sigma(store):
    """The hunt with the Sigma rules, without and with the built-in rules."""
    listed = subprocess.run([SLEUTH, "rules"], capture_output=True, text=True, check=True).stdout
    levels = {"informational", "low", "medium", "high", "critical"}
    builtins = [line.split()[0] for line in listed.splitlines() if len(line.split()) > 1 and line.split()[1] in levels]
    off = OUT / "builtins-off.toml"
    off.write_text("".join(f"[rules.{rule}]\nenabled = false\n\n" for rule in builtins))
    rules = ["--rules", ROOT.parent / "shared" / "rules" / "sigma", "--rules", ROOT / "examples" / "sigma"]
    hunt = [SLEUTH, "hunt", "--store", store, "--format", "json", "--min-severity", "informational", *rules]
    results = {}
    for name, extra in (("sigma only", ["--config", off]), ("sigma and built-in", [])):
        seconds, rss, out = measured(hunt + extra)
        report = json.loads(out)
        slowest = sorted(report["rules"], key=lambda r: -r["millis"])[:8]
        results[name] = {"seconds": round(seconds, 1), "peak_rss_mib": round(rss), "rules": len(report["rules"]),
                         "alerts": sum(r["alerts"] for r in report["rules"]), "incidents": len(report["incidents"]),
                         "slowest": [{"rule": r["rule"], "seconds": round(r["millis"] / 1000, 2), "alerts": r["alerts"]}
                                     for r in slowest]}
        r = results[name]
        print(f"{name}: {r['seconds']} s, peak {r['peak_rss_mib']} MiB, {r['rules']} rules, {r['alerts']} alerts")
        for rule in r["slowest"]:
            print(f"  {rule['rule']:40} {rule['seconds']:>7.2f} s {rule['alerts']:>7} alerts")
    (OUT / "sigma.json").write_text(json.dumps(results, indent=2))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, default=36600)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--keep-export", action="store_true")
    ap.add_argument("--sigma", action="store_true", help="hunt with the SigmaHQ rules instead")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    build()
    store, setup = tenant_store(args.users, args.days, args.keep_export)
    if args.sigma:
        return sigma(store)
    sizes = {t: count(store, t) for t in ("signins", "audits", "mailbox_activity", "message_trace", "risk_detections")}

    hunt = [SLEUTH, "hunt", "--store", store, "--format", "json", "--min-severity", "low"]
    h_sec, h_rss, h_out = measured(hunt)
    report = json.loads(h_out)
    # The same hunt within 1 GiB of operator memory (SLEUTH_MEMORY_LIMIT): it must say the same.
    b_sec, b_rss, b_out = measured(hunt, env={"SLEUTH_MEMORY_LIMIT": "1GiB"})
    bounded = json.loads(b_out)
    if bounded["incidents"] != report["incidents"] or bounded["failures"]:
        raise SystemExit("the hunt within 1 GiB differs from the hunt without it")
    per_rule = {r["rule"]: {"alerts": r["alerts"], "seconds": round(r["millis"] / 1000, 2)} for r in report["rules"]}

    python, version = duckdb_python()
    rules = {}
    for name, (sql, must_agree) in DUCKDB_RULES.items():
        d_wall, d_rss, d_out = measured([python, "-c", DUCKDB_SCRIPT, store, sql], ok=(0,))
        d_rows, d_sec = d_out.split()
        if must_agree and int(d_rows) != per_rule[name]["alerts"]:
            raise SystemExit(f"{name}: Sleuth raised {per_rule[name]['alerts']} alerts, DuckDB's version {d_rows}")
        rules[name] = {"sleuth": per_rule[name],
                       "duckdb": {"rows": int(d_rows), "seconds": round(float(d_sec), 2),
                                  "process_seconds": round(d_wall, 2), "peak_rss_mib": round(d_rss)}}

    results = {"tenant": {"users": args.users, "days": args.days, **sizes}, "setup": setup,
               "hunt": {"seconds": round(h_sec, 1), "peak_rss_mib": round(h_rss),
                        "incidents": len(report["incidents"]), "rules": per_rule},
               "hunt_within_1gib": {"seconds": round(b_sec, 1), "peak_rss_mib": round(b_rss), "same_report": True},
               "duckdb_version": version, "representative_rules": rules}
    (OUT / "hunt.json").write_text(json.dumps(results, indent=2))
    print(f"{sizes['signins']:,} sign-ins, {sizes['audits']:,} audit events, {sizes['mailbox_activity']:,} mailbox events")
    if setup:
        print(f"demo {setup['generate_seconds']} s, ingest {setup['ingest_seconds']} s ({setup['ingest_peak_rss_mib']} MiB)")
    print(f"sleuth hunt: {h_sec:.1f} s, peak {h_rss:.0f} MiB, {len(report['incidents'])} incidents")
    print(f"  with SLEUTH_MEMORY_LIMIT=1GiB: {b_sec:.1f} s, peak {b_rss:.0f} MiB, the same report")
    for rule, r in sorted(per_rule.items(), key=lambda kv: -kv[1]["seconds"]):
        print(f"  {rule:28} {r['seconds']:>7.2f} s {r['alerts']:>6} alerts")
    print(f"{'rule vs DuckDB':22} {'sleuth s':>9} {'alerts':>7} {'duckdb s':>9} {'rows':>7} {'MiB':>6}")
    for name, r in rules.items():
        print(f"{name:22} {r['sleuth']['seconds']:>9} {r['sleuth']['alerts']:>7} "
              f"{r['duckdb']['seconds']:>9} {r['duckdb']['rows']:>7} {r['duckdb']['peak_rss_mib']:>6}")


if __name__ == "__main__":
    main()
