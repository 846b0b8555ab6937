"""Celery tasks for webhooks. Thin: each takes an id (or nothing) and calls one service. Every task is idempotent
(the event row is locked; a delivery is claimed with a conditional UPDATE), so acks_late redelivery is safe."""

from celery import shared_task

from . import services


@shared_task(name="webhooks.dispatch_event", acks_late=True, reject_on_worker_lost=True)
def dispatch_event(event_pk: int) -> int:
    return services.event_dispatch(event_pk=event_pk)


@shared_task(name="webhooks.deliver", acks_late=True, reject_on_worker_lost=True)
def deliver(delivery_id: int) -> str:
    delivery = services.delivery_attempt(delivery_id=delivery_id)
    return delivery.status if delivery else "nothing due"


@shared_task(name="webhooks.sweep", acks_late=True)
def sweep() -> dict:
    return services.webhooks_sweep()
