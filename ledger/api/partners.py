"""&Charge partner self-registration: POST /public/v1/partners (DESIGN §3.5). It lives in ledger because a partner
is opened here, with its kilometer account."""

import re

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle

from accounts.models import PartnerType
from core import errors
from core.api.andcharge import AndChargePublicView
from core.api.fields import StrictCharField, validated
from core.api.openapi import andcharge_errors
from ledger import services

# A partnerId travels in URL paths: letters, digits and . _ - only.
PARTNER_ID = re.compile(r"^[A-Za-z0-9._-]+$")


class DescriptionSerializer(serializers.Serializer):
    lang = StrictCharField(max_length=10)
    text = StrictCharField(max_length=2000)


class PartnerRegistrationSerializer(serializers.Serializer):
    name = StrictCharField(max_length=200)
    partnerId = StrictCharField(max_length=100)  # noqa: N815 (the contract's names)
    type = serializers.ChoiceField(choices=PartnerType.values)
    logo = StrictCharField(max_length=500, required=False, allow_blank=True)
    web = StrictCharField(max_length=500, required=False, allow_blank=True)
    # Checked as a whole: a bad entry is INVALID_PARAMETER [descriptions, "descriptions"].
    descriptions = serializers.ListField(child=serializers.JSONField(), required=False, max_length=20)

    def validate_name(self, value):
        if not value.strip():
            raise serializers.ValidationError("blank")
        return value.strip()

    def validate_descriptions(self, value):
        for description in value:
            valid = (
                isinstance(description, dict)
                and set(description) == {"lang", "text"}
                and isinstance(description["lang"], str)
                and 0 < len(description["lang"]) <= 10
                and isinstance(description["text"], str)
                and len(description["text"]) <= 2000
            )
            if not valid:
                raise serializers.ValidationError("each description is {lang, text}")
        return value

    def validate_partnerId(self, value):  # noqa: N802
        if not PARTNER_ID.match(value):
            raise serializers.ValidationError("letters, digits and . _ - only")
        return value


class RegisteredPartnerSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    partnerId = serializers.CharField()  # noqa: N815
    type = serializers.ChoiceField(choices=PartnerType.values)
    logo = serializers.CharField()
    web = serializers.CharField()
    descriptions = DescriptionSerializer(many=True)
    status = serializers.CharField()
    accessKeyId = serializers.CharField()  # noqa: N815
    secretAccessKey = serializers.CharField()  # noqa: N815


class PartnerRegistrationThrottle(AnonRateThrottle):
    """Per client address (settings: PARTNER_REGISTRATION_RATE_LIMIT, NUM_PROXIES)."""

    scope = "partner_registration"


class PartnerRegistrationView(AndChargePublicView):
    throttle_classes = [PartnerRegistrationThrottle]

    @extend_schema(
        operation_id="registerPartner",
        summary="Register a partner: INITIAL (log in only) until staff activate it; the key's secret is shown once",
        request=PartnerRegistrationSerializer,
        responses={
            201: RegisteredPartnerSerializer,
            **andcharge_errors(
                (errors.PartnerAlreadyRegistered("GREEN-MILES"), "PARTNER_ALREADY_REGISTERED: the partnerId is taken"),
                (errors.InvalidFormat("request body is not valid JSON"), "INVALID_FORMAT: the body is not a JSON object"),
                (errors.MandatoryParameterNotSet("name"), "MANDATORY_PARAMETER_NOT_SET: a required field is missing"),
                (errors.ParameterMaxLength("partnerId", 100), "PARAMETER_MAX_LENGTH: a field is too long"),
                (errors.InvalidParameter("XX", "type"), "INVALID_PARAMETER: a field's value is refused"),
                (errors.TooManyRequests(3600), "TOO_MANY_REQUESTS: registrations from this address; args is Retry-After"),
            ),
        },
        examples=[
            OpenApiExample(
                "Registration",
                request_only=True,
                value={
                    "name": "Green Miles",
                    "partnerId": "GREEN-MILES",
                    "type": "MSP",
                    "logo": "https://greenmiles.example/logo.png",
                    "web": "https://greenmiles.example",
                    "descriptions": [{"lang": "en", "text": "Charging for city drivers"}],
                },
            ),
            OpenApiExample(
                "Registered",
                response_only=True,
                status_codes=["201"],
                value={
                    "id": 7,
                    "name": "Green Miles",
                    "partnerId": "GREEN-MILES",
                    "type": "MSP",
                    "logo": "https://greenmiles.example/logo.png",
                    "web": "https://greenmiles.example",
                    "descriptions": [{"lang": "en", "text": "Charging for city drivers"}],
                    "status": "INITIAL",
                    "accessKeyId": "AK7Q2M9XW4LJ0R8T3HVB",
                    "secretAccessKey": "Zr0m3Lq4xQvYb7nT1sKp9dWc2eHf6gJa8uNi5oEy0tU",
                },
            ),
        ],
    )
    def post(self, request):
        data = validated(PartnerRegistrationSerializer, request)
        partner, key, secret = services.partner_register(
            code=data["partnerId"],
            name=data["name"],
            type=data["type"],
            logo=data.get("logo", ""),
            web=data.get("web", ""),
            descriptions=[dict(description) for description in data.get("descriptions", [])],
        )
        body = {
            "id": partner.pk,
            "name": partner.name,
            "partnerId": partner.code,
            "type": partner.type,
            "logo": partner.logo,
            "web": partner.web,
            "descriptions": partner.descriptions,
            "status": partner.status,
            "accessKeyId": key.access_key_id,
            "secretAccessKey": secret,
        }
        response = Response(RegisteredPartnerSerializer(body).data, status=201)
        response["Cache-Control"] = "no-store"
        return response
