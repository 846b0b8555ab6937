"""Advisory locks: one holder at a time for a named piece of work that has no row to lock yet."""

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connection


def _lock_id(name: str) -> int:
    """A signed 64-bit id for PostgreSQL's advisory lock functions."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)


@contextmanager
def advisory_lock(name: str) -> Iterator[None]:
    """Hold PostgreSQL's session advisory lock `name` for the block: other holders of the same name wait.

    A session lock, not a transaction's, so the block may commit (or run in autocommit) as it likes; it is
    released at the end of the block, or by PostgreSQL if the connection is lost.
    """
    lock_id = _lock_id(name)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [lock_id])
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [lock_id])
