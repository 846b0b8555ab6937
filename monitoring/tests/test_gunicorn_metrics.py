"""Metrics as production counts them: gunicorn (gunicorn.conf.py, two worker processes) with PROMETHEUS_MULTIPROC_DIR.
Its start drops the files an earlier run on this host left and keeps other hosts' (the worker containers sharing
the volume); a scrape sums every process's counts."""

import os
import subprocess
import sys

import pytest

from gateways.tests.helpers import worker_database_url
from monitoring.tests.servers import ROOT, Gunicorn, get
from monitoring.tests.test_metrics import COUNT_IN_A_PROCESS, samples, value

PING_ROUTE = "v1/partners/<str:partner_id>/ping"


@pytest.mark.django_db(transaction=True)
def test_gunicorn_sums_its_processes_and_clears_only_its_own_hosts_old_files(tmp_path):
    folder = tmp_path / "metrics"
    folder.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(folder)}

    def count_in_a_process(count: int):
        subprocess.run([sys.executable, "-c", COUNT_IN_A_PROCESS, str(count)], cwd=ROOT, env=env, check=True, timeout=60)
        [written] = set(folder.glob("counter_*.db")) - {folder / "counter_worker-container-7.db"}
        return written

    # Another host's process (a Celery worker container's), then an earlier process of this host.
    count_in_a_process(5).rename(folder / "counter_worker-container-7.db")
    second = count_in_a_process(2)

    web = Gunicorn(
        tmp_path,
        {"DATABASE_URL": worker_database_url(), "REDIS_URL": "", "WEB_CONCURRENCY": "2", "PROMETHEUS_MULTIPROC_DIR": str(folder)},
    ).start()
    try:
        assert not second.exists()  # this host's old file: gone when gunicorn started
        for _ in range(12):
            assert get(f"{web.url}/v1/partners/PCS-001/ping")[0] == 401
        status, body = get(f"{web.url}/metrics")
    finally:
        web.stop()

    assert status == 200
    found = samples(body.decode())
    assert value(found, "chargepay_http_requests_total", api="andcharge", route=PING_ROUTE, method="GET", status="401") == 12
    assert value(found, "chargepay_payments_total", api="andcharge", outcome="accepted") == 0
    # the other host's counts are in the sum; this host's earlier run's are not
    assert value(found, "chargepay_celery_tasks_total", task="gateways.capture_card_charge", outcome="success") == 5
    assert value(found, "chargepay_http_requests_total", api="andcharge", route="r", method="POST", status="201") == 5
