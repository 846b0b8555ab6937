"""`Idempotency-Key` (Stripe semantics), stored in PostgreSQL.

idempotency_begin claims (client, key) with an INSERT that commits at once: of concurrent requests with one
key exactly one inserts and runs, the others wait on the unique index and then find the row. Same key and
same request → the first answer replayed; a different request → IdempotencyKeyReused; still running →
IdempotencyKeyInUse.

An IN_PROGRESS key carries a lease (IDEMPOTENCY_LEASE_SECONDS, a little longer than the longest request).
When the process serving it dies (kill -9, OOM) the lease runs out and the next identical request takes the key
over (a conditional UPDATE: one taker wins) and runs again; the caller must then finish what the first attempt
began rather than begin anew (the HOP charge finds its charge by the record and re-sends the same gateway
TransactionID). A request that ends in an unexpected error, or that was refused before doing anything
(idempotency_release), ends its lease at once, so the client may retry straight away.
"""

import hashlib
import json
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from core.errors import IdempotencyKeyInUse, IdempotencyKeyReused, InvalidParameter
from core.models import IdempotencyRecord, IdempotencyStatus

MAX_KEY_LENGTH = 255


def request_fingerprint(*, method: str, path: str, body) -> str:
    canonical = json.dumps([method, path, body], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _lease_end(now):
    return now + timedelta(seconds=settings.IDEMPOTENCY_LEASE_SECONDS)


def idempotency_begin(*, client, key: str, fingerprint: str) -> tuple[IdempotencyRecord, tuple[int, dict] | None]:
    """Claim `key` for `client`. Returns (record, None) to run the request, or (record, (status, body)) to replay.

    (record, None) is also returned to the one request that takes over a key whose lease ran out
    (`record.takeovers` > 0): whatever the first attempt left behind is the caller's to finish.
    Raises InvalidParameter (bad key), IdempotencyKeyReused, IdempotencyKeyInUse (held, lease running).
    """
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidParameter(key[:MAX_KEY_LENGTH], "Idempotency-Key")
    now = timezone.now()
    try:
        with transaction.atomic():
            record = IdempotencyRecord.objects.create(
                client=client, key=key, request_fingerprint=fingerprint, lease_until=_lease_end(now)
            )
            return record, None
    except IntegrityError:
        pass
    record = IdempotencyRecord.objects.filter(client=client, key=key).first()
    if record is None:  # purged in the meantime: the caller may simply retry
        raise IdempotencyKeyInUse()
    if record.request_fingerprint != fingerprint:
        raise IdempotencyKeyReused()
    if record.status == IdempotencyStatus.COMPLETED:
        return record, (record.response_status, json.loads(record.response_body))
    expired = Q(lease_until__lte=now) | Q(
        lease_until__isnull=True, created_at__lte=now - timedelta(seconds=settings.IDEMPOTENCY_LEASE_SECONDS)
    )
    taken = (
        IdempotencyRecord.objects.filter(expired, pk=record.pk, status=IdempotencyStatus.IN_PROGRESS)
        .filter(lease_until=record.lease_until)  # nobody took it over since we read it
        .update(lease_until=_lease_end(now), takeovers=F("takeovers") + 1)
    )
    if not taken:
        raise IdempotencyKeyInUse()
    record.refresh_from_db()
    return record, None


def idempotency_complete(*, record: IdempotencyRecord, status: int, body: dict) -> None:
    IdempotencyRecord.objects.filter(pk=record.pk).update(
        status=IdempotencyStatus.COMPLETED,
        response_status=status,
        response_body=json.dumps(body, ensure_ascii=False),
        completed_at=timezone.now(),
    )


def idempotency_release(*, record: IdempotencyRecord) -> None:
    """End the lease now: the next identical request takes the key over at once. The record stays, so work the
    request began under it (a charge row) is finished by that retry, never begun a second time."""
    IdempotencyRecord.objects.filter(pk=record.pk, status=IdempotencyStatus.IN_PROGRESS).update(
        lease_until=timezone.now() - timedelta(microseconds=1)
    )


def idempotency_purge(*, now=None) -> int:
    """Delete records older than the retention period. Returns how many.

    That includes records left IN_PROGRESS by a request that died mid-way: after the retention period the
    key is free again (the charge such a request made, if any, is finished by the sweeper regardless).
    """
    cutoff = (now or timezone.now()) - timedelta(hours=settings.IDEMPOTENCY_RETENTION_HOURS)
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted
