"""The HOP API's envelope: every error leaves as `{"data": {"code", "message", "errors"}}` with its HTTP status.

HOP codes (DESIGN §4): 10001 unknown route, 10004 record not found, 10005 unauthorized, 10006 charge
failure, 10012 invalid JSON, 10013 missing or empty parameter; ours: 10015/10016 idempotency, 10017 the
gateway bulkhead is full (503 with Retry-After).
"""

import logging

from django.http import Http404
from rest_framework import exceptions as drf_exceptions
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core import errors
from core.request_context import current_request_id

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


def to_hop_error(exc: Exception) -> HopError | None:
    if isinstance(exc, HopError):
        return exc
    if isinstance(exc, errors.AuthorizationInvalid | drf_exceptions.NotAuthenticated | drf_exceptions.AuthenticationFailed):
        return unauthorized()
    if isinstance(exc, errors.AccessDenied | drf_exceptions.PermissionDenied):
        return unauthorized()
    if isinstance(exc, errors.ObjectNotFound):
        if exc.kind == "user":
            return user_not_found()
        return HopError(406, 10004, "Record not found", {str(exc.kind): ["not found"]})
    if isinstance(exc, drf_exceptions.ParseError | drf_exceptions.UnsupportedMediaType | errors.InvalidFormat):
        return HopError(422, 10012, "Invalid Format", {"request": ["Invalid JSON Format"]})
    if isinstance(exc, errors.PaymentDetailsMissing):
        return HopError(406, 10006, "Charge transaction failure", {"payment": ["details are missing"]})
    if isinstance(exc, errors.ChargeFailed):
        return HopError(406, 10006, "Charge transaction failure", {"charge": [str(exc.description)]})
    if isinstance(exc, errors.GatewayBusy):
        return HopError(
            503,
            10017,
            "Card gateway busy",
            {"charge": [f"nothing was charged; retry in {exc.retry_after_seconds} s"]},
            headers={"Retry-After": str(exc.retry_after_seconds)},
        )
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
        return HopError(404, 10001, "Generic default error", {"route": ["not found"]})
    if isinstance(exc, drf_exceptions.MethodNotAllowed):
        return HopError(405, 10001, "Generic default error", {"route": ["method not allowed"]})
    if isinstance(exc, drf_exceptions.Throttled):
        return HopError(429, 10001, "Generic default error", {"request": ["too many requests"]})
    return None


def hop_exception_handler(exc: Exception, context: dict) -> Response:
    error = to_hop_error(exc)
    if error is None:
        logger.exception("unexpected error in the HOP API")
        error = HopError(500, 10001, "Generic default error", {"request": [f"internal error {current_request_id()}"]})
    return Response(error.body(), status=error.status, headers=error.headers or None)


class HopAPIView(APIView):
    """A view of the HOP API: its errors in HOP's envelope."""

    def get_exception_handler(self):
        return hop_exception_handler


class HopPublicView(HopAPIView):
    """The log-in endpoint: no bearer authentication, the same envelope."""

    authentication_classes = []
    permission_classes = []
    throttle_classes = []


class HopErrorSerializer(serializers.Serializer):
    """`{"data": {"code", "message", "errors": {field: [messages]}}}` (for the OpenAPI schema)."""

    class Data(serializers.Serializer):
        code = serializers.IntegerField()
        message = serializers.CharField()
        errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))

    data = Data()
