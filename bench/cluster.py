#!/usr/bin/env python3
"""The hunt in this process and on a local Ballista cluster, side by side, on the same store.

    python3 bench/cluster.py [--users 3000] [--days 30] [--executors 2]

Generates and ingests the demo tenant like bench/hunt.py (kept in bench/out/hunt-store-USERSxDAYS,
so `--users 36600 --days 30` reuses hunt.py's ten-million-sign-in store), then times
`sleuth hunt` in process, starts `sleuth cluster scheduler` and N executors (one task at a time
each, so that N executors use N cores), times `sleuth hunt --cluster` over the same store, and
checks that both reports agree byte for byte but for the rules' `millis`. Wall time and the
client's peak resident memory come from wait4 (the executors' memory is not counted). Results
are printed and written to bench/out/cluster.json. docs/cluster.md reads them.
"""
import argparse
import json
import socket
import subprocess
import time

from common import OUT, SLEUTH, build, measured
from hunt import tenant_store


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def without_timing(report):
    return "\n".join(line for line in report.splitlines() if not line.strip().startswith('"millis":'))


def start_cluster(executors):
    scheduler = subprocess.Popen([SLEUTH, "cluster", "scheduler", "--bind", "127.0.0.1:0"], stdout=subprocess.PIPE,
                                 stderr=subprocess.DEVNULL, text=True)
    url = scheduler.stdout.readline().strip().removeprefix("listening on ")
    processes = [scheduler]
    for _ in range(executors):
        processes.append(subprocess.Popen(
            [SLEUTH, "cluster", "executor", "--scheduler", url, "--cores", "1", "--bind", f"127.0.0.1:{free_port()}",
             "--task-port", str(free_port())], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    time.sleep(2)
    return url, processes


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--users", type=int, default=3000)
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--executors", type=int, default=2)
    args = ap.parse_args()
    build()
    store, _ = tenant_store(args.users, args.days, False)
    hunt = [SLEUTH, "hunt", "--store", store, "--format", "json", "--min-severity", "low"]
    local_s, local_rss, local = measured(hunt)
    url, processes = start_cluster(args.executors)
    try:
        cluster_s, cluster_rss, remote = measured(hunt + ["--cluster", url])
    finally:
        for p in processes:
            p.kill()
            p.wait()
    same = without_timing(local) == without_timing(remote)
    sign_ins = subprocess.run([SLEUTH, "sql", "--store", store, "--format", "csv", "SELECT count(*) AS n FROM signins"],
                              capture_output=True, text=True, check=True).stdout.splitlines()[1]
    result = {"sign_ins": int(sign_ins), "executors": args.executors,
              "local": {"seconds": round(local_s, 1), "peak_rss_mib": round(local_rss)},
              "cluster": {"seconds": round(cluster_s, 1), "client_peak_rss_mib": round(cluster_rss)},
              "same_report": same}
    print(json.dumps(result, indent=2))
    (OUT / "cluster.json").write_text(json.dumps(result, indent=2))
    if not same:
        raise SystemExit("the cluster's report differs from the local one")


if __name__ == "__main__":
    main()
