"""Reads across apps for the back-office."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import OuterRef, Subquery, Sum

from accounts.models import AuditLog, PartnerLink
from gateways.models import CardCharge, CardCredit
from ledger.models import AccountKind, Entry, Transaction, TransactionKind, TransactionStatus


@dataclass(frozen=True)
class TimelineEvent:
    """One thing that touched a customer, for the back-office timeline."""

    at: datetime
    category: str  # payment, grant, adjustment, card, reversal, refund, gateway, staff, link
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
}
# Moves between system accounts only: the customer's wallet does not move, the card charge or credit tells it.
_NO_WALLET_MOVE = (
    TransactionKind.CARD_CAPTURE,
    TransactionKind.CARD_SETTLEMENT,
    TransactionKind.CARD_CREDIT_POSTED,
    TransactionKind.CARD_CREDIT_SETTLEMENT,
)


def customer_timeline(*, customer_id: int, limit: int = 100) -> list[TimelineEvent]:
    """Everything that touched a customer, newest first: wallet transactions (payments, grants, adjustments,
    top-ups, reversals, refunds, credits to the card), card charges and card credits with each gateway attempt, staff
    actions, and partner links made and removed. At most `limit` of each source are read (seven queries whatever
    the history's length), then the newest `limit` kept."""
    wallet_entries = Entry.objects.filter(
        transaction=OuterRef("pk"), account__kind=AccountKind.WALLET, account__customer_id=customer_id
    )
    transactions = (
        Transaction.objects.filter(customer_id=customer_id)
        .exclude(kind__in=_NO_WALLET_MOVE)
        .select_related("partner", "created_by")
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
        amount = f"{txn.wallet_amount:+d} {txn.wallet_unit}" if txn.wallet_amount else ""
        events.append(
            TimelineEvent(
                txn.created_at,
                _CATEGORY_BY_KIND.get(txn.kind, "ledger"),
                txn.get_kind_display(),
                detail,
                amount,
                ("ledger.transaction", txn.pk),
            )
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
                f"requested {charge.amount_requested}¢"
                + (f", authorized {charge.amount_authorized}¢" if charge.amount_authorized else "")
                + (f", debt {charge.debt_cents}¢" if charge.debt_cents else "")
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
                f"{credit.amount}¢ to card {credit.payment_method.masked_token}"
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
    events.sort(key=lambda event: event.at, reverse=True)
    return events[:limit]
