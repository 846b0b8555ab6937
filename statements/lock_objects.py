"""Row locks for statements."""

from ledger.models import Account


def billing_account_lock(*, account_id: int) -> None:
    """Serialise the closings of one partner's statements on its CO2 billing account row. FOR NO KEY UPDATE: the
    offsets being booked meanwhile only take a key-share lock on it (their entries' foreign key), so they go on."""
    Account.objects.select_for_update(no_key=True).filter(pk=account_id).values_list("pk", flat=True).get()
