"""Closing a partner's monthly statement (DESIGN §3.6: "We will include those transactions in your billing")."""

from datetime import date

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Partner
from core.errors import InvalidParameter
from ledger import selectors as ledger_selectors
from ledger.models import AccountKind

from . import lock_objects, selectors
from .models import PartnerStatement, StatementLine


class MonthNotOver(InvalidParameter):
    """A month is closed once it has ended (UTC)."""


class StatementAlreadyClosed(InvalidParameter):
    """The month, or a later one, is closed already: a closed month never changes."""


def statement_close(*, partner: Partner, month: date) -> PartnerStatement:
    """Close the partner's statement of `month` (its first day): freeze as its lines every transaction on the
    partner's CO2 billing account that no statement holds yet and that was created before the month's end (items
    of earlier months that committed after those closed, too: late items fall into the next month closed).

    Locks the partner's billing account row (FOR NO KEY UPDATE: offsets booked meanwhile go on; one that commits
    after this read is a late item of the next month). UNIQUE(partner, month) and the lines' UNIQUE(transaction)
    are the backstop.
    Raises MonthNotOver, StatementAlreadyClosed (this month or a later one is closed).
    """
    label = f"{month:%Y-%m}"
    start, end = selectors.month_bounds(month)
    if timezone.now() < end:
        raise MonthNotOver(label, "month")
    billing = ledger_selectors.partner_billing_account_id(partner_id=partner.pk)
    try:
        with transaction.atomic():
            lock_objects.billing_account_lock(account_id=billing)
            if PartnerStatement.objects.filter(partner=partner, month__gte=month).exists():
                raise StatementAlreadyClosed(label, "month")
            items = selectors.open_items(partner=partner, before=end, month_start=start)
            statement = PartnerStatement.objects.create(
                partner=partner,
                month=month,
                closed_at=timezone.now(),
                offsets=len(items),
                kilometer_total=sum(item.kilometer for item in items),
            )
            StatementLine.objects.bulk_create(
                StatementLine(statement=statement, transaction_id=item.transaction_id, kilometer=item.kilometer) for item in items
            )
    except IntegrityError:
        raise StatementAlreadyClosed(label, "month") from None
    return statement


def statements_close_month(*, month: date) -> list[PartnerStatement]:
    """Close `month` for every partner that has a CO2 billing account and has not closed it (the scheduled job)."""
    closed = []
    partners = Partner.objects.filter(accounts__kind=AccountKind.BILLING).exclude(statements__month__gte=month).distinct()
    for partner in partners.order_by("pk"):
        try:
            closed.append(statement_close(partner=partner, month=month))
        except StatementAlreadyClosed:
            continue  # closed meanwhile (by hand): nothing to do
    return closed
