"""The BridgeComm wire format (DESIGN Appendix A): SOAP 1.1 envelope around a base64 request/response XML.

The only code that builds or parses BridgeComm XML; the client and the sandbox both use it. Untrusted XML is
parsed with defusedxml only (no DTD, no entity expansion, no external resources).
"""

import base64
import binascii
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

from defusedxml import DefusedXmlException
from defusedxml import ElementTree as SafeElementTree

from gateways.bridgecomm import codes
from gateways.bridgecomm.types import Outcome, RequestType

SOAP_ENVELOPE_NS = "http://schemas.xmlsoap.org/soap/envelope/"
REQUEST_HANDLER_NS = "http://bridgepaynetsecuretx.com/requesthandler"
SOAP_ACTION = "http://bridgepaynetsecuretx.com/requesthandler/IRequestHandler/ProcessRequest"
SERVICE_PATH = "/PaymentService/RequestHandler.svc"
CONTENT_TYPE = "text/xml; charset=utf-8"
DEFAULT_CLIENT_IDENTIFIER = "SOAP"
# The sandbox's default User/Password, also the defaults of settings.GATEWAY_USER / GATEWAY_PASSWORD.
SANDBOX_USER = "sandbox"
SANDBOX_PASSWORD = "sandbox"

REQUEST_HEADER_FIELDS = ("ClientIdentifier", "TransactionID", "RequestType", "RequestDateTime", "User", "Password")

# Root element of the response XML per request type; any type may instead answer <ErrorResponse>.
RESPONSE_ROOTS: dict[str, str] = {
    RequestType.AUTHORIZATION: "Auth",
    RequestType.CAPTURE: "Capture",
    RequestType.VOID_REFUND: "VoidRefund",
    RequestType.SETTLEMENT: "CloseCycle",
    RequestType.PING: "Ping",
}
ERROR_RESPONSE_ROOT = "ErrorResponse"

# The children of <responseMessage> of an authorization, in order: the seed's `metadata` keys (seeds/004).
METADATA_FIELDS: tuple[str, ...] = (
    "Token",
    "ExpirationDate",
    "AuthorizationCode",
    "ReferenceNumber",
    "AuthorizedAmount",
    "OriginalAmount",
    "GatewayTransID",
    "GatewayMessage",
    "InternalMessage",
    "GatewayResult",
    "AVSMessage",
    "AVSResult",
    "CVMessage",
    "CVResult",
    "TransactionCode",
    "TransactionDate",
    "RemainingAmount",
    "IsoCountryCode",
    "IsoCurrencyCode",
    "IsoTransactionDate",
    "IsoRequestDate",
    "NetworkReferenceNumber",
    "MerchantCategoryCode",
    "NetworkMerchantId",
    "NetworkTerminalId",
    "CardType",
    "MaskedPan",
    "ResponseTypeDescription",
    "IsCommercialCard",
    "StreetMatchMessage",
    "WalletID",
    "WalletPaymentMethodID",
    "WalletResponseCode",
    "WalletResponseMessage",
)

_RESPONSE_CODE = re.compile(r"\d{5}")
# Characters XML 1.0 cannot carry at all (escaping does not help).
_XML_INVALID_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class ProtocolError(Exception):
    """A message that is not BridgeComm: not XML, not base64, not UTF-8, or missing a required element.

    Its message never quotes the offending content (it may hold a token).
    """


@dataclass(frozen=True)
class BridgeCommRequest:
    """A decoded <requestHeader>."""

    client_identifier: str
    transaction_id: str
    request_type: str
    request_datetime: str
    user: str
    password: str = field(repr=False)
    message: dict[str, str | None] = field(default_factory=dict)  # <requestMessage> children, in order


@dataclass(frozen=True)
class BridgeCommResponse:
    """A decoded response XML (the content of ProcessRequestResult)."""

    root: str  # Auth, Capture, VoidRefund, CloseCycle, Ping or ErrorResponse
    transaction_id: str
    request_type: str
    response_code: str
    response_description: str
    response_message: dict[str, str | None] = field(default_factory=dict)  # <responseMessage> children, in order
    extra: dict[str, str | None] = field(default_factory=dict)  # any other direct child of the root
    xml: str = ""


@dataclass(frozen=True)
class Classification:
    outcome: Outcome
    authorized_amount: int | None = None
    error: str = ""


# --- building -------------------------------------------------------------------------------------------------


def _xml_text(value: str) -> str:
    if _XML_INVALID_CHARS.search(value):
        raise ValueError("value contains characters XML cannot carry")
    return escape(value)


def _elements(pairs: Iterable[tuple[str, str | None]]) -> str:
    return "".join(f"<{name}/>" if value in (None, "") else f"<{name}>{_xml_text(str(value))}</{name}>" for name, value in pairs)


def build_request_xml(
    *,
    client_identifier: str,
    transaction_id: str,
    request_type: str,
    request_datetime: str,
    user: str,
    password: str,
    message: Iterable[tuple[str, str | None]],
) -> str:
    """The <requestHeader> XML. `message` gives the <requestMessage> children in order."""
    header = _elements(
        [
            ("ClientIdentifier", client_identifier),
            ("TransactionID", transaction_id),
            ("RequestType", request_type),
            ("RequestDateTime", request_datetime),
            ("User", user),
            ("Password", password),
        ]
    )
    return f"<requestHeader>{header}<requestMessage>{_elements(message)}</requestMessage></requestHeader>"


def build_request_envelope(request_xml: str) -> bytes:
    """The SOAP 1.1 body of a ProcessRequest call carrying `request_xml` base64-encoded."""
    payload = base64.b64encode(request_xml.encode("utf-8")).decode("ascii")
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENVELOPE_NS}" xmlns:req="{REQUEST_HANDLER_NS}">'
        "<soapenv:Header/>"
        "<soapenv:Body><req:ProcessRequest>"
        f"<req:requestMsg>{payload}</req:requestMsg>"
        "</req:ProcessRequest></soapenv:Body></soapenv:Envelope>"
    ).encode()


def build_response_xml(
    *,
    root: str,
    transaction_id: str,
    request_type: str,
    response_code: str,
    response_description: str,
    response_message: Iterable[tuple[str, str | None]] | None = None,
) -> str:
    """A response XML; `response_message` None leaves out <responseMessage> (as an <ErrorResponse> does)."""
    head = _elements(
        [
            ("TransactionID", transaction_id),
            ("RequestType", request_type),
            ("ResponseCode", response_code),
            ("ResponseDescription", response_description),
        ]
    )
    body = "" if response_message is None else f"<responseMessage>{_elements(response_message)}</responseMessage>"
    return f"<{root}>{head}{body}</{root}>"


def build_response_envelope(response_xml: str) -> bytes:
    payload = base64.b64encode(response_xml.encode("utf-8")).decode("ascii")
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<s:Envelope xmlns:s="{SOAP_ENVELOPE_NS}"><s:Body>'
        f'<ProcessRequestResponse xmlns="{REQUEST_HANDLER_NS}">'
        f"<ProcessRequestResult>{payload}</ProcessRequestResult>"
        "</ProcessRequestResponse></s:Body></s:Envelope>"
    ).encode()


def build_soap_fault(faultcode: str, faultstring: str) -> bytes:
    """A SOAP 1.1 Fault, as a WCF service answers (with HTTP 500) what it cannot dispatch."""
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        f'<s:Envelope xmlns:s="{SOAP_ENVELOPE_NS}"><s:Body><s:Fault>'
        f"<faultcode>{_xml_text(faultcode)}</faultcode>"
        f'<faultstring xml:lang="en-US">{_xml_text(faultstring)}</faultstring>'
        "</s:Fault></s:Body></s:Envelope>"
    ).encode()


# --- parsing --------------------------------------------------------------------------------------------------


def _local(tag: object) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _parse_xml(data: bytes | str, what: str):
    try:
        return SafeElementTree.fromstring(data)
    except DefusedXmlException as exc:
        raise ProtocolError(f"{what}: forbidden XML construct ({exc.__class__.__name__})") from exc
    except (SafeElementTree.ParseError, ValueError) as exc:
        raise ProtocolError(f"{what}: not well-formed XML") from exc


def _text(element) -> str | None:
    text = (element.text or "").strip()
    return text or None


def _children(element) -> dict[str, str | None]:
    return {_local(child.tag): _text(child) for child in element}


def _find_payload(envelope_body: bytes, element_name: str, what: str) -> str:
    envelope = _parse_xml(envelope_body, what)
    if _local(envelope.tag) != "Envelope":
        raise ProtocolError(f"{what}: not a SOAP envelope")
    for element in envelope.iter():
        if _local(element.tag) == element_name:
            encoded = "".join((element.text or "").split())
            if not encoded:
                raise ProtocolError(f"{what}: empty {element_name}")
            try:
                return base64.b64decode(encoded, validate=True).decode("utf-8")
            except (binascii.Error, ValueError) as exc:  # UnicodeDecodeError is a ValueError
                raise ProtocolError(f"{what}: {element_name} is not base64 of UTF-8 text") from exc
    raise ProtocolError(f"{what}: no {element_name}")


def parse_request_envelope(body: bytes) -> str:
    """The request XML carried by a ProcessRequest SOAP body."""
    return _find_payload(body, "requestMsg", "request")


def parse_response_envelope(body: bytes) -> str:
    """The response XML carried by a ProcessRequestResponse SOAP body."""
    return _find_payload(body, "ProcessRequestResult", "response")


def parse_request_xml(request_xml: str) -> BridgeCommRequest:
    root = _parse_xml(request_xml, "requestHeader")
    if _local(root.tag) != "requestHeader":
        raise ProtocolError("request: root is not requestHeader")
    header: dict[str, str | None] = {}
    message: dict[str, str | None] = {}
    for child in root:
        name = _local(child.tag)
        if name == "requestMessage":
            message = _children(child)
        else:
            header[name] = _text(child)
    return BridgeCommRequest(
        client_identifier=header.get("ClientIdentifier") or "",
        transaction_id=header.get("TransactionID") or "",
        request_type=header.get("RequestType") or "",
        request_datetime=header.get("RequestDateTime") or "",
        user=header.get("User") or "",
        password=header.get("Password") or "",
        message=message,
    )


def parse_response_xml(response_xml: str) -> BridgeCommResponse:
    root = _parse_xml(response_xml, "response XML")
    head: dict[str, str | None] = {}
    response_message: dict[str, str | None] = {}
    for child in root:
        name = _local(child.tag)
        if name == "responseMessage":
            response_message = _children(child)
        else:
            head[name] = _text(child)
    response_code = head.pop("ResponseCode", None) or ""
    if not _RESPONSE_CODE.fullmatch(response_code):
        raise ProtocolError("response XML: no 5-digit ResponseCode")
    return BridgeCommResponse(
        root=_local(root.tag),
        transaction_id=head.pop("TransactionID", None) or "",
        request_type=head.pop("RequestType", None) or "",
        response_code=response_code,
        response_description=head.pop("ResponseDescription", None) or "",
        response_message=response_message,
        extra=head,
        xml=response_xml,
    )


def _int_or_none(value: str | None) -> int | None:
    if value is None or not re.fullmatch(r"-?\d{1,12}", value):
        return None
    return int(value)


def classify_response(response: BridgeCommResponse, *, request_type: str, requested_amount: int | None = None) -> Classification:
    """What a well-formed answer means for the caller (types.Outcome), and the amount an authorization got.

    00000 approves (partially when less than asked was authorized, or A05 / 00001); an E-message or a
    network/availability code is TRANSIENT (nothing done); 20002/99999 mean the gateway itself does not know
    (UNKNOWN, like an HTTP 5xx); everything else is a definite DECLINED.
    """
    code = response.response_code
    gateway_message = response.response_message.get("GatewayMessage") or ""
    authorized = _int_or_none(response.response_message.get("AuthorizedAmount"))
    if code in (codes.SUCCESS, codes.PARTIAL_AUTHORIZATION):
        if request_type != RequestType.AUTHORIZATION:
            return Classification(Outcome.APPROVED)
        partial_flag = code == codes.PARTIAL_AUTHORIZATION or gateway_message.startswith("A05")
        if authorized is None:
            if partial_flag or requested_amount is None:
                return Classification(Outcome.UNKNOWN, error="approval without a usable AuthorizedAmount")
            authorized = requested_amount
        if authorized <= 0:
            return Classification(Outcome.DECLINED, authorized_amount=0)
        if partial_flag or (requested_amount is not None and authorized < requested_amount):
            return Classification(Outcome.PARTIALLY_APPROVED, authorized_amount=authorized)
        return Classification(Outcome.APPROVED, authorized_amount=authorized)
    authorized_if_auth = (authorized or 0) if request_type == RequestType.AUTHORIZATION else None
    if gateway_message.startswith("E") or code in codes.TRANSIENT_CODES:
        return Classification(Outcome.TRANSIENT, authorized_amount=authorized_if_auth, error=response.response_description)
    if code in codes.UNKNOWN_CODES:
        return Classification(Outcome.UNKNOWN, error=f"gateway answered {code} {response.response_description}".strip())
    return Classification(Outcome.DECLINED, authorized_amount=authorized_if_auth)


def message_pairs(values: Mapping[str, str | None], names: Iterable[str] = METADATA_FIELDS) -> list[tuple[str, str | None]]:
    """`values` laid out as <responseMessage> children in the order of `names` (missing ones empty)."""
    return [(name, values.get(name)) for name in names]
