"""The gateway sandbox itself: its wire format, control API, robustness and the management command (real HTTP)."""

import base64
import re
import subprocess
import sys
import threading
import uuid
from pathlib import Path

import pytest
import requests
from defusedxml import ElementTree as SafeElementTree

from gateways.bridgecomm import client, protocol
from gateways.bridgecomm.types import Outcome
from gateways.sandbox import SandboxServer

TOKEN = "1000000074340019"


def new_id() -> str:
    return str(uuid.uuid4())


def request_body(
    *,
    transaction_id: str = "raw-1",
    request_type: str = "004",
    message: list[tuple[str, str | None]] | None = None,
    client_identifier: str = protocol.DEFAULT_CLIENT_IDENTIFIER,
    user: str = protocol.SANDBOX_USER,
    password: str = protocol.SANDBOX_PASSWORD,
) -> bytes:
    if message is None:
        message = [
            ("MerchantCode", "100"),
            ("MerchantAccountCode", "1000"),
            ("Token", TOKEN),
            ("ExpirationDate", "0828"),
            ("Amount", "1000"),
            ("TransactionType", "sale-auth"),
        ]
    xml = protocol.build_request_xml(
        client_identifier=client_identifier,
        transaction_id=transaction_id,
        request_type=request_type,
        request_datetime="20250101120000",
        user=user,
        password=password,
        message=message,
    )
    return protocol.build_request_envelope(xml)


def post_raw(sandbox, body: bytes, soap_action: str | None = f'"{protocol.SOAP_ACTION}"') -> requests.Response:
    headers = {"Content-Type": protocol.CONTENT_TYPE}
    if soap_action is not None:
        headers["SOAPAction"] = soap_action
    return requests.post(sandbox.url, data=body, headers=headers, timeout=5)


def answer_of(response: requests.Response) -> protocol.BridgeCommResponse:
    assert response.status_code == 200
    return protocol.parse_response_xml(protocol.parse_response_envelope(response.content))


# --- wire format ------------------------------------------------------------------------------------------------


def test_request_envelope_is_appendix_a():
    body = request_body(transaction_id="t-42")

    envelope = SafeElementTree.fromstring(body)
    soap = "{http://schemas.xmlsoap.org/soap/envelope/}"
    handler = "{http://bridgepaynetsecuretx.com/requesthandler}"
    assert envelope.tag == f"{soap}Envelope"
    request_msg = envelope.find(f"{soap}Body/{handler}ProcessRequest/{handler}requestMsg")
    header = SafeElementTree.fromstring(base64.b64decode(request_msg.text))
    assert header.tag == "requestHeader"
    assert [child.tag for child in header] == [
        "ClientIdentifier",
        "TransactionID",
        "RequestType",
        "RequestDateTime",
        "User",
        "Password",
        "requestMessage",
    ]
    assert header.findtext("TransactionID") == "t-42"


def test_response_envelope_is_appendix_a(sandbox):
    response = post_raw(sandbox, request_body())

    assert response.headers["Content-Type"] == protocol.CONTENT_TYPE
    envelope = SafeElementTree.fromstring(response.content)
    soap = "{http://schemas.xmlsoap.org/soap/envelope/}"
    handler = "{http://bridgepaynetsecuretx.com/requesthandler}"
    result = envelope.find(f"{soap}Body/{handler}ProcessRequestResponse/{handler}ProcessRequestResult")
    auth = SafeElementTree.fromstring(base64.b64decode(result.text))
    assert auth.tag == "Auth"
    assert [child.tag for child in auth] == [
        "TransactionID",
        "RequestType",
        "ResponseCode",
        "ResponseDescription",
        "responseMessage",
    ]


def test_client_sends_the_fields_of_each_request_type(sandbox, gateway_settings):
    auth = client.authorize(
        transaction_id=new_id(),
        token=TOKEN,
        expiration_mmyy="0828",
        amount_cents=1000,
        invoice_num="INV-7",
        customer_account_code="cust-7",
    )
    client.capture(transaction_id=new_id(), gateway_trans_id=auth.gateway_trans_id, amount_cents=1000)
    client.void_or_refund(transaction_id=new_id(), gateway_trans_id=auth.gateway_trans_id, amount_cents=1000, refund=False)
    client.settle(transaction_id=new_id())
    client.ping(transaction_id=new_id())

    fields = {entry["request_type"]: entry["message_fields"] for entry in sandbox.control.requests()}
    merchant = ["MerchantCode", "MerchantAccountCode"]
    assert fields == {
        "004": [
            *merchant,
            "Token",
            "ExpirationDate",
            "Amount",
            "TransactionType",
            "TransIndustryType",
            "AcctType",
            "HolderType",
            "PartialAuthorization",
            "InvoiceNum",
            "CustomerAccountCode",
        ],
        "019": [*merchant, "TransactionType", "Amount", "ReferenceNumber", "TransactionCode"],
        "012": [*merchant, "TransactionType", "Amount", "ReferenceNumber"],
        "020": merchant,
        "099": merchant,
    }


# --- control API ------------------------------------------------------------------------------------------------


def test_request_log_lists_every_request_with_the_token_last4_only(sandbox, gateway_settings):
    auth_id, capture_id = new_id(), new_id()
    auth = client.authorize(transaction_id=auth_id, token=TOKEN, expiration_mmyy="0828", amount_cents=600)
    client.authorize(transaction_id=new_id(), token=TOKEN, expiration_mmyy="0828", amount_cents=300)
    client.capture(transaction_id=capture_id, gateway_trans_id=auth.gateway_trans_id, amount_cents=600)

    response = requests.get(f"{sandbox.base_url}/_sandbox/requests", timeout=5)

    assert response.status_code == 200
    assert TOKEN not in response.text
    entries = response.json()
    assert [(e["request_type"], e["amount"], e["token_last4"], e["response_code"], e["outcome"]) for e in entries] == [
        ("004", 600, "0019", "00000", "approved"),
        ("004", 300, "0019", "30032", "declined"),
        ("019", 600, None, "00000", "approved"),
    ]
    first = entries[0]
    assert first["transaction_id"] == auth_id
    assert first["transaction_type"] == "sale-auth"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["received_at"])
    assert entries[2]["reference_number"] == auth.gateway_trans_id
    assert [e["transaction_id"] for e in sandbox.control.requests(transaction_id=capture_id)] == [capture_id]
    assert len(sandbox.control.requests(request_type="004")) == 2


def test_transactions_show_the_books_without_full_tokens(sandbox, gateway_settings):
    auth = client.authorize(transaction_id=new_id(), token=TOKEN, expiration_mmyy="0828", amount_cents=15000)

    response = requests.get(f"{sandbox.base_url}/_sandbox/transactions", timeout=5)

    assert TOKEN not in response.text
    [operation] = response.json()
    assert operation["gateway_trans_id"] == auth.gateway_trans_id
    assert (operation["amount"], operation["approved_amount"], operation["status"]) == (15000, 14000, "authorized")
    assert operation["token_last4"] == "0019"


def test_reset_forgets_books_batches_requests_and_faults(sandbox, gateway_settings):
    transaction_id = new_id()
    client.authorize(transaction_id=transaction_id, token=TOKEN, expiration_mmyy="0828", amount_cents=600)
    client.settle(transaction_id=new_id())
    sandbox.control.add_fault("drop")

    response = requests.post(f"{sandbox.base_url}/_sandbox/reset", timeout=5)

    assert response.json() == {"status": "reset"}
    control = sandbox.control
    assert (control.requests(), control.transactions(), control.batches(), control.faults()) == ([], [], [], [])
    # the TransactionID is free again: a new charge, not a replay
    again = client.authorize(transaction_id=transaction_id, token=TOKEN, expiration_mmyy="0828", amount_cents=700)
    assert again.outcome == Outcome.APPROVED
    assert again.response_message["OriginalAmount"] == "700"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"kind": "explode"}, "kind must be one of"),
        ({"kind": "drop", "count": 0}, "count must be a positive integer"),
        ({"kind": "drop", "count": "2"}, "count must be a positive integer"),
        ({"kind": "slow", "seconds": -1}, "seconds must be"),
        ({"kind": "drop", "record": "yes"}, "record must be a boolean"),
        ({"kind": "drop", "request_type": "777"}, "request_type must be"),
        ({"kind": "drop", "colour": "red"}, "unknown fields: colour"),
        ({}, "kind"),
        ([], "JSON object"),
    ],
)
def test_fault_validation(sandbox, payload, message):
    response = requests.post(f"{sandbox.base_url}/_sandbox/faults", json=payload, timeout=5)

    assert response.status_code == 400
    assert message in response.json()["error"]
    assert sandbox.control.faults() == []


def test_fault_is_queued_and_consumed(sandbox, gateway_settings):
    response = requests.post(f"{sandbox.base_url}/_sandbox/faults", json={"kind": "http500", "count": 2}, timeout=5)
    assert response.status_code == 201
    fault = response.json()["fault"]
    assert fault == {
        "id": fault["id"],
        "kind": "http500",
        "remaining": 2,
        "transaction_id": None,
        "request_type": None,
        "seconds": 12.0,
        "record": False,
    }

    outcomes = [client.ping(transaction_id=new_id()).outcome for _ in range(3)]

    assert outcomes == [Outcome.UNKNOWN, Outcome.UNKNOWN, Outcome.APPROVED]
    assert sandbox.control.faults() == []


def test_fault_for_a_transaction_id_spares_other_requests(sandbox, gateway_settings):
    target = new_id()
    sandbox.control.add_fault("drop", transaction_id=target)

    other = client.ping(transaction_id=new_id())
    hit = client.ping(transaction_id=target)
    after = client.ping(transaction_id=target)

    assert (other.outcome, hit.outcome, after.outcome) == (Outcome.APPROVED, Outcome.UNKNOWN, Outcome.APPROVED)


def test_slow_fault_without_record_does_nothing_and_then_drops(sandbox, gateway_settings):
    transaction_id = new_id()
    sandbox.control.add_fault("slow", seconds=0.2, record=False)

    result = client.authorize(transaction_id=transaction_id, token=TOKEN, expiration_mmyy="0828", amount_cents=600)

    assert result.outcome == Outcome.UNKNOWN
    assert result.error.startswith("connection error")
    assert sandbox.control.transactions() == []


def test_slow_fault_with_record_answers_late(sandbox, gateway_settings):
    sandbox.control.add_fault("slow", seconds=0.3)

    result = client.ping(transaction_id=new_id())  # the client waits up to 5 s

    assert result.outcome == Outcome.APPROVED


def test_unknown_batch_is_404(sandbox):
    for path in ("batches/000000000000", "batches/000000000000.csv", "nothing-here"):
        response = requests.get(f"{sandbox.base_url}/_sandbox/{path}", timeout=5)
        assert response.status_code == 404


def test_batch_listing(sandbox, gateway_settings):
    auth = client.authorize(transaction_id=new_id(), token=TOKEN, expiration_mmyy="0828", amount_cents=600)
    capture = client.capture(transaction_id=new_id(), gateway_trans_id=auth.gateway_trans_id, amount_cents=600)
    settlement = client.settle(transaction_id=new_id())

    [batch] = requests.get(f"{sandbox.base_url}/_sandbox/batches", timeout=5).json()
    csv_response = requests.get(f"{sandbox.base_url}/_sandbox/batches/{settlement.cycle_code}.csv", timeout=5)

    assert batch["cycle_code"] == settlement.cycle_code
    assert (batch["transaction_count"], batch["net_amount"]) == (1, 600)
    assert [row["GatewayTransID"] for row in batch["rows"]] == [capture.gateway_trans_id]
    assert csv_response.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert csv_response.text.count("\r\n") == 2


# --- robustness -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("soap_action", [None, '"http://example.com/Other"'])
def test_wrong_soap_action_is_a_soap_fault(sandbox, soap_action):
    response = post_raw(sandbox, request_body(), soap_action=soap_action)

    assert response.status_code == 500
    assert b"ActionNotSupported" in response.content
    assert sandbox.control.transactions() == []


def test_unquoted_soap_action_is_accepted(sandbox):
    assert answer_of(post_raw(sandbox, request_body(), soap_action=protocol.SOAP_ACTION)).response_code == "00000"


@pytest.mark.parametrize(
    "body",
    [
        b"not xml at all",
        b"<soapenv:Envelope xmlns:soapenv='http://schemas.xmlsoap.org/soap/envelope/'><soapenv:Body/></soapenv:Envelope>",
        b"<soapenv:Envelope xmlns:soapenv='http://schemas.xmlsoap.org/soap/envelope/'><soapenv:Body><requestMsg>***</requestMsg>"
        b"</soapenv:Body></soapenv:Envelope>",
        protocol.build_request_envelope('<!DOCTYPE r [<!ENTITY a "x">]><requestHeader>&a;</requestHeader>'),
        b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]><r>&x;</r>',
    ],
    ids=["not-xml", "no-payload", "bad-base64", "entity-in-payload", "external-entity"],
)
def test_unreadable_request_is_a_soap_fault_and_is_logged(sandbox, body):
    response = post_raw(sandbox, body)

    assert response.status_code == 500
    assert b"<s:Fault>" in response.content
    [entry] = sandbox.control.requests()
    assert entry["processed"] is False
    assert entry["error"]
    assert answer_of(post_raw(sandbox, request_body())).response_code == "00000"  # still serving


@pytest.mark.parametrize(
    ("kwargs", "code", "description"),
    [
        ({"request_type": "777"}, "10001", "Invalid RequestType"),
        ({"message": [("Token", TOKEN), ("ExpirationDate", "0828"), ("Amount", "900")]}, "10001", "Unsupported TransactionType"),
        ({"message": [("TransactionType", "sale"), ("ExpirationDate", "0828"), ("Amount", "900")]}, "10001", "Token is required"),
        (
            {"message": [("TransactionType", "sale"), ("Token", TOKEN), ("ExpirationDate", "1399"), ("Amount", "9")]},
            "10001",
            None,
        ),
        (
            {"message": [("TransactionType", "sale"), ("Token", TOKEN), ("ExpirationDate", "0828"), ("Amount", "1.5")]},
            "10028",
            None,
        ),
        ({"client_identifier": "X"}, "10020", "Invalid Client Identifier"),
        ({"password": "nope"}, "10024", "Invalid Credentials"),
        ({"transaction_id": "x" * 61}, "10001", "Invalid TransactionID"),
    ],
)
def test_malformed_requests_get_an_error_response(sandbox, kwargs, code, description):
    answer = answer_of(post_raw(sandbox, request_body(**kwargs)))

    assert answer.root == "ErrorResponse"
    assert answer.response_code == code
    if description:
        assert answer.response_description == description
    assert sandbox.control.transactions() == []


def test_non_numeric_token_is_declined_as_invalid_account(sandbox):
    message = [("TransactionType", "sale-auth"), ("Token", "41111111x1111111"), ("ExpirationDate", "0828"), ("Amount", "900")]

    answer = answer_of(post_raw(sandbox, request_body(message=message)))

    assert (answer.root, answer.response_code) == ("Auth", "30023")


def test_sale_is_captured_at_once_and_settles(sandbox, gateway_settings):
    sale = client.authorize(
        transaction_id=new_id(), token=TOKEN, expiration_mmyy="0828", amount_cents=900, transaction_type="sale"
    )
    settlement = client.settle(transaction_id=new_id())

    [row] = sandbox.control.batch(settlement.cycle_code)["rows"]
    assert (row["GatewayTransID"], row["Type"], row["Amount"]) == (sale.gateway_trans_id, "sale", 900)


def test_concurrent_identical_requests_charge_once(sandbox, gateway_settings):
    transaction_id = new_id()
    barrier = threading.Barrier(12)
    results = []

    def send() -> None:
        barrier.wait()
        results.append(client.authorize(transaction_id=transaction_id, token=TOKEN, expiration_mmyy="0828", amount_cents=4200))

    threads = [threading.Thread(target=send) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    assert len(results) == 12
    assert {(r.outcome, r.gateway_trans_id) for r in results} == {(Outcome.APPROVED, results[0].gateway_trans_id)}
    assert len(sandbox.control.transactions(transaction_id=transaction_id)) == 1
    assert sum(not entry["replayed"] for entry in sandbox.control.requests(transaction_id=transaction_id)) == 1


def test_service_path_answers_get_and_unknown_paths_404(sandbox):
    assert requests.get(sandbox.url, timeout=5).status_code == 200
    assert requests.post(f"{sandbox.base_url}/elsewhere", data=b"", timeout=5).status_code == 404
    assert requests.get(f"{sandbox.base_url}/_sandbox/health", timeout=5).json() == {"status": "ok"}


def test_server_binds_an_ephemeral_port_and_releases_it_on_stop():
    server = SandboxServer("127.0.0.1", 0)
    assert server.port > 0
    assert server.url == f"http://127.0.0.1:{server.port}/PaymentService/RequestHandler.svc"

    with server:
        assert server.control.health() == {"status": "ok"}

    with pytest.raises(requests.ConnectionError):
        requests.get(f"{server.base_url}/_sandbox/health", timeout=2)


def test_sandbox_with_other_credentials(settings):
    with SandboxServer(client_identifier="CHARGEPAY", user="merchant", password="pa55") as server:
        settings.GATEWAY_URL = server.url
        settings.GATEWAY_CLIENT_IDENTIFIER = "CHARGEPAY"
        settings.GATEWAY_USER = "merchant"
        settings.GATEWAY_PASSWORD = "pa55"

        assert client.ping(transaction_id=new_id()).outcome == Outcome.APPROVED
        settings.GATEWAY_PASSWORD = "sandbox"
        assert client.ping(transaction_id=new_id()).response_code == "10024"


def test_management_command_runs_the_sandbox(settings):
    manage = Path(settings.BASE_DIR) / "manage.py"
    process = subprocess.Popen(
        [
            sys.executable,
            "-u",
            str(manage),
            "run_gateway_sandbox",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--user",
            "sandbox",
            "--password",
            "sandbox",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()
        match = re.search(r"listening on (http://127\.0\.0\.1:\d+/PaymentService/RequestHandler\.svc)", line)
        assert match, (line, process.stderr.read() if process.poll() is not None else "")
        settings.GATEWAY_URL = match.group(1)
        settings.GATEWAY_USER = settings.GATEWAY_PASSWORD = "sandbox"

        result = client.authorize(transaction_id=new_id(), token=TOKEN, expiration_mmyy="0828", amount_cents=500)

        assert result.outcome == Outcome.APPROVED
    finally:
        process.terminate()
        process.wait(timeout=10)
        process.stdout.close()
        process.stderr.close()
