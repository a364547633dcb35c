#!/usr/bin/env python3
"""Workbench benchmark: how fast `sleuth serve` answers, and how much memory it holds, on one
store.

    python3 bench/serve.py --store demo/store [--concurrency 20]

Starts the release `sleuth serve` on the store (a copy of its case record is not needed: the
script starts from whatever the store holds) on a port the system picks, then times, from this
process over loopback: the queue page cold (the first hunt of the store, every severity; read
from the hunt kept beside the store when there is one, run when there is none or with
--forget-hunt) and warm (kept per store generation), the queue's API, one investigation of the top account
incident, the investigation's page, the entity pages of its first address and of its account,
a `count(*)` over the sign-ins through the SQL API, then N concurrent loads of the
investigation page and N concurrent investigations (of the accounts of the incidents at medium
and above, round robin). Memory is the server's resident set from /proc: at start (the first hunt
has begun), at rest once the hunt is kept, after the first investigation, the peak during each concurrent run (sampled every 50 ms), at rest after
it, and the kernel's high-water mark. Results are printed and written to bench/out/serve.json.
"""
import argparse
import json
import shutil
import statistics
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

from common import OUT, SLEUTH, build


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--store", required=True)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--no-build", action="store_true", help="use target/release/sleuth as it is")
    parser.add_argument("--forget-hunt", action="store_true",
                        help="delete the hunt kept beside the store first, so that the server hunts")
    args = parser.parse_args()
    kept = Path(args.store) / "_sleuth" / "hunts"
    if args.forget_hunt:
        shutil.rmtree(kept, ignore_errors=True)
    kept_at_start = kept.is_dir() and any(kept.glob("*.json"))
    if not args.no_build:
        build()
    server = subprocess.Popen(
        [SLEUTH, "serve", "--store", args.store, "--bind", "127.0.0.1:0", "--query-timeout", "3600"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    base = server.stdout.readline().strip().replace("listening on ", "")

    def rss(field="VmRSS"):
        with open(f"/proc/{server.pid}/status") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) // 1024

    def call(path, body=None):
        request = urllib.request.Request(base + path, data=None if body is None else json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})
        start = time.perf_counter()
        with urllib.request.urlopen(request, timeout=3600) as answer:
            data = answer.read()
        return time.perf_counter() - start, data

    def concurrent(n, work):
        times, errors, peak, stop = [None] * n, [], [rss()], threading.Event()

        def one(k):
            try:
                times[k] = work(k)
            except Exception as e:  # noqa: BLE001 - counted and reported
                errors.append(str(e))

        def sample():
            while not stop.is_set():
                peak[0] = max(peak[0], rss())
                time.sleep(0.05)

        sampler = threading.Thread(target=sample)
        sampler.start()
        start = time.perf_counter()
        workers = [threading.Thread(target=one, args=(k,)) for k in range(n)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        wall = time.perf_counter() - start
        stop.set()
        sampler.join()
        done = [t for t in times if t is not None]
        return {"wall_s": round(wall, 3), "median_s": round(statistics.median(done), 3) if done else None,
                "max_s": round(max(done), 3) if done else None, "errors": errors[:3], "peak_rss_mib": peak[0]}

    try:
        time.sleep(0.5)
        out = {"store": args.store, "kept_hunt_at_start": kept_at_start, "rss_at_start_mib": rss()}
        out["queue_page_cold_s"], _ = call("/")
        out["queue_page_warm_s"], _ = call("/")
        out["rss_at_rest_with_the_hunt_mib"] = rss()
        out["api_incidents_warm_s"], data = call("/api/incidents?severity=medium")
        incidents = [i for i in json.loads(data)["incidents"] if i["kind"] == "user"]
        out["account_incidents_medium_plus"] = len(incidents)
        out["investigate_incident_s"], data = call("/api/investigations", {"incident": incidents[0]["id"]})
        report = json.loads(data)
        out["verdict"] = report["verdict"]
        out["investigation_page_s"], _ = call("/investigations/" + report["id"])
        if report["iocs"]["ips"]:
            out["entity_ip_page_s"], _ = call("/entities/ip/" + report["iocs"]["ips"][0]["ip"])
        out["entity_user_page_s"], _ = call("/entities/user/" + report["subject"]["user"])
        out["sql_count_signins_s"], _ = call("/api/sql", {"sql": "SELECT count(*) FROM signins"})
        out["rss_after_one_investigation_mib"] = rss()
        users = sorted({i["users"][0] for i in incidents})
        n = args.concurrency
        out[f"concurrent_{n}_page_loads"] = concurrent(n, lambda k: call("/investigations/" + report["id"])[0])
        out[f"concurrent_{n}_investigations"] = concurrent(
            n, lambda k: call("/api/investigations", {"user": users[k % len(users)]})[0])
        time.sleep(2)
        out["rss_at_rest_after_mib"] = rss()
        out["peak_rss_mib"] = rss("VmHWM")
    finally:
        server.kill()
    out = {k: round(v, 3) if isinstance(v, float) else v for k, v in out.items()}
    print(json.dumps(out, indent=1))
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "serve.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
