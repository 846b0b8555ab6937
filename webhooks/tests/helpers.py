"""Helpers for the webhook tests: an endpoint registered the way a partner does it, and verification of what a
receiver got with the reference `standardwebhooks` library (PyPI), as a partner's engineer would."""

import json

from standardwebhooks.webhooks import Webhook

from accounts.models import PartnerEvent, PartnerEventType
from webhooks import services
from webhooks.models import WebhookDelivery

ALL_TYPES = list(PartnerEventType.values)


def endpoint_for(partner, url: str, types=None):
    """(endpoint, secret) registered for `partner`."""
    return services.endpoint_create(partner=partner, url=url, event_types=list(types or ALL_TYPES))


def verified(received, *secrets: str) -> dict:
    """The payload of one received request, verified by the reference library with each secret (every one of
    them must verify it: during a rotation both the old and the new secret do)."""
    payloads = [Webhook(secret).verify(received.body, received.headers) for secret in secrets]
    assert all(p == payloads[0] for p in payloads)
    return payloads[0]


def deliver_due() -> list:
    """Attempt every PENDING delivery that is due now, as workers would; returns their statuses."""
    return [
        services.delivery_attempt(delivery_id=pk)
        for pk in WebhookDelivery.objects.filter(status="pending").order_by("pk").values_list("pk", flat=True)
    ]


def events_of(partner) -> list[tuple[str, dict]]:
    return [(e.type, json.loads(e.data) if e.data else None) for e in PartnerEvent.objects.filter(partner=partner).order_by("pk")]
