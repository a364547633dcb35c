#!/usr/bin/env python3
"""Ingest benchmark: Sleuth and DuckDB load the same sign-in exports into Parquet.

    python3 bench/ingest.py [--users 3700] [--days 30] [--format graph|log-analytics]

Generates a demo tenant with every sign-in written as Microsoft Graph pages (the default: at
least one million sign-ins) or as the Log Analytics portal's CSV (`SigninLogs.csv`,
`AADNonInteractiveUserSignInLogs.csv`), then times `sleuth ingest` on the sign-in folder and
DuckDB on the same files (`read_json` or `read_csv` → Parquet), each as a child process whose
peak resident memory is read from the kernel (wait4). DuckDB comes from PyPI into
bench/out/venv; it is a reference only, not a dependency. DuckDB reads the Graph fields as JSON
values (maximum_depth 3): with full type inference it fails on these files (an empty deviceId
after sampled GUIDs); it reads the CSV columns with its own type sniffing and leaves the
dynamic columns (JSON inside the CSV) as text, where Sleuth parses them.
Results are printed and written to bench/out/ingest.json (ingest-log-analytics.json).
"""
import argparse
import json
import shutil
import subprocess

from common import OUT, SLEUTH, build, duckdb_python, measured

DUCKDB_SCRIPT = """
import duckdb, sys
con = duckdb.connect()
con.execute("SET threads = 2")
con.execute("SET enable_progress_bar = false")
con.execute(f\"\"\"COPY (SELECT unnest(value, max_depth := 2)
               FROM read_json('{sys.argv[1]}/*.json', maximum_object_size = 64000000, maximum_depth = 3))
               TO '{sys.argv[2]}' (FORMAT parquet)\"\"\")
print(con.execute(f"SELECT count(*) FROM '{sys.argv[2]}'").fetchone()[0])
"""

DUCKDB_CSV_SCRIPT = """
import duckdb, sys
con = duckdb.connect()
con.execute("SET threads = 2")
con.execute("SET enable_progress_bar = false")
con.execute(f\"\"\"COPY (SELECT * FROM read_csv('{sys.argv[1]}/*.csv', union_by_name = true))
               TO '{sys.argv[2]}' (FORMAT parquet)\"\"\")
print(con.execute(f"SELECT count(*) FROM '{sys.argv[2]}'").fetchone()[0])
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, default=3700)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--format", choices=["graph", "log-analytics"], default="graph")
    args = ap.parse_args()
    graph = args.format == "graph"
    OUT.mkdir(parents=True, exist_ok=True)
    build()

    tenant = OUT / (f"tenant-{args.users}x{args.days}" + ("" if graph else "-log-analytics"))
    if not (tenant / "manifest.json").exists():
        shutil.rmtree(tenant, ignore_errors=True)
        subprocess.run([SLEUTH, "demo", tenant, "--users", str(args.users), "--days", str(args.days), "--format", args.format], check=True)
    signins = tenant / "signins"
    records = json.loads((tenant / "manifest.json").read_text())["records"]["signins"]
    mb = sum(f.stat().st_size for f in signins.iterdir()) / 1e6

    store = OUT / "store"
    shutil.rmtree(store, ignore_errors=True)
    s_sec, s_rss, s_out = measured([SLEUTH, "ingest", signins, "--store", store, "--quiet"])

    python, version = duckdb_python()
    duck_out = OUT / "duckdb-signins.parquet"
    d_sec, d_rss, d_out = measured([python, "-c", DUCKDB_SCRIPT if graph else DUCKDB_CSV_SCRIPT, signins, duck_out])

    results = {
        "format": args.format,
        "records": records,
        "input_mb": round(mb, 1),
        "sleuth": {"seconds": round(s_sec, 2), "records_per_s": round(records / s_sec), "mb_per_s": round(mb / s_sec, 1), "peak_rss_mib": round(s_rss)},
        "duckdb": {"version": version, "rows": int(d_out.strip()), "seconds": round(d_sec, 2), "records_per_s": round(records / d_sec), "mb_per_s": round(mb / d_sec, 1), "peak_rss_mib": round(d_rss)},
    }
    (OUT / ("ingest.json" if graph else "ingest-log-analytics.json")).write_text(json.dumps(results, indent=2))
    print(f"{records} sign-ins as {'Graph JSON pages' if graph else 'Log Analytics CSV'}, {mb:.0f} MB")
    print(f"{'':8} {'seconds':>8} {'records/s':>10} {'MB/s':>6} {'peak MiB':>9}")
    for name in ("sleuth", "duckdb"):
        r = results[name]
        print(f"{name:8} {r['seconds']:>8} {r['records_per_s']:>10} {r['mb_per_s']:>6} {r['peak_rss_mib']:>9}")


if __name__ == "__main__":
    main()
