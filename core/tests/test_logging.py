import json
import logging

from core.logging import JsonFormatter, RequestIdFilter
from ledger.tests.helpers import pay_url


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


def _access_lines(caplog) -> list[dict]:
    lines = []
    for record in caplog.records:
        if record.name == "chargepay.access":
            RequestIdFilter().filter(record)
            lines.append(json.loads(JsonFormatter().format(record)))
    return lines


def test_one_access_line_per_request_with_route_status_duration_partner_and_request_id(api, funded_link, seed_request, caplog):
    with caplog.at_level(logging.INFO, logger="chargepay.access"):
        response = api.post(pay_url(), seed_request, format="json", HTTP_X_REQUEST_ID="access-line-1")

    assert response.status_code == 201
    [line] = _access_lines(caplog)
    assert line["request_id"] == "access-line-1"
    assert (line["method"], line["route"], line["status_code"], line["partner"], line["api"]) == (
        "POST",
        "v1/partners/<str:partner_id>/accounts/<str:user_id>/transactions",
        201,
        "PCS-001",
        "andcharge",
    )
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] > 0
    assert line["message"] == "POST v1/partners/<str:partner_id>/accounts/<str:user_id>/transactions 201"
    assert "pcsUserId001" not in json.dumps(line)  # the route, never the path with its ids


def test_access_lines_of_hop_unknown_paths_and_refusals(hop_api, hop_customer, client, caplog):
    with caplog.at_level(logging.INFO, logger="chargepay.access"):
        hop_api.get(f"/api/v1/users/{hop_customer.pk}/transactions", HTTP_X_REQUEST_ID="access-line-2")
        client.get("/v1/partners/PCS-001/nothing/here", HTTP_X_REQUEST_ID="access-line-3")

    hop_line, unknown = _access_lines(caplog)
    assert (hop_line["request_id"], hop_line["api"], hop_line["status_code"], hop_line["partner"]) == (
        "access-line-2",
        "hop",
        200,
        "PCS-001",
    )
    assert hop_line["route"] == "api/v1/users/<str:user_id>/transactions"
    assert (unknown["request_id"], unknown["status_code"], unknown["partner"]) == ("access-line-3", 404, None)
