#!/usr/bin/env python3
"""KQL benchmark: seed 004's detection (three signals over AADSignInLogs, unioned and sorted)
through `sleuth kql`, beside the same question in Sleuth's SQL, on one store.

    python3 bench/kql.py --store bench/out/hunt-store-36600x30 [--runs 3] [--no-build]

The query is read from the seed as it is written (its 24-hour window, counted back from the
store's latest event, which is what `now()` means in `sleuth kql`), and once more with the
window widened to 30 days (the whole store) with --wide. The SQL is written by hand from the query's
logic. Each run is a child process (wall time, peak resident memory from wait4); the two
answers are compared row for row (user, signal, score, counts). Results are printed and
written to bench/out/kql.json.
"""
import argparse
import json
import statistics
import tempfile
from pathlib import Path

from common import OUT, ROOT, SLEUTH, build, measured

SQL = """
WITH now AS (SELECT TIMESTAMP '{now}' AS t),
win AS (SELECT * FROM signins WHERE time > (SELECT t FROM now) - INTERVAL '{hours} hours'),
stuffing AS (
  SELECT user_principal_name AS upn, 'CredentialStuffing' AS kind,
         count(*) FILTER (WHERE result_type <> 0) AS failures, count(*) FILTER (WHERE result_type = 0) AS successes,
         count(DISTINCT ip_address) AS ips
  FROM win WHERE result_type NOT IN (50053, 50076) GROUP BY 1
  HAVING count(*) FILTER (WHERE result_type <> 0) >= 5 AND count(*) FILTER (WHERE result_type = 0) >= 1
),
travel AS (
  SELECT user_principal_name AS upn, 'ImpossibleTravel' AS kind, 0 AS failures, count(*) AS successes,
         least(count(DISTINCT ip_address), 10) AS ips
  FROM win WHERE result_type = 0 AND country IS NOT NULL AND country <> ''
  GROUP BY user_principal_name, date_bin(INTERVAL '1 hour', time, TIMESTAMP '1970-01-01T00:00:00Z')
  HAVING count(DISTINCT country) > 1
),
hosting AS (
  SELECT user_principal_name AS upn, 'SuspiciousHostingASN' AS kind, 0 AS failures, count(*) AS successes,
         least(count(DISTINCT ip_address), 10) AS ips
  FROM win WHERE result_type = 0 AND ip_address ~ '^185\\.(220|129)\\.' GROUP BY 1
)
SELECT upn, kind, CASE WHEN kind = 'CredentialStuffing' THEN CASE WHEN ips > 5 THEN 90 WHEN ips > 2 THEN 75 ELSE 60 END
                       WHEN kind = 'ImpossibleTravel' THEN 85 ELSE 80 END AS score, failures, successes, ips
FROM (SELECT * FROM stuffing UNION ALL SELECT * FROM travel UNION ALL SELECT * FROM hosting)
"""


def seed_query():
    seed = next((ROOT.parent / "shared" / "seeds").glob("004*"))
    text = seed.read_text()
    start = text.index("let timeWindow")
    end = text.index("TimeGenerated desc", start) + len("TimeGenerated desc")
    return text[start:end]


def key(rows, names):
    return sorted(tuple(row[n] for n in names) for row in rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", required=True)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-build", action="store_true")
    parser.add_argument("--wide", action="store_true", help="also run both over 30 days (needs more memory than 24 GB for the SQL on 10 million sign-ins)")
    args = parser.parse_args()
    if not args.no_build:
        build()
    _, _, out = measured([SLEUTH, "kql", "--store", args.store, "--format", "json", "print now = now()"])
    now = json.loads(out)[0]["now"]
    count = json.loads(measured([SLEUTH, "sql", "--store", args.store, "--format", "json", "SELECT count(*) AS n FROM signins"])[2])[0]["n"]
    results = {"store": args.store, "signins": count, "now": now, "windows": {}}
    query = seed_query()
    windows = [(24, "24h (as written)")] + ([(30 * 24, "30d")] if args.wide else [])
    for hours, label in windows:
        text = query.replace("let timeWindow = 24h;", f"let timeWindow = {hours}h;")
        with tempfile.NamedTemporaryFile("w", suffix=".kql", delete=False) as f:
            f.write(text)
        kql_cmd = [SLEUTH, "kql", "--store", args.store, "--format", "json", "--file", f.name]
        sql_cmd = [SLEUTH, "sql", "--store", args.store, "--format", "json", SQL.format(now=now.replace("Z", ""), hours=hours)]
        kql_runs, sql_runs = [], []
        for _ in range(args.runs):
            kql_runs.append(measured(kql_cmd, ok=(0,)))
            sql_runs.append(measured(sql_cmd, ok=(0,)))
        Path(f.name).unlink()
        kql_rows = json.loads(kql_runs[-1][2])
        sql_rows = json.loads(sql_runs[-1][2])
        same = key(kql_rows, ["UserPrincipalName", "DetectionType", "RiskScore", "FailureCount", "SuccessCount", "UniqueIPs"]) == key(
            sql_rows, ["upn", "kind", "score", "failures", "successes", "ips"])
        results["windows"][label] = {
            "rows": len(kql_rows),
            "same_answer": same,
            "kql_seconds": [round(r[0], 2) for r in kql_runs],
            "sql_seconds": [round(r[0], 2) for r in sql_runs],
            "kql_median_s": round(statistics.median(r[0] for r in kql_runs), 2),
            "sql_median_s": round(statistics.median(r[0] for r in sql_runs), 2),
            "kql_peak_rss_mib": round(max(r[1] for r in kql_runs)),
            "sql_peak_rss_mib": round(max(r[1] for r in sql_runs)),
        }
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "kql.json").write_text(json.dumps(results, indent=1))
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
