import json
import logging

from core.logging import JsonFormatter, RequestIdFilter


def test_django_request_log_lines_carry_the_request_id(client, caplog):
    with caplog.at_level(logging.WARNING, logger="django.request"):
        response = client.get("/v1/partners/PCS-001/accounts/u", HTTP_X_REQUEST_ID="trace-me-42")

    assert response.status_code == 401
    records = [r for r in caplog.records if r.name == "django.request"]
    assert records
    RequestIdFilter().filter(records[0])
    line = json.loads(JsonFormatter().format(records[0]))
    assert line["request_id"] == "trace-me-42"
    assert line["status_code"] == 401
    assert set(line) <= {"time", "level", "logger", "request_id", "message", "status_code", "exception"}
