"""Readiness checks: PostgreSQL, Redis and migrations must pass; the card gateway is reported, never fatal.

Each check answers quickly when its peer is down (a refused connection fails at once; Redis is given
HEALTH_TIMEOUT_SECONDS), and reports only a status, its duration and, on failure, the exception's class: never an
address, a credential or a message that could hold one. PostgreSQL's own connect timeout is the DATABASE_URL's
`connect_timeout` parameter (libpq waits forever by default), e.g. `…/chargepay?connect_timeout=3`.
"""

import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import redis
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor

OK, FAILED, SKIPPED = "ok", "failed", "skipped"


@dataclass(frozen=True)
class CheckResult:
    status: str
    fatal: bool
    milliseconds: float
    detail: str = ""

    def as_json(self) -> dict:
        body = {"status": self.status, "fatal": self.fatal, "ms": round(self.milliseconds, 1)}
        if self.detail:
            body["detail"] = self.detail
        return body


def _timed(check, *, fatal: bool) -> CheckResult:
    started = time.perf_counter()
    try:
        status, detail = check()
    except Exception as error:
        status, detail = FAILED, type(error).__name__
    return CheckResult(status, fatal, (time.perf_counter() - started) * 1000, detail)


def _database():
    connection = connections[DEFAULT_DB_ALIAS]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:
        connection.close()  # the next request reconnects instead of reusing a broken connection
        raise
    return OK, ""


# Once every migration is applied in this process it stays so: later probes skip loading the migration graph.
_migrations_applied = False


def _migrations():
    global _migrations_applied
    if not _migrations_applied:
        executor = MigrationExecutor(connections[DEFAULT_DB_ALIAS])
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
        if pending:
            return FAILED, f"{len(pending)} unapplied"
        _migrations_applied = True
    return OK, ""


def _redis():
    if not settings.REDIS_URL:
        return SKIPPED, "no REDIS_URL (eager Celery, in-memory cache)"
    timeout = settings.HEALTH_TIMEOUT_SECONDS
    client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        client.ping()
    finally:
        client.close()
    return OK, ""


def _gateway():
    """A TCP connection to the gateway's host and port: reachable or not (no request, no credentials sent)."""
    url = urlsplit(settings.GATEWAY_URL)
    port = url.port or (443 if url.scheme == "https" else 80)
    with socket.create_connection((url.hostname, port), timeout=settings.HEALTH_TIMEOUT_SECONDS):
        pass
    return OK, ""


def readiness() -> tuple[bool, dict[str, CheckResult]]:
    """(ready, results by check name): ready when no fatal check failed. The migrations need the database."""
    results = {"database": _timed(_database, fatal=True)}
    if results["database"].status == OK:
        results["migrations"] = _timed(_migrations, fatal=True)
    else:
        results["migrations"] = CheckResult(FAILED, True, 0.0, "database unavailable")
    results["redis"] = _timed(_redis, fatal=True)
    results["gateway"] = _timed(_gateway, fatal=False)
    ready = not any(result.fatal and result.status == FAILED for result in results.values())
    return ready, results
