"""A support agent replays a failed webhook delivery in a real browser (headless Chromium against a live server):
the delivery page shows the failed attempt, Replay… asks for a reason, the partner's receiver gets the same event
again (same webhook-id, verified by the reference library) and the replay is in the audit log."""

import pytest
from playwright.sync_api import expect

from accounts import services as accounts_services
from accounts.models import AuditLog
from backoffice.tests.browser import STAFF_PASSWORD, admin_login, screenshot
from backoffice.tests.helpers import staff_member
from webhooks.models import WebhookDelivery
from webhooks.tests.helpers import endpoint_for, verified
from webhooks.tests.receiver import Behaviour, Receiver

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def receiver(settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True  # the partner's receiver is on loopback here
    settings.CELERY_TASK_ALWAYS_EAGER = True  # deliveries run in the live server's thread, after the commit
    server = Receiver().start()
    yield server
    server.stop()


def test_support_replays_a_failed_delivery(http_server, page, partner, customer, receiver):
    # Given: PCS-001's endpoint answered 502 to the link.linked event of a link the customer confirmed.
    endpoint, secret = endpoint_for(partner, receiver.url, ["link.linked"])
    receiver.script(Behaviour(status=502, body=b"bad gateway"))
    _, code = accounts_services.partner_link_start(partner=partner, external_user_id="gm-1")
    accounts_services.partner_link_confirm(partner=partner, external_user_id="gm-1", activation_code=code, customer=customer)
    failed = WebhookDelivery.objects.get()
    assert (failed.last_status_code, len(receiver.received)) == (502, 1)
    staff_member("sam.support", "support", password=STAFF_PASSWORD)

    # When: the agent opens the delivery, sees the failed attempt, and replays it with a reason.
    admin_login(page, http_server, "sam.support")
    page.goto(f"{http_server}/admin/webhooks/webhookdelivery/{failed.pk}/change/")
    expect(page.locator("body")).to_contain_text("bad gateway")
    page.click("#replay-delivery")
    page.fill("#id_reason", "the partner's receiver was down during their deploy")
    screenshot(page, "webhook-replay-confirmation")
    page.click("input[name=confirm]")

    # Then: the replay's page says it is being sent, and the receiver got the same event again, verified.
    expect(page.locator(".messagelist")).to_contain_text(f"Event {failed.event.event_id} is being sent again")
    replay = WebhookDelivery.objects.exclude(pk=failed.pk).get()
    assert replay.status == "succeeded" and replay.replayed_by.username == "sam.support"
    again = receiver.received[-1]
    assert again.headers["webhook-id"] == failed.event.event_id
    assert verified(again, secret)["type"] == "link.linked"
    record = AuditLog.objects.get(action="webhook_replay")
    assert record.actor.username == "sam.support" and record.detail["deliveries"] == [replay.pk]
    assert record.reason == "the partner's receiver was down during their deploy"
    assert endpoint.pk == replay.endpoint_id
