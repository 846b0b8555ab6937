"""Reads across apps for the back-office."""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db.models import Count, OuterRef, Subquery, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from accounts.models import AuditLog, PartnerLink
from core import money
from gateways.models import CardCharge, CardCredit, ChargeStatus
from ledger.models import Account, AccountKind, Entry, Transaction, TransactionKind, TransactionStatus, Unit
from reconciliation.models import FindingStatus, ReconciliationFinding, ReconciliationRun
from wallet.models import LineItem

from .models import RefusalApi, RefusedAttempt


@dataclass(frozen=True)
class TimelineEvent:
    """One thing that touched a customer, for the back-office timeline."""

    at: datetime
    category: str  # payment, grant, adjustment, card, reversal, refund, purchase, comp, line item, gateway, staff, link, refused
    title: str
    detail: str
    amount: str  # signed, with its unit; "" when no money moved
    link: tuple[str, int] | None  # (app_label.model, pk) of the object to open


_CATEGORY_BY_KIND = {
    TransactionKind.PAY_FOR_CHARGING_SESSION: "payment",
    TransactionKind.CO2_OFFSET_CHARGING_SESSION: "payment",
    TransactionKind.CO2_DONATION: "payment",
    TransactionKind.KM_GRANT: "grant",
    TransactionKind.KM_ADJUSTMENT: "adjustment",
    TransactionKind.CARD_TOPUP: "card",
    TransactionKind.REVERSAL: "reversal",
    TransactionKind.CARD_REFUND: "refund",
    TransactionKind.CARD_CREDIT: "credit",
    TransactionKind.PURCHASE: "purchase",
    TransactionKind.LINE_ITEM_PURCHASE: "purchase",
    TransactionKind.COMP: "comp",
    TransactionKind.LINE_ITEM_CREDIT: "comp",
}
# Moves between system accounts only: the customer's wallet does not move, the card charge or credit tells it.
_NO_WALLET_MOVE = (
    TransactionKind.CARD_CAPTURE,
    TransactionKind.CARD_SETTLEMENT,
    TransactionKind.CARD_CREDIT_POSTED,
    TransactionKind.CARD_CREDIT_SETTLEMENT,
)
# A wallet transaction that records a purchase or a comp opens that record.
_RECORD_OF_KIND = {TransactionKind.PURCHASE: ("purchase", "wallet.purchase"), TransactionKind.COMP: ("comp", "wallet.comp")}


def customer_timeline(*, customer_id: int, limit: int = 100) -> list[TimelineEvent]:
    """Everything that touched a customer, newest first: wallet transactions (payments, grants, adjustments,
    top-ups, reversals, refunds, credits to the card, purchases, comps), card charges and card credits with each
    gateway attempt, the tap system's line items (pending, processed, rejected, written off), staff actions, partner
    links made and removed, and API requests refused for the customer. At most `limit` of each source are read (nine
    queries whatever the history's length), then the newest `limit` kept."""
    wallet_entries = Entry.objects.filter(
        transaction=OuterRef("pk"), account__kind=AccountKind.WALLET, account__customer_id=customer_id
    )
    transactions = (
        Transaction.objects.filter(customer_id=customer_id)
        .exclude(kind__in=_NO_WALLET_MOVE)
        .select_related("partner", "created_by", "purchase", "comp")
        .annotate(
            wallet_amount=Subquery(wallet_entries.values("transaction").annotate(total=Sum("amount")).values("total")[:1]),
            wallet_unit=Subquery(wallet_entries.values("account__unit")[:1]),
        )
        .order_by("-created_at", "-id")[:limit]
    )
    events = []
    for txn in transactions:
        who = txn.partner.name if txn.partner_id else (txn.created_by.username if txn.created_by_id else "")
        detail = " · ".join(
            part
            for part in (
                who,
                f"transactionId {txn.external_id}" if txn.external_id else "",
                f"EVSE {txn.evse_id}" if txn.evse_id else "",
                f"reverses #{txn.reverses_id}" if txn.reverses_id else "",
                txn.reason,
                "CANCELLED" if txn.status == TransactionStatus.CANCELLED else "",
            )
            if part
        )
        amount = money.amount(txn.wallet_amount, txn.wallet_unit, signed=True) if txn.wallet_amount else ""
        link = ("ledger.transaction", txn.pk)
        if txn.kind in _RECORD_OF_KIND:
            name, model = _RECORD_OF_KIND[txn.kind]
            record = getattr(txn, name, None)
            if record is not None:
                link = (model, record.pk)
                detail = " · ".join(
                    part for part in (detail, record.description, f"venue {record.venue_id}" if record.venue_id else "") if part
                )
        events.append(
            TimelineEvent(txn.created_at, _CATEGORY_BY_KIND.get(txn.kind, "ledger"), txn.get_kind_display(), detail, amount, link)
        )
    charges = (
        CardCharge.objects.filter(customer_id=customer_id).prefetch_related("attempts").order_by("-created_at", "-id")[:limit]
    )
    for charge in charges:
        events.append(
            TimelineEvent(
                charge.created_at,
                "card",
                f"Card charge #{charge.pk}: {charge.get_status_display()}",
                f"requested {money.dollars(charge.amount_requested)}"
                + (f", authorized {money.dollars(charge.amount_authorized)}" if charge.amount_authorized else "")
                + (f", debt {money.dollars(charge.debt_cents)}" if charge.debt_cents else "")
                + (f" · {charge.review_reason}" if charge.review_reason else ""),
                "",
                ("gateways.cardcharge", charge.pk),
            )
        )
        for attempt in charge.attempts.all():
            events.append(
                TimelineEvent(
                    attempt.created_at,
                    "gateway",
                    f"Gateway {attempt.request_type} for charge #{charge.pk}: {attempt.outcome}",
                    " ".join(filter(None, (attempt.response_code, attempt.response_description, attempt.error))),
                    "",
                    ("gateways.cardcharge", charge.pk),
                )
            )
    credits = (
        CardCredit.objects.filter(customer_id=customer_id)
        .select_related("payment_method")
        .prefetch_related("attempts")
        .order_by("-created_at", "-id")[:limit]
    )
    for credit in credits:
        events.append(
            TimelineEvent(
                credit.created_at,
                "credit",
                f"Card credit #{credit.pk}: {credit.get_status_display()}",
                f"{money.dollars(credit.amount)} to card {credit.payment_method.masked_token}"
                + (f" · batch {credit.batch_id}" if credit.batch_id else "")
                + (f" · {credit.review_reason}" if credit.review_reason else ""),
                "",
                ("gateways.cardcredit", credit.pk),
            )
        )
        for attempt in credit.attempts.all():
            events.append(
                TimelineEvent(
                    attempt.created_at,
                    "gateway",
                    f"Gateway {attempt.request_type} for credit #{credit.pk}: {attempt.outcome}",
                    " ".join(filter(None, (attempt.response_code, attempt.response_description, attempt.error))),
                    "",
                    ("gateways.cardcredit", credit.pk),
                )
            )
    for item in (
        LineItem.objects.filter(customer_id=customer_id).select_related("partner").order_by("-received_at", "-id")[:limit]
    ):
        events.append(
            TimelineEvent(
                item.received_at,
                "line item",
                f"Line item {item.line_item_id}: {item.get_status_display()}",
                " · ".join(
                    part
                    for part in (
                        item.partner.name,
                        item.account_name,
                        f"tap {item.tap_id}" if item.tap_id else "",
                        item.reject_reason,
                    )
                    if part
                ),
                money.dollars(item.money_units, signed=True),
                ("wallet.lineitem", item.pk),
            )
        )
    for record in AuditLog.objects.filter(customer_id=customer_id).select_related("actor").order_by("-created_at")[:limit]:
        events.append(
            TimelineEvent(
                record.created_at,
                "staff",
                f"{record.get_action_display()} by {record.actor.username if record.actor else record.partner_id}",
                record.reason,
                "",
                ("accounts.auditlog", record.pk),
            )
        )
    links = PartnerLink.objects.filter(customer_id=customer_id).select_related("partner").order_by("-created_at", "-id")[:limit]
    for link in links:
        who = f"{link.partner.name} · userId {link.external_user_id}"
        if link.linked_at is not None:
            events.append(
                TimelineEvent(
                    link.linked_at, "link", f"Linked to {link.partner.code}", who, "", ("accounts.partnerlink", link.pk)
                )
            )
        if link.removed_at is not None:
            events.append(
                TimelineEvent(
                    link.removed_at, "link", f"Unlinked by {link.partner.code}", who, "", ("accounts.partnerlink", link.pk)
                )
            )
    refusals = (
        RefusedAttempt.objects.filter(customer_id=customer_id).select_related("partner").order_by("-created_at", "-id")[:limit]
    )
    for attempt in refusals:
        sent = " · ".join(
            part
            for part in (
                attempt.partner.name if attempt.partner_id else "",
                f"userId {attempt.user_id}" if attempt.user_id else "",
                f"transactionId {attempt.transaction_id}" if attempt.transaction_id else "",
                f"request {attempt.request_id}",
            )
            if part
        )
        events.append(
            TimelineEvent(
                attempt.created_at,
                "refused",
                f"Refused: {attempt.error_code}",
                f"{refusal_reason(attempt)} ({sent})",
                money.amount(attempt.amount, attempt.unit),
                ("backoffice.refusedattempt", attempt.pk),
            )
        )
    events.sort(key=lambda event: event.at, reverse=True)
    return events[:limit]


def _args(attempt: RefusedAttempt, count: int) -> list:
    args = attempt.error_args if isinstance(attempt.error_args, list) else []
    return [*args, *[""] * count][:count]


def _andcharge_reason(attempt: RefusedAttempt) -> str:
    code = attempt.error_code
    if code == "ACCOUNT_BALANCE_NOT_SUFFICIENT":
        available, requested = _args(attempt, 2)
        return (
            f"Not enough kilometers: the wallet held {money.kilometers(available)}, "
            f"the partner asked for {money.kilometers(requested)}."
        )
    if code == "REFERENCED_OBJECT_NOT_FOUND":
        kind, name = _args(attempt, 2)
        if kind == "user":
            return f"The partner's userId {name} is not linked to a customer (never linked, or unlinked)."
        return f"No {kind} {name} for this partner."
    if code == "TRANSACTION_ALREADY_PROCESSED":
        (transaction_id,) = _args(attempt, 1)
        return f"transactionId {transaction_id} was already used by an earlier payment: nothing was taken twice."
    if code == "INVALID_PARAMETER":
        value, name = _args(attempt, 2)
        return f"The request's {name} was not acceptable: {value!r}."
    if code == "MANDATORY_PARAMETER_NOT_SET":
        (name,) = _args(attempt, 1)
        return f"The request lacked {name}."
    if code == "PARAMETER_MAX_LENGTH":
        name, longest = _args(attempt, 2)
        return f"The request's {name} was longer than {longest} characters."
    if code == "INVALID_FORMAT":
        return "The request's body was not a JSON object."
    if code == "ACCESS_DENIED":
        return "The partner may not do this: another partner's path, or the partner is not activated yet."
    if code == "TOO_MANY_REQUESTS":
        (seconds,) = _args(attempt, 1)
        return f"The partner went over its rate limit (retry after {seconds} s)."
    if code == "PAYLOAD_TOO_LARGE":
        (limit,) = _args(attempt, 1)
        return f"The request's body was over {limit} bytes."
    if code == "METHOD_NOT_ALLOWED":
        (method,) = _args(attempt, 1)
        return f"{method} is not allowed there."
    return f"Refused with {code} {attempt.error_args}."


_HOP_REASONS = {
    "10004": "No such customer for this partner: unknown, not linked to the partner, or an unknown or revoked RFID token.",
    "10012": "The request's body was not JSON, or was over the size limit.",
    "10015": "A request with the same Idempotency-Key was still running; this one did nothing.",
    "10016": "The Idempotency-Key had already been used with a different request.",
    "10017": "The service account went over its rate limit.",
    "10019": "The card gateway was busy: nothing was charged, the partner may retry.",
}


def _hop_reason(attempt: RefusedAttempt) -> str:
    detail = attempt.error_args if isinstance(attempt.error_args, dict) else {}
    field_errors = detail.get("errors") if isinstance(detail.get("errors"), dict) else {}
    said = "; ".join(f"{field} {', '.join(map(str, messages))}" for field, messages in field_errors.items())
    if attempt.error_code == "10006":
        if "payment" in field_errors:
            return "No card was sent and none is on record for this partner."
        return f"The card charge failed: {'; '.join(map(str, field_errors.get('charge', []))) or said}."
    if attempt.error_code == "10013":
        return f"The request was invalid: {said}."
    if attempt.error_code in _HOP_REASONS:
        return _HOP_REASONS[attempt.error_code]
    return f"{detail.get('message', 'Refused')}: {said}."


def refusal_reason(attempt: RefusedAttempt) -> str:
    """Why a request was refused, in words support can read out to a customer."""
    if attempt.api == RefusalApi.ANDCHARGE:
        return _andcharge_reason(attempt)
    return _hop_reason(attempt)


@dataclass
class Dashboard:
    """What the admin's front page shows finance and support (backoffice/templatetags/dashboard.py draws it)."""

    since: date
    km_paid_by_day: list[tuple[str, int]] = field(default_factory=list)
    km_paid_by_partner: list[tuple[str, int]] = field(default_factory=list)
    topups_by_day: list[tuple[str, int]] = field(default_factory=list)  # cents
    refusals_by_code: list[tuple[str, int]] = field(default_factory=list)
    charges_by_status: list[tuple[str, int]] = field(default_factory=list)  # counts
    charge_cents_by_status: dict[str, int] = field(default_factory=dict)
    debt_cents: int = 0
    open_findings: list[tuple[str, int]] = field(default_factory=list)  # "severity kind" → count
    open_errors: int = 0
    last_run: ReconciliationRun | None = None
    liability: dict[str, int] = field(default_factory=dict)  # unit → held by customers


def dashboard(*, days: int = 14, today: date | None = None) -> Dashboard:
    """The dashboard's figures over the last `days` days (money flows) and now (states). Six aggregate
    queries whatever the number of rows: each groups in the database and returns at most days x kinds x
    partners, statuses, codes or kinds rows."""
    today = today or timezone.localdate()
    since = today - timedelta(days=days - 1)
    start = timezone.make_aware(datetime.combine(since, time.min))
    board = Dashboard(since=since)

    # Wallet entries of payments (km out) and top-ups (cents in), by day, kind and partner: one query.
    flows = (
        Entry.objects.filter(
            transaction__created_at__gte=start,
            transaction__kind__in=(TransactionKind.PAY_FOR_CHARGING_SESSION, TransactionKind.CARD_TOPUP),
            account__kind=AccountKind.WALLET,
        )
        .annotate(day=TruncDate("transaction__created_at"))
        .values("day", "transaction__kind", "transaction__partner__code")
        .annotate(total=Sum("amount"))
    )
    km_by_day: dict[date, int] = defaultdict(int)
    km_by_partner: dict[str, int] = defaultdict(int)
    cents_by_day: dict[date, int] = defaultdict(int)
    for row in flows:
        if row["transaction__kind"] == TransactionKind.PAY_FOR_CHARGING_SESSION:
            km_by_day[row["day"]] -= row["total"]
            km_by_partner[row["transaction__partner__code"] or "-"] -= row["total"]
        else:
            cents_by_day[row["day"]] += row["total"]
    every_day = [since + timedelta(days=n) for n in range(days)]
    board.km_paid_by_day = [(f"{day:%a %d %b}", km_by_day.get(day, 0)) for day in every_day]
    board.km_paid_by_partner = sorted(km_by_partner.items(), key=lambda item: -item[1])
    board.topups_by_day = [(f"{day:%a %d %b}", cents_by_day.get(day, 0)) for day in every_day]

    board.refusals_by_code = [
        (row["error_code"], row["n"])
        for row in RefusedAttempt.objects.filter(created_at__gte=start)
        .values("error_code")
        .annotate(n=Count("id"))
        .order_by("-n", "error_code")
    ]
    labels = dict(ChargeStatus.choices)
    for row in CardCharge.objects.values("status").annotate(
        n=Count("id"), requested=Sum("amount_requested"), debt=Sum("debt_cents")
    ):
        board.charges_by_status.append((str(row["status"]), row["n"]))
        board.charge_cents_by_status[str(row["status"])] = row["requested"] or 0
        board.debt_cents += row["debt"] or 0
    order = list(labels)
    board.charges_by_status.sort(key=lambda item: order.index(item[0]) if item[0] in order else len(order))

    for row in (
        ReconciliationFinding.objects.filter(status=FindingStatus.OPEN)
        .values("severity", "kind")
        .annotate(n=Count("id"))
        .order_by("severity", "-n")
    ):
        board.open_findings.append((f"{row['severity']} {row['kind']}", row["n"]))
        if row["severity"] == "error":
            board.open_errors += row["n"]
    board.last_run = ReconciliationRun.objects.order_by("-started_at", "-id").first()
    board.liability = {
        row["unit"]: row["held"] or 0
        for row in Account.objects.filter(kind=AccountKind.WALLET).values("unit").annotate(held=Sum("balance"))
    }
    board.liability.setdefault(Unit.KM, 0)
    board.liability.setdefault(Unit.USD_CENTS, 0)
    return board
