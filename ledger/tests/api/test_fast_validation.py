"""transaction_request_fast never disagrees with TransactionRequestSerializer: whatever it accepts the serializer
accepts with the same validated data; whatever the serializer refuses it refuses (the view then lets the
serializer report the exact error)."""

import copy

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.api.serializers import TransactionRequestSerializer, transaction_request_fast
from ledger.tests.helpers import SEED_REQUEST

SSD = "serviceSpecificData"

text_values = st.text(max_size=110) | st.sampled_from(
    ["", " ", "\x00", "DE*911E12345", "+49*810*000*438", "2019-02-28T12:12:12.123Z", "2019-02-28T12:12:12.123+0200",
     "2019-13-28T12:12:12.123Z", "20.12345,21.23445", "91.0,0", "12.234", "-1", "1e3", "DE", "DEU", "de", "x" * 100,
     "x" * 101, "PAY_FOR_CHARGING_SESSION", "CO2_OFFSET_CHARGING_SESSION"]
)  # fmt: skip
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 200_000) | st.floats(allow_nan=False, allow_infinity=False) | text_values,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3),
    max_leaves=6,
)
top_keys = st.sampled_from(["transactionId", "transactionReference", "service", "kilometer", SSD, "extra"])
ssd_keys = st.sampled_from([*SEED_REQUEST[SSD], "CPO_ID", "MAX_CHARGING_POWER", "OTHER"])
# Each body is the seed request with a few keys dropped or replaced, at the top level or in serviceSpecificData.
mutation = st.tuples(st.sampled_from(["top", "ssd"]), st.sampled_from(["drop", "set"]), top_keys, ssd_keys, json_values)


def mutate(mutations) -> dict:
    body = copy.deepcopy(SEED_REQUEST)
    for where, action, top_key, ssd_key, value in mutations:
        target, key = (body, top_key) if where == "top" or not isinstance(body.get(SSD), dict) else (body[SSD], ssd_key)
        if action == "drop":
            target.pop(key, None)
        else:
            target[key] = value
    return body


def assert_agrees(body) -> None:
    serializer = TransactionRequestSerializer(data=body)
    reference = serializer.validated_data if serializer.is_valid() else None
    fast = transaction_request_fast(body)
    if reference is None:
        assert fast is None, body
    elif fast is not None:  # the fast path may give up on a valid body, never differ on one
        assert fast == reference
        assert list(fast) == list(reference)
        assert list(fast[SSD]) == list(reference[SSD])


@settings(max_examples=600, deadline=None)
@given(st.lists(mutation, min_size=0, max_size=3))
def test_the_fast_path_agrees_with_the_serializer(mutations):
    assert_agrees(mutate(mutations))


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda b: None, id="seed"),
        pytest.param(lambda b: b.update(transactionReference=None), id="reference-null"),
        pytest.param(lambda b: b.pop("transactionReference"), id="reference-missing"),
        pytest.param(lambda b: b[SSD].update(GEO_POSITION_USER=None, CPO_ID="CPO-1", MAX_CHARGING_POWER=""), id="optional-keys"),
        pytest.param(lambda b: b[SSD].update(CONSUMED_ENERGY_KWH="", CITY="", STREET="", HOUSE_NUMBER=""), id="blanks"),
    ],
)
def test_valid_requests_take_the_fast_path(change):
    body = copy.deepcopy(SEED_REQUEST)
    change(body)

    assert transaction_request_fast(body) is not None
    assert_agrees(body)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda b: b.update(kilometer=True), id="kilometer-bool"),
        pytest.param(lambda b: b.update(kilometer=38.0), id="kilometer-float"),
        pytest.param(lambda b: b.update(kilometer=0), id="kilometer-zero"),
        pytest.param(lambda b: b.update(kilometer=100_001), id="kilometer-over-max"),
        pytest.param(lambda b: b.update(transactionId=""), id="id-blank"),
        pytest.param(lambda b: b.update(transactionId="x" * 101), id="id-too-long"),
        pytest.param(lambda b: b.update(transactionId="a\x00b"), id="id-null-character"),
        pytest.param(lambda b: b.update(service="CO2_OFFSET_CHARGING_SESSION"), id="service-not-built"),
        pytest.param(lambda b: b[SSD].update(OTHER="x"), id="unknown-ssd-key"),
        pytest.param(lambda b: b[SSD].update(EVSE_ID=None), id="required-ssd-null"),
        pytest.param(lambda b: b[SSD].update(SESSION_END="2019-02-28T12:12:12.122Z"), id="end-before-start"),
        pytest.param(lambda b: b[SSD].update(COUNTRY="XX"), id="bad-country"),
        pytest.param(lambda b: b.update(serviceSpecificData=[]), id="ssd-not-an-object"),
    ],
)
def test_invalid_requests_fall_back_to_the_serializer(change):
    body = copy.deepcopy(SEED_REQUEST)
    change(body)

    assert transaction_request_fast(body) is None
    assert not TransactionRequestSerializer(data=body).is_valid()
