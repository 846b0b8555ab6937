"""Delivery to a real receiver over loopback HTTP: the retry schedule with jitter (time moved on by the test),
Retry-After, 410, a slow answer, a closed connection, rotation's two signatures, the 5-day disable and its e-mail,
addresses that may not be called. Every request is verified with the reference `standardwebhooks` library."""

from datetime import timedelta

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import WebhookVerificationError

from accounts import services as accounts_services
from accounts.models import AuditLog
from accounts.tests.factories import CustomerFactory
from webhooks import outbound, services
from webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from webhooks.tests.helpers import endpoint_for, verified
from webhooks.tests.receiver import Behaviour, Receiver


@pytest.fixture
def receiver(settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.WEBHOOK_TIMEOUT_SECONDS = 1
    server = Receiver().start()
    yield server
    server.stop()


def _link_event(partner, customer, capture, user_id="gm-1"):
    """Confirm a link (its link.linked event is dispatched after commit) and return the delivery it made."""
    with capture(execute=True):
        _, code = accounts_services.partner_link_start(partner=partner, external_user_id=user_id)
        accounts_services.partner_link_confirm(partner=partner, external_user_id=user_id, activation_code=code, customer=customer)
    return WebhookDelivery.objects.order_by("-pk").first()


def _time_passes(delivery) -> None:
    """Move the delivery's next try to now: the time the schedule asked for has passed."""
    WebhookDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())


def _delays(delivery) -> list[float]:
    attempts = WebhookAttempt.objects.filter(delivery=delivery).order_by("pk")
    return [(a.next_attempt_at - a.attempted_at).total_seconds() for a in attempts if a.next_attempt_at]


def test_failures_follow_the_schedule_with_jitter_then_give_up(
    partner, customer, receiver, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_RETRY_JITTER = 0.1
    _, secret = endpoint_for(partner, receiver.url)
    receiver.script(*[Behaviour(status=500, body=b"boom " * 400)] * 8)

    delivery = _link_event(partner, customer, django_capture_on_commit_callbacks)  # attempt 1: immediately
    assert delivery.attempt_count == 1
    for _ in range(7):
        assert services.delivery_attempt(delivery_id=delivery.pk) is None  # not due yet: nothing sent
        _time_passes(delivery)
        services.delivery_attempt(delivery_id=delivery.pk)

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt_count, delivery.last_status_code) == ("failed", 8, 500)
    expected = [5, 300, 1800, 7200, 18000, 36000, 36000]
    assert all(e * 0.9 - 1 <= d <= e * 1.1 + 1 for d, e in zip(_delays(delivery), expected, strict=True)), _delays(delivery)
    assert len(receiver.received) == 8
    ids = {r.headers["webhook-id"] for r in receiver.received}
    assert ids == {delivery.event.event_id}  # the same id on every retry
    for request in receiver.received:
        assert verified(request, secret)["type"] == "link.linked"
    attempt = WebhookAttempt.objects.filter(delivery=delivery).first()
    assert attempt.status_code == 500 and attempt.response_excerpt.startswith("boom") and len(attempt.response_excerpt) == 1000
    assert WebhookEndpoint.objects.get().enabled  # failing for less than 5 days


def test_a_success_after_failures_ends_the_delivery_and_nothing_is_sent_twice(
    partner, customer, receiver, django_capture_on_commit_callbacks
):
    endpoint, _ = endpoint_for(partner, receiver.url)
    receiver.script(Behaviour(status=503), Behaviour(close=True))

    delivery = _link_event(partner, customer, django_capture_on_commit_callbacks)
    _time_passes(delivery)
    services.delivery_attempt(delivery_id=delivery.pk)  # the connection is closed without an answer
    _time_passes(delivery)
    services.delivery_attempt(delivery_id=delivery.pk)  # 204
    _time_passes(delivery)
    assert services.delivery_attempt(delivery_id=delivery.pk) is None

    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt_count) == ("succeeded", 3)
    attempts = list(WebhookAttempt.objects.filter(delivery=delivery).values_list("status_code", flat=True))
    assert attempts == [503, None, 204]
    assert "RemoteDisconnected" in WebhookAttempt.objects.filter(delivery=delivery)[1].error
    assert len(receiver.received) == 3
    endpoint.refresh_from_db()
    assert endpoint.failing_since is None


def test_a_slow_answer_is_a_timeout_and_is_retried(partner, customer, receiver, django_capture_on_commit_callbacks):
    endpoint_for(partner, receiver.url)
    receiver.script(Behaviour(status=200, delay=2))  # past WEBHOOK_TIMEOUT_SECONDS (1 s here)

    delivery = _link_event(partner, customer, django_capture_on_commit_callbacks)

    delivery.refresh_from_db()
    [attempt] = WebhookAttempt.objects.filter(delivery=delivery)
    assert delivery.status == "pending" and attempt.status_code is None
    assert "timed out" in attempt.error.lower() or "timeout" in attempt.error.lower()
    assert 900 <= attempt.duration_ms < 2000


def test_retry_after_is_honoured(partner, customer, receiver, django_capture_on_commit_callbacks):
    endpoint_for(partner, receiver.url)
    receiver.script(Behaviour(status=429, retry_after="120"))

    delivery = _link_event(partner, customer, django_capture_on_commit_callbacks)

    [delay] = _delays(delivery)
    assert 120 <= delay <= 121  # not the schedule's 5 s


def test_410_disables_the_endpoint_and_cancels_its_other_deliveries(
    partner, customer, receiver, django_capture_on_commit_callbacks
):
    endpoint, _ = endpoint_for(partner, receiver.url)
    receiver.script(Behaviour(status=500), Behaviour(status=410))
    first = _link_event(partner, customer, django_capture_on_commit_callbacks, "gm-1")  # 500: to be retried
    second = _link_event(partner, CustomerFactory(), django_capture_on_commit_callbacks, "gm-2")  # 410

    endpoint.refresh_from_db()
    first.refresh_from_db()
    second.refresh_from_db()
    assert not endpoint.enabled and "410" in endpoint.disabled_reason
    assert (second.status, first.status) == ("failed", "cancelled")
    _time_passes(first)
    assert services.delivery_attempt(delivery_id=first.pk) is None
    assert len(receiver.received) == 2


def test_failing_for_five_days_disables_and_emails_the_contact(
    partner, customer, receiver, mailoutbox, django_capture_on_commit_callbacks
):
    endpoint, _ = services.endpoint_create(
        partner=partner, url=receiver.url, event_types=["link.linked"], contact_email="ops@partner.example"
    )
    receiver.script(Behaviour(status=500), Behaviour(status=500))
    delivery = _link_event(partner, customer, django_capture_on_commit_callbacks)
    endpoint.refresh_from_db()
    assert endpoint.failing_since is not None and mailoutbox == []
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=timezone.now() - timedelta(days=5, seconds=1))
    _time_passes(delivery)

    with django_capture_on_commit_callbacks(execute=True):
        services.delivery_attempt(delivery_id=delivery.pk)

    endpoint.refresh_from_db()
    assert not endpoint.enabled and endpoint.disabled_reason.startswith("failing since")
    [mail] = mailoutbox
    assert mail.to == ["ops@partner.example"] and receiver.url in mail.subject


def test_a_rotated_secret_signs_too_for_24_hours(partner, customer, receiver, django_capture_on_commit_callbacks):
    endpoint, old = endpoint_for(partner, receiver.url)
    endpoint, new = services.endpoint_secret_rotate(partner=partner, endpoint_id=endpoint.pk)
    assert new != old and AuditLog.objects.filter(action="webhook_endpoint_change").count() == 2

    _link_event(partner, customer, django_capture_on_commit_callbacks, "gm-1")
    [during] = receiver.received
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    verified(during, old, new)  # both verify: the partner may switch at any moment

    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(previous_secret_expires_at=timezone.now())
    _link_event(partner, CustomerFactory(), django_capture_on_commit_callbacks, "gm-2")
    after = receiver.received[1]
    verified(after, new)
    with pytest.raises(WebhookVerificationError):
        verified(after, old)


def test_a_tampered_body_or_an_old_timestamp_fails_verification(partner, customer, receiver, django_capture_on_commit_callbacks):
    _, secret = endpoint_for(partner, receiver.url)
    _link_event(partner, customer, django_capture_on_commit_callbacks)
    [request] = receiver.received

    request.body = request.body.replace(b"gm-1", b"gm-2")
    with pytest.raises(WebhookVerificationError):
        verified(request, secret)


@pytest.mark.parametrize(
    "url",
    [
        "http://partner.example/hook",  # not https
        "https://127.0.0.1/hook",
        "https://10.1.2.3/hook",
        "https://[::1]/hook",
        "https://169.254.169.254/latest",
        "https://localhost/hook",
        "https://user:pw@partner.example/hook",
        "ftp://partner.example/hook",
    ],
)
def test_urls_that_may_not_be_called_in_production(url, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    assert outbound.url_problem(url, allow_private=False) is not None
    answer = outbound.post(url, body=b"{}", headers={}, timeout=1, allow_private=False)
    assert answer.status is None and answer.error.startswith("refused")


def test_a_name_resolving_to_a_private_address_is_refused_at_delivery_time():
    with pytest.raises(outbound.AddressRefused):
        outbound.resolve("localhost", 443, allow_private=False)
    assert outbound.url_problem("https://partner.example/hook", allow_private=False) is None


def test_an_endpoint_registered_then_made_private_is_not_called(
    partner, customer, receiver, settings, django_capture_on_commit_callbacks
):
    endpoint_for(partner, receiver.url)
    settings.WEBHOOK_ALLOW_PRIVATE = False  # production: the loopback receiver may not be called

    delivery = _link_event(partner, customer, django_capture_on_commit_callbacks)

    [attempt] = WebhookAttempt.objects.filter(delivery=delivery)
    assert attempt.status_code is None and attempt.error.startswith("refused")
    assert receiver.received == []
