"""Reads of webhook endpoints and deliveries."""

from django.db.models import QuerySet

from .models import WebhookEndpoint


def partner_subscribed(partner_id: int, event_type: str) -> bool:
    """Whether an enabled endpoint of the partner wants `event_type`: one indexed query (accounts.events asks it
    before recording an event; webhooks/sql/webhook_payment_event.sql asks the same in SQL)."""
    return WebhookEndpoint.objects.filter(partner_id=partner_id, enabled=True, event_types__contains=[event_type]).exists()


def endpoints_for_partner(*, partner_id: int) -> QuerySet[WebhookEndpoint]:
    """The partner's endpoints it has not deleted, oldest first."""
    return WebhookEndpoint.objects.filter(partner_id=partner_id, deleted_at__isnull=True).order_by("pk")
