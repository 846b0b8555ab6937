"""In-process benchmark of the ledger service alone (no HTTP, no DRF): postings per second. `make bench-ledger`.

Seeds `chargepay_bench_ledger` like `make bench` (1 000 linked wallets), then each of P processes (1 and
PROCESSES, default 1,2,4) calls a payment service in a loop for DURATION seconds on wallets spread over the
1 000, each with its own database connection (durable commits). The payment, `charging_session_pay` (one
statement, ledger/sql/charging_session_pay.sql), is measured as its two callers use it:
- with an API key, as the API calls it (the key is checked in the statement);
- without one, as a trusted in-process caller (the partner found by its code).
Each figure is the median of RUNS (default 3) runs; the rows are interleaved round by round.
"""

import argparse
import multiprocessing
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from api_load import (
    PARTNER,
    git_commit,
    load_average,
    machine,
    postgres_version,
    recreate_database,
    run_manage,
    seed,
    server_env,
)

SERVICE_DATA = {"EVSE_ID": "DE*911E12345", "COUNTRY": "DE", "CITY": "Eschborn", "STREET": "Kölner Straße"}


def _worker(service: str, credentials: dict, seconds: float, nonce: str, start, counts) -> None:
    import django

    django.setup()
    from django.db import connection

    from ledger import services

    access_key_id = credentials["access_key_id"] if service == "with_key" else None
    connection.ensure_connection()
    start.wait()
    deadline = time.perf_counter() + seconds
    done = 0
    while time.perf_counter() < deadline:
        common = {
            "external_user_id": f"u{(done * 7919 + os.getpid()) % 1000}",
            "external_id": f"{nonce}-{os.getpid()}-{done}",
            "kilometer": 1,
            "service_data": SERVICE_DATA,
        }
        services.charging_session_pay(access_key_id=access_key_id, partner_code=PARTNER, **common)
        done += 1
    counts.put(done)


def measure(service: str, processes: int, credentials: dict, seconds: float, nonce: str) -> float:
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    counts = context.Queue()
    workers = [
        context.Process(target=_worker, args=(service, credentials, seconds, f"{nonce}-{i}", start, counts))
        for i in range(processes)
    ]
    for worker in workers:
        worker.start()
    time.sleep(3)  # let every process set Django up and connect before the clock starts
    start.set()
    total = sum(counts.get(timeout=seconds + 60) for _ in workers)
    for worker in workers:
        worker.join()
    return total / seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--processes", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2, 4])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_LEDGER_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/chargepay_bench_ledger"),
    )
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/8"))
    parser.add_argument("--results", help="write the results (markdown) to this file")
    parser.add_argument("--command", default="make bench-ledger")
    args = parser.parse_args()
    args.workers, args.threads, args.quiet_logs = 1, 1, True

    recreate_database(args.database_url)
    env = server_env(args, 1)
    run_manage(env, "migrate", "--noinput", "-v0")
    credentials = seed(env, 1000)
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "chargepay.settings"
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

    rows = {(service, p): [] for service in ("with_key", "no_key") for p in args.processes}
    loads = {key: [] for key in rows}
    for round_number in range(args.runs):
        for service, processes in rows:
            loads[(service, processes)].append(load_average().split()[0])
            rate = measure(service, processes, credentials, args.duration, f"r{round_number}{service}{processes}")
            rows[(service, processes)].append(rate)
            print(f"round {round_number + 1}/{args.runs} {service} × {processes}: {rate:,.0f} postings/s", flush=True)

    names = {"with_key": "charging_session_pay, API key", "no_key": "charging_session_pay, in-process (no key)"}
    lines = ["| service | processes | postings/s | runs | load avg during |", "|---|---:|---:|---|---|"]
    for (service, processes), rates in rows.items():
        runs = ", ".join(f"{rate:,.0f}" for rate in rates)
        during = ", ".join(loads[(service, processes)])
        lines.append(f"| {names[service]} | {processes} | {statistics.median(rates):,.0f} | {runs} | {during} |")
    table = "\n".join(lines)
    print()
    print(table)
    if args.results:
        info = machine()
        header = (
            f"Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. Machine: {info['nproc']} cores ({info['cpu']}),"
            f" PostgreSQL {postgres_version(args.database_url)}. Commit {git_commit()}. Durable commits, one connection per"
            f" process, {args.duration:g} s per run, median of {args.runs}. Command: `{args.command}`."
        )
        Path(args.results).write_text(header + "\n\n" + table + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
