"""Benchmark: reconciliation's ledger checks on a ledger of N entries (default 1 000 000).

Loads N/2 balanced two-entry transactions over 10 000 wallets with set-based SQL into a scratch PostgreSQL
database (`chargepay_bench` unless BENCH_DATABASE_URL says otherwise), then times a full reconciliation run
three times and prints the median. Run: `make bench-reconcile` (or `ENTRIES=200000 make bench-reconcile`).
"""

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/chargepay_bench")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chargepay.settings")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from reconciliation.services import reconcile  # noqa: E402

ENTRIES = int(os.environ.get("ENTRIES", "1000000"))
WALLETS = 10_000


def load() -> None:
    """Set-based load: customers, wallets, one issuance account, N/2 grants of 1 km (wallet +1, issuance -1)."""
    transactions = ENTRIES // 2
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE ledger_entry, ledger_transaction, ledger_account, accounts_customer RESTART IDENTITY CASCADE")
        cursor.execute("ALTER TABLE ledger_entry DISABLE TRIGGER USER")
        cursor.execute("ALTER TABLE ledger_transaction DISABLE TRIGGER USER")
        cursor.execute(
            "INSERT INTO accounts_customer (email, name, created_at)"
            " SELECT '', 'bench ' || g, now() FROM generate_series(1, %s) g",
            [WALLETS],
        )
        cursor.execute(
            "INSERT INTO ledger_account (kind, unit, customer_id, balance, created_at) SELECT 'WALLET', 'KM', id, 0, now()"
            " FROM accounts_customer"
        )
        cursor.execute("INSERT INTO ledger_account (kind, unit, code, created_at) VALUES ('SYSTEM', 'KM', 'km_issuance', now())")
        cursor.execute(
            "INSERT INTO ledger_transaction (kind, status, customer_id, reference, evse_id, service_data, reason, created_at)"
            " SELECT 'KM_GRANT', 'CONFIRMED', 1 + (g %% %s), '', '', '{}', 'bench', now() FROM generate_series(1, %s) g",
            [WALLETS, transactions],
        )
        cursor.execute(
            "INSERT INTO ledger_entry (transaction_id, account_id, amount)"
            " SELECT t.id, a.id, 1 FROM ledger_transaction t"
            " JOIN ledger_account a ON a.customer_id = t.customer_id AND a.unit = 'KM'"
            " UNION ALL SELECT t.id, (SELECT id FROM ledger_account WHERE code = 'km_issuance'), -1 FROM ledger_transaction t"
        )
        cursor.execute(
            "UPDATE ledger_account a SET balance = s.total FROM (SELECT account_id, SUM(amount) AS total FROM ledger_entry"
            " GROUP BY account_id) s WHERE s.account_id = a.id AND a.kind = 'WALLET'"
        )
        cursor.execute("ALTER TABLE ledger_entry ENABLE TRIGGER USER")
        cursor.execute("ALTER TABLE ledger_transaction ENABLE TRIGGER USER")
        cursor.execute("ANALYZE")
        cursor.execute("SELECT COUNT(*) FROM ledger_entry")
        print(f"loaded {cursor.fetchone()[0]:,} entries in {transactions:,} transactions over {WALLETS:,} wallets")


def main() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    load()
    print(f"load: {time.perf_counter() - started:.1f} s")
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        run = reconcile(business_date=timezone.localdate())
        timings.append(time.perf_counter() - started)
    runs = ", ".join(f"{t:.2f}" for t in timings)
    print(f"reconciliation of {ENTRIES:,} entries: median {statistics.median(timings):.2f} s (runs: {runs})")
    print(f"findings seen: {run.summary['seen'] or 'none'}")


if __name__ == "__main__":
    main()
