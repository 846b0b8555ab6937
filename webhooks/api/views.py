"""&Charge partner API: the partner's webhook endpoints (DESIGN §11). &Charge auth and envelope (AndChargeView)."""

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.response import Response

from accounts.api.andcharge import AndChargeView
from accounts.models import PartnerEventType
from core import errors
from core.api.fields import StrictCharField, validated
from core.api.openapi import ANDCHARGE_FORBIDDEN, ANDCHARGE_RATE_LIMITED, ANDCHARGE_UNAUTHORIZED, andcharge_errors
from ledger.representations import format_created
from webhooks import outbound, selectors, services
from webhooks.models import WebhookEndpoint


@extend_schema_field(
    {
        "type": "array",
        "items": {"type": "string", "enum": PartnerEventType.values},
        "minItems": 1,
        "maxItems": len(PartnerEventType.values),
    }
)
class EventTypesField(serializers.JSONField):
    """A non-empty list of known event types; anything else is INVALID_PARAMETER [the list, "eventTypes"]."""

    def to_internal_value(self, data):
        valid = (
            isinstance(data, list)
            and 0 < len(data) <= len(PartnerEventType.values)
            and all(isinstance(value, str) and value in PartnerEventType.values for value in data)
        )
        if not valid:
            raise serializers.ValidationError("a list of event types", code="invalid")
        return data


class WebhookRequestSerializer(serializers.Serializer):
    url = StrictCharField(max_length=outbound.MAX_URL_LENGTH, help_text="https:// URL that receives the events.")
    eventTypes = EventTypesField()  # noqa: N815 (the contract's names)
    description = StrictCharField(max_length=200, required=False, allow_blank=True)
    contactEmail = serializers.EmailField(max_length=254, required=False, allow_blank=True)  # noqa: N815


class WebhookSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    url = serializers.CharField()
    eventTypes = serializers.ListField(child=serializers.ChoiceField(choices=PartnerEventType.values))  # noqa: N815
    description = serializers.CharField()
    contactEmail = serializers.CharField()  # noqa: N815
    enabled = serializers.BooleanField()
    disabledReason = serializers.CharField(help_text="Why it stopped: a 410 answer, failing for days, staff.")  # noqa: N815
    created = serializers.CharField()


class WebhookWithSecretSerializer(WebhookSerializer):
    secret = serializers.CharField(help_text="whsec_<base64>: shown only in this answer.")
    previousSecretValidUntil = serializers.CharField(  # noqa: N815
        allow_null=True, help_text="Until then the replaced secret signs too (a second signature)."
    )


def webhook_body(endpoint: WebhookEndpoint) -> dict:
    return {
        "id": endpoint.pk,
        "url": endpoint.url,
        "eventTypes": list(endpoint.event_types),
        "description": endpoint.description,
        "contactEmail": endpoint.contact_email,
        "enabled": endpoint.enabled,
        "disabledReason": endpoint.disabled_reason,
        "created": format_created(endpoint.created_at),
    }


def _with_secret(endpoint: WebhookEndpoint, secret: str) -> dict:
    until = endpoint.previous_secret_expires_at
    body = {**webhook_body(endpoint), "secret": secret, "previousSecretValidUntil": format_created(until) if until else None}
    return body


EXAMPLE = {
    "id": 3,
    "url": "https://partner.example/chargepay/webhooks",
    "eventTypes": ["transaction.cancelled", "link.linked"],
    "description": "production receiver",
    "contactEmail": "ops@partner.example",
    "enabled": True,
    "disabledReason": "",
    "created": "2026-11-30T08:07:48.788+0000",
}
SECRET_EXAMPLE = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw3mH7SR4Zj0k="
WEBHOOK_ID = OpenApiParameter("webhook_id", str, OpenApiParameter.PATH, description="The endpoint's id")
NOT_FOUND = (errors.ObjectNotFound("webhook", "42"), "REFERENCED_OBJECT_NOT_FOUND webhook: no such endpoint of this partner")
COMMON = (ANDCHARGE_UNAUTHORIZED, ANDCHARGE_FORBIDDEN, ANDCHARGE_RATE_LIMITED)


class WebhooksView(AndChargeView):
    @extend_schema(
        operation_id="listWebhooks",
        summary="The partner's webhook endpoints (secrets are never shown again)",
        responses={200: WebhookSerializer(many=True), **andcharge_errors(*COMMON)},
        examples=[OpenApiExample("Endpoints", response_only=True, value=[EXAMPLE])],
    )
    def get(self, request, partner_id: str):
        return Response([webhook_body(e) for e in selectors.endpoints_for_partner(partner_id=self.partner.pk)])

    @extend_schema(
        operation_id="createWebhook",
        summary="Register a webhook endpoint: Standard Webhooks 1.0 signed deliveries of the chosen event types",
        description=(
            "Events: " + ", ".join(PartnerEventType.values) + ". The secret is shown once, in this answer. Deliveries "
            "are POSTs of `{type, timestamp, data}` signed in `webhook-signature` over `webhook-id.webhook-timestamp.body`."
        ),
        request=WebhookRequestSerializer,
        responses={
            201: WebhookWithSecretSerializer,
            **andcharge_errors(
                (errors.InvalidFormat("request body is not valid JSON"), "INVALID_FORMAT: the body is not a JSON object"),
                (errors.MandatoryParameterNotSet("url"), "MANDATORY_PARAMETER_NOT_SET: a required field is missing"),
                (errors.ParameterMaxLength("url", 500), "PARAMETER_MAX_LENGTH: a field is too long"),
                (errors.InvalidParameter("http://10.0.0.7/hook", "url"), "INVALID_PARAMETER: not https, or not public"),
                *COMMON,
            ),
        },
        examples=[
            OpenApiExample(
                "Registration",
                request_only=True,
                value={
                    "url": EXAMPLE["url"],
                    "eventTypes": EXAMPLE["eventTypes"],
                    "description": EXAMPLE["description"],
                    "contactEmail": EXAMPLE["contactEmail"],
                },
            ),
            OpenApiExample(
                "Registered",
                response_only=True,
                status_codes=["201"],
                value={**EXAMPLE, "secret": SECRET_EXAMPLE, "previousSecretValidUntil": None},
            ),
        ],
    )
    def post(self, request, partner_id: str):
        data = validated(WebhookRequestSerializer, request)
        endpoint, secret = services.endpoint_create(
            partner=self.partner,
            url=data["url"],
            event_types=list(data["eventTypes"]),
            description=data.get("description", ""),
            contact_email=data.get("contactEmail", ""),
        )
        response = Response(_with_secret(endpoint, secret), status=201)
        response["Cache-Control"] = "no-store"
        return response


class WebhookView(AndChargeView):
    @extend_schema(
        operation_id="deleteWebhook",
        summary="Delete a webhook endpoint: no more deliveries, pending ones cancelled",
        parameters=[WEBHOOK_ID],
        request=None,
        responses={204: None, **andcharge_errors(NOT_FOUND, *COMMON)},
    )
    def delete(self, request, partner_id: str, webhook_id: str):
        services.endpoint_delete(partner=self.partner, endpoint_id=webhook_id)
        return Response(status=204)


class WebhookSecretView(AndChargeView):
    @extend_schema(
        operation_id="rotateWebhookSecret",
        summary="Rotate an endpoint's secret; the old one keeps signing (a second signature) for 24 hours",
        parameters=[WEBHOOK_ID],
        request=None,
        responses={200: WebhookWithSecretSerializer, **andcharge_errors(NOT_FOUND, *COMMON)},
        examples=[
            OpenApiExample(
                "Rotated",
                response_only=True,
                value={**EXAMPLE, "secret": SECRET_EXAMPLE, "previousSecretValidUntil": "2026-12-01T08:07:48.788+0000"},
            )
        ],
    )
    def post(self, request, partner_id: str, webhook_id: str):
        endpoint, secret = services.endpoint_secret_rotate(partner=self.partner, endpoint_id=webhook_id)
        response = Response(_with_secret(endpoint, secret))
        response["Cache-Control"] = "no-store"
        return response
