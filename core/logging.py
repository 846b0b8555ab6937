"""Structured logs: one JSON object per line, in the web, worker and beat processes alike (the Celery processes
take this configuration through core/celery_signals.py).

Only the message, level, logger, request id, exception text and explicitly passed `extra` keys from an
allow-list are written; inside a Celery task, also the task's name and id (and the request id is the one of the
request that enqueued it). Request objects, headers and bodies are never serialised, so tokens and secrets
cannot reach the log through the formatter.
"""

import json
import logging
from datetime import UTC, datetime

from core.request_context import current_request_id, current_task

ALLOWED_EXTRA = (
    "partner",
    "customer_id",
    "transaction_id",
    "status_code",
    "error",
    "path",
    "method",
    "route",
    "duration_ms",
    "api",
)


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        # django.request logs the response after the middleware has finished: take the id from its request.
        request = getattr(record, "request", None)
        record.request_id = getattr(request, "request_id", None) or current_request_id()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", current_request_id()),
            "message": record.getMessage(),
        }
        task = current_task()
        if task is not None:
            payload["task"], payload["task_id"] = task
        for key in ALLOWED_EXTRA:
            if key in record.__dict__:
                payload[key] = record.__dict__[key]
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str, ensure_ascii=False)
