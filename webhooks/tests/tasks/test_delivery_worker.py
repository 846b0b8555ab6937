"""At least once, with real processes: a real Celery worker, a dedicated Redis the test stops, a loopback receiver.
Redis down when the change commits, and a worker killed in the middle of a delivery: the sweeper (beat's task,
run here by the test) finds the work and the event arrives, with the same `webhook-id`."""

import pytest
from django.db import transaction

from accounts import services as accounts_services
from accounts.models import PartnerEvent
from gateways.tests.tasks.support import logs, wait_for
from webhooks import services
from webhooks.models import WebhookAttempt, WebhookDelivery
from webhooks.tests.helpers import endpoint_for, verified
from webhooks.tests.receiver import Behaviour, Receiver

WORKER_ENV = {
    "WEBHOOK_ALLOW_PRIVATE": "true",
    "WEBHOOK_LEASE_SECONDS": "2",
    "WEBHOOK_SWEEP_AFTER_SECONDS": "1",
    "WEBHOOK_RETRY_SCHEDULE": "1,1",
    "WEBHOOK_RETRY_JITTER": "0",
}


@pytest.fixture
def receiver(settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    settings.WEBHOOK_SWEEP_AFTER_SECONDS = 1
    settings.WEBHOOK_LEASE_SECONDS = 2
    server = Receiver().start()
    yield server
    server.stop()


def _confirm_link(partner, customer, user_id="gm-1"):
    with transaction.atomic():
        _, code = accounts_services.partner_link_start(partner=partner, external_user_id=user_id)
    accounts_services.partner_link_confirm(partner=partner, external_user_id=user_id, activation_code=code, customer=customer)


def test_redis_down_when_the_change_commits_then_retried_by_the_worker(start_worker, redis_server, receiver, partner, customer):
    _, secret = endpoint_for(partner, receiver.url, ["link.linked"])
    receiver.script(Behaviour(status=500))  # the first delivery fails: the worker retries it on its own
    redis_server.stop()

    _confirm_link(partner, customer)  # committed; the hand-over to the dispatcher fails (logged)

    event = PartnerEvent.objects.get()
    assert event.dispatched_at is None
    redis_server.start()
    worker = start_worker(**WORKER_ENV)
    wait_for(lambda: services.webhooks_sweep()["dispatched"], timeout=10, what="the sweeper dispatches the event")
    delivery = wait_for(
        lambda: WebhookDelivery.objects.filter(status="succeeded").first(), timeout=20, details=lambda: logs(worker)
    )

    assert delivery.attempt_count == 2
    assert list(WebhookAttempt.objects.filter(delivery=delivery).values_list("status_code", flat=True)) == [500, 204]
    assert [verified(r, secret)["type"] for r in receiver.received] == ["link.linked"] * 2
    assert {r.headers["webhook-id"] for r in receiver.received} == {event.event_id}


def test_a_worker_killed_mid_delivery_loses_nothing(start_worker, receiver, partner, customer):
    _, secret = endpoint_for(partner, receiver.url, ["link.linked"])
    receiver.script(Behaviour(status=204, delay=10))  # holds the first request while the worker is killed
    worker = start_worker(**WORKER_ENV)

    _confirm_link(partner, customer)
    wait_for(lambda: receiver.received, timeout=20, what="the first request", details=lambda: logs(worker))
    worker.kill()
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempt_count, WebhookAttempt.objects.count()) == ("pending", 1, 0)

    second = start_worker(**WORKER_ENV)  # an empty broker: the killed worker's message is gone with it
    wait_for(lambda: services.webhooks_sweep()["deliveries"], timeout=10, what="the sweeper after the lease expired")
    delivery = wait_for(
        lambda: WebhookDelivery.objects.filter(status="succeeded").first(), timeout=20, details=lambda: logs(second)
    )

    assert delivery.attempt_count == 2
    assert len(receiver.received) == 2  # at least once: the receiver drops the repeat by its webhook-id
    assert [verified(r, secret)["data"]["userId"] for r in receiver.received] == ["gm-1", "gm-1"]
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1
