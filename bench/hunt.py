#!/usr/bin/env python3
"""Hunt benchmark: every built-in rule over a large demo tenant, and three representative rules
as plain SQL run by Sleuth (DataFusion) and by DuckDB on the same Parquet files.

    python3 bench/hunt.py [--users 36600] [--days 30] [--keep-export]

Generates the demo tenant (mixed dialects; about 10 million sign-ins and 1 million audit
events with the defaults), ingests it into bench/out/hunt-store-USERSxDAYS (kept between runs;
the export is deleted after ingesting unless --keep-export), then times `sleuth hunt` over the
whole store, and each representative query with `sleuth sql` and with DuckDB (2 threads, from
PyPI into bench/out/venv), every one as a child process whose peak resident memory comes from
wait4. Both engines must return the same number of rows. The representative queries are the
cores of password-spray, credential-stuffing and impossible-travel without the intelligence
functions, which DuckDB does not have. Results are printed and written to bench/out/hunt.json.
"""
import argparse
import json
import shutil
import subprocess

from common import OUT, SLEUTH, build, duckdb_python, measured

QUERIES = {
    "password-spray": """
SELECT coalesce('AS' || CAST(asn AS VARCHAR), ip_address) AS source, date_trunc('day', time) AS day,
       count(DISTINCT lower(user_principal_name)) AS users, count(*) AS failures
FROM signins
WHERE result_type IN (50126, 50053, 50034, 50055, 50056, 50057, 50064)
  AND ip_address IS NOT NULL AND user_principal_name IS NOT NULL AND time IS NOT NULL
GROUP BY 1, 2
HAVING count(DISTINCT lower(user_principal_name)) >= 5
""",
    "credential-stuffing": """
WITH s AS (
  SELECT record_id, time, lower(user_principal_name) AS u, ip_address AS ip, result_type
  FROM signins WHERE user_principal_name IS NOT NULL AND time IS NOT NULL AND ip_address IS NOT NULL
),
ok AS (
  SELECT record_id, time, u, lag(time) OVER (PARTITION BY u ORDER BY time, record_id) AS prev
  FROM s WHERE result_type = 0
)
SELECT ok.u, ok.record_id, count(*) AS failures, count(DISTINCT f.ip) AS ips
FROM ok JOIN s f ON f.u = ok.u AND f.result_type IN (50126, 50053, 50055, 50056, 50064)
 AND f.time < ok.time AND f.time >= ok.time - INTERVAL '24 hours' AND (ok.prev IS NULL OR f.time > ok.prev)
GROUP BY ok.u, ok.record_id
HAVING count(*) >= 5
""",
    "impossible-travel": """
WITH s AS (
  SELECT record_id, time, lower(user_principal_name) AS u, ip_address AS ip, latitude AS lat, longitude AS lon
  FROM signins
  WHERE result_type = 0 AND coordinates_valid AND user_principal_name IS NOT NULL AND time IS NOT NULL
),
steps AS (
  SELECT *, lag(time) OVER w AS pt, lag(lat) OVER w AS plat, lag(lon) OVER w AS plon, lag(ip) OVER w AS pip
  FROM s WINDOW w AS (PARTITION BY u ORDER BY time, record_id)
),
moves AS (
  SELECT u, record_id,
         2 * 6371 * asin(sqrt(power(sin(radians(lat - plat) / 2), 2)
                              + cos(radians(plat)) * cos(radians(lat)) * power(sin(radians(lon - plon) / 2), 2))) AS km,
         greatest(date_part('epoch', time) - date_part('epoch', pt), 1) / 3600.0 AS hours
  FROM steps WHERE pt IS NOT NULL AND ip <> pip
)
SELECT u, record_id, km, km / hours AS speed FROM moves WHERE km > 100 AND (km - 100) / hours > 900
""",
}

DUCKDB_SCRIPT = """
import duckdb, sys
con = duckdb.connect()
con.execute("SET threads = 2")
con.execute("SET TimeZone = 'UTC'")
con.execute("SET enable_progress_bar = false")
con.execute(f"CREATE VIEW signins AS SELECT * FROM read_parquet('{sys.argv[1]}/signins/*.parquet')")
print(con.execute(f"SELECT count(*) FROM ({sys.argv[2]}) t").fetchone()[0])
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, default=36600)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--keep-export", action="store_true")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    build()
    store, setup = tenant_store(args.users, args.days, args.keep_export)
    sizes = {t: count(store, t) for t in ("signins", "audits", "mailbox_activity", "message_trace", "risk_detections")}

    h_sec, h_rss, h_out = measured([SLEUTH, "hunt", "--store", store, "--format", "json", "--min-severity", "low"])
    report = json.loads(h_out)
    per_rule = {r["rule"]: {"alerts": r["alerts"], "seconds": round(r["millis"] / 1000, 2)} for r in report["rules"]}

    python, version = duckdb_python()
    queries = {}
    for name, sql in QUERIES.items():
        wrapped = f"SELECT count(*) AS n FROM ({sql}) t"
        s_sec, s_rss, s_out = measured([SLEUTH, "sql", "--store", store, "--format", "csv", wrapped], ok=(0,))
        d_sec, d_rss, d_out = measured([python, "-c", DUCKDB_SCRIPT, store, sql], ok=(0,))
        s_rows, d_rows = int(s_out.splitlines()[1]), int(d_out.strip())
        if s_rows != d_rows:
            raise SystemExit(f"{name}: Sleuth found {s_rows} rows, DuckDB {d_rows}")
        queries[name] = {"rows": s_rows,
                         "sleuth": {"seconds": round(s_sec, 2), "peak_rss_mib": round(s_rss)},
                         "duckdb": {"seconds": round(d_sec, 2), "peak_rss_mib": round(d_rss)}}

    results = {"tenant": {"users": args.users, "days": args.days, **sizes}, "setup": setup,
               "hunt": {"seconds": round(h_sec, 1), "peak_rss_mib": round(h_rss),
                        "incidents": len(report["incidents"]), "rules": per_rule},
               "duckdb_version": version, "queries": queries}
    (OUT / "hunt.json").write_text(json.dumps(results, indent=2))
    print(f"{sizes['signins']:,} sign-ins, {sizes['audits']:,} audit events, {sizes['mailbox_activity']:,} mailbox events")
    if setup:
        print(f"demo {setup['generate_seconds']} s, ingest {setup['ingest_seconds']} s ({setup['ingest_peak_rss_mib']} MiB)")
    print(f"sleuth hunt: {h_sec:.1f} s, peak {h_rss:.0f} MiB, {len(report['incidents'])} incidents")
    for rule, r in sorted(per_rule.items(), key=lambda kv: -kv[1]["seconds"]):
        print(f"  {rule:28} {r['seconds']:>7.2f} s {r['alerts']:>6} alerts")
    print(f"{'query':22} {'rows':>8} {'sleuth s':>9} {'MiB':>6} {'duckdb s':>9} {'MiB':>6}")
    for name, q in queries.items():
        print(f"{name:22} {q['rows']:>8} {q['sleuth']['seconds']:>9} {q['sleuth']['peak_rss_mib']:>6} "
              f"{q['duckdb']['seconds']:>9} {q['duckdb']['peak_rss_mib']:>6}")


if __name__ == "__main__":
    main()
