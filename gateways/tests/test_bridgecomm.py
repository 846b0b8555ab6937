"""The BridgeComm client against the real sandbox over loopback HTTP (no mocks).

Covers DESIGN §5's amount table at every boundary, outcome classification, the seed's metadata, idempotent
resends, capture/void/refund/settlement, every injected fault, credentials and log hygiene.
"""

import csv
import io
import logging
import re
import socket
import uuid
from datetime import UTC, datetime

import pytest

from gateways.bridgecomm import client, codes, protocol
from gateways.bridgecomm.types import GatewayResult, Outcome, RequestType
from gateways.tests.api.support import SEED_METADATA_KEYS  # the seed's keys, one independent copy for all tests

TOKEN = "1000000074340019"
EXPIRY = "0828"


pytestmark = pytest.mark.usefixtures("gateway_settings")


def new_id() -> str:
    return str(uuid.uuid4())


def authorize(amount: int, *, transaction_id: str | None = None, **kwargs) -> GatewayResult:
    kwargs.setdefault("token", TOKEN)
    kwargs.setdefault("expiration_mmyy", EXPIRY)
    return client.authorize(transaction_id=transaction_id or new_id(), amount_cents=amount, **kwargs)


def approved_and_captured(amount: int) -> tuple[GatewayResult, GatewayResult]:
    auth = authorize(amount)
    assert auth.outcome == Outcome.APPROVED
    capture = client.capture(transaction_id=new_id(), gateway_trans_id=auth.gateway_trans_id, amount_cents=amount)
    assert capture.outcome == Outcome.APPROVED
    return auth, capture


def charges_booked(sandbox, transaction_id: str) -> list[dict]:
    return [op for op in sandbox.control.transactions(transaction_id=transaction_id) if op["request_type"] == "004"]


# --- the amount table (DESIGN §5) -------------------------------------------------------------------------------

APPROVED_RESULT = (Outcome.APPROVED, "00000", "A01 - Approved", "Successful Request")
PARTIAL_RESULT = (Outcome.PARTIALLY_APPROVED, "00001", "A05 - Partially Approved", "Partial Authorization")
D01 = (Outcome.DECLINED, "30032", "D01 - Denied by customer's bank (Issuer Unavailable)", "Denied by customer's bank")
D05 = (Outcome.DECLINED, "30023", "D05 - Invalid card number (Invalid Account Number)", "Invalid Account Number")
D10 = (Outcome.DECLINED, "30037", "D10 - Card reported lost/stolen (Lost/Stolen Card)", "Card reported lost")
D30 = (Outcome.DECLINED, "30072", "D30 - Call for Authorization (Referral)", "Call for Authorization")
D04 = (Outcome.DECLINED, "30034", "D04 - Hold - Pick up card (Pick Up Card)", "Hold - Pick up card")
D08 = (Outcome.DECLINED, "30025", "D08 - CSC is invalid (Decline CSC/CID Fail)", "Invalid Security Code")
D03 = (Outcome.DECLINED, "30033", "D03 - Insufficient funds", "Insufficient funds")
E02 = (
    Outcome.TRANSIENT,
    "30022",
    "E02 - Processing Network Unavailable (System is temporarily unavailable)",
    "Processing Network Unavailable",
)
E09 = (Outcome.TRANSIENT, "10052", "E09 - Processing Network Error", "Processing Network Error")

AMOUNT_TABLE = [
    (1, D01),
    (499, D01),
    (500, APPROVED_RESULT),
    (6999, APPROVED_RESULT),
    (7000, D05),
    (7999, D05),
    (8000, D10),
    (8999, D10),
    (9000, D30),
    (9999, D30),
    (10000, D04),
    (10999, D04),
    (11000, D08),
    (11999, D08),
    (12000, D03),
    (12999, D03),
    (13000, E02),
    (13999, E02),
    (14000, E09),
    (14999, E09),
    (15000, PARTIAL_RESULT),
    (15999, PARTIAL_RESULT),
    (16000, D01),  # not in DESIGN's table: the sandbox declines it (D01)
    (16999, D01),
    (17000, APPROVED_RESULT),
    (18199, APPROVED_RESULT),
    (18200, D01),
    (99_999_999, D01),
]


@pytest.mark.parametrize(("amount", "expected"), AMOUNT_TABLE, ids=[str(amount) for amount, _ in AMOUNT_TABLE])
def test_authorization_answers_by_amount(amount, expected):
    outcome, code, gateway_message, description = expected

    result = authorize(amount)

    assert result.outcome == outcome
    assert result.request_type == RequestType.AUTHORIZATION
    assert result.response_code == code
    assert result.response_description == description
    assert result.response_message["GatewayMessage"] == gateway_message
    assert result.response_message["GatewayResult"] == code
    assert result.response_message["OriginalAmount"] == str(amount)
    assert re.fullmatch(r"\d{9}", result.gateway_trans_id)  # assigned to declines too
    assert result.response_message["GatewayTransID"] == result.gateway_trans_id
    assert result.error == ("" if outcome != Outcome.TRANSIENT else description)
    if outcome == Outcome.APPROVED:
        assert result.authorized_amount == amount
        assert re.fullmatch(r"\d{6}", result.response_message["AuthorizationCode"])
    elif outcome == Outcome.PARTIALLY_APPROVED:
        assert result.authorized_amount == amount - 1000
        assert re.fullmatch(r"\d{6}", result.response_message["AuthorizationCode"])
    else:
        assert result.authorized_amount == 0
        assert result.response_message["AuthorizedAmount"] == "0"
        assert result.response_message["AuthorizationCode"] is None
        assert result.response_message["ResponseTypeDescription"] == "decline"


@pytest.mark.parametrize(
    ("amount", "code", "description"),
    [(0, "10027", "Amount must be greater than zero"), (-1, "10028", "Invalid Amount"), (100_000_000, "10028", "Invalid Amount")],
)
def test_invalid_amount_is_an_error_response(amount, code, description, sandbox):
    transaction_id = new_id()

    result = authorize(amount, transaction_id=transaction_id)

    assert result.outcome == Outcome.DECLINED
    assert (result.response_code, result.response_description) == (code, description)
    assert result.response_message == {}
    assert result.gateway_trans_id == ""
    assert result.raw_response.startswith("<ErrorResponse>")
    assert charges_booked(sandbox, transaction_id) == []


def test_approval_metadata_is_the_seeds_fields_in_order():
    transaction_id = new_id()

    result = authorize(500, transaction_id=transaction_id)

    metadata = result.response_message
    assert list(metadata) == SEED_METADATA_KEYS
    assert all(value is None or isinstance(value, str) for value in metadata.values())
    code = metadata["AuthorizationCode"]
    today = datetime.now(UTC)
    assert metadata == {
        "Token": TOKEN,
        "ExpirationDate": EXPIRY,
        "AuthorizationCode": code,
        "ReferenceNumber": None,
        "AuthorizedAmount": "500",
        "OriginalAmount": "500",
        "GatewayTransID": result.gateway_trans_id,
        "GatewayMessage": "A01 - Approved",
        "InternalMessage": f"Approved: {code} (approval code)",
        "GatewayResult": "00000",
        "AVSMessage": None,
        "AVSResult": None,
        "CVMessage": None,
        "CVResult": None,
        "TransactionCode": transaction_id,
        "TransactionDate": today.strftime("%Y%m%d"),
        "RemainingAmount": "0",
        "IsoCountryCode": "840",
        "IsoCurrencyCode": "USD",
        "IsoTransactionDate": metadata["IsoTransactionDate"],
        "IsoRequestDate": metadata["IsoRequestDate"],
        "NetworkReferenceNumber": None,
        "MerchantCategoryCode": None,
        "NetworkMerchantId": None,
        "NetworkTerminalId": None,
        "CardType": None,
        "MaskedPan": None,
        "ResponseTypeDescription": "sale",
        "IsCommercialCard": "False",
        "StreetMatchMessage": None,
        "WalletID": None,
        "WalletPaymentMethodID": None,
        "WalletResponseCode": None,
        "WalletResponseMessage": None,
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d\d", metadata["IsoTransactionDate"])
    assert result.raw_response.startswith("<Auth>")
    assert result.transaction_id == transaction_id


def test_decline_metadata_has_the_same_fields():
    result = authorize(12000)

    assert list(result.response_message) == SEED_METADATA_KEYS
    assert result.response_description == "Insufficient funds"
    assert result.response_message["GatewayResult"] == "30033"
    assert result.response_message["InternalMessage"] == "Insufficient funds"


def test_partial_approval_authorizes_amount_minus_1000():
    result = authorize(15500)

    assert result.outcome == Outcome.PARTIALLY_APPROVED
    assert result.authorized_amount == 14500
    assert result.response_message["AuthorizedAmount"] == "14500"
    assert result.response_message["OriginalAmount"] == "15500"
    assert result.response_message["RemainingAmount"] == "1000"
    assert result.response_message["GatewayMessage"].startswith("A05")


@pytest.mark.parametrize("amount", [500, 6999, 15500, 17000])
def test_blind_credit_posts_in_full_in_the_approving_ranges(amount):
    result = authorize(amount, transaction_type="credit")

    assert result.outcome == Outcome.APPROVED
    assert result.authorized_amount == amount
    assert result.response_message["GatewayMessage"] == "A02 - Credit Posted"
    assert result.response_message["InternalMessage"] == "Credit Posted"
    assert result.response_message["ResponseTypeDescription"] == "credit"


@pytest.mark.parametrize(
    ("amount", "outcome", "description"),
    [
        (300, Outcome.DECLINED, "Denied by customer's bank"),
        (9000, Outcome.DECLINED, "Call for Authorization"),
        (13000, Outcome.TRANSIENT, "Processing Network Unavailable"),
    ],
)
def test_blind_credit_is_refused_in_the_other_ranges(amount, outcome, description):
    result = authorize(amount, transaction_type="credit")

    assert (result.outcome, result.response_description) == (outcome, description)
    assert result.response_message.get("ResponseTypeDescription") != "credit"


# --- idempotency by TransactionID -------------------------------------------------------------------------------


def test_resend_with_the_same_transaction_id_returns_the_original_answer_and_charges_once(sandbox):
    transaction_id = new_id()
    first = authorize(2500, transaction_id=transaction_id, invoice_num="INV-1")

    again = authorize(2500, transaction_id=transaction_id, invoice_num="INV-1")

    assert first.outcome == again.outcome == Outcome.APPROVED
    assert again.gateway_trans_id == first.gateway_trans_id
    assert again.response_message == first.response_message
    assert again.raw_response == first.raw_response
    booked = charges_booked(sandbox, transaction_id)
    assert [(op["amount"], op["status"]) for op in booked] == [(2500, "authorized")]
    log = sandbox.control.requests(transaction_id=transaction_id)
    assert [(entry["processed"], entry["replayed"]) for entry in log] == [(True, False), (True, True)]


def test_resend_of_a_decline_returns_the_same_decline(sandbox):
    transaction_id = new_id()
    first = authorize(300, transaction_id=transaction_id)

    again = authorize(300, transaction_id=transaction_id)

    assert again.outcome == Outcome.DECLINED
    assert again.gateway_trans_id == first.gateway_trans_id
    assert len(charges_booked(sandbox, transaction_id)) == 1


def test_same_transaction_id_with_another_amount_is_a_duplicate(sandbox):
    transaction_id = new_id()
    first = authorize(2500, transaction_id=transaction_id)

    other = authorize(2600, transaction_id=transaction_id)

    assert other.outcome == Outcome.DECLINED
    assert (other.response_code, other.response_description) == ("30036", "Duplicate Transaction")
    assert other.gateway_trans_id == ""
    booked = charges_booked(sandbox, transaction_id)
    assert [(op["gateway_trans_id"], op["amount"]) for op in booked] == [(first.gateway_trans_id, 2500)]
    # the original answer is still what the original request gets
    assert authorize(2500, transaction_id=transaction_id).gateway_trans_id == first.gateway_trans_id


def test_transient_answer_is_not_pinned_to_the_transaction_id(sandbox):
    transaction_id = new_id()

    first = authorize(13500, transaction_id=transaction_id)
    again = authorize(13500, transaction_id=transaction_id)

    assert first.outcome == again.outcome == Outcome.TRANSIENT
    assert [entry["replayed"] for entry in sandbox.control.requests(transaction_id=transaction_id)] == [False, False]


# --- capture, void, refund, settlement --------------------------------------------------------------------------


def test_capture_of_an_authorization():
    auth = authorize(5000)

    capture = client.capture(transaction_id=new_id(), gateway_trans_id=auth.gateway_trans_id, amount_cents=4000)

    assert capture.outcome == Outcome.APPROVED
    assert capture.request_type == RequestType.CAPTURE
    assert capture.response_code == "00000"
    assert capture.authorized_amount is None
    assert capture.gateway_trans_id not in ("", auth.gateway_trans_id)
    assert capture.response_message["ReferenceNumber"] == auth.gateway_trans_id
    assert capture.response_message["AuthorizedAmount"] == "4000"
    assert capture.raw_response.startswith("<Capture>")


def test_capture_resend_is_replayed_but_a_second_capture_is_refused():
    auth = authorize(5000)
    transaction_id = new_id()
    first = client.capture(transaction_id=transaction_id, gateway_trans_id=auth.gateway_trans_id, amount_cents=5000)

    resend = client.capture(transaction_id=transaction_id, gateway_trans_id=auth.gateway_trans_id, amount_cents=5000)
    second = client.capture(transaction_id=new_id(), gateway_trans_id=auth.gateway_trans_id, amount_cents=5000)

    assert resend.outcome == Outcome.APPROVED
    assert resend.gateway_trans_id == first.gateway_trans_id
    assert second.outcome == Outcome.DECLINED
    assert (second.response_code, second.response_description) == ("30029", "Transaction Error")


def test_capture_above_the_authorized_amount_is_refused():
    auth = authorize(15000)  # partially approved for 14000

    over = client.capture(transaction_id=new_id(), gateway_trans_id=auth.gateway_trans_id, amount_cents=14001)
    exact = client.capture(transaction_id=new_id(), gateway_trans_id=auth.gateway_trans_id, amount_cents=14000)

    assert over.outcome == Outcome.DECLINED
    assert over.response_code == "30029"
    assert exact.outcome == Outcome.APPROVED


@pytest.mark.parametrize("reference", ["unknown", "declined", "voided"])
def test_capture_of_a_bad_reference_is_a_transaction_error(reference):
    if reference == "unknown":
        gateway_trans_id = "999999999"
    elif reference == "declined":
        gateway_trans_id = authorize(300).gateway_trans_id
    else:
        gateway_trans_id = authorize(1000).gateway_trans_id
        void = client.void_or_refund(transaction_id=new_id(), gateway_trans_id=gateway_trans_id, amount_cents=1000, refund=False)
        assert void.outcome == Outcome.APPROVED

    capture = client.capture(transaction_id=new_id(), gateway_trans_id=gateway_trans_id, amount_cents=1000)

    assert capture.outcome == Outcome.DECLINED
    assert (capture.response_code, capture.response_description) == ("30029", "Transaction Error")


def test_void_of_an_authorization(sandbox):
    auth = authorize(1000)

    void = client.void_or_refund(transaction_id=new_id(), gateway_trans_id=auth.gateway_trans_id, amount_cents=1000, refund=False)

    assert void.outcome == Outcome.APPROVED
    assert void.request_type == RequestType.VOID_REFUND
    assert void.raw_response.startswith("<VoidRefund>")
    assert void.response_message["ReferenceNumber"] == auth.gateway_trans_id
    assert void.response_message["ResponseTypeDescription"] == "void"
    assert charges_booked(sandbox, auth.transaction_id)[0]["status"] == "voided"


def test_void_of_a_captured_unsettled_charge_keeps_it_out_of_the_batch(sandbox):
    auth, _ = approved_and_captured(2000)
    _, kept_capture = approved_and_captured(3000)

    void = client.void_or_refund(transaction_id=new_id(), gateway_trans_id=auth.gateway_trans_id, amount_cents=2000, refund=False)
    settlement = client.settle(transaction_id=new_id())

    assert void.outcome == Outcome.APPROVED
    rows = sandbox.control.batch(settlement.cycle_code)["rows"]
    assert [row["GatewayTransID"] for row in rows] == [kept_capture.gateway_trans_id]


def test_settlement_closes_the_batch_voids_uncaptured_authorizations_and_exports_csv(sandbox):
    auth, capture = approved_and_captured(2500)
    partial = authorize(15000)
    partial_capture = client.capture(transaction_id=new_id(), gateway_trans_id=partial.gateway_trans_id, amount_cents=14000)
    uncaptured = authorize(700)
    credit = authorize(600, transaction_type="credit")
    settle_id = new_id()

    settlement = client.settle(transaction_id=settle_id)

    assert settlement.outcome == Outcome.APPROVED
    assert settlement.request_type == RequestType.SETTLEMENT
    assert re.fullmatch(r"\d{12}", settlement.cycle_code)
    assert settlement.raw_response.startswith("<CloseCycle>")
    assert settlement.response_message == {"CycleCode": settlement.cycle_code, "TransactionCount": "3", "NetAmount": "15900"}
    # a resend of the same settlement request answers the same batch, it does not close another
    assert client.settle(transaction_id=settle_id).cycle_code == settlement.cycle_code
    assert len(sandbox.control.batches()) == 1

    exported = sandbox.control.batch_csv(settlement.cycle_code)
    rows = list(csv.DictReader(io.StringIO(exported)))
    settled_at = rows[0]["SettledAt"]
    assert (
        exported.splitlines()[0]
        == "GatewayTransID,TransactionID,Amount,Type,CardLast4,SettledAt,AuthGatewayTransID,AuthTransactionID"
    )
    assert rows == [
        {
            "GatewayTransID": capture.gateway_trans_id,
            "TransactionID": capture.transaction_id,
            "Amount": "2500",
            "Type": "sale",
            "CardLast4": "0019",
            "SettledAt": settled_at,
            "AuthGatewayTransID": auth.gateway_trans_id,
            "AuthTransactionID": auth.transaction_id,
        },
        {
            "GatewayTransID": partial_capture.gateway_trans_id,
            "TransactionID": partial_capture.transaction_id,
            "Amount": "14000",
            "Type": "sale",
            "CardLast4": "0019",
            "SettledAt": settled_at,
            "AuthGatewayTransID": partial.gateway_trans_id,
            "AuthTransactionID": partial.transaction_id,
        },
        {
            "GatewayTransID": credit.gateway_trans_id,
            "TransactionID": credit.transaction_id,
            "Amount": "600",
            "Type": "credit",
            "CardLast4": "0019",
            "SettledAt": settled_at,
            "AuthGatewayTransID": credit.gateway_trans_id,
            "AuthTransactionID": credit.transaction_id,
        },
    ]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", settled_at)
    # the authorization never captured lapsed: voided, and no longer capturable
    assert charges_booked(sandbox, uncaptured.transaction_id)[0]["status"] == "voided"
    late = client.capture(transaction_id=new_id(), gateway_trans_id=uncaptured.gateway_trans_id, amount_cents=700)
    assert late.response_code == "30029"
    # the next batch starts empty
    empty = client.settle(transaction_id=new_id())
    assert empty.cycle_code != settlement.cycle_code
    assert sandbox.control.batch(empty.cycle_code)["rows"] == []


def test_refund_only_after_settlement_and_at_most_the_settled_amount(sandbox):
    auth, capture = approved_and_captured(5000)
    early_refund = client.void_or_refund(
        transaction_id=new_id(), gateway_trans_id=auth.gateway_trans_id, amount_cents=100, refund=True
    )
    client.settle(transaction_id=new_id())

    late_void = client.void_or_refund(
        transaction_id=new_id(), gateway_trans_id=auth.gateway_trans_id, amount_cents=5000, refund=False
    )
    refund = client.void_or_refund(
        transaction_id=new_id(), gateway_trans_id=auth.gateway_trans_id, amount_cents=3000, refund=True
    )
    too_much = client.void_or_refund(
        transaction_id=new_id(), gateway_trans_id=capture.gateway_trans_id, amount_cents=2001, refund=True
    )
    rest = client.void_or_refund(
        transaction_id=new_id(), gateway_trans_id=capture.gateway_trans_id, amount_cents=2000, refund=True
    )
    next_batch = client.settle(transaction_id=new_id())

    assert (early_refund.outcome, early_refund.response_code) == (Outcome.DECLINED, "30029")
    assert (late_void.outcome, late_void.response_code) == (Outcome.DECLINED, "30029")
    assert refund.outcome == Outcome.APPROVED
    assert refund.response_message["ResponseTypeDescription"] == "refund"
    assert (too_much.outcome, too_much.response_code) == (Outcome.DECLINED, "30029")
    assert rest.outcome == Outcome.APPROVED
    rows = list(csv.DictReader(io.StringIO(sandbox.control.batch_csv(next_batch.cycle_code))))
    assert [(row["GatewayTransID"], row["Amount"], row["Type"], row["AuthGatewayTransID"]) for row in rows] == [
        (refund.gateway_trans_id, "3000", "refund", auth.gateway_trans_id),
        (rest.gateway_trans_id, "2000", "refund", auth.gateway_trans_id),
    ]
    assert next_batch.response_message["NetAmount"] == "-5000"


def test_void_of_an_unsettled_refund(sandbox):
    auth, _ = approved_and_captured(5000)
    client.settle(transaction_id=new_id())
    refund = client.void_or_refund(
        transaction_id=new_id(), gateway_trans_id=auth.gateway_trans_id, amount_cents=5000, refund=True
    )

    void = client.void_or_refund(
        transaction_id=new_id(), gateway_trans_id=refund.gateway_trans_id, amount_cents=5000, refund=False
    )
    again = client.void_or_refund(transaction_id=new_id(), gateway_trans_id=auth.gateway_trans_id, amount_cents=5000, refund=True)

    assert void.outcome == Outcome.APPROVED
    assert again.outcome == Outcome.APPROVED  # the voided refund no longer counts
    batch = client.settle(transaction_id=new_id())
    assert [row["GatewayTransID"] for row in sandbox.control.batch(batch.cycle_code)["rows"]] == [again.gateway_trans_id]


def test_ping():
    result = client.ping(transaction_id=new_id())

    assert result.outcome == Outcome.APPROVED
    assert result.request_type == RequestType.PING
    assert result.response_code == "00000"
    assert result.raw_response.startswith("<Ping>")


# --- unknown outcomes and faults --------------------------------------------------------------------------------


def test_slow_answer_past_the_client_timeout_is_unknown(sandbox, settings):
    settings.GATEWAY_TIMEOUT_SECONDS = 0.3
    sandbox.control.add_fault("slow", seconds=2)
    transaction_id = new_id()

    result = authorize(1000, transaction_id=transaction_id)

    assert result.outcome == Outcome.UNKNOWN
    assert result.error == "read timeout"
    assert (result.response_code, result.gateway_trans_id, result.response_message) == ("", "", {})
    assert result.authorized_amount is None


@pytest.mark.parametrize(
    ("kind", "error"), [("drop", "connection error"), ("http500", "HTTP 500"), ("garbage", "unreadable answer")]
)
def test_spoiled_answer_is_unknown(sandbox, kind, error):
    sandbox.control.add_fault(kind)

    result = authorize(1000)

    assert result.outcome == Outcome.UNKNOWN
    assert error in result.error
    assert result.response_code == ""


def test_connection_refused_is_unknown(settings):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        free_port = probe.getsockname()[1]
    settings.GATEWAY_URL = f"http://127.0.0.1:{free_port}{protocol.SERVICE_PATH}"

    result = authorize(1000)

    assert result.outcome == Outcome.UNKNOWN
    assert result.error.startswith("connection error")


@pytest.mark.parametrize("kind", ["drop", "http500", "garbage", "slow"])
def test_gateway_charged_but_answer_lost_then_resend_gets_the_original_approval(sandbox, settings, kind):
    settings.GATEWAY_TIMEOUT_SECONDS = 0.5
    transaction_id = new_id()
    sandbox.control.add_fault(kind, transaction_id=transaction_id, record=True, seconds=2)

    lost = authorize(2500, transaction_id=transaction_id)
    resent = authorize(2500, transaction_id=transaction_id)

    assert lost.outcome == Outcome.UNKNOWN
    assert resent.outcome == Outcome.APPROVED
    booked = charges_booked(sandbox, transaction_id)
    assert [(op["gateway_trans_id"], op["amount"]) for op in booked] == [(resent.gateway_trans_id, 2500)]
    log = sandbox.control.requests(transaction_id=transaction_id)
    assert [(e["processed"], e["replayed"], e["fault"], e["outcome"]) for e in log] == [
        (True, False, kind, "approved"),
        (True, True, None, "approved"),
    ]


def test_gateway_did_nothing_and_answer_lost_then_resend_charges_once(sandbox):
    transaction_id = new_id()
    sandbox.control.add_fault("drop", transaction_id=transaction_id)  # record defaults to false

    lost = authorize(2500, transaction_id=transaction_id)
    assert charges_booked(sandbox, transaction_id) == []
    resent = authorize(2500, transaction_id=transaction_id)

    assert lost.outcome == Outcome.UNKNOWN
    assert resent.outcome == Outcome.APPROVED
    assert len(charges_booked(sandbox, transaction_id)) == 1
    log = sandbox.control.requests(transaction_id=transaction_id)
    assert [(e["processed"], e["fault"], e["outcome"]) for e in log] == [(False, "drop", None), (True, None, "approved")]


def test_service_unavailable_is_transient_and_a_retry_succeeds(sandbox):
    auth = authorize(1000)
    capture_id = new_id()
    sandbox.control.add_fault("unavailable", request_type="019")

    first = client.capture(transaction_id=capture_id, gateway_trans_id=auth.gateway_trans_id, amount_cents=1000)
    retry = client.capture(transaction_id=capture_id, gateway_trans_id=auth.gateway_trans_id, amount_cents=1000)

    assert (first.outcome, first.response_code, first.error) == (Outcome.TRANSIENT, "20003", "Service unavailable")
    assert retry.outcome == Outcome.APPROVED


def test_duplicate_fault_answers_30036(sandbox):
    sandbox.control.add_fault("duplicate")

    result = authorize(1000)

    assert (result.outcome, result.response_code) == (Outcome.DECLINED, "30036")


# --- credentials ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("setting", ["GATEWAY_USER", "GATEWAY_PASSWORD"])
def test_bad_credentials_are_declined_with_10024(sandbox, settings, setting):
    setattr(settings, setting, "wrong")
    transaction_id = new_id()

    result = authorize(1000, transaction_id=transaction_id)

    assert result.outcome == Outcome.DECLINED
    assert (result.response_code, result.response_description) == ("10024", "Invalid Credentials")
    assert charges_booked(sandbox, transaction_id) == []


def test_bad_client_identifier_is_declined_with_10020(settings):
    settings.GATEWAY_CLIENT_IDENTIFIER = "NOT-SOAP"

    result = client.ping(transaction_id=new_id())

    assert (result.outcome, result.response_code) == (Outcome.DECLINED, "10020")


# --- logs and arguments -----------------------------------------------------------------------------------------


def test_logs_mask_the_token_and_never_hold_the_password_or_request_xml(caplog, settings):
    settings.GATEWAY_PASSWORD = "sandbox"
    caplog.set_level(logging.DEBUG)
    transaction_id = new_id()

    authorize(500, transaction_id=transaction_id)
    authorize(13000)  # transient: logged as a warning
    settings.GATEWAY_PASSWORD = "s3cret-Passw0rd"
    authorize(500)  # rejected credentials

    text = caplog.text
    assert TOKEN not in text
    assert "****0019" in text
    assert transaction_id in text
    assert "s3cret-Passw0rd" not in text
    assert "<requestHeader" not in text
    assert "requestMsg" not in text
    assert any(record.levelno == logging.WARNING for record in caplog.records)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"token": "4111-1111"},
        {"token": "1" * 23},
        {"expiration_mmyy": "1328"},
        {"expiration_mmyy": "08/28"},
        {"transaction_type": "refund"},
        {"transaction_id": ""},
        {"transaction_id": "x" * 61},
        {"transaction_id": "bad id"},
        {"amount": 10.5},
        {"amount": True},
        {"invoice_num": "bad\x00char"},
    ],
)
def test_invalid_arguments_raise_before_anything_is_sent(sandbox, kwargs):
    amount = kwargs.pop("amount", 1000)
    transaction_id = kwargs.pop("transaction_id", new_id())

    with pytest.raises(ValueError):
        client.authorize(
            transaction_id=transaction_id,
            token=kwargs.pop("token", TOKEN),
            expiration_mmyy=kwargs.pop("expiration_mmyy", EXPIRY),
            amount_cents=amount,
            **kwargs,
        )

    assert sandbox.control.requests() == []


# --- classification of answers the sandbox does not give --------------------------------------------------------


def _answer(code: str, gateway_message: str | None = None, authorized: str | None = None) -> protocol.BridgeCommResponse:
    xml = protocol.build_response_xml(
        root="Auth",
        transaction_id="t",
        request_type="004",
        response_code=code,
        response_description=codes.DESCRIPTIONS.get(code, "x"),
        response_message=[("AuthorizedAmount", authorized), ("GatewayMessage", gateway_message)],
    )
    return protocol.parse_response_xml(xml)


@pytest.mark.parametrize(
    ("code", "gateway_message", "authorized", "outcome", "amount"),
    [
        ("00000", "A01 - Approved", "1000", Outcome.APPROVED, 1000),
        ("00000", "A01 - Approved", "600", Outcome.PARTIALLY_APPROVED, 600),  # less than asked, even without A05
        ("00000", "A05 - Partially Approved", "1000", Outcome.PARTIALLY_APPROVED, 1000),
        ("00001", None, "900", Outcome.PARTIALLY_APPROVED, 900),
        ("00001", None, None, Outcome.UNKNOWN, None),  # partial, but of how much?
        ("00000", None, None, Outcome.APPROVED, 1000),
        ("30022", "E02 - Processing network unavailable", "0", Outcome.TRANSIENT, 0),
        ("30099", "E77 - Some network trouble", "0", Outcome.TRANSIENT, 0),
        ("20003", None, None, Outcome.TRANSIENT, 0),
        ("80001", None, None, Outcome.TRANSIENT, 0),
        ("10052", None, None, Outcome.TRANSIENT, 0),
        ("20002", None, None, Outcome.UNKNOWN, None),
        ("99999", None, None, Outcome.UNKNOWN, None),
        ("30032", "D01 - Denied by customer's bank", "0", Outcome.DECLINED, 0),
        ("10020", None, None, Outcome.DECLINED, 0),
    ],
)
def test_classification(code, gateway_message, authorized, outcome, amount):
    result = protocol.classify_response(_answer(code, gateway_message, authorized), request_type="004", requested_amount=1000)

    assert (result.outcome, result.authorized_amount) == (outcome, amount)


def test_parser_refuses_entity_expansion():
    bomb = '<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]><Auth>&b;</Auth>'

    with pytest.raises(protocol.ProtocolError, match="forbidden XML construct"):
        protocol.parse_response_xml(bomb)


def test_response_message_keeps_empty_elements_as_none_in_order():
    xml = "<Auth><ResponseCode>00000</ResponseCode><responseMessage><B>2</B><A/><C></C><D> x </D></responseMessage></Auth>"

    parsed = protocol.parse_response_xml(xml)

    assert list(parsed.response_message.items()) == [("B", "2"), ("A", None), ("C", None), ("D", "x")]
