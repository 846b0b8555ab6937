"""The &Charge partner API's envelope: every error leaves as `{"error": CODE, "args": [...]}` with its HTTP status.

Views of that API subclass AndChargeAPIView (the public log-in views) or accounts.api.andcharge.AndChargeView
(authenticated partner calls); both answer every exception here, and nothing else ever leaves them.
"""

import logging
import math

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
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

logger = logging.getLogger("chargepay.api.andcharge")


# The codes the &Charge API sends (DESIGN §3.3, plus 405 and 413); the staff and HOP codes never leave it.
ANDCHARGE_CODES = [
    errors.ErrorCode.INVALID_FORMAT,
    errors.ErrorCode.MANDATORY_PARAMETER_NOT_SET,
    errors.ErrorCode.PARAMETER_MAX_LENGTH,
    errors.ErrorCode.INVALID_PARAMETER,
    errors.ErrorCode.AUTHORIZATION_INVALID,
    errors.ErrorCode.ACCESS_DENIED,
    errors.ErrorCode.REFERENCED_OBJECT_NOT_FOUND,
    errors.ErrorCode.METHOD_NOT_ALLOWED,
    errors.ErrorCode.TRANSACTION_ALREADY_PROCESSED,
    errors.ErrorCode.PAYLOAD_TOO_LARGE,
    errors.ErrorCode.ACCOUNT_BALANCE_NOT_SUFFICIENT,
    errors.ErrorCode.TOO_MANY_REQUESTS,
    errors.ErrorCode.INTERNAL_ERROR,
]


class ErrorSerializer(serializers.Serializer):
    """Every &Charge error: a stable code to switch on and its values."""

    error = serializers.ChoiceField(choices=[code.value for code in ANDCHARGE_CODES], help_text="Partners switch on it.")
    args = serializers.ListField(
        child=serializers.JSONField(), help_text="The error's values, in the order DESIGN §3.3 gives for its code."
    )


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
    if isinstance(exc, RequestDataTooBig):
        return errors.PayloadTooLarge(MAX_BODY_BYTES)
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
    response = error_response(error)
    if error.status == 401:
        response["WWW-Authenticate"] = getattr(context.get("view"), "www_authenticate", BEARER_CHALLENGE)
    return response


BEARER_CHALLENGE = 'Bearer realm="andcharge"'
# Path parameters that name stored objects, by their name in the contract. PostgreSQL text cannot hold NUL, and no
# id ever contains one: such an id is refused before any query.
PATH_PARAMETERS = {"user_id": "userId", "transaction_id": "transactionId"}


class AndChargeAPIView(APIView):
    """A view of the &Charge API: its errors in the &Charge envelope, JSON whatever `Accept` asks for."""

    content_negotiation_class = JSONWhateverAccept
    www_authenticate = BEARER_CHALLENGE  # the challenge a 401 carries (RFC 9110 §11.6.1)

    def get_exception_handler(self):
        return andcharge_exception_handler

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        # A refusal after authentication is kept for support (core.api.refusals); nothing else costs anything here.
        if refusals.is_kept(response.status_code) and refusals.authenticated_caller(request):
            body = response.data if isinstance(response.data, dict) else {}
            refusals.refusal_report(
                api=refusals.ANDCHARGE,
                request=request,
                view=self,
                status=response.status_code,
                code=body.get("error", ""),
                args=body.get("args", []),
            )
        return response

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        for name, contract_name in PATH_PARAMETERS.items():
            value = kwargs.get(name)
            if isinstance(value, str) and "\x00" in value:
                raise errors.InvalidParameter(value, contract_name)


class AndChargePublicView(AndChargeAPIView):
    """The log-in endpoints: no bearer authentication, the same envelope."""

    authentication_classes = []
    permission_classes = []
