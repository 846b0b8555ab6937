"""GET /metrics (DESIGN §12): Prometheus text, the token, the counts after a few requests, the stored-state gauges,
and counts summed over several processes (prometheus_client's multiprocess mode, as gunicorn runs it)."""

import os
import subprocess
import sys

import pytest
import redis
from django.conf import settings as django_settings
from django.db import connection
from django.db.models import Count
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from accounts.tests.factories import CustomerFactory
from gateways import services as gateway_services
from gateways.models import CardCharge, ChargeStatus
from ledger.tests.helpers import grant, pay_url, wallet_of
from monitoring.tests.servers import ROOT
from reconciliation.models import FindingStatus, ReconciliationFinding, Severity
from reconciliation.services import reconcile


def scrape(client, **headers) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", **headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return samples(response.content.decode())


def samples(text: str) -> dict[tuple[str, tuple], float]:
    """{(sample name, sorted label pairs): value} of an exposition text."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def value(found: dict, name: str, **labels) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


PAY_ROUTE = "v1/partners/<str:partner_id>/accounts/<str:user_id>/transactions"
CHARGES_ROUTE = "api/v1/users/<str:user_id>/charges"


def test_counts_after_a_few_requests(client, api, funded_link, seed_request, hop_api, hop_customer, gateway_settings):
    before = scrape(client)

    assert api.post(pay_url(), seed_request, format="json").status_code == 201
    assert api.post(pay_url(), seed_request, format="json").status_code == 409
    seed_request["transactionId"], seed_request["kilometer"] = "another-1", 5000
    assert api.post(pay_url(), seed_request, format="json").status_code == 422
    assert APIClient().post(pay_url(), seed_request, format="json").status_code == 401
    charge = hop_api.post(f"/api/v1/users/{hop_customer.pk}/charges", {"charge": {"amount_in_cents": 500}}, format="json")
    assert charge.status_code == 201
    assert hop_api.post(f"/api/v1/users/{hop_customer.pk}/charges", {"charge": {}}, format="json").status_code == 422

    after = scrape(client)

    def delta(name, **labels):
        return value(after, name, **labels) - value(before, name, **labels)

    assert not [name for name, _ in after if name.endswith("_created")]  # one output in either mode
    requests = "chargepay_http_requests_total"
    assert delta(requests, api="andcharge", route=PAY_ROUTE, method="POST", status="201") == 1
    assert delta(requests, api="andcharge", route=PAY_ROUTE, method="POST", status="409") == 1
    assert delta(requests, api="andcharge", route=PAY_ROUTE, method="POST", status="422") == 1
    assert delta(requests, api="andcharge", route=PAY_ROUTE, method="POST", status="401") == 1
    assert delta(requests, api="hop", route=CHARGES_ROUTE, method="POST", status="201") == 1
    assert delta(requests, api="operations", route="metrics", method="GET", status="200") == 1  # the first scrape
    assert delta("chargepay_http_request_duration_seconds_count", api="andcharge", route=PAY_ROUTE) == 4
    assert delta("chargepay_http_request_duration_seconds_bucket", api="andcharge", route=PAY_ROUTE, le="+Inf") == 4

    assert delta("chargepay_payments_total", api="andcharge", outcome="accepted") == 1
    assert delta("chargepay_payments_total", api="andcharge", outcome="TRANSACTION_ALREADY_PROCESSED") == 1
    assert delta("chargepay_payments_total", api="andcharge", outcome="ACCOUNT_BALANCE_NOT_SUFFICIENT") == 1
    assert delta("chargepay_payments_total", api="andcharge", outcome="AUTHORIZATION_INVALID") == 1
    assert delta("chargepay_payments_total", api="hop", outcome="accepted") == 1
    assert delta("chargepay_payments_total", api="hop", outcome="10013") == 1
    assert delta("chargepay_api_refusals_total", api="andcharge", code="ACCOUNT_BALANCE_NOT_SUFFICIENT") == 1
    assert delta("chargepay_api_refusals_total", api="hop", code="10013") == 1

    stored = dict(CardCharge.objects.values_list("status").annotate(n=Count("pk")).order_by())
    assert sum(stored.values()) == 1
    for status in ChargeStatus.values:
        assert value(after, "chargepay_card_charges", status=status) == stored.get(status, 0)
    # The charge waits for its capture (its after-commit enqueue does not run in this test): its age shows.
    assert stored == {ChargeStatus.AUTHORIZED: 1}
    age = value(after, "chargepay_card_charges_oldest_work_age_seconds")
    assert 0 < age < 60
    gateway_services.card_charge_capture(charge_id=charge.json()["data"]["charge"]["id"])  # what the worker does
    assert value(scrape(client), "chargepay_card_charges_oldest_work_age_seconds") == 0


def test_open_findings_by_severity_and_the_queue_depth(client, db, gateway_settings):
    customer = CustomerFactory()
    grant(customer, 100)
    with connection.cursor() as cursor:  # a cached balance that disagrees with the entries: an error finding
        cursor.execute("UPDATE ledger_account SET balance = 90 WHERE id = %s", [wallet_of(customer).pk])
    reconcile(business_date=timezone.localdate())
    broker = redis.Redis.from_url(django_settings.CELERY_BROKER_URL)
    broker.delete("celery")
    broker.rpush("celery", b"one", b"two", b"three")
    try:
        found = scrape(client)
    finally:
        broker.delete("celery")

    open_findings = ReconciliationFinding.objects.filter(status=FindingStatus.OPEN)
    assert open_findings.filter(severity=Severity.ERROR).exists()
    for severity in Severity.values:
        expected = open_findings.filter(severity=severity).count()
        assert value(found, "chargepay_reconciliation_findings_open", severity=severity) == expected
    assert value(found, "chargepay_celery_queue_depth", queue="celery") == 3


def test_with_a_token_only_the_bearer_scrapes(client, db, settings):
    settings.METRICS_TOKEN = "scrape-token-0123456789"

    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    refused = client.get("/metrics", HTTP_AUTHORIZATION="Basic scrape-token-0123456789")
    assert refused.status_code == 401
    assert refused["WWW-Authenticate"] == 'Bearer realm="metrics"'
    assert "scrape-token" not in refused.content.decode()
    scrape(client, HTTP_AUTHORIZATION="Bearer scrape-token-0123456789")


COUNT_IN_A_PROCESS = """
import sys
from core import metrics
for _ in range(int(sys.argv[1])):
    metrics.HTTP_REQUESTS.labels("andcharge", "r", "POST", "201").inc()
    metrics.CELERY_TASKS.labels("gateways.capture_card_charge", "success").inc()
"""


def test_counts_are_summed_over_every_process(client, db, tmp_path, monkeypatch):
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for count in (3, 4):
        subprocess.run([sys.executable, "-c", COUNT_IN_A_PROCESS, str(count)], cwd=ROOT, env=env, check=True, timeout=60)
    assert len(list(tmp_path.glob("counter_*.db"))) == 2  # one file per process

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    found = scrape(client)

    assert value(found, "chargepay_http_requests_total", api="andcharge", route="r", method="POST", status="201") == 7
    assert value(found, "chargepay_celery_tasks_total", task="gateways.capture_card_charge", outcome="success") == 7


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_metrics_refuse_writes(client, method):
    assert getattr(client, method)("/metrics").status_code == 405
