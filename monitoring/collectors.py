"""Gauges of the stored state, computed when `/metrics` is scraped (one grouped query or one Redis call each), so
they are the same whichever process answers the scrape and need no bookkeeping in the processes that change them."""

import redis
from django.conf import settings
from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily

from gateways.models import WORK_STATUSES, CardCharge, ChargeStatus
from reconciliation.models import FindingStatus, ReconciliationFinding, Severity


class StoredStateCollector:
    """Card charges by status and the age of the oldest one with work left, open reconciliation findings by
    severity, and the Celery queue's depth."""

    def collect(self):
        charges = GaugeMetricFamily("chargepay_card_charges", "Card charges by status (stored now).", labels=["status"])
        counted = dict(CardCharge.objects.values_list("status").annotate(n=Count("pk")).order_by())
        for status in ChargeStatus.values:
            charges.add_metric([status], counted.get(status, 0))
        yield charges

        # A charge stays pending/authorized/refunding for seconds when workers keep up; its age, not the count (never
        # zero under traffic), says when they do not. Parked charges (waiting for staff) are left out, as the sweeper
        # leaves them.
        oldest = (
            CardCharge.objects.filter(status__in=WORK_STATUSES)
            .exclude(status=ChargeStatus.PENDING, review_reason__gt="")
            .aggregate(oldest=Min("created_at"))["oldest"]
        )
        yield GaugeMetricFamily(
            "chargepay_card_charges_oldest_work_age_seconds",
            "Age of the oldest card charge whose work (resolve, capture, refund) is not done; 0 when there is none.",
            value=(timezone.now() - oldest).total_seconds() if oldest else 0.0,
        )

        findings = GaugeMetricFamily(
            "chargepay_reconciliation_findings_open", "Open reconciliation findings by severity.", labels=["severity"]
        )
        opened = dict(
            ReconciliationFinding.objects.filter(status=FindingStatus.OPEN)
            .values_list("severity")
            .annotate(n=Count("pk"))
            .order_by()
        )
        for severity in Severity.values:
            findings.add_metric([severity], opened.get(severity, 0))
        yield findings

        depth = queue_depth()
        if depth is not None:
            queue = GaugeMetricFamily(
                "chargepay_celery_queue_depth", "Messages waiting in the Celery queue (Redis).", labels=["queue"]
            )
            queue.add_metric([settings.CELERY_TASK_DEFAULT_QUEUE], depth)
            yield queue


def queue_depth() -> int | None:
    """Messages waiting in the default queue, None without a broker (eager Celery) or when Redis is down."""
    if not settings.REDIS_URL:
        return None
    timeout = settings.HEALTH_TIMEOUT_SECONDS
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        return client.llen(settings.CELERY_TASK_DEFAULT_QUEUE)
    except redis.RedisError:
        return None
    finally:
        client.close()
