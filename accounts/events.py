"""Partner events for webhooks: the outbox row a service writes in its own transaction when it changes something a
partner's endpoint has subscribed to (DESIGN §11).

The services that change things (links here, reversals in ledger, card charges in gateways) sit below the webhooks
app, which knows the endpoints. So the webhooks app registers, when it loads, the question "does this partner have
an enabled endpoint subscribed to this type?" (`subscription_check_register`); without it nothing is recorded. The
check runs first, so a partner without endpoints costs one indexed query and no rendering.

After commit the event is handed to the webhooks app's dispatcher by task name; a lost hand-over (Redis down, worker
killed) is found by its sweeper from `dispatched_at`.
"""

import json
import logging
import uuid
from collections.abc import Callable

from celery import current_app as app  # the project's app, without importing the project
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from .models import PartnerEvent, PartnerEventType

logger = logging.getLogger("chargepay.accounts.events")

DISPATCH_TASK = "webhooks.dispatch_event"

SubscriptionCheck = Callable[[int, str], bool]
_subscription_check: SubscriptionCheck | None = None


def subscription_check_register(check: SubscriptionCheck | None) -> None:
    """Called by the webhooks app when it loads: `check(partner_id, event_type)`."""
    global _subscription_check
    _subscription_check = check


def new_event_id() -> str:
    """A `webhook-id`: `msg_` and 32 hex digits (the database writes the same shape, see webhooks/sql/)."""
    return f"msg_{uuid.uuid4().hex}"


def event_record(*, partner_id: int | None, type: PartnerEventType, subject, build: Callable[[], dict]) -> PartnerEvent | None:
    """Record `type` about `subject` (a model instance) for the partner, when one of its enabled endpoints wants it.

    `build` returns the event's data, the object as the API shows it; it is called only when the event is recorded.
    Must run inside the change's transaction (asserted: an event written after the change committed could be lost).
    Returns the event, or None (no partner, or nobody subscribed).
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("event_record must run inside the transaction of the change it reports")
    if partner_id is None or _subscription_check is None or not _subscription_check(partner_id, type):
        return None
    event = PartnerEvent.objects.create(
        event_id=new_event_id(),
        partner_id=partner_id,
        type=type,
        data=json.dumps(build(), ensure_ascii=False, separators=(",", ":")),
        subject=f"{subject._meta.label_lower}:{subject.pk}",
        created_at=timezone.now(),
    )
    transaction.on_commit(lambda: dispatch_enqueue(event.pk))
    return event


def dispatch_enqueue(event_pk: int) -> bool:
    """Hand an event to the webhooks dispatcher after commit. A failed send is logged, not raised: the sweeper
    dispatches what was not dispatched in time."""
    try:
        if settings.CELERY_TASK_ALWAYS_EAGER:
            app.tasks[DISPATCH_TASK].apply(args=(event_pk,))
        else:
            app.send_task(DISPATCH_TASK, args=(event_pk,), retry=False)
    except Exception:
        logger.warning("could not enqueue %s(%s); the sweeper will", DISPATCH_TASK, event_pk, exc_info=True)
        return False
    return True
