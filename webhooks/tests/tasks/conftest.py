"""The real-process fixtures of the settlement tests, used here as they are: a dedicated `redis-server` the tests
may stop, real `celery worker` subprocesses, every test starting from an empty broker with eager tasks off."""

from gateways.tests.tasks.conftest import _task_settings, redis_server, start_worker  # noqa: F401 (fixtures)
