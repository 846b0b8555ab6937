"""The id of the request being served, for logs and error bodies; in a Celery task, the id of the request that
enqueued it (core/celery_signals.py) and the task's own name and id."""

import contextvars

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
# (task name, task id) while a Celery task runs in this context.
task_var: contextvars.ContextVar[tuple[str, str] | None] = contextvars.ContextVar("task", default=None)


def current_request_id() -> str:
    return request_id_var.get()


def current_task() -> tuple[str, str] | None:
    return task_var.get()
