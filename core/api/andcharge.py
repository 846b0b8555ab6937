"""The &Charge partner API's envelope: every error leaves as `{"error": CODE, "args": [...]}` with its HTTP status.

Views of that API subclass AndChargeAPIView (the public log-in views) or accounts.api.andcharge.AndChargeView
(authenticated partner calls); both answer every exception here, and nothing else ever leaves them.
"""

import logging
import math

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions as drf_exceptions
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from core import errors
from core.request_context import current_request_id

logger = logging.getLogger("chargepay.api.andcharge")


class ErrorSerializer(serializers.Serializer):
    """`{"error": CODE, "args": [...]}` (for the OpenAPI schema)."""

    error = serializers.ChoiceField(choices=[code.value for code in errors.ErrorCode])
    args = serializers.ListField(child=serializers.JSONField())


def error_body(error: errors.ChargepayError) -> dict:
    return {"error": str(error.code), "args": error.values}


def error_response(error: errors.ChargepayError) -> Response:
    response = Response(error_body(error), status=error.status)
    if isinstance(error, errors.TooManyRequests):
        response["Retry-After"] = str(error.retry_after_seconds)
    return response


def to_chargepay_error(exc: Exception) -> errors.ChargepayError | None:
    """Translate framework exceptions into our hierarchy; None for an unexpected exception."""
    if isinstance(exc, errors.ChargepayError):
        return exc
    if isinstance(exc, drf_exceptions.NotAuthenticated | drf_exceptions.AuthenticationFailed):
        return errors.AuthorizationInvalid()
    if isinstance(exc, drf_exceptions.PermissionDenied | DjangoPermissionDenied):
        return errors.AccessDenied()
    if isinstance(exc, drf_exceptions.Throttled):
        return errors.TooManyRequests(max(1, math.ceil(exc.wait or 1)))
    if isinstance(exc, drf_exceptions.ParseError | drf_exceptions.UnsupportedMediaType):
        return errors.InvalidFormat("request body is not valid JSON")
    if isinstance(exc, drf_exceptions.MethodNotAllowed):
        return errors.MethodNotAllowed(exc.args[0] if exc.args else "")
    if isinstance(exc, Http404 | drf_exceptions.NotFound):
        return errors.ObjectNotFound("route", "")
    return None


def andcharge_exception_handler(exc: Exception, context: dict) -> Response:
    error = to_chargepay_error(exc)
    if error is None:
        logger.exception("unexpected error in the &Charge API")
        error = errors.InternalError(current_request_id())
    elif error.status >= 400:
        logger.info("refused", extra={"error": str(error.code), "status_code": error.status})
    return error_response(error)


class AndChargeAPIView(APIView):
    """A view of the &Charge API: its errors in the &Charge envelope."""

    def get_exception_handler(self):
        return andcharge_exception_handler


class AndChargePublicView(AndChargeAPIView):
    """The log-in endpoints: no bearer authentication, the same envelope."""

    authentication_classes = []
    permission_classes = []
