"""Reads of the ledger."""

from django.db.models import F, Q, QuerySet, Sum

from accounts.models import LinkStatus, Partner

from .models import Account, AccountKind, Entry, SystemAccount, Transaction, TransactionKind, TransactionStatus, Unit


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
    SystemAccount.USD_CARD_AUTHORIZED: Unit.USD_CENTS,
    SystemAccount.USD_CARD_RECEIVABLE: Unit.USD_CENTS,
    SystemAccount.USD_CARD_SETTLED: Unit.USD_CENTS,
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


def partner_transactions_for_customer(*, partner: Partner, customer_id: int) -> QuerySet[Transaction]:
    """A partner's own payments for one customer, newest first."""
    queryset = Transaction.objects.filter(
        partner=partner, customer_id=customer_id, kind=TransactionKind.PAY_FOR_CHARGING_SESSION
    ).order_by("-created_at", "-id")
    return _with_wallet_amount(queryset)


def partner_transaction_get(*, partner: Partner, customer_id: int, external_id: str) -> Transaction | None:
    return partner_transactions_for_customer(partner=partner, customer_id=customer_id).filter(external_id=external_id).first()
