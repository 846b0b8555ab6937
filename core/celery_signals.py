"""Celery's processes log and count like the web: JSON lines, the request id carried into tasks, task outcomes.

- Logging: the worker and beat configure logging from Django's LOGGING (core/logging.py) instead of Celery's own
  text format (`setup_logging`: when it has a receiver Celery leaves logging alone).
- The request id: a task sent while a request is served carries that request's id in a message header
  (`before_task_publish`); the worker puts it back in the context while the task runs (`task_prerun` /
  `task_postrun`), with the task's name and id, so every line the task logs says which request enqueued it. A task
  sent by a task (the sweeper's captures) passes the id on. An eager task runs inside the request: it keeps the
  request's id.
- Metrics: each run's outcome (success, retry, failure) by task name (core/metrics.py).

chargepay/celery.py imports this module, so the receivers are connected in every process that has the Celery app.
"""

import logging.config
import re

from celery import signals

from core import metrics
from core.request_context import request_id_var, task_var

REQUEST_ID_HEADER = "chargepay_request_id"
_SAFE = re.compile(r"^[A-Za-z0-9._-]{1,100}$")

# Context tokens of the tasks running in this process, by task id (a task may run inside another, eagerly).
_tokens: dict[str, tuple] = {}


@signals.setup_logging.connect
def _configure_logging(**kwargs) -> None:
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)


@signals.before_task_publish.connect
def _send_request_id(headers: dict | None = None, **kwargs) -> None:
    request_id = request_id_var.get()
    if headers is not None and request_id != "-":
        headers.setdefault(REQUEST_ID_HEADER, request_id)


@signals.task_prerun.connect
def _enter_task(task_id: str | None = None, task=None, **kwargs) -> None:
    if task is None or task_id is None:
        return
    sent = getattr(task.request, REQUEST_ID_HEADER, None)
    request_id = sent if isinstance(sent, str) and _SAFE.match(sent) else request_id_var.get()
    _tokens[task_id] = (request_id_var.set(request_id), task_var.set((task.name, task_id)))


@signals.task_postrun.connect
def _leave_task(task_id: str | None = None, **kwargs) -> None:
    tokens = _tokens.pop(task_id, None)
    if tokens is not None:
        request_token, task_token = tokens
        task_var.reset(task_token)
        request_id_var.reset(request_token)


@signals.task_success.connect
def _count_success(sender=None, **kwargs) -> None:
    metrics.CELERY_TASKS.labels(getattr(sender, "name", "unknown"), "success").inc()


@signals.task_retry.connect
def _count_retry(sender=None, **kwargs) -> None:
    metrics.CELERY_TASKS.labels(getattr(sender, "name", "unknown"), "retry").inc()


@signals.task_failure.connect
def _count_failure(sender=None, **kwargs) -> None:
    metrics.CELERY_TASKS.labels(getattr(sender, "name", "unknown"), "failure").inc()
