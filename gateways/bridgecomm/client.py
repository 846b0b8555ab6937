"""BridgeComm client: one function per request type, each returning a types.GatewayResult.

Network trouble never raises: a timeout, a dropped connection, an HTTP 5xx or an answer we cannot read is an
UNKNOWN outcome (the gateway may or may not have acted); the caller resolves it by sending the identical request
again with the same TransactionID. Invalid arguments (a programming error, nothing sent) raise ValueError.

Settings are read on every call: GATEWAY_URL, GATEWAY_USER, GATEWAY_PASSWORD, GATEWAY_MERCHANT_CODE,
GATEWAY_MERCHANT_ACCOUNT_CODE, GATEWAY_TIMEOUT_SECONDS (read timeout), and optionally
GATEWAY_CONNECT_TIMEOUT_SECONDS (default 3) and GATEWAY_CLIENT_IDENTIFIER (default "SOAP").
Logs never hold a token (only its last 4), a password, or request XML.
"""

import logging
import re
import time
from datetime import UTC, datetime

import requests
from django.conf import settings

from core.masking import LOGGED, last_four
from gateways.bridgecomm import protocol
from gateways.bridgecomm.types import GatewayResult, Outcome, RequestType

logger = logging.getLogger(__name__)

DEFAULT_CONNECT_TIMEOUT_SECONDS = 3.0
AUTHORIZATION_TRANSACTION_TYPES = ("sale-auth", "sale", "credit")

_TRANSACTION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,59}")
_TOKEN = re.compile(r"\d{1,22}")
_EXPIRATION = re.compile(r"(0[1-9]|1[0-2])\d\d")
_GATEWAY_TRANS_ID = re.compile(r"[A-Za-z0-9-]{1,40}")


# --- public API -----------------------------------------------------------------------------------------------


def authorize(
    *,
    transaction_id: str,
    token: str,
    expiration_mmyy: str,
    amount_cents: int,
    transaction_type: str = "sale-auth",
    invoice_num: str = "",
    customer_account_code: str = "",
) -> GatewayResult:
    """004 Authorization of `amount_cents` on a stored-card token (`sale-auth`; also `sale` and blind `credit`).

    Partial authorization is allowed for sales: a PARTIALLY_APPROVED result's `authorized_amount` is what the
    card gave. The amount is sent as given (the gateway answers 10027/10028 to zero/negative amounts).
    """
    _check_transaction_id(transaction_id)
    if not isinstance(token, str) or not _TOKEN.fullmatch(token):
        raise ValueError("token must be 1 to 22 digits")
    if not isinstance(expiration_mmyy, str) or not _EXPIRATION.fullmatch(expiration_mmyy):
        raise ValueError("expiration_mmyy must be MMYY")
    _check_amount(amount_cents)
    if transaction_type not in AUTHORIZATION_TRANSACTION_TYPES:
        raise ValueError(f"transaction_type must be one of {AUTHORIZATION_TRANSACTION_TYPES}")
    message = [
        *_merchant(),
        ("Token", token),
        ("ExpirationDate", expiration_mmyy),
        ("Amount", str(amount_cents)),
        ("TransactionType", transaction_type),
        ("TransIndustryType", "EC"),
        ("AcctType", "R"),
        ("HolderType", "P"),
        ("PartialAuthorization", "false" if transaction_type == "credit" else "true"),
    ]
    if invoice_num:
        message.append(("InvoiceNum", invoice_num))
    if customer_account_code:
        message.append(("CustomerAccountCode", customer_account_code))
    return _call(
        RequestType.AUTHORIZATION,
        transaction_id,
        message,
        requested_amount=amount_cents,
        log_details={"type": transaction_type, "token": last_four(token, mark=LOGGED), "amount": amount_cents},
    )


def capture(*, transaction_id: str, gateway_trans_id: str, amount_cents: int) -> GatewayResult:
    """019 Capture of (up to) the authorized amount of the authorization `gateway_trans_id`."""
    _check_transaction_id(transaction_id)
    _check_reference(gateway_trans_id)
    _check_amount(amount_cents)
    message = [
        *_merchant(),
        ("TransactionType", "capture"),
        ("Amount", str(amount_cents)),
        ("ReferenceNumber", gateway_trans_id),
        ("TransactionCode", transaction_id),
    ]
    return _call(
        RequestType.CAPTURE,
        transaction_id,
        message,
        log_details={"reference": gateway_trans_id, "amount": amount_cents},
    )


def void_or_refund(*, transaction_id: str, gateway_trans_id: str, amount_cents: int, refund: bool) -> GatewayResult:
    """012: void an unsettled transaction (`refund=False`) or refund `amount_cents` of a settled one (`refund=True`).

    The gateway answers 30029 "Transaction Error" (DECLINED) to a void of a settled transaction, a refund of an
    unsettled one, or an unknown reference.
    """
    _check_transaction_id(transaction_id)
    _check_reference(gateway_trans_id)
    _check_amount(amount_cents)
    kind = "refund" if refund else "void"
    message = [
        *_merchant(),
        ("TransactionType", kind),
        ("Amount", str(amount_cents)),
        ("ReferenceNumber", gateway_trans_id),
    ]
    return _call(
        RequestType.VOID_REFUND,
        transaction_id,
        message,
        log_details={"type": kind, "reference": gateway_trans_id, "amount": amount_cents},
    )


def settle(*, transaction_id: str) -> GatewayResult:
    """020 Initiate settlement: closes the current batch; the result's `cycle_code` names it."""
    _check_transaction_id(transaction_id)
    return _call(RequestType.SETTLEMENT, transaction_id, _merchant(), log_details={})


def ping(*, transaction_id: str) -> GatewayResult:
    """099 Ping: APPROVED when the gateway is reachable and accepts our credentials."""
    _check_transaction_id(transaction_id)
    return _call(RequestType.PING, transaction_id, _merchant(), log_details={})


# --- internals ------------------------------------------------------------------------------------------------


def _check_transaction_id(transaction_id: str) -> None:
    if not isinstance(transaction_id, str) or not _TRANSACTION_ID.fullmatch(transaction_id):
        raise ValueError("transaction_id must be 1 to 60 characters of [A-Za-z0-9._:-]")


def _check_reference(gateway_trans_id: str) -> None:
    if not isinstance(gateway_trans_id, str) or not _GATEWAY_TRANS_ID.fullmatch(gateway_trans_id):
        raise ValueError("gateway_trans_id must be the GatewayTransID of an earlier transaction")


def _check_amount(amount_cents: int) -> None:
    if isinstance(amount_cents, bool) or not isinstance(amount_cents, int):
        raise ValueError("amount_cents must be an integer number of cents")


def _merchant() -> list[tuple[str, str | None]]:
    return [
        ("MerchantCode", str(settings.GATEWAY_MERCHANT_CODE)),
        ("MerchantAccountCode", str(settings.GATEWAY_MERCHANT_ACCOUNT_CODE)),
    ]


def _timeouts() -> tuple[float, float]:
    read = float(settings.GATEWAY_TIMEOUT_SECONDS)
    connect = float(getattr(settings, "GATEWAY_CONNECT_TIMEOUT_SECONDS", DEFAULT_CONNECT_TIMEOUT_SECONDS))
    return min(connect, read), read


def _call(
    request_type: RequestType,
    transaction_id: str,
    message: list[tuple[str, str | None]],
    *,
    log_details: dict[str, object],
    requested_amount: int | None = None,
) -> GatewayResult:
    request_xml = protocol.build_request_xml(
        client_identifier=str(getattr(settings, "GATEWAY_CLIENT_IDENTIFIER", protocol.DEFAULT_CLIENT_IDENTIFIER)),
        transaction_id=transaction_id,
        request_type=request_type.value,
        request_datetime=datetime.now(UTC).strftime("%Y%m%d%H%M%S"),
        user=str(settings.GATEWAY_USER),
        password=str(settings.GATEWAY_PASSWORD),
        message=message,
    )
    body = protocol.build_request_envelope(request_xml)
    started = time.monotonic()
    result = _exchange(request_type, transaction_id, body, requested_amount)
    elapsed_ms = int((time.monotonic() - started) * 1000)
    details = "".join(f" {key}={value}" for key, value in log_details.items())
    level = logging.WARNING if result.outcome in (Outcome.UNKNOWN, Outcome.TRANSIENT) else logging.INFO
    logger.log(
        level,
        "bridgecomm %s transaction_id=%s%s -> %s code=%s gateway_trans_id=%s elapsed_ms=%d%s",
        request_type.value,
        transaction_id,
        details,
        result.outcome.value,
        result.response_code or "-",
        result.gateway_trans_id or "-",
        elapsed_ms,
        f" error={result.error!r}" if result.error else "",
    )
    return result


def _unknown(request_type: RequestType, transaction_id: str, error: str, raw: str = "") -> GatewayResult:
    return GatewayResult(
        outcome=Outcome.UNKNOWN, request_type=request_type, transaction_id=transaction_id, error=error, raw_response=raw
    )


def _exchange(request_type: RequestType, transaction_id: str, body: bytes, requested_amount: int | None) -> GatewayResult:
    headers = {"Content-Type": protocol.CONTENT_TYPE, "SOAPAction": f'"{protocol.SOAP_ACTION}"'}
    try:
        response = requests.post(settings.GATEWAY_URL, data=body, headers=headers, timeout=_timeouts(), allow_redirects=False)
    except requests.ConnectTimeout:
        return _unknown(request_type, transaction_id, "connect timeout")
    except requests.ReadTimeout:
        return _unknown(request_type, transaction_id, "read timeout")
    except requests.ConnectionError as exc:
        return _unknown(request_type, transaction_id, f"connection error: {exc.__class__.__name__}")
    except requests.RequestException as exc:
        return _unknown(request_type, transaction_id, f"request failed: {exc.__class__.__name__}")

    if response.status_code >= 500:
        return _unknown(request_type, transaction_id, f"HTTP {response.status_code}")
    try:
        response_xml = protocol.parse_response_envelope(response.content)
        parsed = protocol.parse_response_xml(response_xml)
    except protocol.ProtocolError as exc:
        return _unknown(request_type, transaction_id, f"HTTP {response.status_code}, unreadable answer: {exc}")
    if parsed.transaction_id and parsed.transaction_id != transaction_id:
        return _unknown(request_type, transaction_id, "answer names another TransactionID", raw=response_xml)
    expected_root = protocol.RESPONSE_ROOTS[request_type]
    if parsed.root not in (expected_root, protocol.ERROR_RESPONSE_ROOT):
        return _unknown(
            request_type, transaction_id, f"answer root {parsed.root!r}, expected {expected_root!r}", raw=response_xml
        )

    classification = protocol.classify_response(parsed, request_type=request_type, requested_amount=requested_amount)
    message = parsed.response_message
    return GatewayResult(
        outcome=classification.outcome,
        request_type=request_type,
        transaction_id=transaction_id,
        response_code=parsed.response_code,
        response_description=parsed.response_description,
        authorized_amount=classification.authorized_amount,
        gateway_trans_id=message.get("GatewayTransID") or parsed.extra.get("GatewayTransID") or "",
        cycle_code=message.get("CycleCode") or parsed.extra.get("CycleCode") or "",
        response_message=message,
        raw_response=response_xml,
        error=classification.error,
    )
