"""Helpers for the real-process settlement tests: polling, the ledger's view of a charge, worker-log parsing."""

import json
import re
import time
from collections.abc import Callable
from typing import TypeVar

from django.db.models import Sum

from gateways.models import CardCharge
from ledger.models import Entry, SystemAccount, Transaction, TransactionKind
from ledger.tests.helpers import cents

T = TypeVar("T")

CAPTURE_TASK = "gateways.capture_card_charge"
RESOLVE_TASK = "gateways.resolve_card_charge"
REFUND_TASK = "gateways.refund_card_charge"
CLOSE_BATCH_TASK = "gateways.close_settlement_batch"
SWEEP_TASK = "gateways.sweep_card_charges"


def wait_for(predicate: Callable[[], T], timeout: float = 15.0, *, interval: float = 0.1, what: str = "", details=None) -> T:
    """Poll `predicate` (typically a database query) until it returns something truthy; return that.

    Fails the test after `timeout` seconds; `details` (a callable) adds context to the failure, e.g. worker logs.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            extra = f"\n{details()}" if details else ""
            raise AssertionError(f"timed out after {timeout}s waiting for {what or predicate}{extra}")
        time.sleep(interval)


def charge(charge_id: int) -> CardCharge:
    return CardCharge.objects.select_related("payment_method").get(pk=charge_id)


def charge_in(charge_id: int, *statuses: str) -> CardCharge | None:
    """The charge once it is in one of `statuses` (and holds no work lease), else None."""
    current = charge(charge_id)
    return current if current.status in statuses and current.work_lease_until is None else None


def ledger_transactions(customer, kind: str):
    return Transaction.objects.filter(customer=customer, kind=kind).order_by("pk")


def entries_by_code(transaction: Transaction) -> dict[str, int]:
    """{account: amount} of one ledger transaction: system accounts by code, wallets as 'wallet'."""
    return {(e.account.code or "wallet"): e.amount for e in transaction.entries.select_related("account")}


def system_balances(customer) -> dict[str, int]:
    """The sum of this customer's card entries on each card system account."""
    codes = (SystemAccount.USD_CARD_AUTHORIZED, SystemAccount.USD_CARD_RECEIVABLE, SystemAccount.USD_CARD_SETTLED)
    return {
        code.value: Entry.objects.filter(account__code=code, transaction__customer=customer).aggregate(s=Sum("amount"))["s"] or 0
        for code in codes
    }


def card_kinds(customer) -> list[str]:
    """The kinds of the customer's ledger transactions, oldest first."""
    return list(Transaction.objects.filter(customer=customer).order_by("pk").values_list("kind", flat=True))


_RESULT = re.compile(
    r"Task (?P<task>[\w.]+)\[(?P<id>[0-9a-f-]+)\] (?P<verb>succeeded|retry|raised unexpected)[^:]*:?\s?(?P<rest>.*)"
)


def log_messages(log: str) -> str:
    """The messages of a worker's log, one a line: its JSON lines' `message`, other lines (a traceback, Celery's
    banner) as they are."""
    lines = []
    for line in log.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            record = None
        lines.append(record["message"] if isinstance(record, dict) and "message" in record else line)
    return "\n".join(lines)


def json_lines(log: str) -> list[dict]:
    """The JSON log records of a worker's log."""
    records = []
    for line in log.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            records.append(record)
    return records


def task_results(log: str, task: str) -> list[str]:
    """What a worker's INFO log says each run of `task` ended with: the return value's repr, 'retry: ...' or 'error: ...'."""
    results = []
    for match in _RESULT.finditer(log_messages(log)):
        if match["task"] != task:
            continue
        if match["verb"] == "succeeded":
            results.append(match["rest"].strip())
        elif match["verb"] == "retry":
            results.append("retry")
        else:
            results.append("error: " + match["rest"].strip())
    return results


# --- the API, the sandbox's books, and "captured exactly once" --------------------------------------------------

AUTHORIZED = SystemAccount.USD_CARD_AUTHORIZED.value
RECEIVABLE = SystemAccount.USD_CARD_RECEIVABLE.value
SETTLED = SystemAccount.USD_CARD_SETTLED.value


def post_charge(hop_api, customer, amount: int):
    return hop_api.post(f"/api/v1/users/{customer.pk}/charges", {"charge": {"amount_in_cents": amount}}, format="json")


def charge_through_api(hop_api, customer, amount: int, expected_status: int = 201) -> int:
    """POST a charge; check the HTTP status; return the charge id."""
    response = post_charge(hop_api, customer, amount)
    assert response.status_code == expected_status, response.content
    return response.json()["data"]["charge"]["id"]


def booked(sandbox, transaction_id: str, transaction_type: str) -> list[dict]:
    """The sandbox's books for one of our TransactionIDs: the operations of `transaction_type` it performed."""
    return [
        op for op in sandbox.control.transactions(transaction_id=transaction_id) if op["transaction_type"] == transaction_type
    ]


def processed_replayed(requests: list[dict]) -> list[tuple[bool, bool]]:
    return [(r["processed"], r["replayed"]) for r in requests]


def logs(*workers) -> str:
    return "\n".join(f"--- {w.name}\n{w.log()[-8000:]}" for w in workers)


def assert_captured_once(sandbox, customer, charge_id: int, amount: int) -> CardCharge:
    """CAPTURED; one capture booked at the sandbox; one CARD_CAPTURE ledger movement authorized → receivable;
    the wallet credited exactly once."""
    current = charge(charge_id)
    assert current.status == "captured"
    [capture] = booked(sandbox, current.capture_transaction_id, "capture")
    assert capture["reference_number"] == current.gateway_trans_id
    assert capture["approved_amount"] == amount
    assert current.capture_gateway_trans_id == capture["gateway_trans_id"]
    captures = list(ledger_transactions(customer, TransactionKind.CARD_CAPTURE))
    assert [t.pk for t in captures] == [current.capture_ledger_transaction_id]
    assert entries_by_code(captures[0]) == {AUTHORIZED: amount, RECEIVABLE: -amount}
    assert ledger_transactions(customer, TransactionKind.CARD_TOPUP).count() == 1
    assert cents(customer) == amount
    return current


NOTHING_SWEPT = {"capture": 0, "resolve": 0, "refund": 0, "resolve_credit": 0}
