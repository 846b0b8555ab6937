"""&Charge partner login and token rotation (DESIGN §3.1)."""

import base64
import binascii

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from accounts import services
from accounts.api.andcharge import AndChargeView
from accounts.api.hop import service_account_log_in
from core import errors
from core.api import hop as hop_envelope
from core.api.andcharge import AndChargePublicView
from core.api.hop import HopPublicView
from core.api.openapi import ANDCHARGE_UNAUTHORIZED, HOP_INVALID_JSON, HOP_TOO_LARGE, andcharge_errors, hop_errors

TOKENS = inline_serializer(
    "PartnerTokens",
    {
        "accessToken": serializers.CharField(help_text="Bearer token of every other call; lives minutes."),
        "refreshToken": serializers.CharField(help_text="Buys a new set once, at GET /public/v1/tokens."),
        "idToken": serializers.CharField(help_text="Names the partner and the API key."),
    },
)
TOKENS_EXAMPLE = OpenApiExample(
    "tokens",
    value={
        "accessToken": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0b2tlbl90eXBlIjoiYWNjZXNzIn0.c2lnbmF0dXJl",
        "refreshToken": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0b2tlbl90eXBlIjoicmVmcmVzaCJ9.c2lnbmF0dXJl",
        "idToken": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0b2tlbl90eXBlIjoiaWQifQ.c2lnbmF0dXJl",
    },
    summary="Three JWTs",
)
TOKENS_RESPONSE = OpenApiResponse(TOKENS, description="A new set of tokens (Cache-Control: no-store)", examples=[TOKENS_EXAMPLE])


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
    www_authenticate = 'Basic realm="andcharge"'

    @extend_schema(
        operation_id="partnerLogin",
        summary="Log in with an API key (HTTP Basic: accessKeyId:secretAccessKey), no body",
        description="Any body is ignored. A revoked key, or a key of a deactivated partner, is refused like a wrong one.",
        auth=[{"partnerApiKey": []}],
        request=None,
        responses={200: TOKENS_RESPONSE, **andcharge_errors(ANDCHARGE_UNAUTHORIZED)},
    )
    def post(self, request):
        try:
            decoded = base64.b64decode(_credential(request, "Basic"), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise errors.AuthorizationInvalid() from None
        access_key_id, separator, secret = decoded.partition(":")
        if not separator or "\x00" in decoded:  # no key holds a NUL (and PostgreSQL text cannot)
            raise errors.AuthorizationInvalid()
        return _no_store(Response(services.partner_tokens_issue(access_key_id=access_key_id, secret=secret)))


class PartnerTokenRefreshView(AndChargePublicView):
    @extend_schema(
        operation_id="refreshTokens",
        summary="Trade a refresh token (Bearer) for a new set; the old refresh token stops working",
        description="Each refresh token buys one set; of two concurrent uses exactly one succeeds.",
        auth=[{"partnerRefreshToken": []}],
        responses={200: TOKENS_RESPONSE, **andcharge_errors(ANDCHARGE_UNAUTHORIZED)},
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
        description="Checks the token's signature, expiry, issuer, audience and type and the path's partner, but not "
        "whether its API key was revoked since. Not rate limited.",
        responses={
            200: OpenApiResponse(
                inline_serializer(
                    "Ping", {"partnerId": serializers.CharField(), "status": serializers.ChoiceField(choices=["UP"])}
                ),
                description="The service answers",
                examples=[OpenApiExample("up", value={"partnerId": "PCS-001", "status": "UP"})],
            ),
            **andcharge_errors(
                ANDCHARGE_UNAUTHORIZED, (errors.AccessDenied(), "ACCESS_DENIED: the token is not for this partnerId")
            ),
        },
    )
    def get(self, request, partner_id: str):
        return Response({"partnerId": partner_id, "status": "UP"})


class HopTokenView(HopPublicView):
    @extend_schema(
        operation_id="hopAuthToken",
        summary="HOP login for service accounts",
        description="A missing, null or wrong email or password is 401 10005 alike.",
        auth=[],
        request=inline_serializer(
            "HopAuth",
            {
                "auth": inline_serializer(
                    "HopAuthCredentials",
                    {"email": serializers.CharField(), "password": serializers.CharField()},
                )
            },
        ),
        examples=[
            OpenApiExample(
                "service account",
                value={"auth": {"email": "hop.service@chargepay.example", "password": "demo-hop-password-2026"}},
                request_only=True,
                summary="make run's demo service account",
            )
        ],
        responses={
            201: OpenApiResponse(
                inline_serializer(
                    "HopLogin",
                    {
                        "data": inline_serializer(
                            "HopLoginData",
                            {
                                "jwt": serializers.CharField(help_text="Bearer token of every other call"),
                                "user": inline_serializer(
                                    "HopServiceAccount",
                                    {
                                        "id": serializers.IntegerField(),
                                        "email": serializers.CharField(),
                                        "partner": serializers.CharField(help_text="The partner's code"),
                                    },
                                ),
                            },
                        )
                    },
                ),
                description="Logged in (Cache-Control: no-store)",
                examples=[
                    OpenApiExample(
                        "logged in",
                        value={
                            "data": {
                                "jwt": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJhcGkiOiJob3AifQ.c2lnbmF0dXJl",
                                "user": {"id": 3, "email": "hop.service@chargepay.example", "partner": "PCS-001"},
                            }
                        },
                    )
                ],
            ),
            **hop_errors(
                (hop_envelope.unauthorized(), "10005 Unauthorized: wrong, missing or null email or password"),
                HOP_TOO_LARGE,
                HOP_INVALID_JSON,
                (
                    hop_envelope.invalid_params({"auth": ["email and password are required"]}),
                    "10013 Param is missing: no auth object",
                ),
                (
                    hop_envelope.login_locked_out(1800),
                    "10018 Too many failed log-ins: this account from this address is locked out (Retry-After)",
                ),
            ),
        },
    )
    def post(self, request):
        auth = request.data.get("auth") if isinstance(request.data, dict) else None
        if not isinstance(auth, dict):
            raise errors.InvalidParameters(field_errors={"auth": ["email and password are required"]})
        email, password = auth.get("email"), auth.get("password")
        # A missing, null or unusable credential is a wrong one (HOP's own tests expect 401), NUL included: no
        # account's email holds one, and PostgreSQL text cannot.
        if not isinstance(email, str) or not isinstance(password, str) or "\x00" in email:
            raise errors.AuthorizationInvalid()
        user, jwt = service_account_log_in(request, email=email, password=password)
        body = {"data": {"jwt": jwt, "user": {"id": user.pk, "email": user.email, "partner": user.partner.code}}}
        return _no_store(Response(body, status=201))
