"""make run's embedded PostgreSQL (scripts/dev_postgres.py): once migrated, its database enforces the ledger as
production's does (the triggers refuse what the application must never do), and the tool starts, reuses, stops and
restarts a server without losing its data.

The module starts one server of its own, in a temporary folder on a free port: never the project's .data/postgres.
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import psutil
import psycopg
import pytest

from chargepay import dev_database
from scripts import dev_postgres

ROOT = Path(__file__).resolve().parent.parent.parent
DATABASE_GUARDS = {
    "ledger_entry_balanced",
    "ledger_transaction_balanced",
    "ledger_entry_immutable",
    "ledger_transaction_guard",
    "accounts_auditlog_immutable",
}


@dataclass(frozen=True)
class Server:
    data_dir: Path
    port: int
    url: str


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((dev_database.HOST, 0))
        return probe.getsockname()[1]


def postmaster_pid(data_dir: Path) -> int:
    return int((data_dir / "postmaster.pid").read_text().split()[0])


def has_exited(pid: int, *, within_seconds: float = 5) -> bool:
    """The postmaster removes postmaster.pid (which ends pg_ctl's wait) just before it exits, and its parent is
    init, which reaps it when it gets to it: a zombie has exited too."""
    deadline = time.monotonic() + within_seconds
    while time.monotonic() < deadline:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.05)
    return False


@pytest.fixture(scope="module")
def server():
    # A folder of our own, not pytest's tmp_path: under root the tool opens the path to the server's account.
    root = Path(tempfile.mkdtemp(prefix="chargepay-embedded-pg-"))
    data_dir = (root / "pgdata").resolve()
    port = free_port()
    try:
        url = dev_postgres.start(data_dir=data_dir, port=port)
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v0"],
            cwd=ROOT,
            env={**os.environ, "DATABASE_URL": url},
            check=True,
            timeout=180,
        )
        yield Server(data_dir=data_dir, port=port, url=url)
    finally:
        dev_postgres.stop(data_dir=data_dir)
        shutil.rmtree(root)


@pytest.fixture
def connection(server):
    with psycopg.connect(server.url) as connection:
        yield connection


def km_system_accounts(connection) -> tuple[int, int]:
    rows = dict(connection.execute("SELECT code, id FROM ledger_account WHERE code IN ('km_issuance', 'km_adjustment')"))
    return rows["km_issuance"], rows["km_adjustment"]


def insert_transaction(connection) -> int:
    return connection.execute(
        "INSERT INTO ledger_transaction (kind, status, reference, evse_id, service_data, reason, created_at)"
        " VALUES ('KM_ADJUSTMENT', 'CONFIRMED', '', '', '{}', 'embedded server test', now()) RETURNING id"
    ).fetchone()[0]


def insert_entry(connection, *, transaction_id: int, account_id: int, amount: int) -> int:
    return connection.execute(
        "INSERT INTO ledger_entry (transaction_id, account_id, amount) VALUES (%s, %s, %s) RETURNING id",
        [transaction_id, account_id, amount],
    ).fetchone()[0]


def test_the_migrated_database_has_the_ledger_triggers_and_the_payment_function(connection):
    triggers = dict(connection.execute("SELECT tgname, tgenabled FROM pg_trigger WHERE NOT tgisinternal"))
    functions = {row[0] for row in connection.execute("SELECT proname FROM pg_proc WHERE proname LIKE 'ledger_%'")}

    assert {name: triggers.get(name) for name in DATABASE_GUARDS} == dict.fromkeys(DATABASE_GUARDS, "O")  # O: enabled
    assert "ledger_charging_session_pay" in functions


def test_an_unbalanced_transaction_is_refused_at_commit(connection):
    issuance, _ = km_system_accounts(connection)
    transactions_before = connection.execute("SELECT count(*) FROM ledger_transaction").fetchone()[0]
    connection.commit()

    transaction_id = insert_transaction(connection)
    insert_entry(connection, transaction_id=transaction_id, account_id=issuance, amount=5)
    with pytest.raises(psycopg.errors.CheckViolation) as refused:
        connection.commit()

    assert refused.value.diag.constraint_name == "ledger_transaction_balanced"
    assert connection.execute("SELECT count(*) FROM ledger_transaction").fetchone()[0] == transactions_before


def test_a_posted_entry_can_be_neither_changed_nor_deleted(connection):
    issuance, adjustment = km_system_accounts(connection)
    transaction_id = insert_transaction(connection)
    entry_id = insert_entry(connection, transaction_id=transaction_id, account_id=issuance, amount=5)
    insert_entry(connection, transaction_id=transaction_id, account_id=adjustment, amount=-5)
    connection.commit()

    for statement in ("UPDATE ledger_entry SET amount = 6 WHERE id = %s", "DELETE FROM ledger_entry WHERE id = %s"):
        with pytest.raises(psycopg.errors.CheckViolation) as refused:
            connection.execute(statement, [entry_id])
        connection.rollback()
        assert refused.value.diag.constraint_name == "ledger_entry_immutable"
    assert connection.execute("SELECT amount FROM ledger_entry WHERE id = %s", [entry_id]).fetchone()[0] == 5


def test_a_second_start_reuses_the_running_server(server):
    pid = postmaster_pid(server.data_dir)

    assert dev_postgres.start(data_dir=server.data_dir, port=server.port) == server.url
    assert postmaster_pid(server.data_dir) == pid


def test_stop_ends_the_server_and_a_start_finds_the_data_again(server):
    pid = postmaster_pid(server.data_dir)
    with psycopg.connect(server.url) as connection:
        migrations = connection.execute("SELECT count(*) FROM django_migrations").fetchone()[0]
    assert migrations > 0

    assert dev_postgres.stop(data_dir=server.data_dir) is True
    assert has_exited(pid)
    assert dev_postgres.running_port(data_dir=server.data_dir) is None
    assert dev_postgres.stop(data_dir=server.data_dir) is False
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(server.url, connect_timeout=2)

    assert dev_postgres.start(data_dir=server.data_dir, port=server.port) == server.url
    with psycopg.connect(server.url) as connection:
        assert connection.execute("SELECT count(*) FROM django_migrations").fetchone()[0] == migrations


def test_a_start_after_a_crash_clears_the_stale_pid_file(server):
    # A crash leaves postmaster.pid behind; after a reboot its pid may belong to any process, here this one.
    dev_postgres.stop(data_dir=server.data_dir)
    pid_file = server.data_dir / "postmaster.pid"
    pid_file.write_text(f"{os.getpid()}\n{server.data_dir}\n0\n{server.port}\n\n{dev_database.HOST}\n  1  2\nready\n")

    assert dev_postgres.start(data_dir=server.data_dir, port=server.port) == server.url
    assert postmaster_pid(server.data_dir) != os.getpid()
    with psycopg.connect(server.url) as connection:
        assert connection.execute("SELECT 1").fetchone() == (1,)
