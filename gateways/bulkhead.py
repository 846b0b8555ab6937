"""The bulkhead between the web tier and the card gateway.

A slow gateway must not take every web thread: requests that wait for it (a HOP charge's authorization) hold
one of GATEWAY_CALLS_PER_PROCESS slots of their process, and a request that finds none free is refused at once
(GatewayBusy, before anything is recorded or sent), so the other APIs served by the same processes keep their
threads. Per process and per thread-safe semaphore: gunicorn's gthread workers share nothing across processes,
and a per-process bound is what protects that process's threads. Worker tasks do not pass through it.
"""

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings

from core.errors import GatewayBusy

RETRY_AFTER_SECONDS = 1

_guard = threading.Lock()
_slots: tuple[int, threading.BoundedSemaphore] | None = None


def _semaphore() -> threading.BoundedSemaphore:
    global _slots
    size = max(1, int(settings.GATEWAY_CALLS_PER_PROCESS))
    with _guard:
        if _slots is None or _slots[0] != size:  # sized from settings on first use (tests may change them)
            _slots = (size, threading.BoundedSemaphore(size))
        return _slots[1]


def gateway_refuse_if_full() -> None:
    """Raise GatewayBusy when no slot is free right now: lets a request be refused before it does any work. Only
    a hint (a slot may be taken the next moment); gateway_slot() is the bound."""
    semaphore = _semaphore()
    if not semaphore.acquire(blocking=False):
        raise GatewayBusy(RETRY_AFTER_SECONDS)
    semaphore.release()


@contextmanager
def gateway_slot() -> Iterator[None]:
    """Hold one of this process's gateway slots for the block. Raises GatewayBusy at once when none is free."""
    semaphore = _semaphore()
    if not semaphore.acquire(blocking=False):
        raise GatewayBusy(RETRY_AFTER_SECONDS)
    try:
        yield
    finally:
        semaphore.release()
