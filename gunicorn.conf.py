"""gunicorn settings for the web process (read from the working directory; `make bench` and docker-compose use it).

Workers and threads come from the environment so an operator sizes them to the machine:
WEB_CONCURRENCY (processes, default 2 per core) and GUNICORN_THREADS (threads per process, default 2). A payment
spends most of its time waiting for PostgreSQL, so a second thread per process overlaps that wait; more threads
only add contention for the GIL.

Each process also gets GATEWAY_CALLS_PER_PROCESS (default 1) more threads: the bulkhead's (gateways/bulkhead.py)
slots for HOP charges waiting on the card gateway. A thread waiting there holds no CPU and no GIL, and the bulkhead
lets no more than that many wait, so the GUNICORN_THREADS threads stay for everything else however slow the
gateway gets.
"""

import multiprocessing
import os
from pathlib import Path

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2))
threads = int(os.environ.get("GUNICORN_THREADS", "2")) + int(os.environ.get("GATEWAY_CALLS_PER_PROCESS", "1"))
worker_class = "gthread"
# Keep-alive connections from a partner's HTTP client or the load balancer are reused instead of re-opened.
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
backlog = 2048
# Import the application once in the master; workers fork with it loaded.
preload_app = True
# No gunicorn access log by default: the application writes one JSON access line per request (chargepay.access,
# with route, partner and request id).
accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"


def on_starting(server):
    """Metrics (core/metrics.py) are summed over the files of PROMETHEUS_MULTIPROC_DIR: a new master drops the
    files a previous run on this host left, not the ones of the worker containers sharing the folder."""
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if folder:
        from core.metrics import process_identifier

        path = Path(folder)
        path.mkdir(parents=True, exist_ok=True)
        host_prefix = process_identifier().rsplit("-", 1)[0] + "-"
        for entry in path.glob(f"*_{host_prefix}*.db"):
            entry.unlink(missing_ok=True)


def child_exit(server, worker):
    """A worker that ended keeps its counts in the sum; only its live gauges are dropped."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from core.metrics import process_exited

        process_exited(worker.pid)
