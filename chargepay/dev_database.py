"""Where `make run`'s embedded PostgreSQL listens: the default DATABASE_URL (settings) and the tool that starts the
server (`scripts/dev_postgres.py`) both read it here, so they cannot disagree.

Standard library only: the tool imports it before Django is set up.
"""

import os

HOST = "127.0.0.1"
DEFAULT_PORT = 54329  # beside a system PostgreSQL on 5432, never on it
NAME = "chargepay"
USER = "postgres"  # the embedded server trusts local connections: no password


def configured_port() -> int:
    """The port: EMBEDDED_POSTGRES_PORT from the environment, else DEFAULT_PORT."""
    return int(os.environ.get("EMBEDDED_POSTGRES_PORT") or DEFAULT_PORT)


def database_url(*, port: int | None = None, name: str = NAME) -> str:
    """The DATABASE_URL of the embedded server's `name` database (on `port`, else the configured port)."""
    return f"postgres://{USER}@{HOST}:{port or configured_port()}/{name}"
