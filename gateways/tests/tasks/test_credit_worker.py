"""A card credit whose gateway answer is lost: 202 pending with the wallet debited; the sweeper hands it to a real
worker, which re-sends the identical request (same TransactionID) and applies the outcome once: posted, or refused
and the cents given back, never refunded twice. Real worker process, real Redis, the real sandbox over HTTP."""

import pytest

from gateways import services
from gateways.models import CardCredit, CreditStatus
from gateways.tests.helpers import requests_of
from ledger import services as ledger_services
from ledger.models import Transaction, TransactionKind, TransactionStatus
from ledger.tests.helpers import cents

from .support import NOTHING_SWEPT, logs, processed_replayed, task_results, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("gateway_settings")]

RESOLVE_CREDIT_TASK = "gateways.resolve_card_credit"


def credit_in(credit_id: int, status: str) -> CardCredit | None:
    return CardCredit.objects.filter(pk=credit_id, status=status).first()


@pytest.mark.parametrize(
    ("fault", "record", "amount", "resolved_as"),
    [
        # The sandbox posted the credit, the answer was lost: the re-sent request gets the original posting.
        pytest.param("slow", True, 600, CreditStatus.POSTED, id="posted-answer-lost"),
        # The request never reached the books, and the amount is in a decline range: declined on the re-send.
        pytest.param("drop", False, 7000, CreditStatus.DECLINED, id="never-booked-then-declined"),
    ],
)
def test_lost_credit_answer_is_resolved_once_by_the_worker(
    hop_api, hop_customer, sandbox, start_worker, gateway_settings, fault, record, amount, resolved_as
):
    ledger_services.card_topup_credit(customer_id=hop_customer.pk, amount_cents=10_000)
    gateway_settings.GATEWAY_TIMEOUT_SECONDS = 1.0  # the API's own wait
    sandbox.control.add_fault(fault, request_type="004", seconds=3, record=record)
    worker = start_worker()

    response = hop_api.post(f"/api/v1/users/{hop_customer.pk}/credits", {"credit": {"amount_in_cents": amount}}, format="json")

    assert response.status_code == 202, response.content
    assert response.json()["data"]["credit"]["balance_in_cents"] == 10_000 - amount
    credit_id = response.json()["data"]["credit"]["id"]
    pending = CardCredit.objects.get(pk=credit_id)
    assert pending.status == CreditStatus.PENDING
    assert cents(hop_customer) == 10_000 - amount  # debited first, while the outcome is unknown

    wait_for(lambda: services.charges_sweep()["resolve_credit"], 10, what="the sweeper to enqueue the resolution")
    wait_for(lambda: credit_in(credit_id, resolved_as), 15, what=resolved_as, details=lambda: logs(worker))

    sent = requests_of(sandbox, "004")
    assert [r["transaction_id"] for r in sent] == [pending.gateway_transaction_id] * 2
    assert processed_replayed(sent) == [(record, False), (True, record)]
    booked = sandbox.control.transactions(transaction_id=pending.gateway_transaction_id)
    assert len(booked) == 1  # refunded (or declined) once, whatever happened
    assert task_results(worker.log(), RESOLVE_CREDIT_TASK) == [repr(str(resolved_as))]
    kinds = list(Transaction.objects.filter(customer=hop_customer).order_by("pk").values_list("kind", "status"))[1:]
    if resolved_as == CreditStatus.POSTED:
        assert booked[0]["status"] == "captured"  # posted, awaiting the batch
        assert cents(hop_customer) == 10_000 - amount
        assert kinds == [
            (TransactionKind.CARD_CREDIT, TransactionStatus.CONFIRMED),
            (TransactionKind.CARD_CREDIT_POSTED, TransactionStatus.CONFIRMED),
        ]
    else:
        assert booked[0]["status"] == "declined"
        assert cents(hop_customer) == 10_000  # given back, once
        assert kinds == [
            (TransactionKind.CARD_CREDIT, TransactionStatus.CANCELLED),
            (TransactionKind.REVERSAL, TransactionStatus.CONFIRMED),
        ]

    # A late re-delivery of the task, or another sweep, changes nothing.
    assert services.card_credit_resolve(credit_id=credit_id) is None
    assert services.charges_sweep() == NOTHING_SWEPT
    assert list(Transaction.objects.filter(customer=hop_customer).order_by("pk").values_list("kind", "status"))[1:] == kinds
