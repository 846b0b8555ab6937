"""&Charge partner self-service: the partner's own API key (DESIGN §3.5)."""

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from accounts import services
from accounts.api.andcharge import AndChargeView
from accounts.models import Partner
from core.api.andcharge import ErrorSerializer

PARTNER = inline_serializer("PartnerSummary", {"partnerId": serializers.CharField(), "name": serializers.CharField()})
API_KEY = inline_serializer(
    "PartnerApiKeyPair",
    {"accessKeyId": serializers.CharField(), "secretAccessKey": serializers.CharField(), "partner": PARTNER},
)


def partner_summary(partner: Partner) -> dict:
    return {"partnerId": partner.code, "name": partner.name}


class ApiKeyRotateView(AndChargeView):
    @extend_schema(
        operation_id="resetApiKey",
        summary="Replace the calling API key: a new key pair; the calling key and its tokens stop at once",
        description="The partner's other keys stay. The secret is shown once, in this answer only.",
        request=None,
        responses={
            200: API_KEY,
            401: OpenApiResponse(ErrorSerializer, description="AUTHORIZATION_INVALID"),
            403: OpenApiResponse(ErrorSerializer, description="ACCESS_DENIED: the token is not for this partnerId"),
            429: OpenApiResponse(ErrorSerializer, description="TOO_MANY_REQUESTS [retryAfterSeconds]"),
        },
        examples=[
            OpenApiExample(
                "New key pair",
                response_only=True,
                value={
                    "accessKeyId": "AK7Q2M9XW4LJ0R8T3HVB",
                    "secretAccessKey": "Zr0m3Lq4xQvYb7nT1sKp9dWc2eHf6gJa8uNi5oEy0tU",
                    "partner": {"partnerId": "PCS-001", "name": "MSP Partner"},
                },
            )
        ],
    )
    def put(self, request, partner_id: str):
        key, secret = services.api_key_rotate(partner=self.partner, access_key_id=request.user.access_key_id)
        response = Response(
            {"accessKeyId": key.access_key_id, "secretAccessKey": secret, "partner": partner_summary(self.partner)}
        )
        response["Cache-Control"] = "no-store"
        return response
