"""Row locks for the ledger, always taken in primary-key order so two writers can never deadlock."""

from django.db.models import F, Value

from .models import Account, AccountKind, Transaction


def transaction_lock(*, transaction_id: int) -> Transaction:
    return Transaction.objects.select_for_update(of=("self",)).get(pk=transaction_id)


def wallet_move(*, account_id: int, amount: int, use_credit: bool = False) -> bool:
    """Move a wallet's cached balance by `amount` under the row lock the UPDATE takes.

    A debit applies only when the wallet can bear it (conditional UPDATE: the check and the write are
    one statement, so no other writer can slip in between): down to zero, or with `use_credit` down to minus
    the wallet's credit limit (spending at venues). Returns False when it could not.
    """
    wallets = Account.objects.filter(pk=account_id, kind=AccountKind.WALLET)
    if amount < 0:
        floor = Value(-amount) - F("credit_limit") if use_credit else Value(-amount)
        wallets = wallets.filter(balance__gte=floor)
    return wallets.update(balance=F("balance") + amount) == 1


def wallet_lock(*, customer_id: int, unit: str) -> Account:
    """Lock one customer's wallet row (FOR UPDATE). Raises Account.DoesNotExist."""
    return Account.objects.select_for_update(of=("self",)).get(kind=AccountKind.WALLET, customer_id=customer_id, unit=unit)
