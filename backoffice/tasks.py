"""The back-office's periodic work (beat: CELERY_BEAT_SCHEDULE["purge-refused-attempts"])."""

from celery import shared_task

from . import services


@shared_task(name="backoffice.purge_refused_attempts", acks_late=True)
def purge_refused_attempts() -> int:
    """Delete refused attempts past ATTEMPT_RETENTION_DAYS (idempotent: a rerun deletes nothing more)."""
    return services.refused_attempt_purge()
