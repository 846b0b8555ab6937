"""Reads across apps for the back-office."""

from dataclasses import dataclass
from datetime import datetime

from django.db.models import OuterRef, Subquery, Sum

from accounts.models import AuditLog, PartnerLink
from gateways.models import CardCharge
from ledger.models import AccountKind, Entry, Transaction, TransactionKind, TransactionStatus
from wallet.models import LineItem


@dataclass(frozen=True)
class TimelineEvent:
    """One thing that touched a customer, for the back-office timeline."""

    at: datetime
    category: str  # payment, grant, adjustment, card, reversal, refund, purchase, comp, line item, gateway, staff, link
    title: str
    detail: str
    amount: str  # signed, with its unit; "" when no money moved
    link: tuple[str, int] | None  # (app_label.model, pk) of the object to open


_CATEGORY_BY_KIND = {
    TransactionKind.PAY_FOR_CHARGING_SESSION: "payment",
    TransactionKind.KM_GRANT: "grant",
    TransactionKind.KM_ADJUSTMENT: "adjustment",
    TransactionKind.CARD_TOPUP: "card",
    TransactionKind.REVERSAL: "reversal",
    TransactionKind.CARD_REFUND: "refund",
    TransactionKind.CARD_CREDIT: "refund",
    TransactionKind.PURCHASE: "purchase",
    TransactionKind.LINE_ITEM_PURCHASE: "purchase",
    TransactionKind.COMP: "comp",
    TransactionKind.LINE_ITEM_CREDIT: "comp",
}
# A wallet transaction that records a purchase or a comp opens that record.
_RECORD_OF_KIND = {TransactionKind.PURCHASE: ("purchase", "wallet.purchase"), TransactionKind.COMP: ("comp", "wallet.comp")}


def customer_timeline(*, customer_id: int, limit: int = 100) -> list[TimelineEvent]:
    """Everything that touched a customer, newest first: wallet transactions (payments, grants, adjustments,
    top-ups, reversals, refunds, purchases, comps), card charges with each gateway attempt, the tap system's line
    items (pending, processed, rejected, written off), staff actions, and partner links made and removed. At most
    `limit` of each source are read (six queries whatever the history's length), then the newest `limit` kept."""
    wallet_entries = Entry.objects.filter(
        transaction=OuterRef("pk"), account__kind=AccountKind.WALLET, account__customer_id=customer_id
    )
    transactions = (
        Transaction.objects.filter(customer_id=customer_id)
        .exclude(kind__in=(TransactionKind.CARD_CAPTURE, TransactionKind.CARD_SETTLEMENT))  # no wallet moves
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
        amount = f"{txn.wallet_amount:+d} {txn.wallet_unit}" if txn.wallet_amount else ""
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
                f"{item.money_units:+d} USD",
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
    events.sort(key=lambda event: event.at, reverse=True)
    return events[:limit]
