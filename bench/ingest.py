#!/usr/bin/env python3
"""Ingest benchmark: Sleuth and DuckDB load the same sign-in exports into Parquet.

    python3 bench/ingest.py [--users 3700] [--days 30] [--format graph|log-analytics] [--rounds N]

Generates a demo tenant with every sign-in written as Microsoft Graph pages (the default: at
least one million sign-ins) or as the Log Analytics portal's CSV (`SigninLogs.csv`,
`AADNonInteractiveUserSignInLogs.csv`), then times `sleuth ingest` on the sign-in folder and
DuckDB on the same files (`read_json` or `read_csv` → Parquet), each as a child process whose
peak resident memory and CPU-seconds are read from the kernel (wait4); with --rounds N
each runs N times, alternated, and the median run is reported. DuckDB comes from PyPI into
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

from common import OUT, SLEUTH, build, duckdb_python, measured_with_cpu

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
    ap.add_argument("--rounds", type=int, default=1, help="runs of each, alternated; the median is reported")
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
    python, version = duckdb_python()
    duck_out = OUT / "duckdb-signins.parquet"
    runs = {"sleuth": [], "duckdb": []}
    rows = None
    # Alternated, so that a drift in this machine's speed falls on both alike.
    for _ in range(args.rounds):
        shutil.rmtree(store, ignore_errors=True)
        runs["sleuth"].append(measured_with_cpu([SLEUTH, "ingest", signins, "--store", store, "--quiet"]))
        runs["duckdb"].append(measured_with_cpu([python, "-c", DUCKDB_SCRIPT if graph else DUCKDB_CSV_SCRIPT, signins, duck_out]))
        rows = int(runs["duckdb"][-1][3].strip())

    def summary(measures):
        # The median run by wall time, and the spread of every run.
        sec, cpu, rss, _ = sorted(measures)[len(measures) // 2]
        return {
            "seconds": round(sec, 2),
            "cpu_seconds": round(cpu, 2),
            "records_per_s": round(records / sec),
            "records_per_cpu_s": round(records / cpu),
            "mb_per_s": round(mb / sec, 1),
            "peak_rss_mib": round(rss),
            "runs": [{"seconds": round(m[0], 2), "cpu_seconds": round(m[1], 2), "peak_rss_mib": round(m[2])} for m in measures],
        }

    results = {
        "format": args.format,
        "records": records,
        "input_mb": round(mb, 1),
        "rounds": args.rounds,
        "sleuth": summary(runs["sleuth"]),
        "duckdb": {"version": version, "rows": rows, **summary(runs["duckdb"])},
    }
    (OUT / ("ingest.json" if graph else "ingest-log-analytics.json")).write_text(json.dumps(results, indent=2))
    print(f"{records} sign-ins as {'Graph JSON pages' if graph else 'Log Analytics CSV'}, {mb:.0f} MB; median of {args.rounds} alternated run(s)")
    print(f"{'':8} {'seconds':>8} {'CPU-s':>7} {'records/s':>10} {'rec/CPU-s':>10} {'MB/s':>6} {'peak MiB':>9}")
    for name in ("sleuth", "duckdb"):
        r = results[name]
        print(f"{name:8} {r['seconds']:>8} {r['cpu_seconds']:>7} {r['records_per_s']:>10} {r['records_per_cpu_s']:>10} {r['mb_per_s']:>6} {r['peak_rss_mib']:>9}")
    s, d = results["sleuth"], results["duckdb"]
    print(f"DuckDB faster by {s['seconds'] / d['seconds']:.2f}x in wall time, {s['cpu_seconds'] / d['cpu_seconds']:.2f}x in CPU time")

if __name__ == "__main__":
    main()
