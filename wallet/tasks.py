"""Celery tasks of the cents wallet. Thin: each takes an id (or nothing) and calls one service. Idempotent (the
service claims the line item with a conditional UPDATE and checks its state under a row lock), so acks_late +
reject_on_worker_lost redelivery is safe."""

from celery import shared_task
from django.conf import settings

from gateways.tasks import _backoff

from . import services


@shared_task(name="wallet.apply_line_item", bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def apply_line_item(self, line_item_pk: int) -> str:
    try:
        item = services.line_item_apply(line_item_pk=line_item_pk)
    except services.LineItemNotDone as error:
        if self.request.retries >= settings.CAPTURE_MAX_RETRIES:
            return f"not done ({error}); the sweeper re-enqueues"
        raise self.retry(countdown=_backoff(self.request.retries), exc=error) from None
    return item.status if item else "nothing to do"


@shared_task(name="wallet.sweep_line_items", acks_late=True)
def sweep_line_items() -> int:
    return services.line_items_sweep()
