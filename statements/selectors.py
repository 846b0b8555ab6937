"""Reads of partner statements: a month's statement, closed (its frozen lines) or still open (what it holds now)."""

from dataclasses import dataclass
from datetime import UTC, date, datetime

from accounts.models import Partner
from ledger import selectors as ledger_selectors
from ledger.models import Entry

from .models import PartnerStatement, StatementLine

OPEN, CLOSED = "OPEN", "CLOSED"


@dataclass(frozen=True)
class StatementItem:
    transaction_id: int
    transaction_id_external: str  # the partner's transactionId (empty for a reversal by staff)
    reference: str
    kind: str
    created_at: datetime
    evse_id: str
    country: str
    kilometer: int  # billed: positive for an offset, negative for its reversal
    late: bool  # created before the statement's month: it committed after an earlier month closed


@dataclass(frozen=True)
class Statement:
    partner: Partner
    month: date
    status: str
    closed_at: datetime | None
    items: list[StatementItem]

    @property
    def offsets(self) -> int:
        return len(self.items)

    @property
    def kilometer_total(self) -> int:
        return sum(item.kilometer for item in self.items)


def month_bounds(month: date) -> tuple[datetime, datetime]:
    """[start, end) of a calendar month in UTC: statements follow UTC months."""
    start = datetime(month.year, month.month, 1, tzinfo=UTC)
    end = datetime(month.year + (month.month == 12), month.month % 12 + 1, 1, tzinfo=UTC)
    return start, end


def _item(values: dict, month_start: datetime) -> StatementItem:
    return StatementItem(
        transaction_id=values["transaction_id"],
        transaction_id_external=values["transaction__external_id"] or "",
        reference=values["transaction__reference"],
        kind=values["transaction__kind"],
        created_at=values["transaction__created_at"],
        evse_id=values["transaction__evse_id"],
        country=(values["transaction__service_data"] or {}).get("COUNTRY", ""),
        kilometer=-values["amount"],
        late=values["transaction__created_at"] < month_start,
    )


_ITEM_FIELDS = (
    "transaction_id",
    "transaction__external_id",
    "transaction__reference",
    "transaction__kind",
    "transaction__created_at",
    "transaction__evse_id",
    "transaction__service_data",
    "amount",
)


def open_items(*, partner: Partner, before: datetime, month_start: datetime) -> list[StatementItem]:
    """What the partner's CO2 billing account booked before `before` that no closed statement holds yet, oldest
    first. One query (plus the billing account's id)."""
    billing = ledger_selectors.partner_billing_account_id(partner_id=partner.pk)
    entries = (
        Entry.objects.filter(account_id=billing, transaction__created_at__lt=before, transaction__statement_line__isnull=True)
        .order_by("transaction__created_at", "transaction_id")
        .values(*_ITEM_FIELDS)
    )
    return [_item(values, month_start) for values in entries]


def statement_get(*, partner: Partner, month: date) -> Statement:
    """The partner's statement of `month` (its first day): the closed one as it was closed, else what it would
    hold if closed now (everything not yet billed, booked before the month's end)."""
    start, end = month_bounds(month)
    closed = PartnerStatement.objects.filter(partner=partner, month=month).first()
    if closed is None:
        return Statement(partner, month, OPEN, None, open_items(partner=partner, before=end, month_start=start))
    billing = ledger_selectors.partner_billing_account_id(partner_id=partner.pk)
    lines = StatementLine.objects.filter(statement=closed).values_list("transaction_id", "kilometer")
    billed = dict(lines)
    entries = (
        Entry.objects.filter(account_id=billing, transaction_id__in=billed)
        .order_by("transaction__created_at", "transaction_id")
        .values(*_ITEM_FIELDS)
    )
    items = [_item({**values, "amount": -billed[values["transaction_id"]]}, start) for values in entries]
    return Statement(partner, month, CLOSED, closed.closed_at, items)


def billing_balance(*, partner: Partner) -> int:
    """The partner's CO2 billing account: what it owes in kilometers, as a negative number."""
    return ledger_selectors.account_entries_total(account_id=ledger_selectors.partner_billing_account_id(partner_id=partner.pk))
