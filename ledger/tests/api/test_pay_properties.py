"""Property: arbitrary JSON bodies and path values never produce a 5xx, always answer in the &Charge
envelope, and never move a balance unless the answer is 201."""

from urllib.parse import quote

import pytest
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.models import Entry, Transaction
from ledger.tests.helpers import SEED_REQUEST, grant, wallet_of

ERROR_CODES = {
    "INVALID_FORMAT",
    "MANDATORY_PARAMETER_NOT_SET",
    "PARAMETER_MAX_LENGTH",
    "INVALID_PARAMETER",
    "REFERENCED_OBJECT_NOT_FOUND",
    "TRANSACTION_ALREADY_PROCESSED",
    "ACCOUNT_BALANCE_NOT_SUFFICIENT",
    "ACCESS_DENIED",
    "METHOD_NOT_ALLOWED",
}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=120),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=20), children, max_size=4),
    max_leaves=12,
)
# Bodies near the valid one find the deep rules; wholly arbitrary ones find the shallow ones.
mutated_bodies = st.fixed_dictionaries(
    {},
    optional={
        key: (json_values | st.just(SEED_REQUEST[key]))
        for key in ("transactionId", "transactionReference", "service", "kilometer", "serviceSpecificData")
    },
)
ssd_mutations = st.dictionaries(
    st.sampled_from([*SEED_REQUEST["serviceSpecificData"], "CPO_ID", "MAX_CHARGING_POWER", "OTHER"]), json_values, max_size=3
)
path_values = st.text(min_size=1, max_size=120) | st.sampled_from(["PCS-001", "pcsUserId001"])


@pytest.fixture
def wallet(link):
    grant(link.customer, 1_000_000)
    return wallet_of(link.customer)


def _check(response, wallet, before: int) -> None:
    assert response.status_code < 500, response.content
    wallet.refresh_from_db()
    if response.status_code == 201:
        assert wallet.balance == before + response.json()["kilometer"]
    else:
        body = response.json()
        assert set(body) == {"error", "args"}
        assert body["error"] in ERROR_CODES
        assert wallet.balance == before
    assert Entry.objects.aggregate(total=Sum("amount"))["total"] == 0


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(body=json_values | mutated_bodies)
def test_arbitrary_bodies(api, wallet, body):
    before = wallet_of(wallet.customer).balance
    response = api.post("/v1/partners/PCS-001/accounts/pcsUserId001/transactions", body, format="json")
    _check(response, wallet, before)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(ssd=ssd_mutations, transaction_id=st.uuids())
def test_near_valid_bodies(api, wallet, ssd, transaction_id):
    body = {**SEED_REQUEST, "transactionId": str(transaction_id)}
    body["serviceSpecificData"] = {**SEED_REQUEST["serviceSpecificData"], **ssd}
    before = wallet_of(wallet.customer).balance
    count = Transaction.objects.count()
    response = api.post("/v1/partners/PCS-001/accounts/pcsUserId001/transactions", body, format="json")
    _check(response, wallet, before)
    assert Transaction.objects.count() == count + (response.status_code == 201)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(partner_id=path_values, user_id=path_values, raw=st.binary(max_size=200))
def test_arbitrary_paths_and_raw_bytes(api, wallet, partner_id, user_id, raw):
    before = wallet_of(wallet.customer).balance
    url = f"/v1/partners/{quote(partner_id, safe='')}/accounts/{quote(user_id, safe='')}/transactions"
    response = api.post(url, raw, content_type="application/json")
    assert response.status_code < 500, response.content
    assert set(response.json()) == {"error", "args"}
    wallet.refresh_from_db()
    assert wallet.balance == before
