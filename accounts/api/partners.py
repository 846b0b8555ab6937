"""&Charge partner self-service: the partner's own API key (DESIGN §3.5)."""

from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from accounts import services
from accounts.api.andcharge import AndChargeView
from accounts.models import Partner
from core.api.openapi import ANDCHARGE_FORBIDDEN, ANDCHARGE_RATE_LIMITED, ANDCHARGE_UNAUTHORIZED, andcharge_errors

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
            **andcharge_errors(ANDCHARGE_UNAUTHORIZED, ANDCHARGE_FORBIDDEN, ANDCHARGE_RATE_LIMITED),
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
