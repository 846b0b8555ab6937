"""The worker logs JSON lines, and a task's lines carry the id of the request that enqueued it (DESIGN §12), with a
real worker process: the id travels in the message's headers, not through any shared memory."""

import pytest

from gateways import queue
from gateways.models import ChargeStatus

from .support import CAPTURE_TASK, charge_in, json_lines, logs, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("gateway_settings")]


def test_the_capture_tasks_log_lines_carry_the_request_id_that_enqueued_it(hop_api, hop_customer, start_worker):
    worker = start_worker()

    response = post_charge_with_id(hop_api, hop_customer, "trace-charge-0042")
    assert response.status_code == 201
    assert response["X-Request-Id"] == "trace-charge-0042"
    charge_id = response.json()["data"]["charge"]["id"]
    wait_for(lambda: charge_in(charge_id, ChargeStatus.CAPTURED), 10, what="capture", details=lambda: logs(worker))

    def capture_lines():
        return [r for r in json_lines(worker.log()) if r.get("task") == CAPTURE_TASK]

    # the "succeeded" line is written right after the task's work
    lines = wait_for(lambda: [r for r in capture_lines() if "succeeded" in r["message"]], 5, details=lambda: logs(worker))
    [succeeded] = lines
    assert succeeded["request_id"] == "trace-charge-0042"
    assert succeeded["task_id"] in succeeded["message"]
    assert {"time", "level", "logger", "message"} <= set(succeeded)
    # The task's own lines too (the gateway client's, the capture service's).
    own = [r for r in capture_lines() if r["task_id"] == succeeded["task_id"]]
    assert {r["logger"] for r in own} >= {"gateways.bridgecomm.client", "celery.app.trace"}
    assert {r["request_id"] for r in own} == {"trace-charge-0042"}
    # Every line of the worker's logging is JSON; only Celery's start-up banner is printed as text.
    logged = [line for line in worker.log().splitlines() if line.startswith("{")]
    assert len(json_lines(worker.log())) == len(logged) > 0

    # The same task sent outside any request (as the sweeper does, from beat) runs without the previous one's id.
    queue.enqueue(queue.CAPTURE, charge_id)

    def second_run():
        runs = [r for r in capture_lines() if "succeeded" in r["message"]]
        return runs[1:] if len(runs) == 2 else None

    [again] = wait_for(second_run, 10, what="the second capture run", details=lambda: logs(worker))
    assert again["request_id"] == "-"
    assert "nothing to do" in again["message"]


def post_charge_with_id(hop_api, customer, request_id: str):
    return hop_api.post(
        f"/api/v1/users/{customer.pk}/charges",
        {"charge": {"amount_in_cents": 500}},
        format="json",
        HTTP_X_REQUEST_ID=request_id,
    )
