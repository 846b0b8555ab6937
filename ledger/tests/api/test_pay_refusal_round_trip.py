"""A refused payment learns the API key's state in the statement that refuses it (DESIGN §3.3, AndChargeView).

409, 404 and 422 are decided by ledger_charging_session_pay after it found the key active, so the view must not
look the key up a second time: that query could only fail (PostgreSQL restarting) and turn a definite refusal into
a 500. The tests make every other read of the key fail and expect the definite answer, and nothing moved. The one
other statement is the INSERT that keeps the refusal for support (backoffice.services.refused_attempt_keep).
"""

import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import pytest
import requests
from django.db import OperationalError, connection
from django.db.backends.signals import connection_created
from django.test.utils import CaptureQueriesContext

from ledger.models import Transaction
from ledger.tests.helpers import pay_url, wallet_of


def _refuse_key_reads(execute, sql, params, many, context):
    if "accounts_partnerapikey" in sql:
        raise OperationalError("the database system is shutting down")
    return execute(sql, params, many, context)


@contextmanager
def key_reads_fail():
    """Every statement that reads the API key table outside the payment function fails, on every connection
    (this thread's and those the HTTP server's request threads open meanwhile)."""

    def arm(sender, connection, **kwargs):
        connection.execute_wrappers.append(_refuse_key_reads)

    connection_created.connect(arm, dispatch_uid="key_reads_fail")
    connection.execute_wrappers.append(_refuse_key_reads)
    try:
        yield
    finally:
        connection_created.disconnect(dispatch_uid="key_reads_fail")
        connection.execute_wrappers.remove(_refuse_key_reads)


REFUSALS = {
    "409": (lambda req: req, 409, lambda req: {"error": "TRANSACTION_ALREADY_PROCESSED", "args": [req["transactionId"]]}),
    "404": (
        lambda req: dict(req, transactionId="t-404"),
        404,
        lambda req: {"error": "REFERENCED_OBJECT_NOT_FOUND", "args": ["user", "nobody"]},
    ),
    "422": (
        lambda req: dict(req, transactionId="t-422", kilometer=1000),
        422,
        lambda req: {"error": "ACCOUNT_BALANCE_NOT_SUFFICIENT", "args": [62, 1000]},
    ),
}


def _url(kind: str) -> str:
    return pay_url(user_id="nobody") if kind == "404" else pay_url()


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("kind", list(REFUSALS))
def test_a_refusal_is_one_statement_and_survives_a_failing_second_query(api, funded_link, seed_request, kind):
    assert api.post(pay_url(), seed_request, format="json").status_code == 201  # 100 → 62 km, the id now used
    build, status, body = REFUSALS[kind]
    request = build(seed_request)

    with CaptureQueriesContext(connection) as queries:
        counted = api.post(_url(kind), request, format="json")
    statements = [query["sql"] for query in queries]  # read now: the next request resets the query log
    with key_reads_fail():
        failing = api.post(_url(kind), request, format="json")

    assert (counted.status_code, counted.json()) == (status, body(request))
    assert len(statements) == 2
    assert "ledger_charging_session_pay" in statements[0]
    assert statements[1].startswith('INSERT INTO "backoffice_refusedattempt"')
    assert (failing.status_code, failing.json()) == (status, body(request))
    assert wallet_of(funded_link.customer).balance == 62
    assert list(Transaction.objects.filter(partner__code="PCS-001").values_list("external_id", flat=True)) == [
        seed_request["transactionId"]
    ]


@pytest.mark.django_db(transaction=True)
def test_concurrent_refusals_stay_definite_while_the_key_cannot_be_read_again(http_server, tokens, funded_link, seed_request):
    headers = {"Authorization": f"Bearer {tokens['accessToken']}"}
    assert requests.post(http_server + pay_url(), json=seed_request, headers=headers, timeout=30).status_code == 201
    kinds = ["409"] * 6 + ["404"] * 2 + ["422"] * 2
    barrier = threading.Barrier(len(kinds))

    def fire(kind):
        build, _, _ = REFUSALS[kind]
        with requests.Session() as session:
            barrier.wait(timeout=30)
            return session.post(http_server + _url(kind), json=build(seed_request), headers=headers, timeout=60)

    with key_reads_fail(), ThreadPoolExecutor(max_workers=len(kinds)) as pool:
        responses = list(pool.map(fire, kinds))

    for kind, response in zip(kinds, responses, strict=True):
        build, status, body = REFUSALS[kind]
        assert (response.status_code, response.json()) == (status, body(build(seed_request)))
    assert wallet_of(funded_link.customer).balance == 62
    assert Transaction.objects.filter(partner__code="PCS-001").count() == 1


def test_a_request_refused_before_the_statement_still_checks_the_key(api, funded_link, seed_request):
    # The view never reached the payment: the key is looked up (and here cannot be), so the answer is not a guess.
    with key_reads_fail():
        response = api.post(pay_url(), dict(seed_request, kilometer="x"), format="json")

    assert response.status_code == 500
    assert response.json()["error"] == "INTERNAL_ERROR"
    assert wallet_of(funded_link.customer).balance == 100
