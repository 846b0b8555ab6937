"""Reconciliation checks. Each returns the discrepancies it sees now, as Discrepancy values.

- The ledger against itself (set-based SQL, no per-row Python loops): every transaction balanced per unit
  with at least 2 entries; cached wallet balance = sum of entries; no negative wallet; no transaction
  reversed twice.
- The cards: stale_authorization: an authorized charge older than the capture window (the gateway voids those at settlement).
- receivable_mismatch: the receivable account must equal the captured-but-unsettled charges; likewise
  credit_pending_mismatch and credit_payable_mismatch for the card credits in flight and posted.
- Partner CO2 statements: statement_total_mismatch (a closed statement's totals are not the sum of its lines);
  co2_billing_mismatch (a partner's CO2 billing account is not what its closed statements billed plus what its
  open month holds, i.e. a line that does not say what its transaction booked).
- Gateway matching, per batch closed on the business date, against the gateway's CSV (an uploaded
  GatewayBatchFile, else the export at GATEWAY_BATCH_EXPORT_URL or GATEWAY_URL's host), by the capture's GatewayTransID:
  missing_at_gateway, missing_in_ledger, amount_mismatch, status_mismatch, duplicate_at_gateway,
  batch_unavailable. Card credits (refunds to cards) are matched the same way, as `credit` rows. A capture
  recorded on a 30036 answer (no GatewayTransID heard) is matched by its capture
  TransactionID instead.
"""

import csv
import io
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from urllib.parse import quote, urlsplit

import requests
from django.conf import settings
from django.db import connection
from django.db.models import Sum
from django.utils import timezone

from gateways.models import CardCharge, CardCredit, ChargeStatus, CreditStatus, GatewayBatchFile, SettlementBatch
from ledger import selectors as ledger_selectors
from ledger.models import Account, SystemAccount

from .models import Severity

# The kinds whose check reads the whole current state on every run, whatever its date: one of their findings that a
# run no longer sees is gone. Every other kind is seen only by the run that checks its batch (`involved["batch"]`).
WHOLE_STATE_KINDS = frozenset(
    {
        "unbalanced_transaction",
        "too_few_entries",
        "wallet_balance_mismatch",
        "negative_wallet",
        "reversed_twice",
        "stale_authorization",
        "receivable_mismatch",
        "credit_pending_mismatch",
        "credit_payable_mismatch",
        "co2_billing_mismatch",
        "statement_total_mismatch",
    }
)


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


def statement_checks(business_date: date) -> list[Discrepancy]:
    """The partner statements against the ledger, two aggregate queries."""
    found = [
        Discrepancy(
            "statement_total_mismatch",
            Severity.ERROR,
            str(statement),
            {"statement": statement, "partner": partner},
            lines_total,
            total,
            f"statement {statement} bills {total} km in {offsets} items, its lines {lines_total} km in {lines}",
        )
        for statement, partner, offsets, total, lines, lines_total in _rows(
            "SELECT s.id, s.partner_id, s.offsets, s.kilometer_total, COUNT(l.id), COALESCE(SUM(l.kilometer), 0)"
            " FROM statements_partnerstatement s LEFT JOIN statements_statementline l ON l.statement_id = s.id"
            " GROUP BY s.id HAVING s.offsets <> COUNT(l.id) OR s.kilometer_total <> COALESCE(SUM(l.kilometer), 0)"
        )
    ]
    # Owed (-balance) = billed in closed statements + the open items (entries of transactions no statement holds).
    found += [
        Discrepancy(
            "co2_billing_mismatch",
            Severity.ERROR,
            str(partner),
            {"account": account, "partner": partner},
            billed + open_total,
            owed,
            f"partner {partner} owes {owed} km on its CO2 billing account; statements bill {billed}, open items {open_total}",
        )
        for account, partner, owed, billed, open_total in _rows(
            "SELECT a.id, a.partner_id, -COALESCE((SELECT SUM(e.amount) FROM ledger_entry e WHERE e.account_id = a.id), 0),"
            " COALESCE((SELECT SUM(s.kilometer_total) FROM statements_partnerstatement s WHERE s.partner_id = a.partner_id), 0),"
            " -COALESCE((SELECT SUM(e.amount) FROM ledger_entry e WHERE e.account_id = a.id AND NOT EXISTS"
            " (SELECT 1 FROM statements_statementline l WHERE l.transaction_id = e.transaction_id)), 0)"
            " FROM ledger_account a WHERE a.kind = 'BILLING'"
        )
        if owed != billed + open_total
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
    found += _credit_account_checks()
    for cycle_code in batches_closed_on(business_date):
        found += batch_matching(cycle_code)
    return found


def batches_closed_on(business_date: date) -> list[str]:
    """The cycle codes of the settlement batches closed on `business_date`: what a run for that date matches."""
    start = timezone.make_aware(datetime.combine(business_date, time.min))
    return list(
        SettlementBatch.objects.filter(closed_at__gte=start, closed_at__lt=start + timedelta(days=1))
        .exclude(cycle_code="")
        .order_by("closed_at")
        .values_list("cycle_code", flat=True)
    )


def batch_export_url(cycle_code: str) -> str:
    """Where the gateway exports a batch: GATEWAY_BATCH_EXPORT_URL, else the sandbox's export path on GATEWAY_URL's
    scheme and host (the gateway and its export are one server)."""
    template = settings.GATEWAY_BATCH_EXPORT_URL
    if not template:
        gateway = urlsplit(settings.GATEWAY_URL)
        template = f"{gateway.scheme}://{gateway.netloc}/_sandbox/batches/{{cycle_code}}.csv"
    return template.format(cycle_code=quote(cycle_code, safe=""))


def _credit_account_checks() -> list[Discrepancy]:
    """credit_pending_mismatch / credit_payable_mismatch: the card-credit system accounts hold exactly the credits
    in flight (PENDING: sent, outcome unknown, parked for staff included) and the ones posted but not yet settled (POSTED)."""
    found = []
    for code, statuses, kind in (
        (SystemAccount.USD_CARD_CREDIT_PENDING, (CreditStatus.PENDING,), "credit_pending_mismatch"),
        (SystemAccount.USD_CARD_CREDIT_PAYABLE, (CreditStatus.POSTED,), "credit_payable_mismatch"),
    ):
        expected = CardCredit.objects.filter(status__in=statuses).aggregate(total=Sum("amount"))["total"] or 0
        account = Account.objects.filter(code=code).first()
        held = ledger_selectors.account_balance(account=account) if account else 0
        if held != expected:
            found.append(
                Discrepancy(
                    kind,
                    Severity.ERROR,
                    str(code),
                    {"account": str(code)},
                    expected,
                    held,
                    f"{code} holds {held}, the card credits in it {expected}",
                )
            )
    return found


def batch_rows(cycle_code: str) -> list[dict[str, str]]:
    """The gateway's rows for a batch: an uploaded file first, else the export. Raises ValueError / requests errors."""
    uploaded = GatewayBatchFile.objects.filter(cycle_code=cycle_code, replaced_at__isnull=True).first()
    if uploaded is not None:
        text = uploaded.content
    else:
        response = requests.get(batch_export_url(cycle_code), timeout=settings.GATEWAY_TIMEOUT_SECONDS)
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
    ours: dict[str, _Settled] = {}
    for c in CardCharge.objects.filter(batch_id=cycle_code).only(
        "pk", "capture_gateway_trans_id", "capture_transaction_id", "capture_unconfirmed", "amount_authorized", "status"
    ):
        trans_id = c.capture_gateway_trans_id
        if c.capture_unconfirmed and not trans_id:
            trans_id = by_transaction_id.get(c.capture_transaction_id) or f"unconfirmed:{c.capture_transaction_id}"
        ours[trans_id] = _Settled("charge", c.pk, c.amount_authorized, c.status == ChargeStatus.SETTLED, "sale", c.status)
        ours[trans_id].unconfirmed = c.capture_unconfirmed
    # Credits (money going back to cards) are matched like captures: by their GatewayTransID, a `credit` row for
    # the amount we refunded (the file's Amount is unsigned; its Type says which way the money went).
    for credit in CardCredit.objects.filter(batch_id=cycle_code).only("pk", "gateway_trans_id", "amount", "status"):
        ours[credit.gateway_trans_id] = _Settled(
            "credit", credit.pk, credit.amount, credit.status == CreditStatus.SETTLED, "credit", credit.status
        )
    for trans_id, charge in ours.items():
        rows_for = at_gateway.get(trans_id, [])
        key = f"{cycle_code}:{trans_id}"
        involved = {"batch": cycle_code, charge.what: charge.pk, "gateway_trans_id": trans_id}
        if not rows_for:
            found.append(
                Discrepancy(
                    "missing_at_gateway",
                    Severity.ERROR,
                    key,
                    involved,
                    charge.amount,
                    None,
                    f"{charge.what} {charge.pk} is settled in {cycle_code} by us, not by the gateway"
                    + (" (its capture was recorded on a 30036 answer)" if charge.unconfirmed else ""),
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
        if amount != charge.amount:
            did = "captured" if charge.what == "charge" else "refunded"
            found.append(
                Discrepancy(
                    "amount_mismatch",
                    Severity.ERROR,
                    key,
                    involved,
                    charge.amount,
                    amount,
                    f"{charge.what} {charge.pk}: we {did} {charge.amount}, the gateway settled {amount}",
                )
            )
        if rows_for[0].get("Type") != charge.row_type or not charge.settled:
            found.append(
                Discrepancy(
                    "status_mismatch",
                    Severity.ERROR,
                    key,
                    involved,
                    None,
                    None,
                    f"{charge.what} {charge.pk} is {charge.status}; the gateway says {rows_for[0].get('Type')}",
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
                    f"the gateway settled {trans_id} ({row.get('Type')}) in {cycle_code}; we have no such charge or credit in it",
                )
            )
    return found


@dataclass
class _Settled:
    """One of our card charges or credits that we settled in a batch, as batch matching compares it to a row."""

    what: str  # "charge" or "credit"
    pk: int
    amount: int
    settled: bool
    row_type: str  # the batch row's Type it must have: "sale" (a capture) or "credit"
    status: str
    unconfirmed: bool = False


def _int(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
