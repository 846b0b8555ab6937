"""`Idempotency-Key` (Stripe semantics), stored in PostgreSQL.

idempotency_begin claims (client, key) with an INSERT that commits at once: of concurrent requests with one
key exactly one inserts and runs, the others wait on the unique index and then find the row. Same key and
same request → the first answer replayed; a different request → IdempotencyKeyReused; still running →
IdempotencyKeyInUse. A request that ends in an unexpected error releases its key, so the client may retry.
"""

import hashlib
import json
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.errors import IdempotencyKeyInUse, IdempotencyKeyReused, InvalidParameter
from core.models import IdempotencyRecord, IdempotencyStatus

MAX_KEY_LENGTH = 255


def request_fingerprint(*, method: str, path: str, body) -> str:
    canonical = json.dumps([method, path, body], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def idempotency_begin(*, client, key: str, fingerprint: str) -> tuple[IdempotencyRecord, tuple[int, dict] | None]:
    """Claim `key` for `client`. Returns (record, None) to run the request, or (record, (status, body)) to replay.

    Raises InvalidParameter (bad key), IdempotencyKeyReused, IdempotencyKeyInUse.
    """
    if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
        raise InvalidParameter(key[:MAX_KEY_LENGTH], "Idempotency-Key")
    try:
        with transaction.atomic():
            return IdempotencyRecord.objects.create(client=client, key=key, request_fingerprint=fingerprint), None
    except IntegrityError:
        pass
    record = IdempotencyRecord.objects.filter(client=client, key=key).first()
    if record is None:  # released by a failed first request in the meantime: the caller may simply retry
        raise IdempotencyKeyInUse()
    if record.request_fingerprint != fingerprint:
        raise IdempotencyKeyReused()
    if record.status != IdempotencyStatus.COMPLETED:
        raise IdempotencyKeyInUse()
    return record, (record.response_status, json.loads(record.response_body))


def idempotency_complete(*, record: IdempotencyRecord, status: int, body: dict) -> None:
    IdempotencyRecord.objects.filter(pk=record.pk).update(
        status=IdempotencyStatus.COMPLETED,
        response_status=status,
        response_body=json.dumps(body, ensure_ascii=False),
        completed_at=timezone.now(),
    )


def idempotency_release(*, record: IdempotencyRecord) -> None:
    IdempotencyRecord.objects.filter(pk=record.pk, status=IdempotencyStatus.IN_PROGRESS).delete()


def idempotency_purge(*, now=None) -> int:
    """Delete records older than the retention period. Returns how many.

    That includes records left IN_PROGRESS by a request that died mid-way: after the retention period the
    key is free again (the charge such a request made, if any, is finished by the sweeper regardless).
    """
    cutoff = (now or timezone.now()) - timedelta(hours=settings.IDEMPOTENCY_RETENTION_HOURS)
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=cutoff).delete()
    return deleted
