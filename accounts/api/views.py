"""&Charge partner login and token rotation (DESIGN §3.1)."""

import base64
import binascii

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from accounts import services
from accounts.api.andcharge import AndChargeView
from accounts.api.hop import service_account_log_in
from core import errors
from core.api.andcharge import AndChargePublicView, ErrorSerializer
from core.api.hop import HopErrorSerializer, HopPublicView

TOKENS = inline_serializer(
    "PartnerTokens",
    {"accessToken": serializers.CharField(), "refreshToken": serializers.CharField(), "idToken": serializers.CharField()},
)
UNAUTHORIZED = {401: OpenApiResponse(ErrorSerializer, description="AUTHORIZATION_INVALID")}


def _credential(request, scheme: str) -> str:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    given_scheme, _, credential = header.partition(" ")
    if given_scheme.lower() != scheme.lower() or not credential.strip():
        raise errors.AuthorizationInvalid()
    return credential.strip()


def _no_store(response: Response) -> Response:
    """Token responses must never be cached (RFC 6749 §5.1)."""
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response


class PartnerLoginView(AndChargePublicView):
    @extend_schema(
        operation_id="partnerLogin",
        summary="Log in with an API key (HTTP Basic: accessKeyId:secretAccessKey), no body",
        request=None,
        responses={200: TOKENS, **UNAUTHORIZED},
    )
    def post(self, request):
        try:
            decoded = base64.b64decode(_credential(request, "Basic"), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise errors.AuthorizationInvalid() from None
        access_key_id, separator, secret = decoded.partition(":")
        if not separator:
            raise errors.AuthorizationInvalid()
        return _no_store(Response(services.partner_tokens_issue(access_key_id=access_key_id, secret=secret)))


class PartnerTokenRefreshView(AndChargePublicView):
    @extend_schema(
        operation_id="refreshTokens",
        summary="Trade a refresh token (Bearer) for a new set; the old refresh token stops working",
        responses={200: TOKENS, **UNAUTHORIZED},
    )
    def get(self, request):
        return _no_store(Response(services.partner_tokens_refresh(raw_refresh_token=_credential(request, "Bearer"))))


class PartnerPingView(AndChargeView):
    """A liveness check for partners: proves the service answers and the token is genuine, touching no database.

    It checks the token's signature, expiry, issuer, audience and type and the path's partner (401, 403), but
    not whether the token's API key was revoked since (that needs the database): it reads and moves nothing.
    Not rate limited, so monitoring never eats into the partner's budget.
    """

    throttle_classes = []
    checks_key = False

    @extend_schema(
        operation_id="ping",
        summary="Liveness check with a partner token (no database)",
        responses={
            200: inline_serializer("Ping", {"partnerId": serializers.CharField(), "status": serializers.CharField()}),
            **UNAUTHORIZED,
            403: OpenApiResponse(ErrorSerializer, description="ACCESS_DENIED: the token is not for this partnerId"),
        },
    )
    def get(self, request, partner_id: str):
        return Response({"partnerId": partner_id, "status": "UP"})


class HopTokenView(HopPublicView):
    @extend_schema(
        operation_id="hopAuthToken",
        summary="HOP login for service accounts",
        request=inline_serializer(
            "HopAuthRequest",
            {"auth": inline_serializer("HopAuth", {"email": serializers.EmailField(), "password": serializers.CharField()})},
        ),
        responses={
            201: dict,
            401: OpenApiResponse(HopErrorSerializer, description="10005 Unauthorized"),
            429: OpenApiResponse(
                HopErrorSerializer,
                description="10018 Too many failed log-ins: this account from this address is locked out (Retry-After)",
            ),
        },
    )
    def post(self, request):
        auth = request.data.get("auth") if isinstance(request.data, dict) else None
        if not isinstance(auth, dict) or not isinstance(auth.get("email"), str) or not isinstance(auth.get("password"), str):
            raise errors.InvalidParameters(field_errors={"auth": ["email and password are required"]})
        user, jwt = service_account_log_in(request, email=auth["email"], password=auth["password"])
        body = {"data": {"jwt": jwt, "user": {"id": user.pk, "email": user.email, "partner": user.partner.code}}}
        return _no_store(Response(body, status=201))
