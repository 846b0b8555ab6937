"""The monthly closing of partner statements (beat: CELERY_BEAT_SCHEDULE["close-partner-statements"])."""

from datetime import UTC, timedelta

from celery import shared_task
from django.utils import timezone

from . import services


@shared_task(name="statements.close_last_month", acks_late=True)
def close_last_month() -> dict:
    """Close last month's statement (UTC) of every partner that has not closed it. A rerun closes nothing more."""
    first_of_this_month = timezone.now().astimezone(UTC).date().replace(day=1)
    month = (first_of_this_month - timedelta(days=1)).replace(day=1)
    closed = services.statements_close_month(month=month)
    return {"month": f"{month:%Y-%m}", "closed": len(closed)}
