"""Row locks for card charges, card credits and settlement batches. Several charges are always locked in primary-key order, so
two writers can never deadlock."""

from collections.abc import Iterable

from .models import CardCharge, CardCredit, ChargeStatus, CreditStatus, SettlementBatch


def card_charge_lock(*, charge_id: int) -> CardCharge:
    """Lock one charge row (FOR UPDATE of the charge only). Raises CardCharge.DoesNotExist."""
    return CardCharge.objects.select_for_update(of=("self",)).get(pk=charge_id)


def captured_charges_lock(*, charge_ids: Iterable[int]) -> list[CardCharge]:
    """Lock those of `charge_ids` that are still CAPTURED, in primary-key order."""
    return list(
        CardCharge.objects.select_for_update(of=("self",)).filter(pk__in=charge_ids, status=ChargeStatus.CAPTURED).order_by("pk")
    )


def settlement_batch_lock(*, batch_id: int) -> SettlementBatch:
    return SettlementBatch.objects.select_for_update(of=("self",)).get(pk=batch_id)


def card_credit_lock(*, credit_id: int) -> CardCredit:
    """Lock one card credit row (FOR UPDATE of the credit only). Raises CardCredit.DoesNotExist."""
    return CardCredit.objects.select_for_update(of=("self",)).get(pk=credit_id)


def posted_credits_lock(*, credit_ids: Iterable[int]) -> list[CardCredit]:
    """Lock those of `credit_ids` that are still POSTED, in primary-key order."""
    return list(
        CardCredit.objects.select_for_update(of=("self",)).filter(pk__in=credit_ids, status=CreditStatus.POSTED).order_by("pk")
    )
