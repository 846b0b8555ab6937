"""Reads of the ledger."""

import pycountry
from django.db.models import F, Q, QuerySet, Sum

from accounts.models import LinkStatus, Partner

from .co2 import GRID_INTENSITY_SEED, GridFactor
from .models import (
    DEFAULT_GRID_COUNTRY,
    Account,
    AccountKind,
    Entry,
    GridIntensity,
    SystemAccount,
    Transaction,
    TransactionKind,
    TransactionStatus,
    Unit,
)


def wallet_get(*, customer_id: int, unit: str) -> Account:
    return Account.objects.get(kind=AccountKind.WALLET, customer_id=customer_id, unit=unit)


def customer_balances(*, customer_id: int) -> dict[str, int]:
    """The customer's wallet balances by unit, e.g. {"KM": 62, "USD": 1500} (for audit records and the admin)."""
    balances = dict.fromkeys(Unit.values, 0)
    balances.update(Account.objects.filter(kind=AccountKind.WALLET, customer_id=customer_id).values_list("unit", "balance"))
    return balances


def transaction_wallet_moves(*, transaction_id: int) -> list[dict]:
    """What a transaction did to customer wallets: one dict per wallet entry with the account, its unit,
    its customer, the amount and the wallet's current balance."""
    return list(
        Entry.objects.filter(transaction_id=transaction_id, account__kind=AccountKind.WALLET)
        .order_by("account_id")
        .values(
            "account_id", "amount", unit=F("account__unit"), customer_id=F("account__customer_id"), balance=F("account__balance")
        )
    )


def wallet_for_partner_user(*, partner: Partner, external_user_id: str, unit: str = Unit.KM) -> Account | None:
    """The wallet of the customer a partner's userId is LINKED to, or None (unknown, or link not confirmed)."""
    return (
        Account.objects.filter(
            kind=AccountKind.WALLET,
            unit=unit,
            customer__links__partner=partner,
            customer__links__external_user_id=external_user_id,
            customer__links__status=LinkStatus.LINKED,
        )
        .only("id", "customer_id", "balance")
        .first()
    )


def partner_account_id(*, partner: Partner, unit: str) -> int:
    return Account.objects.values_list("pk", flat=True).get(kind=AccountKind.PARTNER, partner=partner, unit=unit)


SYSTEM_ACCOUNT_UNITS = {
    SystemAccount.KM_ISSUANCE: Unit.KM,
    SystemAccount.KM_ADJUSTMENT: Unit.KM,
    SystemAccount.KM_CO2_OFFSET: Unit.KM,
    SystemAccount.USD_CARD_AUTHORIZED: Unit.USD_CENTS,
    SystemAccount.USD_CARD_RECEIVABLE: Unit.USD_CENTS,
    SystemAccount.USD_CARD_SETTLED: Unit.USD_CENTS,
    SystemAccount.USD_CARD_CREDIT_PENDING: Unit.USD_CENTS,
    SystemAccount.USD_CARD_CREDIT_PAYABLE: Unit.USD_CENTS,
    SystemAccount.USD_VENUE_SALES: Unit.USD_CENTS,
    SystemAccount.USD_COMPS: Unit.USD_CENTS,
}


def system_account_id(*, code: SystemAccount) -> int:
    """The id of a system account. Migration 0002 creates them; a database flushed since (tests) gets
    them back on first use (get_or_create is safe here: `code` is UNIQUE)."""
    account, _ = Account.objects.get_or_create(kind=AccountKind.SYSTEM, code=code, defaults={"unit": SYSTEM_ACCOUNT_UNITS[code]})
    return account.pk


def account_balance(*, account: Account) -> int:
    """A wallet's cached balance; for shared accounts the sum of their entries."""
    if account.kind == AccountKind.WALLET:
        return account.balance
    return Entry.objects.filter(account=account).aggregate(total=Sum("amount"))["total"] or 0


def account_entries_total(*, account_id: int) -> int:
    """The sum of an account's entries (for a wallet, what its cached balance must equal)."""
    return Entry.objects.filter(account_id=account_id).aggregate(total=Sum("amount"))["total"] or 0


def wallet_pending(*, account: Account) -> int:
    """Kilometers held by OPEN transactions on this wallet (sign as seen by the customer)."""
    total = Entry.objects.filter(account=account, transaction__status=TransactionStatus.OPEN).aggregate(total=Sum("amount"))
    return total["total"] or 0


def _with_wallet_amount(queryset: QuerySet[Transaction]) -> QuerySet[Transaction]:
    """Annotate `wallet_amount`: the signed sum of the transaction's customer-wallet entries."""
    return queryset.select_related("partner").annotate(
        wallet_amount=Sum("entries__amount", filter=Q(entries__account__kind=AccountKind.WALLET))
    )


# What a partner sees in a user's history: what the user paid through it (a payment, an offset, a donation).
CUSTOMER_PAID_KINDS = (
    TransactionKind.PAY_FOR_CHARGING_SESSION,
    TransactionKind.CO2_OFFSET_CHARGING_SESSION,
    TransactionKind.CO2_DONATION,
)


def partner_transactions_for_customer(*, partner: Partner, customer_id: int) -> QuerySet[Transaction]:
    """A partner's own payments, offsets and donations for one customer, newest first."""
    queryset = Transaction.objects.filter(partner=partner, customer_id=customer_id, kind__in=CUSTOMER_PAID_KINDS).order_by(
        "-created_at", "-id"
    )
    return _with_wallet_amount(queryset)


def partner_transaction_get(*, partner: Partner, customer_id: int, external_id: str) -> Transaction | None:
    return partner_transactions_for_customer(partner=partner, customer_id=customer_id).filter(external_id=external_id).first()


def transaction_as_shown(*, transaction_id: int) -> Transaction:
    """One transaction with `partner` and `wallet_amount`, as the &Charge API renders it (a webhook event's data)."""
    return _with_wallet_amount(Transaction.objects.filter(pk=transaction_id)).get()


def partner_billing_account_id(*, partner_id: int) -> int:
    """The partner's CO2 billing account (what it owes for the offsets it pays itself). Partners get it when opened;
    one opened before it existed gets it on first use (get_or_create is safe: one per partner, kind and unit)."""
    account, _ = Account.objects.get_or_create(kind=AccountKind.BILLING, partner_id=partner_id, unit=Unit.KM)
    return account.pk


def grid_intensity_for(*, country: str) -> GridFactor:
    """The grid intensity of `country` (ISO 3166 alpha-2 or alpha-3), else the default row ("*"). One query."""
    found = pycountry.countries.get(alpha_3=country) if len(country) == 3 else None
    alpha_2 = found.alpha_2 if found is not None else country
    rows = {row.country: row for row in GridIntensity.objects.filter(country__in=[alpha_2, DEFAULT_GRID_COUNTRY])}
    row = rows.get(alpha_2) or rows.get(DEFAULT_GRID_COUNTRY)
    if row is None:
        # The table lost its default row (a flushed test database): the seeded one comes back.
        seeded = GRID_INTENSITY_SEED[DEFAULT_GRID_COUNTRY]
        row, _ = GridIntensity.objects.get_or_create(country=DEFAULT_GRID_COUNTRY, defaults=seeded)
    return GridFactor(country=row.country, grams_per_kwh=row.grams_per_kwh, version=row.version, source=row.source, year=row.year)
