"""The sandbox's in-memory BridgeComm gateway: what it answers and what it remembers.

- Authorizations (004) answer by amount as DESIGN §5 lists (`AMOUNT_RULES`); a blind `credit` in an approving range
  posts in full (A02 - Credit Posted, as BridgePay recorded it in HOP's credit.md), in the others it is refused alike.
- A repeated TransactionID with the identical request gets the original answer again and changes nothing; with a
  different request it gets 30036 Duplicate Transaction. Answers that did nothing (ErrorResponse, E-messages and
  other transient codes) are not kept, so such a request may be sent again.
- Captures (019), voids (012 `void`, unsettled only), refunds (012 `refund`, settled only) and settlement (020: closes
  the batch of captured sales, refunds and credits, voids authorizations never captured) keep the books;
  `batch_csv` exports what a batch settled.
- Faults queued with `add_fault` hit the next matching requests: `slow`, `drop`, `http500`, `garbage` (an
  unparsable 200), `unavailable` (20003) or `duplicate` (30036); with `record` the request is processed (and kept
  for replay) before the fault spoils the answer.
- Every request is logged (`requests()`) with the token's last 4 digits only.

Thread-safe: one lock around all state; the HTTP layer sleeps (slow faults) outside it.
"""

import collections
import csv
import hmac
import io
import itertools
import logging
import re
import secrets
import threading
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime

from core.masking import LOGGED, last_four
from gateways.bridgecomm import codes, protocol
from gateways.bridgecomm.types import RequestType

logger = logging.getLogger(__name__)

MAX_AMOUNT = 99_999_999  # Amount is at most 8 digits
MAX_LOGGED_REQUESTS = 100_000  # a long-running sandbox keeps the most recent ones
PARTIAL_SHORTFALL = 1000  # a partial approval authorizes amount - 1000
FAULT_KINDS = ("slow", "drop", "http500", "garbage", "unavailable", "duplicate")
DEFAULT_SLOW_SECONDS = 12.0  # past the default GATEWAY_TIMEOUT_SECONDS (10)
BATCH_CSV_COLUMNS = (
    "GatewayTransID",
    "TransactionID",
    "Amount",
    "Type",
    "CardLast4",
    "SettledAt",
    "AuthGatewayTransID",
    "AuthTransactionID",
)


@dataclass(frozen=True)
class AmountRule:
    low: int
    high: int
    message_code: str  # A01, D05, E02, ...
    response_code: str
    approved: bool = False
    partial: bool = False


AMOUNT_RULES: tuple[AmountRule, ...] = (
    AmountRule(1, 499, "D01", codes.DENIED),
    AmountRule(500, 6999, "A01", codes.SUCCESS, approved=True),
    AmountRule(7000, 7999, "D05", codes.INVALID_ACCOUNT_NUMBER),
    AmountRule(8000, 8999, "D10", codes.LOST_CARD),
    AmountRule(9000, 9999, "D30", codes.CALL_FOR_AUTHORIZATION),
    AmountRule(10000, 10999, "D04", codes.PICK_UP_CARD),
    AmountRule(11000, 11999, "D08", codes.INVALID_SECURITY_CODE),
    AmountRule(12000, 12999, "D03", codes.INSUFFICIENT_FUNDS),
    AmountRule(13000, 13999, "E02", codes.NETWORK_UNAVAILABLE),
    AmountRule(14000, 14999, "E09", codes.PROCESSING_NETWORK_ERROR),
    AmountRule(15000, 15999, "A05", codes.PARTIAL_AUTHORIZATION, approved=True, partial=True),
    AmountRule(16000, 16999, "D01", codes.DENIED),  # DESIGN §5 lists nothing here: a plain decline
    AmountRule(17000, 18199, "A01", codes.SUCCESS, approved=True),
    AmountRule(18200, MAX_AMOUNT, "D01", codes.DENIED),
)


def amount_rule(amount: int) -> AmountRule:
    for rule in AMOUNT_RULES:
        if rule.low <= amount <= rule.high:
            return rule
    raise ValueError("amount outside 1..99999999")


@dataclass
class Operation:
    """One transaction on the sandbox's books (the sandbox keeps the full token to echo it; it never exports it)."""

    gateway_trans_id: str
    transaction_id: str
    request_type: str
    transaction_type: str  # sale-auth, sale, credit, capture, void, refund
    amount: int  # as requested
    approved_amount: int  # authorized / captured / voided / refunded; 0 when declined
    response_code: str
    status: str  # declined | authorized | captured | pending | settled | voided | approved
    created_at: datetime
    token: str = field(default="", repr=False)
    expiration_date: str = ""
    authorization_code: str = ""
    reference: str = ""  # GatewayTransID this one acts on (capture, void, refund)
    captured_amount: int = 0  # sale-auth only
    refunded_amount: int = 0  # sale-auth / sale
    capture_gateway_trans_id: str = ""  # sale-auth only
    cycle_code: str = ""
    settled_at: datetime | None = None

    def as_json(self) -> dict[str, object]:
        return {
            "gateway_trans_id": self.gateway_trans_id,
            "transaction_id": self.transaction_id,
            "request_type": self.request_type,
            "transaction_type": self.transaction_type,
            "amount": self.amount,
            "approved_amount": self.approved_amount,
            "response_code": self.response_code,
            "status": self.status,
            "token_last4": self.token[-4:],
            "reference_number": self.reference or None,
            "authorization_code": self.authorization_code or None,
            "captured_amount": self.captured_amount,
            "refunded_amount": self.refunded_amount,
            "cycle_code": self.cycle_code or None,
            "created_at": _iso(self.created_at),
            "settled_at": _iso(self.settled_at) if self.settled_at else None,
        }


@dataclass
class Fault:
    id: int
    kind: str
    remaining: int
    transaction_id: str | None
    request_type: str | None
    seconds: float
    record: bool

    def as_json(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class RequestRecord:
    """One service request as received.

    `processed`: the gateway acted on it (booked it, or answered from its books: `replayed`). `response_code` and
    `outcome` are the gateway's answer (classified as the client would), also when a fault then spoiled its
    delivery; for an unprocessed request they describe the injected answer, if any (else None).
    """

    received_at: str
    transaction_id: str | None
    request_type: str | None
    transaction_type: str | None
    amount: int | None
    token_last4: str | None
    reference_number: str | None
    response_code: str | None
    outcome: str | None
    processed: bool
    replayed: bool
    fault: str | None
    error: str | None
    message_fields: tuple[str, ...] = ()  # names of the <requestMessage> children, in order (values stay private)


@dataclass(frozen=True)
class Answer:
    """What the HTTP layer sends: after `delay_seconds`, either nothing (`drop`) or `status` + `body`."""

    status: int = 200
    body: bytes = b""
    content_type: str = protocol.CONTENT_TYPE
    delay_seconds: float = 0.0
    drop: bool = False


@dataclass(frozen=True)
class _StoredAnswer:
    fingerprint: tuple
    response_xml: str


def _now() -> datetime:
    return datetime.now(UTC)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _iso_gateway(moment: datetime) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S}.{moment.microsecond // 10000:02d}"


def _int_or_none(value: str | None) -> int | None:
    return int(value) if value and re.fullmatch(r"-?\d{1,12}", value) else None


class SandboxGateway:
    def __init__(
        self,
        *,
        client_identifier: str = protocol.DEFAULT_CLIENT_IDENTIFIER,
        user: str = protocol.SANDBOX_USER,
        password: str = protocol.SANDBOX_PASSWORD,
    ):
        self.client_identifier = client_identifier
        self.user = user
        self._password = password
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._clear()

    def _clear(self) -> None:
        self._operations: list[Operation] = []
        self._by_gateway_trans_id: dict[str, Operation] = {}
        self._answers: dict[str, _StoredAnswer] = {}
        self._requests: collections.deque[RequestRecord] = collections.deque(maxlen=MAX_LOGGED_REQUESTS)
        self._faults: list[Fault] = []
        self._batches: list[dict[str, object]] = []
        self._fault_ids = itertools.count(1)

    # --- lifecycle ---------------------------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget everything: books, batches, request log, pending faults."""
        with self._lock:
            self._clear()

    def sleep(self, seconds: float) -> None:
        """Sleep for a slow fault; cut short when the server stops."""
        self._stopping.wait(seconds)

    def stop(self) -> None:
        self._stopping.set()

    # --- the service -------------------------------------------------------------------------------------------

    def handle(self, body: bytes, soap_action: str | None) -> Answer:
        """Answer one ProcessRequest POST body."""
        received_at = _now()
        if (soap_action or "").strip().strip('"') != protocol.SOAP_ACTION:
            self._log_unreadable(received_at, "bad SOAPAction")
            fault = protocol.build_soap_fault("a:ActionNotSupported", "The SOAPAction is not ProcessRequest.")
            return Answer(status=500, body=fault)
        try:
            request = protocol.parse_request_xml(protocol.parse_request_envelope(body))
        except protocol.ProtocolError as exc:
            self._log_unreadable(received_at, str(exc))
            return Answer(status=500, body=protocol.build_soap_fault("s:Client", "The request could not be read."))

        with self._lock:
            fault = self._take_fault(request)
            response_xml: str | None = None
            replayed = False
            if fault is None or fault.record:
                response_xml, replayed = self._process(request, received_at)
            injected = self._injected_answer(request, fault)
            described = response_xml or injected
            parsed = protocol.parse_response_xml(described) if described else None
            self._requests.append(
                RequestRecord(
                    received_at=_iso(received_at),
                    transaction_id=request.transaction_id or None,
                    request_type=request.request_type or None,
                    transaction_type=request.message.get("TransactionType"),
                    amount=_int_or_none(request.message.get("Amount")),
                    token_last4=(request.message.get("Token") or "")[-4:] or None,
                    reference_number=request.message.get("ReferenceNumber"),
                    response_code=parsed.response_code if parsed else None,
                    outcome=self._outcome(parsed, request) if parsed else None,
                    processed=response_xml is not None,
                    replayed=replayed,
                    fault=fault.kind if fault else None,
                    error=None,
                    message_fields=tuple(request.message),
                )
            )
            record = self._requests[-1]
        logger.info(
            "sandbox %s transaction_id=%s amount=%s token=%s -> %s %s%s%s",
            record.request_type,
            record.transaction_id,
            record.amount,
            last_four(request.message.get("Token"), mark=LOGGED) or "-",
            record.response_code or "-",
            record.outcome or "not processed",
            " (replayed)" if replayed else "",
            f" fault={fault.kind}" if fault else "",
        )
        return self._deliver(response_xml, injected, fault)

    def _log_unreadable(self, received_at: datetime, error: str) -> None:
        with self._lock:
            self._requests.append(
                RequestRecord(_iso(received_at), None, None, None, None, None, None, None, None, False, False, None, error)
            )

    @staticmethod
    def _outcome(parsed: protocol.BridgeCommResponse, request: protocol.BridgeCommRequest) -> str:
        amount = _int_or_none(request.message.get("Amount"))
        return protocol.classify_response(parsed, request_type=request.request_type, requested_amount=amount).outcome.value

    def _injected_answer(self, request: protocol.BridgeCommRequest, fault: Fault | None) -> str | None:
        if fault is None or fault.kind not in ("unavailable", "duplicate"):
            return None
        code = codes.SERVICE_UNAVAILABLE if fault.kind == "unavailable" else codes.DUPLICATE_TRANSACTION
        return self._error(request, code)

    def _deliver(self, response_xml: str | None, injected: str | None, fault: Fault | None) -> Answer:
        if fault is None:
            return Answer(body=protocol.build_response_envelope(response_xml or ""))  # always processed without a fault
        if fault.kind == "slow":
            if response_xml is None:
                return Answer(delay_seconds=fault.seconds, drop=True)
            return Answer(body=protocol.build_response_envelope(response_xml), delay_seconds=fault.seconds)
        if fault.kind == "drop":
            return Answer(drop=True)
        if fault.kind == "http500":
            return Answer(status=500, body=protocol.build_soap_fault("s:Server", "Internal server error."))
        if fault.kind == "garbage":
            return Answer(body=b"<html><body>Service temporarily overloaded", content_type="text/html")
        return Answer(body=protocol.build_response_envelope(injected or ""))  # unavailable / duplicate

    # --- processing (under the lock) ---------------------------------------------------------------------------

    def _process(self, request: protocol.BridgeCommRequest, now: datetime) -> tuple[str, bool]:
        """The answer to `request` and whether it was replayed from the books."""
        if request.client_identifier != self.client_identifier:
            return self._error(request, codes.INVALID_CLIENT_IDENTIFIER), False
        user_ok = hmac.compare_digest(request.user.encode(), self.user.encode())
        password_ok = hmac.compare_digest(request.password.encode(), self._password.encode())
        if not (user_ok and password_ok):
            return self._error(request, codes.INVALID_CREDENTIALS), False
        if not request.transaction_id or len(request.transaction_id) > 60:
            return self._error(request, codes.INVALID_REQUEST, "Invalid TransactionID"), False

        fingerprint = (request.request_type, tuple(request.message.items()))
        stored = self._answers.get(request.transaction_id)
        if stored is not None:
            if stored.fingerprint == fingerprint:
                return stored.response_xml, True
            return self._error(request, codes.DUPLICATE_TRANSACTION), False

        handlers = {
            RequestType.AUTHORIZATION: self._authorize,
            RequestType.CAPTURE: self._capture,
            RequestType.VOID_REFUND: self._void_or_refund,
            RequestType.SETTLEMENT: self._settle,
            RequestType.PING: self._ping,
        }
        handler = handlers.get(request.request_type)
        if handler is None:
            return self._error(request, codes.INVALID_REQUEST, "Invalid RequestType"), False
        response_xml = handler(request, now)
        parsed = protocol.parse_response_xml(response_xml)
        if parsed.root != protocol.ERROR_RESPONSE_ROOT and parsed.response_code not in codes.TRANSIENT_CODES:
            self._answers[request.transaction_id] = _StoredAnswer(fingerprint, response_xml)
        return response_xml, False

    def _error(self, request: protocol.BridgeCommRequest, code: str, description: str = "") -> str:
        return protocol.build_response_xml(
            root=protocol.ERROR_RESPONSE_ROOT,
            transaction_id=request.transaction_id,
            request_type=request.request_type,
            response_code=code,
            response_description=description or codes.DESCRIPTIONS[code],
        )

    def _amount_error(self, request: protocol.BridgeCommRequest) -> tuple[int, str | None]:
        amount = _int_or_none(request.message.get("Amount"))
        if amount is None or amount < 0 or amount > MAX_AMOUNT:
            return 0, self._error(request, codes.INVALID_AMOUNT)
        if amount == 0:
            return 0, self._error(request, codes.ZERO_AMOUNT)
        return amount, None

    def _new_gateway_trans_id(self) -> str:
        while True:
            candidate = str(100_000_000 + secrets.randbelow(900_000_000))
            if candidate not in self._by_gateway_trans_id:
                return candidate

    def _book(self, operation: Operation) -> Operation:
        self._operations.append(operation)
        self._by_gateway_trans_id[operation.gateway_trans_id] = operation
        return operation

    def _answer(
        self,
        request: protocol.BridgeCommRequest,
        now: datetime,
        *,
        response_code: str,
        gateway_message: str,
        internal_message: str,
        values: dict[str, str | None],
    ) -> str:
        metadata: dict[str, str | None] = {
            "GatewayMessage": gateway_message,
            "InternalMessage": internal_message,
            "GatewayResult": response_code,
            "TransactionCode": request.message.get("TransactionCode") or request.transaction_id,
            "TransactionDate": f"{now:%Y%m%d}",
            "RemainingAmount": "0",
            "IsoCountryCode": "840",
            "IsoCurrencyCode": "USD",
            "IsoTransactionDate": _iso_gateway(now),
            "IsoRequestDate": _iso_gateway(now),
            "IsCommercialCard": "False",
            **values,
        }
        return protocol.build_response_xml(
            root=protocol.RESPONSE_ROOTS[request.request_type],
            transaction_id=request.transaction_id,
            request_type=request.request_type,
            response_code=response_code,
            response_description=codes.DESCRIPTIONS[response_code],
            response_message=protocol.message_pairs(metadata),
        )

    def _decline(
        self,
        request: protocol.BridgeCommRequest,
        now: datetime,
        *,
        code: str,
        message_code: str,
        transaction_type: str,
        amount: int,
        token: str = "",
        expiration_date: str = "",
        reference: str = "",
    ) -> str:
        operation = self._book(
            Operation(
                gateway_trans_id=self._new_gateway_trans_id(),
                transaction_id=request.transaction_id,
                request_type=request.request_type,
                transaction_type=transaction_type,
                amount=amount,
                approved_amount=0,
                response_code=code,
                status="declined",
                created_at=now,
                token=token,
                expiration_date=expiration_date,
                reference=reference,
            )
        )
        description = codes.DESCRIPTIONS[code]
        return self._answer(
            request,
            now,
            response_code=code,
            gateway_message=codes.DECLINE_MESSAGES.get(message_code, f"{message_code} - {description}"),
            internal_message=description,
            values={
                "Token": token or None,
                "ExpirationDate": expiration_date or None,
                "ReferenceNumber": reference or None,
                "AuthorizedAmount": "0",
                "OriginalAmount": str(amount),
                "GatewayTransID": operation.gateway_trans_id,
                "ResponseTypeDescription": "decline",
            },
        )

    def _authorize(self, request: protocol.BridgeCommRequest, now: datetime) -> str:
        message = request.message
        transaction_type = message.get("TransactionType") or ""
        if transaction_type not in ("sale-auth", "sale", "credit"):
            return self._error(request, codes.INVALID_REQUEST, "Unsupported TransactionType")
        token = message.get("Token") or ""
        if not token:
            return self._error(request, codes.INVALID_REQUEST, "Token is required")
        expiration = message.get("ExpirationDate") or ""
        if not re.fullmatch(r"(0[1-9]|1[0-2])\d\d", expiration):
            return self._error(request, codes.INVALID_REQUEST, "Invalid ExpirationDate")
        amount, error = self._amount_error(request)
        if error:
            return error
        if not re.fullmatch(r"\d{1,22}", token):
            return self._decline(
                request,
                now,
                code=codes.INVALID_ACCOUNT_NUMBER,
                message_code="D05",
                transaction_type=transaction_type,
                amount=amount,
            )

        rule = amount_rule(amount)
        if transaction_type == "credit" and rule.approved:
            # A blind credit is never partial: the approving ranges post it in full (A02); the others refuse it as
            # they refuse a sale.
            rule = AmountRule(rule.low, rule.high, "A02", codes.SUCCESS, approved=True)
        if not rule.approved:
            return self._decline(
                request,
                now,
                code=rule.response_code,
                message_code=rule.message_code,
                transaction_type=transaction_type,
                amount=amount,
                token=token,
                expiration_date=expiration,
            )

        authorized = amount - PARTIAL_SHORTFALL if rule.partial else amount
        authorization_code = f"{secrets.randbelow(1_000_000):06d}"
        operation = self._book(
            Operation(
                gateway_trans_id=self._new_gateway_trans_id(),
                transaction_id=request.transaction_id,
                request_type=request.request_type,
                transaction_type=transaction_type,
                amount=amount,
                approved_amount=authorized,
                response_code=rule.response_code,
                status="authorized" if transaction_type == "sale-auth" else "captured",
                created_at=now,
                token=token,
                expiration_date=expiration,
                authorization_code=authorization_code,
            )
        )
        if transaction_type == "credit":
            gateway_message, type_description = codes.CREDIT_POSTED_MESSAGE, "credit"
        elif rule.partial:
            gateway_message, type_description = codes.PARTIALLY_APPROVED_MESSAGE, "sale"
        else:
            gateway_message, type_description = codes.APPROVED_MESSAGE, "sale"
        return self._answer(
            request,
            now,
            response_code=rule.response_code,
            gateway_message=gateway_message,
            internal_message=(
                "Credit Posted" if transaction_type == "credit" else f"Approved: {authorization_code} (approval code)"
            ),
            values={
                "Token": token,
                "ExpirationDate": expiration,
                "AuthorizationCode": authorization_code,
                "AuthorizedAmount": str(authorized),
                "OriginalAmount": str(amount),
                "GatewayTransID": operation.gateway_trans_id,
                "RemainingAmount": str(amount - authorized),
                "ResponseTypeDescription": type_description,
            },
        )

    def _approve_follow_up(
        self,
        request: protocol.BridgeCommRequest,
        now: datetime,
        *,
        charge: Operation,
        transaction_type: str,
        amount: int,
        status: str,
    ) -> tuple[Operation, str]:
        reference = request.message.get("ReferenceNumber") or ""
        operation = self._book(
            Operation(
                gateway_trans_id=self._new_gateway_trans_id(),
                transaction_id=request.transaction_id,
                request_type=request.request_type,
                transaction_type=transaction_type,
                amount=amount,
                approved_amount=amount,
                response_code=codes.SUCCESS,
                status=status,
                created_at=now,
                token=charge.token,
                expiration_date=charge.expiration_date,
                authorization_code=charge.authorization_code,
                reference=reference,
            )
        )
        response_xml = self._answer(
            request,
            now,
            response_code=codes.SUCCESS,
            gateway_message=codes.APPROVED_MESSAGE,
            internal_message=f"Approved: {charge.authorization_code} (approval code)",
            values={
                "Token": charge.token,
                "ExpirationDate": charge.expiration_date,
                "AuthorizationCode": charge.authorization_code,
                "ReferenceNumber": reference,
                "AuthorizedAmount": str(amount),
                "OriginalAmount": str(charge.approved_amount),
                "GatewayTransID": operation.gateway_trans_id,
                "ResponseTypeDescription": transaction_type,
            },
        )
        return operation, response_xml

    def _transaction_error(self, request: protocol.BridgeCommRequest, now: datetime, transaction_type: str, amount: int) -> str:
        reference = request.message.get("ReferenceNumber") or ""
        charge = self._charge_of(reference)
        return self._decline(
            request,
            now,
            code=codes.TRANSACTION_ERROR,
            message_code="D29",
            transaction_type=transaction_type,
            amount=amount,
            token=charge.token if charge else "",
            expiration_date=charge.expiration_date if charge else "",
            reference=reference,
        )

    def _charge_of(self, gateway_trans_id: str) -> Operation | None:
        """The 004 operation behind a GatewayTransID (a capture's reference leads back to its authorization)."""
        operation = self._by_gateway_trans_id.get(gateway_trans_id)
        if operation is not None and operation.transaction_type in ("capture", "refund", "void"):
            return self._by_gateway_trans_id.get(operation.reference)
        return operation

    def _capture(self, request: protocol.BridgeCommRequest, now: datetime) -> str:
        amount, error = self._amount_error(request)
        if error:
            return error
        authorization = self._by_gateway_trans_id.get(request.message.get("ReferenceNumber") or "")
        if (
            authorization is None
            or authorization.transaction_type != "sale-auth"
            or authorization.status != "authorized"
            or amount > authorization.approved_amount
        ):
            return self._transaction_error(request, now, "capture", amount)
        capture, response_xml = self._approve_follow_up(
            request, now, charge=authorization, transaction_type="capture", amount=amount, status="captured"
        )
        authorization.status = "captured"
        authorization.captured_amount = amount
        authorization.capture_gateway_trans_id = capture.gateway_trans_id
        return response_xml

    def _void_or_refund(self, request: protocol.BridgeCommRequest, now: datetime) -> str:
        transaction_type = request.message.get("TransactionType") or ""
        if transaction_type not in ("void", "refund"):
            return self._error(request, codes.INVALID_REQUEST, "Unsupported TransactionType")
        amount, error = self._amount_error(request)
        if error:
            return error
        target = self._by_gateway_trans_id.get(request.message.get("ReferenceNumber") or "")
        if target is None:
            return self._transaction_error(request, now, transaction_type, amount)
        if transaction_type == "void":
            return self._void(request, now, target, amount)
        return self._refund(request, now, target, amount)

    def _void(self, request: protocol.BridgeCommRequest, now: datetime, target: Operation, amount: int) -> str:
        if target.transaction_type == "capture":
            target = self._by_gateway_trans_id[target.reference]
        if target.transaction_type == "sale-auth" and target.status in ("authorized", "captured"):
            if target.status == "captured":
                self._by_gateway_trans_id[target.capture_gateway_trans_id].status = "voided"
            voided, charge = target.approved_amount, target
        elif target.transaction_type in ("sale", "credit") and target.status == "captured":
            voided, charge = target.approved_amount, target
        elif target.transaction_type == "refund" and target.status == "pending":
            charge = self._by_gateway_trans_id[target.reference]
            charge.refunded_amount -= target.approved_amount
            voided = target.approved_amount
        else:
            return self._transaction_error(request, now, "void", amount)
        target.status = "voided"
        _, response_xml = self._approve_follow_up(
            request, now, charge=charge, transaction_type="void", amount=voided, status="approved"
        )
        return response_xml

    def _refund(self, request: protocol.BridgeCommRequest, now: datetime, target: Operation, amount: int) -> str:
        charge = self._charge_of(target.gateway_trans_id) if target.transaction_type == "capture" else target
        if charge is None or charge.transaction_type not in ("sale-auth", "sale") or charge.status != "settled":
            return self._transaction_error(request, now, "refund", amount)
        settled = charge.captured_amount if charge.transaction_type == "sale-auth" else charge.approved_amount
        if amount > settled - charge.refunded_amount:
            return self._transaction_error(request, now, "refund", amount)
        charge.refunded_amount += amount
        refund, response_xml = self._approve_follow_up(
            request, now, charge=charge, transaction_type="refund", amount=amount, status="pending"
        )
        refund.reference = charge.gateway_trans_id
        return response_xml

    def _settle(self, request: protocol.BridgeCommRequest, now: datetime) -> str:
        for operation in self._operations:
            if operation.transaction_type == "sale-auth" and operation.status == "authorized":
                operation.status = "voided"  # never captured: the authorization lapses
        cycle_code = self._new_cycle_code(now)
        rows: list[dict[str, object]] = []
        net = 0
        for operation in self._operations:
            if operation.transaction_type not in ("capture", "sale", "credit", "refund"):
                continue
            if operation.status not in ("captured", "pending"):
                continue
            operation.status = "settled"
            operation.cycle_code = cycle_code
            operation.settled_at = now
            charge = operation
            if operation.transaction_type in ("capture", "refund"):
                charge = self._by_gateway_trans_id[operation.reference]
            if operation.transaction_type == "capture":
                charge.status = "settled"
                charge.cycle_code = cycle_code
                charge.settled_at = now
            row_type = "sale" if operation.transaction_type == "capture" else operation.transaction_type
            net += operation.approved_amount if row_type == "sale" else -operation.approved_amount
            rows.append(
                {
                    "GatewayTransID": operation.gateway_trans_id,
                    "TransactionID": operation.transaction_id,
                    "Amount": operation.approved_amount,
                    "Type": row_type,
                    "CardLast4": operation.token[-4:],
                    "SettledAt": _iso(now),
                    "AuthGatewayTransID": charge.gateway_trans_id,
                    "AuthTransactionID": charge.transaction_id,
                }
            )
        self._batches.append(
            {"cycle_code": cycle_code, "settled_at": _iso(now), "transaction_count": len(rows), "net_amount": net, "rows": rows}
        )
        return protocol.build_response_xml(
            root=protocol.RESPONSE_ROOTS[RequestType.SETTLEMENT],
            transaction_id=request.transaction_id,
            request_type=request.request_type,
            response_code=codes.SUCCESS,
            response_description=codes.DESCRIPTIONS[codes.SUCCESS],
            response_message=[("CycleCode", cycle_code), ("TransactionCount", str(len(rows))), ("NetAmount", str(net))],
        )

    def _new_cycle_code(self, now: datetime) -> str:
        taken = {batch["cycle_code"] for batch in self._batches}
        while True:
            candidate = f"{now:%Y%m%d}{secrets.randbelow(10_000):04d}"
            if candidate not in taken:
                return candidate

    def _ping(self, request: protocol.BridgeCommRequest, now: datetime) -> str:
        return protocol.build_response_xml(
            root=protocol.RESPONSE_ROOTS[RequestType.PING],
            transaction_id=request.transaction_id,
            request_type=request.request_type,
            response_code=codes.SUCCESS,
            response_description=codes.DESCRIPTIONS[codes.SUCCESS],
        )

    # --- faults ------------------------------------------------------------------------------------------------

    def add_fault(
        self,
        *,
        kind: str,
        count: int = 1,
        transaction_id: str | None = None,
        request_type: str | None = None,
        seconds: float | None = None,
        record: bool | None = None,
    ) -> Fault:
        """Queue a fault for the next `count` requests (of `transaction_id` / `request_type` when given).

        `record` (default: True for `slow`, False otherwise): process and book the request, then spoil the answer.
        A `slow` fault without `record` sleeps and then drops the connection, having done nothing.
        """
        if kind not in FAULT_KINDS:
            raise ValueError(f"kind must be one of {', '.join(FAULT_KINDS)}")
        if isinstance(count, bool) or not isinstance(count, int) or count < 1:
            raise ValueError("count must be a positive integer")
        if transaction_id is not None and (not isinstance(transaction_id, str) or not transaction_id):
            raise ValueError("transaction_id must be a non-empty string")
        if request_type is not None and request_type not in protocol.RESPONSE_ROOTS:
            raise ValueError("request_type must be one of 004, 012, 019, 020, 099")
        if seconds is None:
            seconds = DEFAULT_SLOW_SECONDS
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 <= seconds <= 600:
            raise ValueError("seconds must be a number from 0 to 600")
        if record is None:
            record = kind == "slow"
        if not isinstance(record, bool):
            raise ValueError("record must be a boolean")
        with self._lock:
            fault = Fault(next(self._fault_ids), kind, count, transaction_id, request_type, float(seconds), record)
            self._faults.append(fault)
            return replace(fault)

    def _take_fault(self, request: protocol.BridgeCommRequest) -> Fault | None:
        def matches(fault: Fault, specific: bool) -> bool:
            if (fault.transaction_id is not None) != specific:
                return False
            if specific and fault.transaction_id != request.transaction_id:
                return False
            return fault.request_type is None or fault.request_type == request.request_type

        for specific in (True, False):
            for fault in self._faults:
                if matches(fault, specific):
                    fault.remaining -= 1
                    if fault.remaining == 0:
                        self._faults.remove(fault)
                    return replace(fault)
        return None

    # --- views (JSON-ready) ------------------------------------------------------------------------------------

    def requests(self, *, transaction_id: str | None = None, request_type: str | None = None) -> list[dict[str, object]]:
        with self._lock:
            records = list(self._requests)
        return [
            asdict(record)
            for record in records
            if (transaction_id is None or record.transaction_id == transaction_id)
            and (request_type is None or record.request_type == request_type)
        ]

    def transactions(self, *, transaction_id: str | None = None) -> list[dict[str, object]]:
        with self._lock:
            return [op.as_json() for op in self._operations if transaction_id is None or op.transaction_id == transaction_id]

    def faults(self) -> list[dict[str, object]]:
        with self._lock:
            return [fault.as_json() for fault in self._faults]

    def batches(self) -> list[dict[str, object]]:
        with self._lock:
            return [{**batch, "rows": [dict(row) for row in batch["rows"]]} for batch in self._batches]

    def batch(self, cycle_code: str) -> dict[str, object] | None:
        return next((batch for batch in self.batches() if batch["cycle_code"] == cycle_code), None)

    def batch_csv(self, cycle_code: str) -> str | None:
        batch = self.batch(cycle_code)
        if batch is None:
            return None
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=BATCH_CSV_COLUMNS, lineterminator="\r\n")
        writer.writeheader()
        writer.writerows(batch["rows"])
        return out.getvalue()
