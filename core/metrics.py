"""The Prometheus metrics every process counts (prometheus_client), and their rendering for `GET /metrics`.

With `PROMETHEUS_MULTIPROC_DIR` set (gunicorn, the Celery worker, docker-compose), each process writes its samples
to memory-mapped files in that folder and a scrape sums the files of every process, live or dead, so a count is the
whole tier's whatever process served the scrape. The files are named by host name and pid: the web and worker
containers of docker-compose share one volume, and a pid alone repeats from one container to the next. gunicorn
empties the folder when it starts (gunicorn.conf.py). Without the variable (runserver, tests) the samples live in
the process's default registry.

Gauges of the stored state (card charges by status, open findings, queue depth) are computed when scraped, by
collectors the scraping view adds (monitoring/collectors.py); they are not counted here.
"""

import os
import socket
from collections.abc import Iterable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
    values,
)
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead

MULTIPROC_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
_HOST = socket.gethostname().replace("_", "-")


def process_identifier(pid: int | None = None) -> str:
    """This process's (or `pid`'s, on this host) name in the metrics folder: no underscore, which splits file names."""
    return f"{_HOST}-{pid if pid is not None else os.getpid()}"


# A `_created` series per counter doubles the output for a timestamp Prometheus does not need (and multiprocess mode
# never writes it): one output, whichever mode.
disable_created_metrics()

if os.environ.get(MULTIPROC_DIR_VARIABLE):
    # Chosen before the first metric is built: every metric below then writes to this process's files.
    values.ValueClass = values.MultiProcessValue(process_identifier=process_identifier)

# Seconds; a payment takes a few milliseconds, a HOP charge waits for the card gateway (up to its timeout).
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

HTTP_REQUESTS = Counter(
    "chargepay_http_requests", "HTTP requests answered, by API, route, method and status.", ["api", "route", "method", "status"]
)
HTTP_REQUEST_DURATION = Histogram(
    "chargepay_http_request_duration_seconds",
    "Time from the request's arrival at the application to its answer, by API and route.",
    ["api", "route"],
    buckets=DURATION_BUCKETS,
)
PAYMENTS = Counter(
    "chargepay_payments",
    "Payment requests (&Charge kilometer payments, HOP card charges) by API and outcome: `accepted` or the error code.",
    ["api", "outcome"],
)
API_REFUSALS = Counter("chargepay_api_refusals", "API requests answered with an error, by API and error code.", ["api", "code"])
CELERY_TASKS = Counter(
    "chargepay_celery_tasks", "Celery task runs by task name and outcome (success, retry, failure).", ["task", "outcome"]
)


def multiprocess_dir() -> str:
    return os.environ.get(MULTIPROC_DIR_VARIABLE, "")


def process_exited(pid: int) -> None:
    """Bookkeeping for a process that ended (gunicorn's child_exit): its live gauges stop counting."""
    if multiprocess_dir():
        mark_process_dead(process_identifier(pid))


class _DefaultRegistry:
    """This process's own samples, when there is no folder to sum."""

    def collect(self):
        yield from REGISTRY.collect()


def render(collectors: Iterable = ()) -> tuple[bytes, str]:
    """The exposition text (and its content type) of every process's counts plus `collectors`' gauges."""
    registry = CollectorRegistry(auto_describe=False)
    folder = multiprocess_dir()
    if folder:
        MultiProcessCollector(registry, path=folder)
    else:
        registry.register(_DefaultRegistry())
    for collector in collectors:
        registry.register(collector)
    return generate_latest(registry), CONTENT_TYPE_LATEST
