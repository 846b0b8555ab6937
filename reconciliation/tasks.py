"""The nightly reconciliation (beat: CELERY_BEAT_SCHEDULE["reconcile"])."""

from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from . import services


@shared_task(name="reconciliation.reconcile", acks_late=True)
def reconcile_yesterday() -> dict:
    """Reconcile yesterday (a rerun of the same day changes nothing)."""
    run = services.reconcile(business_date=timezone.localdate() - timedelta(days=1))
    return run.summary
