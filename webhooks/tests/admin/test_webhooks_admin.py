"""The webhook back-office with the test client: register an endpoint for a partner (the secret shown once),
deliveries per endpoint and per event with their attempts, replay of one delivery and of a time range (audited,
the same webhook-id arrives again), enable/disable, and who may do it."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts import services as accounts_services
from accounts.models import AuditLog, PartnerEvent
from accounts.tests.helpers import assert_audited
from webhooks.models import WebhookDelivery, WebhookEndpoint
from webhooks.tests.helpers import endpoint_for, verified
from webhooks.tests.receiver import Behaviour, Receiver


@pytest.fixture
def receiver(settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    settings.CELERY_TASK_ALWAYS_EAGER = True
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def delivered(partner, customer, receiver, django_capture_on_commit_callbacks):
    """An endpoint of PCS-001 and one link.linked event delivered to it after one failure: (endpoint, secret, delivery)."""
    endpoint, secret = endpoint_for(partner, receiver.url, ["link.linked"])
    receiver.script(Behaviour(status=502, body=b"bad gateway"))
    with django_capture_on_commit_callbacks(execute=True):
        _, code = accounts_services.partner_link_start(partner=partner, external_user_id="gm-1")
        accounts_services.partner_link_confirm(partner=partner, external_user_id="gm-1", activation_code=code, customer=customer)
    return endpoint, secret, WebhookDelivery.objects.get()


def test_staff_register_an_endpoint_and_see_the_secret_once(superuser_client, superuser, partner, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    response = superuser_client.post(
        reverse("admin:webhooks_webhookendpoint_add"),
        {"partner": partner.pk, "url": "https://partner.example/hooks", "event_types": ["charge.captured", "link.linked"]},
        follow=True,
    )

    assert response.status_code == 200
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.secret in response.content.decode()  # shown once, as a message
    assert endpoint.event_types == ["charge.captured", "link.linked"]
    assert_audited(action="webhook_endpoint_change", actor__username=superuser.username, object_id=str(endpoint.pk))
    page = superuser_client.get(reverse("admin:webhooks_webhookendpoint_change", args=[endpoint.pk])).content.decode()
    assert endpoint.secret not in page


def test_deliveries_per_endpoint_and_event_show_each_attempt(superuser_client, delivered):
    endpoint, _, delivery = delivered

    by_endpoint = superuser_client.get(reverse("admin:webhooks_webhookendpoint_change", args=[endpoint.pk])).content.decode()
    by_event = superuser_client.get(reverse("admin:accounts_partnerevent_change", args=[delivery.event_id])).content.decode()
    page = superuser_client.get(reverse("admin:webhooks_webhookdelivery_change", args=[delivery.pk])).content.decode()

    assert "1 deliveries" in by_endpoint and f"#{delivery.pk}" in by_event
    of_endpoint = superuser_client.get(reverse("admin:webhooks_webhookdelivery_changelist"), {"endpoint__id__exact": endpoint.pk})
    assert of_endpoint.status_code == 200 and delivery.event.event_id in of_endpoint.content.decode()
    assert "502" in page and "bad gateway" in page
    listed = superuser_client.get(reverse("admin:webhooks_webhookdelivery_changelist"), {"status": "pending"})
    assert delivery.event.event_id in listed.content.decode()


def test_replay_one_delivery(superuser_client, superuser, delivered, receiver, django_capture_on_commit_callbacks):
    _, secret, delivery = delivered
    url = reverse("admin:webhooks_webhookdelivery_replay", args=[delivery.pk])
    assert superuser_client.get(url).status_code == 200
    before = len(receiver.received)

    with django_capture_on_commit_callbacks(execute=True):
        response = superuser_client.post(url, {"reason": "partner lost it in an outage"})

    assert response.status_code == 302
    replay = WebhookDelivery.objects.exclude(pk=delivery.pk).get()
    assert (replay.status, replay.replayed_by) == ("succeeded", superuser)
    [again] = receiver.received[before:]
    assert again.headers["webhook-id"] == delivery.event.event_id
    assert verified(again, secret)["type"] == "link.linked"
    record = AuditLog.objects.get(action="webhook_replay")
    assert record.actor == superuser and record.detail["deliveries"] == [replay.pk]


def test_replay_a_time_range(superuser_client, delivered, receiver, django_capture_on_commit_callbacks):
    endpoint, _, delivery = delivered
    now = timezone.now()
    url = reverse("admin:webhooks_webhookendpoint_replay", args=[endpoint.pk])
    window = {
        "since": (now - timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S"),
        "until": (now + timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M:%S"),
    }

    with django_capture_on_commit_callbacks(execute=True):
        response = superuser_client.post(url, {**window, "reason": "their receiver was down all morning"})

    assert response.status_code == 302
    assert WebhookDelivery.objects.filter(replayed_by__isnull=False).count() == PartnerEvent.objects.count() == 1
    record = AuditLog.objects.get(action="webhook_replay")
    assert record.detail["events"] == [delivery.event.event_id]
    assert receiver.received[-1].headers["webhook-id"] == delivery.event.event_id


def test_disable_then_enable(superuser_client, superuser, delivered):
    endpoint, _, delivery = delivered

    superuser_client.post(reverse("admin:webhooks_webhookendpoint_disable", args=[endpoint.pk]), {"reason": "abuse report"})
    endpoint.refresh_from_db()
    delivery.refresh_from_db()
    assert not endpoint.enabled and delivery.status == "cancelled"
    refused = superuser_client.post(reverse("admin:webhooks_webhookdelivery_replay", args=[delivery.pk]), {"reason": "try again"})
    assert "disabled" in refused.content.decode()
    superuser_client.post(reverse("admin:webhooks_webhookendpoint_enable", args=[endpoint.pk]), {"reason": "partner fixed it"})
    endpoint.refresh_from_db()
    assert endpoint.enabled and endpoint.failing_since is None
    assert AuditLog.objects.filter(action="webhook_endpoint_change", actor__username=superuser.username).count() == 2


def test_support_may_replay_a_user_without_a_role_may_not(support_client, nogroup_client, delivered):
    _, _, delivery = delivered
    url = reverse("admin:webhooks_webhookdelivery_replay", args=[delivery.pk])

    assert support_client.get(url).status_code == 200
    assert nogroup_client.get(url).status_code == 403
    assert nogroup_client.post(url, {"reason": "let me in"}).status_code == 403
    assert WebhookDelivery.objects.count() == 1
