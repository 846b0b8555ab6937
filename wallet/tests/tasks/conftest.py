"""The real-process fixtures of the settlement tests (a dedicated Redis, real `celery worker` subprocesses, short
leases and sweep delays), reused for the line items' worker."""

from gateways.tests.tasks.conftest import _task_settings, redis_server, start_worker  # noqa: F401 (fixtures)
