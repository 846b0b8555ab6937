"""Load benchmark of the product as it runs in production: `make bench` (README "Benchmarks").

1. (Re)creates the PostgreSQL database `chargepay_bench_api` (BENCH_DATABASE_URL), migrates it and seeds it: a
   partner with an API key, WALLETS customers linked as u0..u(N-1) with big kilometer balances (set-based SQL,
   each funded by a real grant transaction), one hot wallet `hot`, a HOP service account and cards on record.
2. Starts the gateway sandbox and gunicorn (gunicorn.conf.py, DEBUG off, production settings, a real Redis broker
   and cache) on free loopback ports.
3. Loads it from a separate process, wrk (bench/wrk/chargepay.lua), row by row: the no-database ping (the
   reference), Charge&Pay POST spread over the wallets and on one hot wallet at each concurrency, GET balance,
   HOP charge POST. The rows are interleaved round by round (RUNS rounds), so a change in the machine's load hits
   every row alike; each figure is the median of the rounds.
4. Checks the ledger afterwards: every wallet's balance equals the sum of its entries and is not negative, every
   transaction balances, and the payments recorded equal the 201s wrk saw.
5. Prints one table with each row's ratio to the ping at the same concurrency; `--results` writes it to a file.

The rate limits stay on (PARTNER_RATE_LIMIT and SERVICE_ACCOUNT_RATE_LIMIT are set above what the run can reach);
any 429 is an error.
"""

import argparse
import gzip
import json
import os
import platform
import random
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import requests

ROOT = Path(__file__).resolve().parent.parent
WRK_SCRIPT = ROOT / "bench" / "wrk" / "chargepay.lua"
PARTNER = "BENCH-001"
HOP_EMAIL = "hop.bench@chargepay.example"
HOP_PASSWORD = "bench-hop-password-2026"
HOT_BALANCE = 10**15
WALLET_BALANCE = 10**12
CARDS = 200  # customers u0.. with a card on record (HOP charges)
# The bulkhead row: Charge&Pay at c=4 while every authorization takes SLOW_GATEWAY_SECONDS at the gateway and
# HOP_CLIENTS HOP clients keep charging cards (each waits for its answer, and honours Retry-After on a 503).
SLOW_GATEWAY_MODE = "pay-gw-slow"
SLOW_GATEWAY_SECONDS = 3
HOP_CLIENTS = 16
BULKHEAD_CONNECTIONS = 4


@dataclass
class Row:
    name: str
    mode: str
    connections: int
    runs: list[dict] = field(default_factory=list)

    @property
    def key(self) -> tuple[str, int]:
        return self.mode, self.connections

    def median(self, name: str) -> float:
        return statistics.median(run[name] for run in self.runs)

    @property
    def rps(self) -> float:
        return self.median("rps")

    @property
    def errors(self) -> int:
        return sum(run["errors"] for run in self.runs)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url: str, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {seconds} s")


def server_env(args, gateway_port: int) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DEBUG="false",
        SECRET_KEY="bench-secret-key-not-for-production-0123456789",
        JWT_SIGNING_KEY="bench-jwt-signing-key-not-for-production-012345",
        SECURE_SSL_REDIRECT="false",
        ALLOWED_HOSTS="127.0.0.1,localhost",
        DATABASE_URL=args.database_url,
        REDIS_URL=args.redis_url,
        CELERY_TASK_ALWAYS_EAGER="false",
        PARTNER_RATE_LIMIT="100000000/min",
        SERVICE_ACCOUNT_RATE_LIMIT="100000000/min",
        GATEWAY_URL=f"http://127.0.0.1:{gateway_port}/PaymentService/RequestHandler.svc",
        WEB_CONCURRENCY=str(args.workers),
        GUNICORN_THREADS=str(args.threads),
        LOG_LEVEL=os.environ.get("LOG_LEVEL", "WARNING" if args.quiet_logs else "INFO"),
        PYTHONDONTWRITEBYTECODE="1",
    )
    env.pop("DJANGO_SETTINGS_MODULE", None)
    return env


def admin_url(database_url: str) -> tuple[str, str]:
    base, _, name = database_url.rpartition("/")
    return base + "/postgres", name


def recreate_database(database_url: str) -> None:
    url, name = admin_url(database_url)
    if not re.fullmatch(r"chargepay_bench\w*", name):
        raise SystemExit(f"refusing to drop {name!r}: benchmark databases are named chargepay_bench*")
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(database_url: str) -> None:
    url, name = admin_url(database_url)
    if re.fullmatch(r"chargepay_bench\w*", name):
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run_manage(env: dict, *argv: str) -> str:
    result = subprocess.run([sys.executable, "manage.py", *argv], cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    return result.stdout


SEED_SCRIPT = """
import json, sys
from datetime import date
from django.db import connection, transaction
from accounts import services as accounts_services
from ledger import services as ledger_services
wallets, cards, wallet_balance, hot_balance = (int(a) for a in sys.argv[1:5])
partner = ledger_services.partner_create(code="BENCH-001", name="Bench Partner")
key, secret = accounts_services.api_key_create(partner=partner, label="bench")
accounts_services.service_account_create(partner=partner, email="hop.bench@chargepay.example", password="bench-hop-password-2026")
with transaction.atomic(), connection.cursor() as cursor:
    cursor.execute("SELECT id FROM ledger_account WHERE code = 'km_issuance'")
    issuance = cursor.fetchone()[0]
    # Customers u0..u(N-1) and hot, each with KM and USD wallets and a LINKED link to the partner.
    cursor.execute(
        "INSERT INTO accounts_customer (email, name, created_at)"
        " SELECT '', CASE WHEN g < %s THEN 'u' || g ELSE 'hot' END, now() FROM generate_series(0, %s) g",
        [wallets, wallets],
    )
    cursor.execute(
        "INSERT INTO ledger_account (kind, unit, customer_id, balance, created_at)"
        " SELECT 'WALLET', u.unit, c.id, 0, now() FROM accounts_customer c CROSS JOIN (VALUES ('KM'), ('USD')) u(unit)"
    )
    cursor.execute(
        "INSERT INTO accounts_partnerlink"
        " (partner_id, external_user_id, customer_id, status, activation_code_digest, created_at, linked_at)"
        " SELECT %s, c.name, c.id, 'LINKED', '', now(), now() FROM accounts_customer c",
        [partner.pk],
    )
    # Fund every KM wallet with one real grant: a transaction, two entries, the cached balance.
    cursor.execute(
        "INSERT INTO ledger_transaction (kind, status, customer_id, reference, evse_id, service_data, reason, created_at)"
        " SELECT 'KM_GRANT', 'CONFIRMED', c.id, '', '', '{}', 'bench funding', now() FROM accounts_customer c"
    )
    cursor.execute(
        "INSERT INTO ledger_entry (transaction_id, account_id, amount)"
        " SELECT t.id, a.id, CASE WHEN c.name = 'hot' THEN %s ELSE %s END"
        " FROM ledger_transaction t JOIN accounts_customer c ON c.id = t.customer_id"
        " JOIN ledger_account a ON a.customer_id = c.id AND a.unit = 'KM'"
        " UNION ALL SELECT t.id, %s, CASE WHEN c.name = 'hot' THEN -%s ELSE -%s END"
        " FROM ledger_transaction t JOIN accounts_customer c ON c.id = t.customer_id",
        [hot_balance, wallet_balance, issuance, hot_balance, wallet_balance],
    )
    cursor.execute(
        "UPDATE ledger_account a SET balance = s.total FROM (SELECT account_id, SUM(amount) AS total FROM ledger_entry"
        " GROUP BY account_id) s WHERE s.account_id = a.id AND a.kind = 'WALLET'"
    )
    # Cards on record for the first customers (HOP charges), stored by the partner, so its account may charge them.
    cursor.execute(
        "INSERT INTO gateways_paymentmethod (customer_id, partner_id, token, expires_at, created_at, last_used_at)"
        " SELECT c.id, %s, '1000000074340019', %s, now(), now() FROM accounts_customer c"
        " WHERE c.name <> 'hot' AND substr(c.name, 2)::int < %s",
        [partner.pk, date(2030, 12, 31), cards],
    )
    cursor.execute("SELECT min(customer_id), max(customer_id) FROM gateways_paymentmethod")
    first_card, last_card = cursor.fetchone()
    cursor.execute("ANALYZE")
print(json.dumps({"access_key_id": key.access_key_id, "secret": secret, "cards": [first_card, last_card]}))
"""


def seed(env: dict, wallets: int) -> dict:
    out = run_manage(
        env, "shell", "-c", SEED_SCRIPT.replace("sys.argv[1:5]", repr([wallets, CARDS, WALLET_BALANCE, HOT_BALANCE]))
    )
    return json.loads(out.strip().splitlines()[-1])


def partner_token(base: str, credentials: dict) -> str:
    response = requests.post(
        f"{base}/public/v1/login/partner/token", auth=(credentials["access_key_id"], credentials["secret"]), timeout=10
    )
    response.raise_for_status()
    return response.json()["accessToken"]


def hop_token(base: str) -> str:
    response = requests.post(
        f"{base}/api/v1/auth/token", json={"auth": {"email": HOP_EMAIL, "password": HOP_PASSWORD}}, timeout=10
    )
    response.raise_for_status()
    return response.json()["data"]["jwt"]


PAYMENT_MODES = ("pay", "pay-hot", SLOW_GATEWAY_MODE)


class HopClients:
    """HOP_CLIENTS threads, each charging a card in a loop through the HOP API and waiting for the answer; a 503
    (the bulkhead) is timed and its Retry-After honoured. Runs beside a wrk run of Charge&Pay."""

    def __init__(self, base: str, jwt: str, customers: tuple[int, int], count: int = HOP_CLIENTS):
        self.base, self.jwt, self.customers, self.count = base, jwt, customers, count
        self.stop_event = threading.Event()
        self.lock = threading.Lock()
        self.statuses: dict[str, int] = {}
        self.refusal_seconds: list[float] = []
        self.threads = [threading.Thread(target=self._client, args=(index,), daemon=True) for index in range(count)]

    def __enter__(self) -> "HopClients":
        for thread in self.threads:
            thread.start()
        time.sleep(0.5)  # every client is waiting on the gateway or has been refused once before wrk starts
        return self

    def __exit__(self, *exc) -> None:
        self.stop_event.set()
        for thread in self.threads:
            thread.join(timeout=SLOW_GATEWAY_SECONDS + 15)

    def _client(self, index: int) -> None:
        first, last = self.customers
        headers = {"Authorization": f"Bearer {self.jwt}"}
        with requests.Session() as session:
            n = index
            while not self.stop_event.is_set():
                customer = first + n % (last - first + 1)
                n += self.count
                started = time.monotonic()
                try:
                    response = session.post(
                        f"{self.base}/api/v1/users/{customer}/charges",
                        json={"charge": {"amount_in_cents": 500}},
                        headers=headers,
                        timeout=SLOW_GATEWAY_SECONDS + 10,
                    )
                    status = str(response.status_code)
                except requests.RequestException as error:
                    response, status = None, type(error).__name__
                elapsed = time.monotonic() - started
                with self.lock:
                    self.statuses[status] = self.statuses.get(status, 0) + 1
                    if status == "503":
                        self.refusal_seconds.append(elapsed)
                if response is not None and response.status_code == 503:
                    # Retry-After with jitter, as a well-behaved client does (no synchronised bursts).
                    delay = float(response.headers.get("Retry-After", "1")) * random.uniform(1.0, 1.5)  # noqa: S311
                    self.stop_event.wait(delay)

    def summary(self) -> dict:
        refusals = sorted(self.refusal_seconds)
        return {
            "hop_statuses": dict(self.statuses),
            "hop_refused": len(refusals),
            "hop_refused_max_s": refusals[-1] if refusals else 0.0,
            "hop_refused_over_1s": sum(1 for seconds in refusals if seconds >= 1.0),
        }


def slow_gateway(gateway: str, seconds: float | None) -> None:
    """Every authorization takes `seconds` at the sandbox (booked, then answered late), or none (None)."""
    if seconds is None:
        requests.post(f"{gateway}/_sandbox/reset", timeout=10).raise_for_status()
        return
    fault = {"kind": "slow", "request_type": "004", "seconds": seconds, "record": True, "count": 1_000_000}
    requests.post(f"{gateway}/_sandbox/faults", json=fault, timeout=10).raise_for_status()


def run_wrk(base: str, row: Row, token: str, users: str, duration: float, nonce: str) -> dict:
    threads = min(2, row.connections)
    wrk_mode = "pay" if row.mode == SLOW_GATEWAY_MODE else row.mode
    command = [
        "wrk", f"-t{threads}", f"-c{row.connections}", f"-d{int(duration)}s", "--timeout", "5s", "-s", str(WRK_SCRIPT),
        base, "--", wrk_mode, token, nonce, users, PARTNER,
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    line = next(line for line in result.stdout.splitlines() if line.startswith("BENCH_JSON "))
    data = json.loads(line.removeprefix("BENCH_JSON "))
    expected = {"pay": 201, "pay-hot": 201, "hop": 201, SLOW_GATEWAY_MODE: 201}.get(row.mode, 200)
    # A HOP charge beyond the bulkhead's slots (one gateway call per process) is answered 503 10019 by design:
    # counted as shed, not as an error (wrk does not honour Retry-After).
    shed = data["statuses"].get("503", 0) if row.mode == "hop" else 0
    data["shed"] = shed
    data["rps"] = (data["requests"] - shed) / (data["duration_us"] / 1e6)  # charges answered, not refusals
    data["errors"] = (
        data["socket_errors"]
        + data["timeouts"]
        + sum(count for status, count in data["statuses"].items() if int(status) != expected)
        - shed
    )
    data["ok"] = data["statuses"].get(str(expected), 0)
    return data


def profile_row(base: str, master_pid: int, credentials: dict, users: str, args, hop: tuple[str, str]) -> int:
    """Profiles one extra run of Charge&Pay POST (or, with --profile-mode hop, HOP charge POST) at 16 connections,
    not counted in the table (sampling slows the workers), three ways at once:
    - py-spy --gil: where the workers' CPU goes (only the thread holding each worker's GIL is sampled);
    - py-spy --idle: where the workers' wall time goes (waiting on PostgreSQL, Redis, the gateway included);
    - pg_stat_activity sampled 20 times a second: what the server's backends of this database are doing.
    Writes bench/profiles/<mode>-c16.summary.txt and the stacks, <mode>-c16.{gil,wall}.collapsed.txt.gz. Returns the
    payments made."""
    py_spy = Path(sys.executable).parent / "py-spy"
    out = ROOT / "bench" / "profiles"
    out.mkdir(exist_ok=True)
    mode = args.profile_mode
    seconds = max(args.duration, 5)
    raws = {kind: out / f"{mode}-c16.{kind}.collapsed.txt" for kind in ("gil", "wall")}
    spies = []
    for kind, raw in raws.items():
        command = [str(py_spy), "record", "--pid", str(master_pid), "--subprocesses", "--gil" if kind == "gil" else "--idle"]
        command += ["--format", "raw", "--rate", "200", "--duration", str(seconds + 1), "--output", str(raw), "--nonblocking"]
        spies.append(subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    waits: dict[str, int] = {}
    stop = threading.Event()

    def sample_backends() -> None:
        with psycopg.connect(args.database_url, autocommit=True) as conn:
            while not stop.wait(0.05):
                for state, event in conn.execute(
                    "SELECT state, coalesce(wait_event_type || ':' || wait_event, 'on CPU') FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
                ).fetchall():
                    name = "idle (waiting for the application)" if state == "idle" else f"{state}, {event}"
                    waits[name] = waits.get(name, 0) + 1

    sampler = threading.Thread(target=sample_backends, daemon=True)
    time.sleep(1)
    token, targets = (hop[0], hop[1]) if mode == "hop" else (partner_token(base, credentials), users)
    sampler.start()
    cpu_before, children_before = cpu_by_program(), resource.getrusage(resource.RUSAGE_CHILDREN)
    result = run_wrk(base, Row("profile", mode, 16), token, targets, seconds, "profile")
    cpu_after, children_after = cpu_by_program(), resource.getrusage(resource.RUSAGE_CHILDREN)
    # wrk has ended by now, so /proc no longer shows it: take its CPU from this process's finished children.
    wrk_seconds = (children_after.ru_utime + children_after.ru_stime) - (children_before.ru_utime + children_before.ru_stime)
    cpu_after["wrk (load generator)"] = round(wrk_seconds * os.sysconf("SC_CLK_TCK"))
    stop.set()
    sampler.join(timeout=5)
    for spy in spies:
        spy.wait(timeout=60)
    total = sum(waits.values()) or 1
    backends = [f"PostgreSQL backends of {Path(args.database_url).name} (pg_stat_activity, sampled every 50 ms):"]
    backends += [f"  {count / total:6.1%}  {name}" for name, count in sorted(waits.items(), key=lambda item: -item[1])]
    used = {name: cpu_after.get(name, 0) - cpu_before.get(name, 0) for name in cpu_after}
    cores = [f"CPU time of the whole machine during the run, by program ({os.cpu_count()} cores, {seconds} s, /proc):"]
    cores += [
        f"  {ticks / os.sysconf('SC_CLK_TCK') / seconds:5.2f} cores  {name}"
        for name, ticks in sorted(used.items(), key=lambda item: -item[1])
        if ticks > 0
    ][:10]
    serving = sum(ticks for name, ticks in used.items() if name != "py-spy") / os.sysconf("SC_CLK_TCK")
    cores.append(f"  = {result['requests'] / max(serving, 1e-9):,.0f} requests per CPU-second, py-spy's left out")
    summary = (
        f"{mode} at 16 connections: {result['rps']:,.0f} req/s while sampled (load {load_average()})\n\n"
        + "\n".join(cores) + "\n\n"
        + "CPU (py-spy --gil)\n" + summarize_profile(raws["gil"], "samples of the GIL holder")
        + "\nWall time (py-spy --idle)\n" + summarize_profile(
            raws["wall"], "samples of threads serving a request, waiting or not", only_requests=True
        )
        + "\n" + "\n".join(backends) + "\n"
    )  # fmt: skip
    (out / f"{mode}-c16.summary.txt").write_text(summary)
    for raw in raws.values():  # the stacks, kept small: gunzip, then any flame-graph tool reads them
        if raw.exists():
            raw.with_name(raw.name + ".gz").write_bytes(gzip.compress(raw.read_bytes()))
            raw.unlink()
    print(f"profile: bench/profiles/{mode}-c16.summary.txt")
    print(summary)
    return result["ok"] if mode == "pay" else 0


def cpu_by_program() -> dict[str, int]:
    """Clock ticks of user + system CPU used so far by every process on the machine, summed by program name (the
    py-spy samplers and this script are listed too)."""
    ticks: dict[str, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            raw = stat.read_text()
        except OSError:
            continue  # the process ended
        name = raw[raw.index("(") + 1 : raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2 :].split()
        name = "gunicorn (chargepay)" if name.startswith("gunicorn") else name
        ticks[name] = ticks.get(name, 0) + int(fields[11]) + int(fields[12])
    return ticks


PROFILE_PARTS = [
    # (part of the request, a frame that marks it), first match wins
    ("rate limit (Redis round trip)", "PartnerRateThrottle.allow_request"),
    ("HOP: the gateway call (HTTP to the sandbox)", "bridgecomm/client.py"),
    ("HOP: enqueueing the capture (Celery, Redis)", "gateways/queue.py"),
    ("HOP: recording the authorization, the ledger credit", "card_charge_record_authorization"),
    ("HOP: other charge work (queries, the charge row)", "_ChargeCreateView"),
    ("token check (JWT)", "_partner_token_claims"),
    ("body validation (fast path)", "transaction_request_fast"),
    ("body validation (serializer)", "TransactionRequestSerializer"),
    ("body parsing (JSON)", "Request.data"),
    ("the payment statement (psycopg, model)", "charging_session_pay"),
    ("rendering the answer", "Response.rendered_content"),
    ("other DRF (negotiation, permissions, view)", "APIView.dispatch"),
    ("Django (middleware, request/response)", "WSGIHandler.__call__"),
    ("gunicorn (HTTP parsing, sockets, threads)", "ThreadWorker.handle"),
]


def summarize_profile(raw: Path, what: str, top: int = 20, only_requests: bool = False) -> str:
    """The share of each part of a request in a py-spy recording, then the functions with the most own samples."""
    parts: dict[str, int] = {}
    own: dict[str, int] = {}
    total = 0
    for line in (raw.read_text() if raw.exists() else "").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        frames = [frame for frame in stack.split(";") if not frame.startswith("process ")]
        frames = [re.sub(r":\d+\)$", ")", frame) for frame in frames]
        if only_requests and not any("WSGIHandler.__call__" in frame for frame in frames):
            continue  # a thread waiting for work, not serving a request
        total += samples
        part = next((name for name, marker in PROFILE_PARTS if any(marker in frame for frame in frames)), "other")
        parts[part] = parts.get(part, 0) + samples
        if frames:
            own[frames[-1]] = own.get(frames[-1], 0) + samples
    lines = [f"{total} {what}, over all gunicorn workers", "", "by part of the request:"]
    total = total or 1
    for part, samples in sorted(parts.items(), key=lambda item: -item[1]):
        lines.append(f"  {samples / total:6.1%}  {part}")
    lines += ["", "functions with the most own samples:"]
    for frame, samples in sorted(own.items(), key=lambda item: -item[1])[:top]:
        lines.append(f"  {samples / total:6.1%}  {frame}")
    return "\n".join(lines) + "\n"


def build_rows(args) -> list[Row]:
    """The rows in table order."""
    rows = [Row(f"ping (no database) c={c}", "ping", c) for c in args.concurrency]
    rows += [Row(f"Charge&Pay POST, {args.wallets} wallets c={c}", "pay", c) for c in args.concurrency]
    rows += [Row(f"Charge&Pay POST, one hot wallet c={c}", "pay-hot", c) for c in args.concurrency]
    rows.append(Row(f"GET balance c={args.read_concurrency}", "balance", args.read_concurrency))
    rows.append(Row(f"HOP charge POST (sandbox) c={args.read_concurrency}", "hop", args.read_concurrency))
    c = BULKHEAD_CONNECTIONS
    if c not in args.concurrency:
        rows.append(Row(f"Charge&Pay POST, {args.wallets} wallets c={c}", "pay", c))
    rows.append(
        Row(
            f"Charge&Pay c={c} while the gateway takes {SLOW_GATEWAY_SECONDS} s and {HOP_CLIENTS} HOP clients wait",
            SLOW_GATEWAY_MODE,
            c,
        )
    )
    if args.rows:
        wanted = set(args.rows)
        if SLOW_GATEWAY_MODE in wanted:
            wanted.add("pay")  # its reference: Charge&Pay alone at the same concurrency, in the same round
        rows = [row for row in rows if row.mode in wanted or (row.mode == "ping")]
    return rows


def run_order(rows: list[Row], round_number: int) -> list[Row]:
    """The order of one round: rows compared with each other run back to back (each concurrency's ping, spread and
    hot rows; the read and HOP rows next to the ping at their concurrency), and every round starts one group later,
    so no row always meets the same moment of a drifting machine load."""
    groups: dict[int, list[Row]] = {}
    for row in rows:
        groups.setdefault(row.connections, []).append(row)
    ordered = [groups[c] for c in sorted(groups, key=lambda c: (c != 16, c))]
    shift = round_number % len(ordered)
    return [row for group in ordered[shift:] + ordered[:shift] for row in group]


def ratio(row: Row, reference: Row) -> float:
    """Median over the rounds of the row's requests/s divided by the reference's in the same round."""
    return statistics.median(run["rps"] / ref["rps"] for run, ref in zip(row.runs, reference.runs, strict=True))


def ledger_checks(database_url: str, wrk_paid: int, in_flight: int) -> dict:
    with psycopg.connect(database_url) as conn:
        checks = {}
        checks["negative_wallets"] = conn.execute("SELECT count(*) FROM ledger_account WHERE balance < 0").fetchone()[0]
        checks["wallets_off_their_entries"] = conn.execute(
            "SELECT count(*) FROM ledger_account a LEFT JOIN (SELECT account_id, sum(amount) s FROM ledger_entry"
            " GROUP BY account_id) e ON e.account_id = a.id WHERE a.kind = 'WALLET' AND a.balance <> coalesce(e.s, 0)"
        ).fetchone()[0]
        checks["unbalanced_transactions"] = conn.execute(
            "SELECT count(*) FROM (SELECT e.transaction_id FROM ledger_entry e JOIN ledger_account a ON a.id = e.account_id"
            " GROUP BY e.transaction_id, a.unit HAVING sum(e.amount) <> 0) x"
        ).fetchone()[0]
        checks["payments_recorded"] = conn.execute(
            "SELECT count(*) FROM ledger_transaction WHERE kind = 'PAY_FOR_CHARGING_SESSION'"
        ).fetchone()[0]
        checks["payments_answered_201"] = wrk_paid
        hot = conn.execute(
            "SELECT a.balance, (SELECT sum(amount) FROM ledger_entry WHERE account_id = a.id) FROM ledger_account a"
            " JOIN accounts_customer c ON c.id = a.customer_id WHERE c.name = 'hot' AND a.unit = 'KM'"
        ).fetchone()
        checks["hot_wallet_balance"], checks["hot_wallet_entries_sum"] = hot
    checks["ok"] = (
        checks["negative_wallets"] == 0
        and checks["wallets_off_their_entries"] == 0
        and checks["unbalanced_transactions"] == 0
        # wrk does not count the answers still in flight when a run ends; the server did pay them.
        and 0 <= checks["payments_recorded"] - checks["payments_answered_201"] <= in_flight
        and checks["hot_wallet_balance"] == checks["hot_wallet_entries_sum"] >= 0
    )
    return checks


def machine() -> dict:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30),
    }


def postgres_version(database_url: str) -> str:
    with psycopg.connect(database_url) as conn:
        return conn.execute("SHOW server_version").fetchone()[0]


def git_commit() -> str:
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
        # The benchmarks' own outputs do not count as changes to what was measured.
        outputs = [":!bench/results", ":!bench/profiles", ":!bench/RESULTS.md"]
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", ".", *outputs], cwd=ROOT, capture_output=True, text=True
        ).stdout.strip()
        return commit + (" (with uncommitted changes)" if dirty else "")
    except OSError:
        return "unknown"


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def evaluate_goals(rows: list[Row], checks: dict) -> list[tuple[str, bool | None, str]]:
    by_key = {row.key: row for row in rows}
    goals = []
    pay16, ping16, hot16 = by_key.get(("pay", 16)), by_key.get(("ping", 16)), by_key.get(("pay-hot", 16))
    if pay16 and ping16:
        pay_ratio = ratio(pay16, ping16)
        p99 = pay16.median("p99_us") / 1000
        goals.append(("Charge&Pay POST c=16 ≥ 50 % of ping c=16", pay_ratio >= 0.5, f"{pay_ratio:.0%}"))
        goals.append(("Charge&Pay POST c=16 p99 ≤ 30 ms", p99 <= 30, f"{p99:.1f} ms"))
        goals.append(("Charge&Pay POST c=16 zero errors", pay16.errors == 0, f"{pay16.errors} errors"))
    if hot16 and pay16:
        hot_ratio = ratio(hot16, pay16)
        goals.append(("one hot wallet c=16 ≥ 60 % of spread c=16", hot_ratio >= 0.6, f"{hot_ratio:.0%}"))
        goals.append(("one hot wallet zero errors", hot16.errors == 0, f"{hot16.errors} errors"))
    goals.append(("never a negative balance; ledger consistent", checks["ok"], f"hot wallet {checks['hot_wallet_balance']:,}"))
    slow = by_key.get((SLOW_GATEWAY_MODE, BULKHEAD_CONNECTIONS))
    alone = by_key.get(("pay", BULKHEAD_CONNECTIONS))
    if slow and alone:
        slow_ratio = ratio(slow, alone)
        refused = sum(run["hop_refused"] for run in slow.runs)
        late = sum(run["hop_refused_over_1s"] for run in slow.runs)
        slowest = max(run["hop_refused_max_s"] for run in slow.runs)
        goals.append(
            (f"Charge&Pay c={BULKHEAD_CONNECTIONS}, slow gateway ≥ 80 % of alone", slow_ratio >= 0.8, f"{slow_ratio:.0%}")
        )
        goals.append(("Charge&Pay beside the slow gateway zero errors", slow.errors == 0, f"{slow.errors} errors"))
        goals.append(
            ("HOP charges refused by the bulkhead answered within 1 s", late == 0, f"{refused} refused, slowest {slowest:.3f} s")
        )
    hop = next((row for row in rows if row.mode == "hop"), None)
    ping_same = hop and by_key.get(("ping", hop.connections))
    if hop and ping_same:
        hop_ratio = ratio(hop, ping_same)
        goals.append((f"HOP charge POST c={hop.connections} ≥ 40 % of ping", hop_ratio >= 0.4, f"{hop_ratio:.0%}"))
    return goals


def render(rows: list[Row], args, goals, checks) -> str:
    by_key = {row.key: row for row in rows}
    lines = [
        "| row | requests/s | p50 ms | p99 ms | errors | ratio to ping | load avg during |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        ping = by_key.get(("ping", row.connections))
        to_ping = f"{ratio(row, ping):.0%}" if ping else "n/a"
        loads = ", ".join(run["load"].split()[0] for run in row.runs)
        lines.append(
            f"| {row.name} | {row.rps:,.0f} | {row.median('p50_us') / 1000:.1f} | {row.median('p99_us') / 1000:.1f} |"
            f" {row.errors} | {to_ping} | {loads} |"
        )
    hop_row = next((row for row in rows if row.mode == "hop"), None)
    if hop_row and any(run.get("shed") for run in hop_row.runs):
        lines.append("")
        lines.append(
            f"{hop_row.name}: answered 503 10019 by the bulkhead (one gateway call per process; wrk retries at once): "
            + ", ".join(str(run.get("shed", 0)) for run in hop_row.runs)
            + " per round; not counted as errors."
        )
    lines.append("")
    lines.append(
        f"Median of {args.runs} interleaved rounds of {args.duration:g} s runs; a ratio is the median over the rounds of"
        " the row's requests/s divided by the ping's at the same concurrency in the same round (they run back to back)."
        " Errors are the sum over the rounds: any status other than the expected 200/201, socket errors, timeouts."
        " Load avg: the 1-minute load average when each run started (the machine is shared)."
    )
    slow = by_key.get((SLOW_GATEWAY_MODE, BULKHEAD_CONNECTIONS))
    if slow:
        lines.append("")
        lines.append(
            f"{slow.name}: every authorization takes {SLOW_GATEWAY_SECONDS} s at the sandbox; {HOP_CLIENTS} HOP clients"
            " charge cards meanwhile, each waiting for its answer and honouring Retry-After. Their answers, per round: "
            + "; ".join(f"{run['hop_statuses']} (503 slowest {run['hop_refused_max_s']:.3f} s)" for run in slow.runs)
            + f". Ratio to Charge&Pay c={BULKHEAD_CONNECTIONS} alone (same round, back to back): "
            + (f"{ratio(slow, by_key[('pay', BULKHEAD_CONNECTIONS)]):.0%}" if ("pay", BULKHEAD_CONNECTIONS) in by_key else "n/a")
            + "."
        )
    lines.append("")
    lines.append("| goal | result | measured |")
    lines.append("|---|---|---|")
    for text, ok, measured in goals:
        lines.append(f"| {text} | {'PASS' if ok else 'MISS'} | {measured} |")
    lines.append("")
    lines.append("Ledger after the run: " + ", ".join(f"{k} {v}" for k, v in checks.items()))
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="interleaved rounds; each figure is their median")
    parser.add_argument("--duration", type=int, default=4, help="seconds per wrk run")
    parser.add_argument("--concurrency", type=lambda s: [int(x) for x in s.split(",")], default=[1, 8, 16, 32])
    parser.add_argument("--read-concurrency", type=int, default=16, help="connections for GET balance and HOP rows")
    parser.add_argument("--wallets", type=int, default=1000)
    parser.add_argument("--rows", nargs="*", help="only these modes (ping is always measured): pay pay-hot balance hop")
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WEB_CONCURRENCY", "4")))
    parser.add_argument("--threads", type=int, default=int(os.environ.get("GUNICORN_THREADS", "2")))
    parser.add_argument(
        "--hop-pool-workers",
        type=int,
        default=0,
        help="a separate gunicorn pool of this many processes for the bulkhead row's HOP clients (0: the one server"
        " for all APIs, as docker-compose runs it)",
    )
    parser.add_argument("--warmup", type=int, default=2, help="seconds of warm-up load before the first round")
    parser.add_argument("--quiet-logs", action="store_true", help="LOG_LEVEL=WARNING for the server")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/chargepay_bench_api"),
    )
    parser.add_argument("--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/8"))
    parser.add_argument("--profile", action="store_true", help="after the rounds, profile a Charge&Pay run with py-spy")
    parser.add_argument("--profile-mode", choices=["pay", "hop", "ping"], default="pay", help="what --profile loads")
    parser.add_argument("--results", help="write the results (markdown) to this file")
    parser.add_argument("--command", default="make bench", help="the command to quote in the results")
    parser.add_argument("--drop-database", action="store_true", help="drop the benchmark database afterwards")
    args = parser.parse_args()

    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed: apt-get install -y wrk")
    started = datetime.now(UTC)
    print(f"benchmark database {args.database_url}; Redis {args.redis_url}", flush=True)
    recreate_database(args.database_url)
    gateway_port, web_port = free_port(), free_port()
    env = server_env(args, gateway_port)
    run_manage(env, "migrate", "--noinput", "-v0")
    credentials = seed(env, args.wallets)
    import redis

    redis.Redis.from_url(args.redis_url).delete("celery")  # captures queued by earlier runs (no worker runs here)

    processes = []
    try:
        processes.append(
            subprocess.Popen(
                [sys.executable, "manage.py", "run_gateway_sandbox", "--host", "127.0.0.1", "--port", str(gateway_port)],
                cwd=ROOT,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        web_env = dict(env, GUNICORN_BIND=f"127.0.0.1:{web_port}")
        server_log = open(ROOT / "bench" / ".gunicorn.log", "w")  # noqa: SIM115 (closed in finally)
        processes.append(
            subprocess.Popen(
                [str(Path(sys.executable).parent / "gunicorn"), "chargepay.wsgi:application", "-c", "gunicorn.conf.py"],
                cwd=ROOT,
                env=web_env,
                stdout=server_log,
                stderr=server_log,
                start_new_session=True,
            )
        )
        web_pid = processes[-1].pid
        base = f"http://127.0.0.1:{web_port}"
        hop_base = base
        if args.hop_pool_workers:
            # The production shape's second pool: the HOP API on its own gunicorn processes (docker-compose's
            # web-hop), so a slow card gateway never holds a thread of the processes serving &Charge.
            hop_port = free_port()
            hop_env = dict(env, GUNICORN_BIND=f"127.0.0.1:{hop_port}", WEB_CONCURRENCY=str(args.hop_pool_workers))
            processes.append(
                subprocess.Popen(
                    [str(Path(sys.executable).parent / "gunicorn"), "chargepay.wsgi:application", "-c", "gunicorn.conf.py"],
                    cwd=ROOT,
                    env=hop_env,
                    stdout=server_log,
                    stderr=server_log,
                    start_new_session=True,
                )
            )
            hop_base = f"http://127.0.0.1:{hop_port}"
            wait_http(f"{hop_base}/v1/partners/{PARTNER}/ping")
        wait_http(f"http://127.0.0.1:{gateway_port}/_sandbox/health")
        wait_http(f"{base}/v1/partners/{PARTNER}/ping")
        print(f"gunicorn on {base} ({args.workers} workers × {args.threads} threads), sandbox on :{gateway_port}", flush=True)

        rows = build_rows(args)
        users = str(args.wallets)
        hop_users = f"{credentials['cards'][0]}-{credentials['cards'][1]}"
        gateway = f"http://127.0.0.1:{gateway_port}"
        hop_jwt = hop_token(base) if any(row.mode in ("hop", SLOW_GATEWAY_MODE) for row in rows) else ""
        warm_paid = 0  # the warm-up's payments are in the ledger too
        if args.warmup:
            token = partner_token(base, credentials)
            for mode in ("ping", "pay"):
                warm_paid += run_wrk(base, Row("warm-up", mode, 8), token, users, args.warmup, f"warm{mode}")["ok"] * (
                    mode == "pay"
                )
        with psycopg.connect(args.database_url, autocommit=True) as conn:
            conn.execute("ANALYZE")  # what autovacuum does in production after the first payments (it may be off here)
        for round_number in range(args.runs):
            for row in run_order(rows, round_number):
                token = hop_jwt if row.mode == "hop" else partner_token(base, credentials)
                load = load_average()

                def measure(row=row, token=token, round_number=round_number):
                    return run_wrk(
                        base,
                        row,
                        token,
                        hop_users if row.mode == "hop" else users,
                        args.duration,
                        f"r{round_number}{row.mode}{row.connections}",
                    )

                if row.mode == SLOW_GATEWAY_MODE:
                    slow_gateway(gateway, SLOW_GATEWAY_SECONDS)
                    try:
                        with HopClients(hop_base, hop_jwt, tuple(credentials["cards"])) as hop_clients:
                            result = measure()
                    finally:
                        slow_gateway(gateway, None)
                    result.update(hop_clients.summary())
                else:
                    result = measure()
                result["load"] = load
                row.runs.append(result)
                print(
                    f"round {round_number + 1}/{args.runs} {row.name}: {result['rps']:,.0f} req/s, p50"
                    f" {result['p50_us'] / 1000:.1f} ms, p99 {result['p99_us'] / 1000:.1f} ms, errors {result['errors']}"
                    f" {result['statuses']} (load {load})",
                    flush=True,
                )
        if args.profile:
            hop = (hop_jwt or hop_token(base), hop_users)
            warm_paid += profile_row(base, web_pid, credentials, users, args, hop)
    finally:
        for process in reversed(processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()

    checks = ledger_checks(
        args.database_url,
        sum(run["ok"] for row in rows if row.mode in PAYMENT_MODES for run in row.runs) + warm_paid,
        sum(row.connections * len(row.runs) for row in rows if row.mode in PAYMENT_MODES)
        + 8 * bool(args.warmup)
        + 16 * args.profile,
    )
    goals = evaluate_goals(rows, checks)
    meta = {
        "date": started.strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "postgres": postgres_version(args.database_url),
        "commit": git_commit(),
        "command": args.command,
        "server": f"gunicorn gthread, {args.workers} workers × ({args.threads} + GATEWAY_CALLS_PER_PROCESS) threads",
    }
    table = render(rows, args, goals, checks)
    print()
    print(table)
    if args.results:
        header = (
            f"Date: {meta['date']}. Machine: {meta['machine']['nproc']} cores ({meta['machine']['cpu']}),"
            f" {meta['machine']['memory_gib']} GiB, PostgreSQL {meta['postgres']} on loopback. Commit {meta['commit']}."
            f" Server: {meta['server']}. Load generator: wrk (2 threads) on the same machine. Command: `{meta['command']}`."
        )
        Path(args.results).write_text(header + "\n\n" + table + "\n")
    if args.drop_database:
        drop_database(args.database_url)
    errors = sum(row.errors for row in rows)
    return 0 if checks["ok"] and errors == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
