"""Typed results of the BridgeComm client. No other module builds or parses BridgeComm messages."""

from dataclasses import dataclass, field
from enum import StrEnum


class Outcome(StrEnum):
    APPROVED = "approved"  # ResponseCode 00000, full amount
    PARTIALLY_APPROVED = "partially_approved"  # approved for less than asked (A05 / 00001)
    DECLINED = "declined"  # a definite refusal (D-messages, 3xxxx card/bank codes, 1xxxx request errors): terminal
    TRANSIENT = "transient"  # a definite "nothing was done, try later" (E02/E09 network, 20003, 80001)
    UNKNOWN = "unknown"  # no definite answer: timeout, dropped connection, HTTP 5xx, unparsable response


class RequestType(StrEnum):
    AUTHORIZATION = "004"
    VOID_REFUND = "012"
    CAPTURE = "019"
    SETTLEMENT = "020"
    PING = "099"


@dataclass(frozen=True)
class GatewayResult:
    """One answer of the gateway (or the lack of one, for UNKNOWN)."""

    outcome: Outcome
    request_type: RequestType
    transaction_id: str  # our TransactionID, the same on every retry of one operation
    response_code: str = ""  # 5 digits, "00000" success; "" when UNKNOWN
    response_description: str = ""
    authorized_amount: int | None = None  # cents, 004 only
    gateway_trans_id: str = ""  # GatewayTransID, the reference for capture/void/refund
    cycle_code: str = ""  # 020 only: the settlement batch id
    # The <responseMessage> children, name → text or None (empty element), in the gateway's order: the HOP
    # API returns it as `metadata`, field for field.
    response_message: dict[str, str | None] = field(default_factory=dict)
    raw_response: str = ""  # the decoded response XML (never contains a card number, only the token)
    error: str = ""  # for UNKNOWN/TRANSIENT: what happened on our side (e.g. "read timeout")
