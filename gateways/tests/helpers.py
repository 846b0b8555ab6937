"""Helpers of the gateways tests: what the gateway sandbox received; the test database for a subprocess."""

from urllib.parse import quote

from django.db import connection


def requests_of(sandbox, request_type: str, transaction_id: str | None = None) -> list[dict]:
    """Every request of `request_type` (optionally for one TransactionID) the sandbox received, oldest first."""
    return sandbox.control.requests(request_type=request_type, transaction_id=transaction_id)


def worker_database_url() -> str:
    """The pytest-django test database (NAME is already the test database's name) as a DATABASE_URL, for the
    worker and web subprocesses a test starts."""
    db = connection.settings_dict
    credentials = ""
    if db["USER"]:
        credentials = quote(db["USER"], safe="")
        if db["PASSWORD"]:
            credentials += ":" + quote(db["PASSWORD"], safe="")
        credentials += "@"
    host = db["HOST"] or "127.0.0.1"
    port = db["PORT"] or 5432
    return f"postgres://{credentials}{host}:{port}/{quote(db['NAME'], safe='')}"
