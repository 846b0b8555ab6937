"""The HOP API's envelope: every error leaves as `{"data": {"code", "message", "errors"}}` with its HTTP status.

HOP codes (DESIGN §4): 10001 unknown route, 10004 record not found, 10005 unauthorized, 10006 charge
failure, 10007 credit (refund to the card) failure, 10012 invalid JSON, 10013 missing or empty parameter; ours:
10015/10016 idempotency, 10017 rate limit (429, per service account), 10018 log-in locked out (429, too many
failed log-ins for an account from an address), 10019 the gateway bulkhead is full (503). The 429s and the 503
carry `Retry-After` (seconds). The cents wallet's own: 10008 purchase failure (400, past the credit limit), 10010
comp failure (406, negative amount), and on the Drink Command routes 20400 charge failure, 20401 no usable card,
20402 bad line item, 20404 unknown session token.
"""

import logging
import math

from django.core.exceptions import RequestDataTooBig
from django.http import Http404
from rest_framework import exceptions as drf_exceptions
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core import errors
from core.request_context import current_request_id

from . import refusals
from .negotiation import JSONWhateverAccept
from .parsers import MAX_BODY_BYTES

logger = logging.getLogger("chargepay.api.hop")


class HopError(Exception):
    """An error already in HOP's terms."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str,
        field_errors: dict[str, list[str]] | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(status, code, message)
        self.status, self.code, self.message, self.field_errors = status, code, message, field_errors or {}
        self.headers = headers or {}

    def body(self) -> dict:
        return {"data": {"code": self.code, "message": self.message, "errors": self.field_errors}}


def unauthorized() -> HopError:
    return HopError(401, 10005, "Unauthorized", {"access": ["Unauthorized"]})


def user_not_found() -> HopError:
    return HopError(406, 10004, "Record not found", {"user": ["not found"]})


def invalid_params(field_errors: dict[str, list[str]]) -> HopError:
    return HopError(422, 10013, "Param is missing or the value is empty", field_errors)


def too_many_requests(retry_after_seconds: int) -> HopError:
    return HopError(
        429, 10017, "Too many requests", {"request": ["too many requests"]}, {"Retry-After": str(retry_after_seconds)}
    )


def gateway_busy(retry_after_seconds: int) -> HopError:
    return HopError(
        503,
        10019,
        "Card gateway busy",
        {"charge": [f"nothing was charged; retry in {retry_after_seconds} s"]},
        {"Retry-After": str(retry_after_seconds)},
    )


def login_locked_out(retry_after_seconds: int) -> HopError:
    return HopError(
        429,
        10018,
        "Too many failed log-ins",
        {"auth": ["locked out after too many failed log-ins"]},
        {"Retry-After": str(retry_after_seconds)},
    )


def route_not_found() -> HopError:
    return HopError(404, 10001, "Generic default error", {"route": ["not found"]})


def method_not_allowed() -> HopError:
    return HopError(405, 10001, "Generic default error", {"route": ["method not allowed"]})


def internal_error(request_id: str) -> HopError:
    return HopError(500, 10001, "Generic default error", {"request": [f"internal error {request_id}"]})


def invalid_json() -> HopError:
    return HopError(422, 10012, "Invalid Format", {"request": ["Invalid JSON Format"]})


def payload_too_large() -> HopError:
    return HopError(413, 10012, "Invalid Format", {"request": [f"is larger than {MAX_BODY_BYTES} bytes"]})


def to_hop_error(exc: Exception) -> HopError | None:
    if isinstance(exc, HopError):
        return exc
    if isinstance(exc, errors.LoginLockedOut):
        return login_locked_out(exc.retry_after_seconds)
    if isinstance(exc, errors.TooManyRequests):
        return too_many_requests(exc.retry_after_seconds)
    if isinstance(exc, drf_exceptions.Throttled):
        return too_many_requests(max(1, math.ceil(exc.wait or 1)))
    if isinstance(exc, errors.AuthorizationInvalid | drf_exceptions.NotAuthenticated | drf_exceptions.AuthenticationFailed):
        return unauthorized()
    if isinstance(exc, errors.AccessDenied | drf_exceptions.PermissionDenied):
        return unauthorized()
    if isinstance(exc, errors.ObjectNotFound):
        if exc.kind == "user":
            return user_not_found()
        return HopError(406, 10004, "Record not found", {str(exc.kind): ["not found"]})
    if isinstance(exc, errors.PayloadTooLarge | RequestDataTooBig):
        return payload_too_large()
    if isinstance(exc, drf_exceptions.ParseError | drf_exceptions.UnsupportedMediaType | errors.InvalidFormat):
        return invalid_json()
    if isinstance(exc, errors.PaymentDetailsMissing):
        return HopError(406, 10006, "Charge transaction failure", {"payment": ["details are missing"]})
    if isinstance(exc, errors.ChargeFailed):
        return HopError(406, 10006, "Charge transaction failure", {"charge": [str(exc.description)]})
    if isinstance(exc, errors.CreditFailed):
        return HopError(406, 10007, "Credit transaction failure", {str(exc.field): [str(exc.reason)]})
    if isinstance(exc, errors.PurchaseDeclined):
        return HopError(400, 10008, "Purchase transaction failure", {"balance": ["is not sufficient"]})
    if isinstance(exc, errors.CompRefused):
        return HopError(406, 10010, "Comp transaction failure", {"amount_in_cents": ["must be greater than or equal to 0"]})
    if isinstance(exc, errors.GatewayBusy):
        return gateway_busy(exc.retry_after_seconds)
    if isinstance(exc, errors.IdempotencyKeyInUse):
        return HopError(409, 10015, "Idempotency key in use", {"idempotency_key": ["a request with this key is in progress"]})
    if isinstance(exc, errors.IdempotencyKeyReused):
        return HopError(422, 10016, "Idempotency key reused", {"idempotency_key": ["was used with a different request"]})
    if isinstance(exc, errors.InvalidParameters):
        return invalid_params(exc.field_errors)
    if isinstance(exc, errors.InvalidParameter | errors.MandatoryParameterNotSet | errors.ParameterMaxLength):
        name = exc.name
        return invalid_params({str(name): ["is invalid" if isinstance(exc, errors.InvalidParameter) else "is missing or empty"]})
    if isinstance(exc, Http404 | drf_exceptions.NotFound):
        return route_not_found()
    if isinstance(exc, drf_exceptions.MethodNotAllowed):
        return method_not_allowed()
    return None


def to_drinkcommand_error(exc: Exception) -> HopError | None:
    """The Drink Command routes' own codes (HOP's drinkcommand.md) for what differs from the rest of HOP: the session
    token unknown (or not the caller's to see) 404 20404, no usable card 406 20401, a refused charge 406 20400, a
    bad line item 406 20402. Everything else as to_hop_error."""
    if isinstance(exc, errors.ObjectNotFound):
        return HopError(404, 20404, "User with session token not found", {"session_token": ["missing or invalid"]})
    if isinstance(exc, errors.PaymentDetailsMissing):
        return HopError(406, 20401, "Payment information failure", {"payment": ["not available"]})
    if isinstance(exc, errors.PaymentExpired):
        return HopError(406, 20401, "Payment information failure", {"payment": ["has expired"]})
    if isinstance(exc, errors.ChargeFailed):
        return HopError(406, 20400, "Charge transaction failure", {"charge": [str(exc.description)]})
    if isinstance(exc, errors.LineItemInvalid):
        return HopError(406, 20402, "Line item failure", {"line_item": [str(exc.message)]})
    return to_hop_error(exc)


def hop_exception_handler(exc: Exception, context: dict) -> Response:
    error = to_hop_error(exc)
    if error is None:
        logger.exception("unexpected error in the HOP API")
        error = internal_error(current_request_id())
    response = Response(error.body(), status=error.status, headers=error.headers or None)
    if error.status == 401:
        response["WWW-Authenticate"] = BEARER_CHALLENGE
    return response


BEARER_CHALLENGE = 'Bearer realm="hop"'


class HopAPIView(APIView):
    """A view of the HOP API: its errors in HOP's envelope, JSON whatever `Accept` asks for."""

    content_negotiation_class = JSONWhateverAccept

    def get_exception_handler(self):
        return hop_exception_handler

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        # A refusal after authentication is kept for support (core.api.refusals), whether the exception handler
        # rendered it or the view did (the charge renders its refusals to store them for replays).
        if refusals.is_kept(response.status_code) and refusals.authenticated_caller(request):
            data = response.data.get("data") if isinstance(response.data, dict) else None
            data = data if isinstance(data, dict) else {}
            refusals.refusal_report(
                api=refusals.HOP,
                request=request,
                view=self,
                status=response.status_code,
                code=data.get("code", ""),
                args={"message": data.get("message", ""), "errors": data.get("errors", {})},
            )
        return response

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        # PostgreSQL text cannot hold NUL and no id contains one: such a path names no customer.
        if any("\x00" in value for value in kwargs.values() if isinstance(value, str)):
            raise user_not_found()


def drinkcommand_exception_handler(exc: Exception, context: dict) -> Response:
    error = to_drinkcommand_error(exc)
    if error is None:
        return hop_exception_handler(exc, context)
    response = Response(error.body(), status=error.status, headers=error.headers or None)
    if error.status == 401:
        response["WWW-Authenticate"] = BEARER_CHALLENGE
    return response


class HopPublicView(HopAPIView):
    """The log-in endpoint: no bearer authentication, the same envelope."""

    authentication_classes = []
    permission_classes = []
    throttle_classes = []


HOP_CODES = {
    10001: "Generic default error (unknown route, method not allowed, internal error)",
    10004: "Record not found",
    10005: "Unauthorized",
    10006: "Charge transaction failure",
    10007: "Credit transaction failure",
    10008: "Purchase transaction failure (the balance would pass the credit limit)",
    10010: "Comp transaction failure (a negative amount)",
    10012: "Invalid Format (unparsable JSON, or a body over the size limit)",
    10013: "Param is missing or the value is empty",
    10015: "Idempotency key in use",
    10016: "Idempotency key reused",
    10017: "Too many requests (the service account's rate limit)",
    10018: "Too many failed log-ins (this account from this address is locked out)",
    10019: "Card gateway busy (nothing was charged; retry after Retry-After)",
    20400: "Drink Command: charge transaction failure",
    20401: "Drink Command: payment information failure (no card on record, or it has expired)",
    20402: "Drink Command: line item failure",
    20404: "Drink Command: user with session token not found",
}


class HopErrorDataSerializer(serializers.Serializer):
    code = serializers.ChoiceField(choices=list(HOP_CODES.items()), help_text="HOP's error code: partners switch on it.")
    message = serializers.CharField()
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()), help_text="{field: [messages]}")


class HopErrorSerializer(serializers.Serializer):
    """Every HOP error: a code to switch on, its message, and the fields at fault with their messages."""

    data = HopErrorDataSerializer()
