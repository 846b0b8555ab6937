"""Benchmark: back-office pages on a ledger of 100 000 transactions (pages must stay fast with many rows).

Loads TRANSACTIONS (default 100 000) charging-session payments from 10 partners over 1 000 customers, with their
entries, using set-based SQL into a scratch PostgreSQL database (`chargepay_bench_admin` unless
BENCH_DATABASE_URL says otherwise). Then requests each page in-process through Django's test client as a
superuser (the full request path: middleware, admin, templates), 7 times, and prints the number of SQL queries
and the median time. Run: `make bench-admin` (or `TRANSACTIONS=20000 make bench-admin`).
"""

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ["DATABASE_URL"] = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/chargepay_bench_admin")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chargepay.settings")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402

from accounts.models import User  # noqa: E402

TRANSACTIONS = int(os.environ.get("TRANSACTIONS", "100000"))
CUSTOMERS = 1_000
PARTNERS = 10
RUNS = 7


def load() -> None:
    """Set-based load: partners with their accounts, customers with KM wallets and links, N payments of 1..50 km
    (wallet -km, partner +km), then cached balances from the entries."""
    with connection.cursor() as cursor:
        cursor.execute(
            "TRUNCATE ledger_entry, ledger_transaction, ledger_account, accounts_partnerlink, accounts_customer,"
            " accounts_partner, accounts_auditlog RESTART IDENTITY CASCADE"
        )
        cursor.execute("ALTER TABLE ledger_entry DISABLE TRIGGER USER")
        cursor.execute("ALTER TABLE ledger_transaction DISABLE TRIGGER USER")
        cursor.execute(
            "INSERT INTO accounts_partner (code, name, is_active, status, type, logo, web, descriptions, created_at)"
            " SELECT 'BENCH-' || g, 'Bench partner ' || g, true, 'ACTIVE', 'MSP', '', '', '[]', now()"
            " FROM generate_series(1, %s) g",
            [PARTNERS],
        )
        cursor.execute(
            "INSERT INTO ledger_account (kind, unit, partner_id, created_at)"
            " SELECT 'PARTNER', 'KM', id, now() FROM accounts_partner"
        )
        cursor.execute(
            "INSERT INTO accounts_customer (email, name, created_at)"
            " SELECT 'driver' || g || '@example.com', 'Driver ' || g, now() FROM generate_series(1, %s) g",
            [CUSTOMERS],
        )
        cursor.execute(
            "INSERT INTO ledger_account (kind, unit, customer_id, balance, created_at) SELECT 'WALLET', u.unit, c.id, 0, now()"
            " FROM accounts_customer c CROSS JOIN (VALUES ('KM'), ('USD')) u(unit)"
        )
        cursor.execute(
            "INSERT INTO accounts_partnerlink"
            " (partner_id, external_user_id, customer_id, status, activation_code_digest, created_at, linked_at)"
            " SELECT 1 + (c.id %% %s), 'user' || c.id, c.id, 'LINKED', '', now(), now() FROM accounts_customer c",
            [PARTNERS],
        )
        cursor.execute(
            "INSERT INTO ledger_transaction (kind, status, customer_id, partner_id, external_id, reference, evse_id,"
            " service_data, reason, created_at)"
            " SELECT 'PAY_FOR_CHARGING_SESSION', 'CONFIRMED', 1 + (g %% %s), 1 + ((g %% %s) %% %s), 'tx' || g, 'ref-' || g,"
            " 'DE*BEN*E' || (g %% 5000), '{}', '', now() - (g || ' seconds')::interval FROM generate_series(1, %s) g",
            [CUSTOMERS, CUSTOMERS, PARTNERS, TRANSACTIONS],
        )
        cursor.execute(
            "INSERT INTO ledger_entry (transaction_id, account_id, amount)"
            " SELECT t.id, a.id, -(1 + t.id % 50) FROM ledger_transaction t"
            " JOIN ledger_account a ON a.customer_id = t.customer_id AND a.unit = 'KM'"
            " UNION ALL SELECT t.id, p.id, 1 + t.id % 50 FROM ledger_transaction t"
            " JOIN ledger_account p ON p.partner_id = t.partner_id"
        )
        # Wallets hold what a grant would have given them, minus what they paid: never negative.
        cursor.execute(
            "UPDATE ledger_account a SET balance = 1000000 + s.total FROM (SELECT account_id, SUM(amount) AS total"
            " FROM ledger_entry GROUP BY account_id) s WHERE s.account_id = a.id AND a.kind = 'WALLET'"
        )
        cursor.execute("ALTER TABLE ledger_entry ENABLE TRIGGER USER")
        cursor.execute("ALTER TABLE ledger_transaction ENABLE TRIGGER USER")
        cursor.execute("ANALYZE")
        cursor.execute("SELECT COUNT(*) FROM ledger_transaction")
        print(f"loaded {cursor.fetchone()[0]:,} transactions ({TRANSACTIONS * 2:,} entries) over {CUSTOMERS:,} customers")


PAGES = [
    ("transactions, first 100 rows", "/admin/ledger/transaction/"),
    (
        "transactions, filtered by partner+kind+status",
        "/admin/ledger/transaction/?partner__id__exact=3&kind__exact=PAY_FOR_CHARGING_SESSION&status__exact=CONFIRMED",
    ),
    (
        "transactions, date range",
        "/admin/ledger/transaction/?created_at__range__gte=2000-01-01&created_at__range__lte=2100-01-01",
    ),
    ("transactions, search transactionId", "/admin/ledger/transaction/?q=tx50000"),
    ("transactions, search EVSE_ID", "/admin/ledger/transaction/?q=DE*BEN*E42"),
    ("transactions, search customer email", "/admin/ledger/transaction/?q=driver42%40example.com"),
    ("transaction detail", "/admin/ledger/transaction/50000/change/"),
    ("reverse confirmation", "/admin/ledger/transaction/50000/reverse/"),
    ("customers, first 100 rows", "/admin/accounts/customer/"),
    ("customers, search partner userId", "/admin/accounts/customer/?q=user42"),
    ("customer detail (100 payments, timeline)", "/admin/accounts/customer/42/change/"),
    ("audit log", "/admin/accounts/auditlog/"),
]


def measure(client: Client, url: str) -> tuple[int, float, float, int]:
    """Queries per request, median wall time (ms), median time inside the database (ms), rows listed."""
    client.get(url)  # warm
    timings, sql_timings, queries = [], [], 0
    for _ in range(RUNS):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(url)
            timings.append(time.perf_counter() - started)
        if response.status_code != 200:
            raise SystemExit(f"{url} answered {response.status_code}")
        queries = len(captured)
        sql_timings.append(sum(float(query["time"]) for query in captured.captured_queries))
    rows = response.content.count(b'<th class="field-') if b'id="result_list"' in response.content else 0
    return queries, statistics.median(timings) * 1000, statistics.median(sql_timings) * 1000, rows


def main() -> None:
    call_command("migrate", verbosity=0)
    setup_test_environment()  # lets the test client's host in
    started = time.perf_counter()
    load()
    print(f"load: {time.perf_counter() - started:.1f} s")
    user, _ = User.objects.get_or_create(username="bench-admin", defaults={"is_staff": True, "is_superuser": True})
    client = Client()
    client.force_login(user)
    print(f"\n{'page':<50} {'queries':>8} {'median ms':>10} {'sql ms':>7} {'rows':>6}")
    for name, url in PAGES:
        queries, median_ms, sql_ms, rows = measure(client, url)
        print(f"{name:<50} {queries:>8} {median_ms:>10.1f} {sql_ms:>7.1f} {rows or '':>6}")
    print(f"\n(median of {RUNS} requests each, after one warm-up; in-process test client, PostgreSQL on loopback)")


if __name__ == "__main__":
    main()
