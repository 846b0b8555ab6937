"""celery beat logs JSON lines too (core/celery_signals.py's setup_logging receiver), as the worker does
(gateways/tests/tasks/test_task_logs.py)."""

import json
import os
import subprocess
import time

import pytest

from gateways.tests.helpers import worker_database_url
from monitoring.tests.servers import BASE_ENV, ROOT, VENV_BIN, free_port


@pytest.mark.django_db(transaction=True)  # beat reads and writes its schedule tables in the test database
def test_beat_writes_json_lines(tmp_path):
    env = {
        **os.environ,
        **BASE_ENV,
        "DATABASE_URL": worker_database_url(),
        # nothing listens there: beat starts and logs without sending anything to a shared broker
        "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
    }
    log_path = tmp_path / "beat.log"
    with open(log_path, "wb") as log:
        beat = subprocess.Popen(
            [str(VENV_BIN / "celery"), "-A", "chargepay", "beat", "-l", "INFO", "-s", str(tmp_path / "schedule")],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while "beat: Starting" not in log_path.read_text(errors="replace"):
            assert beat.poll() is None and time.monotonic() < deadline, log_path.read_text(errors="replace")
            time.sleep(0.2)
    finally:
        beat.kill()  # a warm shutdown would wait for the broker nothing listens for
        beat.wait(timeout=10)

    records = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith("{")]
    starting = [r for r in records if r["message"] == "beat: Starting..."]
    assert len(starting) == 1
    assert (starting[0]["logger"], starting[0]["level"], starting[0]["request_id"]) == ("celery.beat", "INFO", "-")
