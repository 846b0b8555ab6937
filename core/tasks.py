"""Housekeeping tasks of the ground layer, scheduled by beat (settings.CELERY_BEAT_SCHEDULE)."""

from celery import shared_task

from core.idempotency import idempotency_purge


@shared_task(name="core.purge_idempotency_keys", acks_late=True)
def purge_idempotency_keys() -> dict:
    """Idempotency-Key records past IDEMPOTENCY_RETENTION_HOURS; idempotent (a rerun finds nothing left)."""
    return {"deleted": idempotency_purge()}
