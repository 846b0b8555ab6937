"""Ledger-size benchmark: does a payment slow down when the ledger is big? `make bench-ledger-size`.

Two databases seeded like `make bench` (chargepay_bench_size_small, chargepay_bench_size_large); the large one then
gets ENTRIES (default 10 000 000) more entries by set-based SQL: ENTRIES/2 grants of 1 km, spread over the same
1 000 wallets the payments debit (so their index pages are the busy ones), cached balances recomputed from the
entries. The small one keeps SMALL_ENTRIES (default 10 000). One gunicorn serves each; wrk posts Charge&Pay at 16
connections to one, then the other, round after round (RUNS, default 3), and the medians are compared.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from api_load import (
    ROOT,
    Row,
    free_port,
    git_commit,
    load_average,
    machine,
    partner_token,
    postgres_version,
    recreate_database,
    run_manage,
    run_wrk,
    seed,
    server_env,
    wait_http,
)


def load_entries(database_url: str, entries: int) -> float:
    """Add `entries` entries (entries/2 balanced grants over the seeded u* wallets) with set-based SQL."""
    started = time.perf_counter()
    with psycopg.connect(database_url, autocommit=True) as conn:
        issuance = conn.execute("SELECT id FROM ledger_account WHERE code = 'km_issuance'").fetchone()[0]
        conn.execute("ALTER TABLE ledger_entry DISABLE TRIGGER USER")
        conn.execute("ALTER TABLE ledger_transaction DISABLE TRIGGER USER")
        try:
            conn.execute(
                "CREATE TEMP TABLE bench_wallets AS SELECT row_number() OVER (ORDER BY a.id) - 1 AS n, a.id, a.customer_id"
                " FROM ledger_account a JOIN accounts_customer c ON c.id = a.customer_id"
                " WHERE a.unit = 'KM' AND c.name LIKE 'u%%'"
            )
            wallets = conn.execute("SELECT count(*) FROM bench_wallets").fetchone()[0]
            batch = 1_000_000  # transactions per statement, so progress shows and memory stays flat
            done = 0
            while done < entries // 2:
                count = min(batch, entries // 2 - done)
                conn.execute(
                    "WITH t AS (INSERT INTO ledger_transaction (kind, status, customer_id, reference, evse_id, service_data,"
                    " reason, created_at) SELECT 'KM_GRANT', 'CONFIRMED', w.customer_id, '', '', '{}', 'bench size', now()"
                    " FROM generate_series(1, %s) g JOIN bench_wallets w ON w.n = g %% %s RETURNING id, customer_id)"
                    " INSERT INTO ledger_entry (transaction_id, account_id, amount)"
                    " SELECT t.id, w.id, 1 FROM t JOIN bench_wallets w ON w.customer_id = t.customer_id"
                    " UNION ALL SELECT t.id, %s, -1 FROM t",
                    [count, wallets, issuance],
                )
                done += count
                print(f"  {2 * done:,} entries loaded ({time.perf_counter() - started:.0f} s)", flush=True)
            conn.execute(
                "UPDATE ledger_account a SET balance = s.total FROM (SELECT account_id, SUM(amount) AS total"
                " FROM ledger_entry GROUP BY account_id) s WHERE s.account_id = a.id AND a.kind = 'WALLET'"
            )
        finally:
            conn.execute("ALTER TABLE ledger_entry ENABLE TRIGGER USER")
            conn.execute("ALTER TABLE ledger_transaction ENABLE TRIGGER USER")
        conn.execute("VACUUM ANALYZE ledger_entry")
        conn.execute("VACUUM ANALYZE ledger_transaction")
        conn.execute("VACUUM ANALYZE ledger_account")
    return time.perf_counter() - started


def entry_count(database_url: str) -> int:
    with psycopg.connect(database_url) as conn:
        return conn.execute("SELECT count(*) FROM ledger_entry").fetchone()[0]


def ledger_consistent(database_url: str) -> bool:
    with psycopg.connect(database_url) as conn:
        off = conn.execute(
            "SELECT count(*) FROM ledger_account a LEFT JOIN (SELECT account_id, sum(amount) s FROM ledger_entry"
            " GROUP BY account_id) e ON e.account_id = a.id WHERE a.kind = 'WALLET' AND a.balance <> coalesce(e.s, 0)"
        ).fetchone()[0]
        negative = conn.execute("SELECT count(*) FROM ledger_account WHERE balance < 0").fetchone()[0]
    return off == 0 and negative == 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=int(os.environ.get("ENTRIES", "10000000")))
    parser.add_argument("--small-entries", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "4")))
    parser.add_argument("--threads", type=int, default=int(os.environ.get("GUNICORN_THREADS", "2")))
    parser.add_argument("--base-url", default=os.environ.get("BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432"))
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/8"))
    parser.add_argument("--results", help="write the results (markdown) to this file")
    parser.add_argument("--command", default="make bench-ledger-size")
    args = parser.parse_args()
    args.quiet_logs = False
    wallets = 1000

    sizes = {"small": args.small_entries, "large": args.entries}
    servers = {}
    processes = []
    try:
        for name, entries in sizes.items():
            database_url = f"{args.base_url}/chargepay_bench_size_{name}"
            recreate_database(database_url)
            args.database_url = database_url
            gateway_port, web_port = free_port(), free_port()
            env = server_env(args, gateway_port)
            run_manage(env, "migrate", "--noinput", "-v0")
            credentials = seed(env, wallets)
            extra = entries - entry_count(database_url)
            if extra > 0:
                print(f"{name}: loading {extra:,} entries", flush=True)
                seconds = load_entries(database_url, extra)
                print(f"{name}: loaded in {seconds:.0f} s", flush=True)
            total = entry_count(database_url)
            web_env = dict(env, GUNICORN_BIND=f"127.0.0.1:{web_port}")
            processes.append(
                subprocess.Popen(
                    [str(Path(sys.executable).parent / "gunicorn"), "chargepay.wsgi:application", "-c", "gunicorn.conf.py"],
                    cwd=ROOT,
                    env=web_env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            base = f"http://127.0.0.1:{web_port}"
            servers[name] = {"base": base, "credentials": credentials, "entries": total, "runs": [], "url": database_url}
        for server in servers.values():
            wait_http(f"{server['base']}/v1/partners/BENCH-001/ping")
            run_wrk(
                server["base"], Row("warm-up", "pay", 8), partner_token(server["base"], server["credentials"]), "1000", 2, "w"
            )
        for round_number in range(args.runs):
            for name, server in servers.items():
                token = partner_token(server["base"], server["credentials"])
                load = load_average()
                result = run_wrk(
                    server["base"], Row(name, "pay", args.connections), token, str(wallets), args.duration, f"r{round_number}"
                )
                result["load"] = load
                server["runs"].append(result)
                print(
                    f"round {round_number + 1}/{args.runs} {server['entries']:,} entries: {result['rps']:,.0f} req/s,"
                    f" p99 {result['p99_us'] / 1000:.1f} ms, errors {result['errors']} (load {load})",
                    flush=True,
                )
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=20)

    lines = [
        "| ledger | entries before the run | requests/s | p99 ms | errors | load avg during |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for name, server in servers.items():
        rps = statistics.median(run["rps"] for run in server["runs"])
        p99 = statistics.median(run["p99_us"] for run in server["runs"]) / 1000
        errors = sum(run["errors"] for run in server["runs"])
        loads = ", ".join(run["load"].split()[0] for run in server["runs"])
        server["rps"] = rps
        lines.append(f"| {name} | {server['entries']:,} | {rps:,.0f} | {p99:.1f} | {errors} | {loads} |")
    ratio = servers["large"]["rps"] / servers["small"]["rps"]
    consistent = all(ledger_consistent(server["url"]) for server in servers.values())
    errors = sum(run["errors"] for server in servers.values() for run in server["runs"])
    lines += [
        "",
        f"Charge&Pay POST at {args.connections} connections, median of {args.runs} interleaved runs of {args.duration} s."
        f" Throughput with {servers['large']['entries']:,} entries is **{ratio:.0%}** of that with"
        f" {servers['small']['entries']:,} (goal ≥ 90 %: {'PASS' if ratio >= 0.9 else 'MISS'}). Ledger consistent after the"
        f" runs (cached balances = entries, none negative): {consistent}.",
    ]
    table = "\n".join(lines)
    print()
    print(table)
    if args.results:
        info = machine()
        header = (
            f"Date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}. Machine: {info['nproc']} cores ({info['cpu']}),"
            f" PostgreSQL {postgres_version(servers['small']['url'])}. Commit {git_commit()}. Server: gunicorn,"
            f" {args.workers} workers × {args.threads} threads. Command: `{args.command}`."
        )
        Path(args.results).write_text(header + "\n\n" + table + "\n")
    return 0 if consistent and errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
