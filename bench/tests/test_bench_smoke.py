"""A tiny run of `make bench`'s script (bench/api_load.py): it starts gunicorn and the sandbox, loads every row with
wrk for a second and prints the table, with zero errors and a consistent ledger. The real benchmark is not part of
`make test` (README "Benchmarks")."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture
def wrk():
    if shutil.which("wrk") is None:
        if os.environ.get("CI"):
            pytest.fail("wrk is missing: .ci/run installs it (apt-get install -y wrk)")
        pytest.skip("wrk is not installed (apt-get install -y wrk)")


def test_the_benchmark_script_prints_its_table_with_zero_errors(wrk):
    database = settings.DATABASES["default"]
    credentials = database["USER"] + (f":{database['PASSWORD']}" if database.get("PASSWORD") else "")
    server = f"postgres://{credentials}@{database['HOST'] or '127.0.0.1'}:{database['PORT'] or 5432}"
    env = dict(os.environ)
    for name in ("DJANGO_SETTINGS_MODULE", "DEBUG", "SECRET_KEY", "JWT_SIGNING_KEY"):
        env.pop(name, None)

    result = subprocess.run(
        [
            sys.executable, "bench/api_load.py",
            "--runs", "1", "--duration", "1", "--warmup", "0", "--concurrency", "2", "--read-concurrency", "2",
            "--wallets", "20", "--workers", "1", "--threads", "2", "--quiet-logs", "--drop-database",
            "--database-url", f"{server}/chargepay_bench_smoke_{os.getpid()}",
        ],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip

    assert result.returncode == 0, result.stdout + result.stderr
    table = result.stdout.split("| row | requests/s | p50 ms | p99 ms | errors | ratio to ping |", 1)[1]
    for row in ("ping (no database) c=2", "Charge&Pay POST, 20 wallets c=2", "Charge&Pay POST, one hot wallet c=2",
                "GET balance c=2", "HOP charge POST (sandbox) c=2"):  # fmt: skip
        line = next(line for line in table.splitlines() if line.startswith(f"| {row} |"))
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        assert float(cells[1].replace(",", "")) > 0, line  # requests/s
        assert cells[4] == "0", line  # errors
        assert re.fullmatch(r"\d+%", cells[5]), line  # ratio to the ping
    assert "ok True" in result.stdout
