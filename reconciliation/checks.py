"""Reconciliation checks. Each returns the discrepancies it sees now, as Discrepancy values.

- The ledger against itself (set-based SQL, no per-row Python loops): every transaction balanced per unit
  with at least 2 entries; cached wallet balance = sum of entries; no negative wallet; no transaction
  reversed twice.
- The cards: stale_authorization: an authorized charge older than the capture window (the gateway voids those at settlement).
- receivable_mismatch: the receivable account must equal the captured-but-unsettled charges.
- Gateway matching, per batch closed on the business date, against the gateway's CSV (an uploaded
  GatewayBatchFile, else the export at GATEWAY_BATCH_EXPORT_URL), by the capture's GatewayTransID:
  missing_at_gateway, missing_in_ledger, amount_mismatch, status_mismatch, duplicate_at_gateway,
  batch_unavailable. A capture recorded on a 30036 answer (no GatewayTransID heard) is matched by its capture
  TransactionID instead.
"""

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import requests
from django.conf import settings
from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from gateways.models import CardCharge, ChargeStatus, GatewayBatchFile, SettlementBatch
from ledger import selectors as ledger_selectors
from ledger.models import Account, SystemAccount

from .models import Severity


@dataclass(frozen=True)
class Discrepancy:
    kind: str
    severity: str
    key: str  # what makes this discrepancy itself (with the kind, the fingerprint)
    objects: dict = field(default_factory=dict)
    expected: int | None = None
    actual: int | None = None
    detail: str = ""

    @property
    def fingerprint(self) -> str:
        return f"{self.kind}:{self.key}"[:200]


def _rows(sql: str, params=()) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def ledger_checks() -> list[Discrepancy]:
    """Every transaction balanced per unit with ≥ 2 entries; cached wallet balance = sum of entries; no
    negative wallet; no transaction reversed twice. Each is one aggregate query."""
    found = [
        Discrepancy(
            "unbalanced_transaction",
            Severity.ERROR,
            f"{txn}:{unit}",
            {"transaction": txn, "unit": unit},
            0,
            total,
            f"entries of transaction {txn} sum to {total} {unit}",
        )
        for txn, unit, total in _rows(
            "SELECT e.transaction_id, a.unit, SUM(e.amount) FROM ledger_entry e JOIN ledger_account a ON a.id = e.account_id"
            " GROUP BY e.transaction_id, a.unit HAVING SUM(e.amount) <> 0"
        )
    ]
    found += [
        Discrepancy(
            "too_few_entries", Severity.ERROR, str(txn), {"transaction": txn}, 2, count, f"transaction {txn} has {count} entries"
        )
        for txn, count in _rows(
            "SELECT t.id, COUNT(e.id) FROM ledger_transaction t LEFT JOIN ledger_entry e ON e.transaction_id = t.id"
            " GROUP BY t.id HAVING COUNT(e.id) < 2"
        )
    ]
    found += [
        Discrepancy(
            "wallet_balance_mismatch",
            Severity.ERROR,
            str(account),
            {"account": account, "customer": customer},
            total,
            balance,
            f"wallet {account} caches {balance}, its entries sum to {total}",
        )
        for account, customer, balance, total in _rows(
            "SELECT a.id, a.customer_id, a.balance, COALESCE(s.total, 0) FROM ledger_account a"
            " LEFT JOIN (SELECT account_id, SUM(amount) AS total FROM ledger_entry GROUP BY account_id) s ON s.account_id = a.id"
            " WHERE a.kind = 'WALLET' AND a.balance <> COALESCE(s.total, 0)"
        )
    ]
    found += [
        Discrepancy(
            "negative_wallet",
            Severity.ERROR,
            str(account),
            {"account": account, "customer": customer},
            0,
            balance,
            f"wallet {account} is at {balance}",
        )
        # Below its floor: zero, or minus the credit limit finance gave a cents wallet.
        for account, customer, balance in _rows(
            "SELECT id, customer_id, balance FROM ledger_account WHERE kind = 'WALLET' AND balance < -credit_limit"
        )
    ]
    found += [
        Discrepancy(
            "reversed_twice",
            Severity.ERROR,
            str(original),
            {"transaction": original},
            1,
            count,
            f"transaction {original} has {count} reversals",
        )
        for original, count in _rows(
            "SELECT reverses_id, COUNT(*) FROM ledger_transaction WHERE reverses_id IS NOT NULL"
            " GROUP BY reverses_id HAVING COUNT(*) > 1"
        )
    ]
    return found


def card_checks(business_date: date) -> list[Discrepancy]:
    found: list[Discrepancy] = []
    window = timezone.now() - timedelta(hours=settings.CAPTURE_WINDOW_HOURS)
    for charge_id, amount, authorized_at in CardCharge.objects.filter(
        status=ChargeStatus.AUTHORIZED, authorized_at__lt=window
    ).values_list("pk", "amount_authorized", "authorized_at"):
        found.append(
            Discrepancy(
                "stale_authorization",
                Severity.ERROR,
                str(charge_id),
                {"charge": charge_id},
                None,
                amount,
                f"charge {charge_id} authorized at {authorized_at:%Y-%m-%d %H:%M} is not captured",
            )
        )
    captured = CardCharge.objects.filter(status=ChargeStatus.CAPTURED).aggregate(total=Sum("amount_authorized"))["total"] or 0
    receivable = Account.objects.filter(code=SystemAccount.USD_CARD_RECEIVABLE).first()
    balance = -ledger_selectors.account_balance(account=receivable) if receivable else 0
    if balance != captured:
        found.append(
            Discrepancy(
                "receivable_mismatch",
                Severity.ERROR,
                "usd_card_receivable",
                {"account": SystemAccount.USD_CARD_RECEIVABLE},
                captured,
                balance,
                f"receivable holds {balance}, captured-but-unsettled charges {captured}",
            )
        )
    start = timezone.make_aware(datetime.combine(business_date, time.min))
    for batch in SettlementBatch.objects.filter(closed_at__gte=start, closed_at__lt=start + timedelta(days=1)).exclude(
        cycle_code=""
    ):
        found += batch_matching(batch.cycle_code)
    return found


def batch_rows(cycle_code: str) -> list[dict[str, str]]:
    """The gateway's rows for a batch: an uploaded file first, else the export. Raises ValueError / requests errors."""
    uploaded = GatewayBatchFile.objects.filter(cycle_code=cycle_code).first()
    if uploaded is not None:
        text = uploaded.content
    else:
        response = requests.get(
            settings.GATEWAY_BATCH_EXPORT_URL.format(cycle_code=cycle_code), timeout=settings.GATEWAY_TIMEOUT_SECONDS
        )
        response.raise_for_status()
        text = response.text
    rows = list(csv.DictReader(io.StringIO(text)))
    if rows and not {"GatewayTransID", "Amount", "Type"} <= set(rows[0]):
        raise ValueError("the batch file lacks GatewayTransID, Amount or Type")
    return rows


def batch_matching(cycle_code: str) -> list[Discrepancy]:
    try:
        rows = batch_rows(cycle_code)
    except (ValueError, requests.RequestException) as error:
        return [Discrepancy("batch_unavailable", Severity.ERROR, cycle_code, {"batch": cycle_code}, detail=str(error)[:500])]
    found: list[Discrepancy] = []
    at_gateway: dict[str, list[dict]] = {}
    for row in rows:
        at_gateway.setdefault(row["GatewayTransID"], []).append(row)
    # A capture recorded on a 30036 answer never heard its GatewayTransID: the batch row carrying its capture
    # TransactionID confirms it; without one it is missing_at_gateway under its TransactionID.
    by_transaction_id = {row.get("TransactionID", ""): row["GatewayTransID"] for row in rows}
    ours = {}
    for c in CardCharge.objects.filter(batch_id=cycle_code).only(
        "pk", "capture_gateway_trans_id", "capture_transaction_id", "capture_unconfirmed", "amount_authorized", "status"
    ):
        trans_id = c.capture_gateway_trans_id
        if c.capture_unconfirmed and not trans_id:
            trans_id = by_transaction_id.get(c.capture_transaction_id) or f"unconfirmed:{c.capture_transaction_id}"
        ours[trans_id] = c
    for trans_id, charge in ours.items():
        rows_for = at_gateway.get(trans_id, [])
        key = f"{cycle_code}:{trans_id}"
        involved = {"batch": cycle_code, "charge": charge.pk, "gateway_trans_id": trans_id}
        if not rows_for:
            found.append(
                Discrepancy(
                    "missing_at_gateway",
                    Severity.ERROR,
                    key,
                    involved,
                    charge.amount_authorized,
                    None,
                    f"charge {charge.pk} is settled in {cycle_code} by us, not by the gateway"
                    + (" (its capture was recorded on a 30036 answer)" if charge.capture_unconfirmed else ""),
                )
            )
            continue
        if len(rows_for) > 1:
            found.append(
                Discrepancy(
                    "duplicate_at_gateway",
                    Severity.ERROR,
                    key,
                    involved,
                    1,
                    len(rows_for),
                    f"the gateway lists {trans_id} {len(rows_for)} times",
                )
            )
        amount = _int(rows_for[0].get("Amount"))
        if amount != charge.amount_authorized:
            found.append(
                Discrepancy(
                    "amount_mismatch",
                    Severity.ERROR,
                    key,
                    involved,
                    charge.amount_authorized,
                    amount,
                    f"charge {charge.pk}: we captured {charge.amount_authorized}, the gateway settled {amount}",
                )
            )
        if rows_for[0].get("Type") != "sale" or charge.status != ChargeStatus.SETTLED:
            found.append(
                Discrepancy(
                    "status_mismatch",
                    Severity.ERROR,
                    key,
                    involved,
                    None,
                    None,
                    f"charge {charge.pk} is {charge.status}; the gateway says {rows_for[0].get('Type')}",
                )
            )
    for trans_id, rows_for in at_gateway.items():
        if trans_id not in ours:
            row = rows_for[0]
            found.append(
                Discrepancy(
                    "missing_in_ledger",
                    Severity.ERROR,
                    f"{cycle_code}:{trans_id}",
                    {"batch": cycle_code, "gateway_trans_id": trans_id, "transaction_id": row.get("TransactionID", "")},
                    None,
                    _int(row.get("Amount")),
                    f"the gateway settled {trans_id} ({row.get('Type')}) in {cycle_code}; we have no such charge in it",
                )
            )
    return found


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
