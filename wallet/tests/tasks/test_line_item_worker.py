"""Line items applied by a real Celery worker (a subprocess on a dedicated Redis, the real sandbox over HTTP):
pending → processed, or rejected past the credit limit; the automatic top-up of the card on record when
AUTO_TOPUP_CENTS is set; the sweeper finding a line item whose message was lost."""

import time

import pytest

from gateways.models import CardCharge, ChargeStatus
from gateways.tests.tasks.support import task_results, wait_for
from ledger.models import Transaction, TransactionKind
from ledger.tests.helpers import cents
from wallet import services
from wallet.models import LineItem, LineItemStatus

from ..helpers import dc_line_item_url, line_item, set_credit_limit

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("gateway_settings")]


def _item_in(line_item_id: str, *statuses):
    item = LineItem.objects.filter(line_item_id=line_item_id).first()
    return item if item is not None and item.status in statuses else None


def test_the_worker_processes_what_fits_rejects_the_rest_and_the_sweeper_finds_a_lost_message(
    hop_api, hop_customer, rfid, topped_up, start_worker, sandbox, redis_server
):
    topped_up(300)
    set_credit_limit(hop_customer, 100)
    # A line item whose message is lost: Redis is down when it is enqueued after commit (logged, not raised); the
    # line item stays pending, its status is the outbox.
    redis_server.stop()
    lost = hop_api.post(dc_line_item_url(rfid), line_item("pour-lost", -100), format="json")
    redis_server.start()
    worker = start_worker()

    fits = hop_api.post(dc_line_item_url(rfid), line_item("pour-1", -250), format="json")
    too_much = hop_api.post(dc_line_item_url(rfid), line_item("pour-2", -151), format="json")

    assert [r.json()["data"]["status"] for r in (lost, fits, too_much)] == ["pending"] * 3
    wait_for(lambda: _item_in("pour-1", LineItemStatus.PROCESSED), 15, what="pour-1 processed", details=worker.log)
    rejected = wait_for(lambda: _item_in("pour-2", LineItemStatus.REJECTED), 15, what="pour-2 rejected", details=worker.log)
    assert rejected.reject_reason == "the balance would pass the credit limit"
    assert cents(hop_customer) == 50
    assert hop_api.post(dc_line_item_url(rfid), line_item("pour-2", -151), format="json").json()["data"]["status"] == "rejected"
    assert _item_in("pour-lost", LineItemStatus.PENDING)

    time.sleep(1.2)  # SWEEP_AFTER_SECONDS
    assert services.line_items_sweep() == 1
    wait_for(lambda: _item_in("pour-lost", LineItemStatus.PROCESSED), 15, what="swept and processed", details=worker.log)
    assert cents(hop_customer) == -50
    assert services.line_items_sweep() == 0
    assert sandbox.control.requests() == []  # no top-up configured
    assert task_results(worker.log(), "wallet.apply_line_item") == ["'processed'", "'rejected'", "'processed'"]


def test_past_the_limit_with_auto_top_up_the_card_is_charged_once_and_the_pour_applied(
    hop_api, hop_customer, rfid, topped_up, start_worker, sandbox
):
    worker = start_worker(AUTO_TOPUP_CENTS="2000")
    topped_up(100)

    hop_api.post(dc_line_item_url(rfid), line_item("pour-1", -500), format="json")

    item = wait_for(
        lambda: _item_in("pour-1", LineItemStatus.PROCESSED, LineItemStatus.REJECTED), 20, what="applied", details=worker.log
    )
    assert item.status == LineItemStatus.PROCESSED, item.reject_reason
    topup = CardCharge.objects.get()
    assert (item.topup_charge_id, topup.amount_authorized, topup.partner.code) == (topup.pk, 2000, "PCS-001")
    assert topup.status in (ChargeStatus.AUTHORIZED, ChargeStatus.CAPTURED)
    assert len(sandbox.control.requests(request_type="004")) == 1
    assert cents(hop_customer) == 100 + 2000 - 500
    kinds = list(Transaction.objects.filter(customer=hop_customer).order_by("pk").values_list("kind", flat=True))
    assert kinds[:3] == [TransactionKind.COMP, TransactionKind.CARD_TOPUP, TransactionKind.LINE_ITEM_PURCHASE]
    assert task_results(worker.log(), "wallet.apply_line_item") == ["'processed'"]
