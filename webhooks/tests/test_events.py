"""Each change sends the right event, with the API's own representation, verified by the reference library; a
change that rolled back sends nothing; a partner without a subscribed endpoint records nothing."""

import pytest
from django.db import transaction
from django.urls import reverse

from accounts import services as accounts_services
from accounts.models import PartnerEvent
from gateways import services as gateway_services
from gateways.tests.factories import CardChargeFactory
from ledger import services as ledger_services
from webhooks import services
from webhooks.models import WebhookDelivery
from webhooks.tests.helpers import endpoint_for, verified
from webhooks.tests.receiver import Receiver


@pytest.fixture
def receiver(settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    settings.CELERY_TASK_ALWAYS_EAGER = True
    server = Receiver().start()
    yield server
    server.stop()


def _pay(partner, external_id="tx-1", km=7):
    return ledger_services.charging_session_pay(
        partner_code=partner.code,
        access_key_id=None,
        external_user_id="pcsUserId001",
        external_id=external_id,
        kilometer=km,
        reference="",
        service_data={"EVSE_ID": "DE*ABC*E123", "STREET": "Kölner Straße", "HOUSE_NUMBER": "", "CITY": "Eschborn"},
    )


def test_staff_reversal_sends_transaction_cancelled_as_the_api_shows_it(
    partner, funded_link, api, admin_user, receiver, django_capture_on_commit_callbacks
):
    _, secret = endpoint_for(partner, receiver.url, ["transaction.cancelled"])
    txn = _pay(partner)

    with django_capture_on_commit_callbacks(execute=True):
        ledger_services.transaction_reverse_by_staff(transaction_id=txn.pk, staff=admin_user, reason="double charge")

    [request] = receiver.received
    payload = verified(request, secret)
    shown = api.get(reverse("andcharge-transaction", args=["PCS-001", "pcsUserId001", "tx-1"])).json()
    assert payload["type"] == "transaction.cancelled"
    assert payload["data"] == shown
    assert shown["status"] == "CANCELLED" and shown["kilometer"] == -7
    event = PartnerEvent.objects.get()
    assert request.headers["webhook-id"] == event.event_id
    assert WebhookDelivery.objects.get().status == "succeeded"


def test_a_payment_sends_transaction_confirmed_at_the_next_sweep(
    partner, funded_link, api, receiver, django_capture_on_commit_callbacks
):
    _, secret = endpoint_for(partner, receiver.url, ["transaction.confirmed"])

    _pay(partner, "tx-2", 5)  # one statement: the database writes the event in the payment's own transaction
    assert receiver.received == []
    with django_capture_on_commit_callbacks(execute=True):
        services.webhooks_sweep()

    [request] = receiver.received
    payload = verified(request, secret)
    shown = api.get(reverse("andcharge-transaction", args=["PCS-001", "pcsUserId001", "tx-2"])).json()
    assert payload["type"] == "transaction.confirmed"
    assert payload["data"] == shown
    assert shown["status"] == "CONFIRMED"


def test_a_payment_records_nothing_for_a_partner_without_a_subscribed_endpoint(partner, funded_link, receiver):
    endpoint_for(partner, receiver.url, ["transaction.cancelled"])  # subscribed to something else

    _pay(partner, "tx-3")
    services.webhooks_sweep()

    assert PartnerEvent.objects.count() == 0
    assert receiver.received == []


def test_a_rolled_back_change_sends_nothing(partner, funded_link, admin_user, receiver, django_capture_on_commit_callbacks):
    endpoint_for(partner, receiver.url)
    txn = _pay(partner, "tx-4")
    services.webhooks_sweep()  # the payment's own event
    receiver.received.clear()
    sent_before = PartnerEvent.objects.count()

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        ledger_services.transaction_reverse_by_staff(transaction_id=txn.pk, staff=admin_user, reason="oops")
        assert PartnerEvent.objects.count() == sent_before + 1  # written with the change...
        raise RuntimeError("the change fails after the reversal was posted")
    services.webhooks_sweep()

    assert PartnerEvent.objects.count() == sent_before  # ...and gone with it
    assert receiver.received == []


def test_a_link_confirmed_and_removed_send_link_events(partner, customer, receiver, django_capture_on_commit_callbacks):
    _, secret = endpoint_for(partner, receiver.url, ["link.linked", "link.removed"])
    with django_capture_on_commit_callbacks(execute=True):
        _, code = accounts_services.partner_link_start(partner=partner, external_user_id="gm-42")
    assert receiver.received == []  # an INITIAL link is no event

    with django_capture_on_commit_callbacks(execute=True):
        accounts_services.partner_link_confirm(partner=partner, external_user_id="gm-42", activation_code=code, customer=customer)
    with django_capture_on_commit_callbacks(execute=True):
        accounts_services.partner_link_remove(partner=partner, external_user_id="gm-42")

    payloads = [verified(r, secret) for r in receiver.received]
    assert [(p["type"], p["data"]) for p in payloads] == [
        ("link.linked", {"status": "LINKED", "activationCode": None, "userId": "gm-42"}),
        ("link.removed", {"status": "REMOVED", "activationCode": None, "userId": "gm-42"}),
    ]
    assert payloads[0]["timestamp"].endswith("Z")


def test_a_charge_resolved_from_pending_sends_charge_authorized(
    gateway_settings, sandbox, partner, service_account, hop_customer, hop_api, receiver, django_capture_on_commit_callbacks
):
    _, secret = endpoint_for(partner, receiver.url, ["charge.authorized", "charge.declined", "charge.captured"])
    sandbox.control.add_fault("drop", request_type="004", record=True)  # approved at the gateway, the answer lost
    with django_capture_on_commit_callbacks(execute=True):
        charge = CardChargeFactory(requested_by=service_account, customer=hop_customer)
    assert charge.status == "pending"
    assert receiver.received == []

    with django_capture_on_commit_callbacks(execute=True):
        resolved = gateway_services.card_charge_resolve(charge_id=charge.pk)

    assert resolved.status == "authorized"  # and captured right after commit (eager here), its own event
    authorized, captured = [verified(r, secret) for r in receiver.received]
    shown = hop_api.get(f"/api/v1/users/{hop_customer.pk}/charges/{charge.pk}").json()["data"]["charge"]
    assert (authorized["type"], captured["type"]) == ("charge.authorized", "charge.captured")
    assert captured["data"] == shown
    assert authorized["data"] == {**shown, "status": "authorized"}  # the charge as it was when authorized


def test_a_refund_sends_charge_refunded(
    gateway_settings, partner, service_account, hop_customer, admin_user, receiver, django_capture_on_commit_callbacks
):
    _, secret = endpoint_for(partner, receiver.url, ["charge.refunded"])
    charge = CardChargeFactory(requested_by=service_account, customer=hop_customer)
    gateway_services.card_charge_refund_request(charge_id=charge.pk, requested_by=admin_user, reason="complaint")
    assert receiver.received == []

    with django_capture_on_commit_callbacks(execute=True):
        gateway_services.card_charge_refund(charge_id=charge.pk)

    [request] = receiver.received
    payload = verified(request, secret)
    assert payload["type"] == "charge.refunded"
    assert payload["data"]["id"] == charge.pk
    assert payload["data"]["status"] == "voided"
    assert payload["data"]["balance_in_cents"] == 0
