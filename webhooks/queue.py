"""Sending webhook work to Celery by task name (services never import tasks).

Only ever called after commit. A failed send (Redis down) is logged, not raised: the delivery row is the outbox,
and the sweeper re-enqueues whatever did not start in time.
"""

import logging

from celery import current_app as app  # the project's app, without importing the project
from django.conf import settings

logger = logging.getLogger("chargepay.webhooks.queue")

DISPATCH = "webhooks.dispatch_event"
DELIVER = "webhooks.deliver"
SWEEP = "webhooks.sweep"


def enqueue(task_name: str, *args, countdown: float | None = None) -> bool:
    try:
        if settings.CELERY_TASK_ALWAYS_EAGER:
            if not countdown:  # eager mode (make run) has no clock: a later try waits for `make beat` or a replay
                app.tasks[task_name].apply(args=args)
        else:
            app.send_task(task_name, args=args, countdown=countdown, retry=False)
    except Exception:
        logger.warning("could not enqueue %s%s; the sweeper will", task_name, args, exc_info=True)
        return False
    return True
