"""Celery tasks for card charges and card credits. Thin: each takes an id (or nothing) and calls one service.

Every task is idempotent (the service claims the charge with a conditional UPDATE and checks its state
under a row lock), so acks_late + reject_on_worker_lost redelivery is safe.
"""

import functools
import random

from celery import shared_task
from django.conf import settings

from . import services


def _backoff(retries: int) -> float:
    """Exponential backoff with full jitter, capped."""
    return random.uniform(0, min(settings.CAPTURE_RETRY_MAX_DELAY, 5 * 2**retries))  # noqa: S311 (jitter, not crypto)


def charge_work_task(name: str, *, gave_up: str):
    """A card-charge (or card-credit) task that retries only a transient gateway answer (GatewayNotDone), with backoff, up to
    CAPTURE_MAX_RETRIES; then it stops with `gave_up` and leaves the charge to the sweeper. The wrapped function
    takes the charge id and returns the charge (or None when there was nothing to do)."""

    def decorate(work):
        @shared_task(name=name, bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
        @functools.wraps(work)
        def task(self, charge_id: int) -> str:
            try:
                charge = work(charge_id)
            except services.GatewayNotDone as error:
                if self.request.retries >= settings.CAPTURE_MAX_RETRIES:
                    return f"{gave_up} ({error}); the sweeper re-enqueues"
                raise self.retry(countdown=_backoff(self.request.retries), exc=error) from None
            return charge.status if charge else "nothing to do"

        return task

    return decorate


@charge_work_task("gateways.capture_card_charge", gave_up="gave up for now")
def capture_card_charge(charge_id: int):
    return services.card_charge_capture(charge_id=charge_id)


@charge_work_task("gateways.resolve_card_charge", gave_up="still unknown")
def resolve_card_charge(charge_id: int):
    return services.card_charge_resolve(charge_id=charge_id)


@charge_work_task("gateways.refund_card_charge", gave_up="gave up for now")
def refund_card_charge(charge_id: int):
    return services.card_charge_refund(charge_id=charge_id)


@charge_work_task("gateways.resolve_card_credit", gave_up="still unknown")
def resolve_card_credit(credit_id: int):
    return services.card_credit_resolve(credit_id=credit_id)


@shared_task(name="gateways.sweep_card_charges", acks_late=True)
def sweep_card_charges() -> dict:
    return services.charges_sweep()


@shared_task(name="gateways.close_settlement_batch", bind=True, acks_late=True, max_retries=None)
def close_settlement_batch(self) -> str:
    try:
        batch = services.settlement_close()
    except (services.SettlementNotReady, services.GatewayNotDone) as error:
        if self.request.retries >= 12:
            return f"not closed: {error}"
        raise self.retry(countdown=60, exc=error) from None
    return batch.cycle_code
