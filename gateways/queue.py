"""Sending gateway work to Celery by task name (so services never import tasks).

Only ever called after commit. A failed send (Redis down) is logged, not raised: the charge's status is
the outbox, and the sweeper re-enqueues whatever did not start in time.
"""

import logging

from celery import current_app as app  # the project's app (chargepay.celery), without importing the project
from django.conf import settings

logger = logging.getLogger("chargepay.gateways.queue")

CAPTURE = "gateways.capture_card_charge"
RESOLVE = "gateways.resolve_card_charge"
REFUND = "gateways.refund_card_charge"
RESOLVE_CREDIT = "gateways.resolve_card_credit"
SWEEP = "gateways.sweep_card_charges"
CLOSE_BATCH = "gateways.close_settlement_batch"


def enqueue(task_name: str, *args) -> bool:
    try:
        if settings.CELERY_TASK_ALWAYS_EAGER:
            app.tasks[task_name].apply(args=args)
        else:
            app.send_task(task_name, args=args, retry=False)
    except Exception:
        logger.warning("could not enqueue %s%s; the sweeper will", task_name, args, exc_info=True)
        return False
    return True
