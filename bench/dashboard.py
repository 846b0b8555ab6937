"""Benchmark: the admin's front page (the dashboard) on a ledger of 100 000 transactions.

Loads the same data as `make bench-admin` (bench/admin_changelist.py: TRANSACTIONS payments, default 100 000, from
10 partners over 1 000 customers, all within the dashboard's 14 days) plus REFUSALS refused attempts (default
10 000), then requests `/admin/` as a superuser through Django's test client 7 times and prints the SQL queries,
the median time and the median time inside the database. Run: `make bench-dashboard`.
"""

import os
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
from django.test.utils import setup_test_environment  # noqa: E402

from accounts.models import User  # noqa: E402
from bench.admin_changelist import load, measure  # noqa: E402

REFUSALS = int(os.environ.get("REFUSALS", "10000"))


def load_refusals() -> None:
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE backoffice_refusedattempt RESTART IDENTITY")
        cursor.execute(
            "INSERT INTO backoffice_refusedattempt (created_at, api, method, path, status, error_code, error_args,"
            " partner_id, user_id, customer_id, transaction_id, idempotency_key, amount, request_id)"
            " SELECT now() - (g || ' seconds')::interval, 'andcharge', 'POST', '/v1/x', 422,"
            " (ARRAY['ACCOUNT_BALANCE_NOT_SUFFICIENT', 'REFERENCED_OBJECT_NOT_FOUND', 'INVALID_PARAMETER'])[1 + g %% 3],"
            " '[]', 1 + g %% 10, 'user' || (1 + g %% 1000), 1 + g %% 1000, 'r' || g, '', 1 + g %% 50, 'req' || g"
            " FROM generate_series(1, %s) g",
            [REFUSALS],
        )
        cursor.execute("ANALYZE backoffice_refusedattempt")


def main() -> None:
    call_command("migrate", verbosity=0)
    setup_test_environment()
    started = time.perf_counter()
    load()
    load_refusals()
    print(f"load: {time.perf_counter() - started:.1f} s ({REFUSALS:,} refused attempts)")
    user, _ = User.objects.get_or_create(username="bench-admin", defaults={"is_staff": True, "is_superuser": True})
    client = Client()
    client.force_login(user)
    queries, median_ms, sql_ms, _ = measure(client, "/admin/")
    print(f"\n{'page':<40} {'queries':>8} {'median ms':>10} {'sql ms':>7}")
    print(f"{'admin index (dashboard)':<40} {queries:>8} {median_ms:>10.1f} {sql_ms:>7.1f}")


if __name__ == "__main__":
    main()
