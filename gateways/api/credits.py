"""HOP API: refund cents from the wallet to the card on record (HOP's credit.md, DESIGN §4.1).

`POST /api/v1/users/{user_id}/credits` `{"credit": {"amount_in_cents"}}` → 201 with HOP's documented body, or 202
(same shape, `metadata` null) while the gateway's outcome is unknown: the wallet stays debited and a worker
resolves the credit by re-sending it. Refusals are 406 10007 "Credit transaction failure". HOP's credit.md shows
code 10006 for them, the charge's code; DESIGN §4.1 gives credits their own, 10007, and partners switch on it.
An unknown customer (or one the caller may not see) is 406 10004 like every HOP route.
"""

from django.conf import settings
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers

from core import errors
from core.api import hop as hop_envelope
from core.api.hop import to_hop_error
from core.api.openapi import HOP_INVALID_JSON, HOP_KEY_IN_USE, HOP_KEY_REUSED, HOP_TOO_LARGE, hop_errors
from gateways import selectors, services
from gateways.models import CardCredit, CreditStatus

from ..representations import iso_utc, ordered_metadata
from .serializers import AmountField, parse_amount
from .views import IDEMPOTENCY_KEY, TOO_MANY_REQUESTS, UNAUTHORIZED, USER_NOT_FOUND, IdempotentGatewayWriteView


def parse_credit_request(body) -> tuple[dict[str, list[str]], dict]:
    """Validate `{"credit": {"amount_in_cents"}}`: a JSON integer or a string of digits, 1 to CHARGE_MAX_CENTS.
    Returns (field errors, cleaned `{"amount_in_cents"}`)."""
    credit = body.get("credit") if isinstance(body, dict) else None
    if not isinstance(credit, dict):
        return {"credit": ["is missing or not an object"]}, {}
    if credit.get("amount_in_cents") in (None, ""):
        return {"amount_in_cents": ["is missing or empty"]}, {}
    amount = parse_amount(credit["amount_in_cents"])
    if amount is None:
        return {"amount_in_cents": [f"must be a whole number of cents from 1 to {settings.CHARGE_MAX_CENTS}"]}, {}
    return {}, {"amount_in_cents": amount}


def credit_body(credit: CardCredit, balance_in_cents: int) -> dict:
    """HOP's credit answer: `{"data": {"credit": {"id", "credit_at", "amount_in_cents", "balance_in_cents",
    "metadata"}}}`; `metadata` is the gateway's answer field for field (null while unknown). The card is always
    the calling partner's own, so its token is shown."""
    return {
        "data": {
            "credit": {
                "id": credit.pk,
                "credit_at": iso_utc(credit.posted_at or credit.created_at),
                "amount_in_cents": credit.amount,
                "balance_in_cents": balance_in_cents,
                "metadata": ordered_metadata(credit.metadata),
            }
        }
    }


class HopCreditFieldsSerializer(serializers.Serializer):
    amount_in_cents = AmountField()


# The schema of the request; parse_credit_request does the validation.
class HopCreditCreateSerializer(serializers.Serializer):
    """A refund to the card on record. Unknown keys are ignored."""

    credit = HopCreditFieldsSerializer()


class HopCreditSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    credit_at = serializers.DateTimeField(help_text="UTC, seconds: when the gateway posted it (requested, while pending).")
    amount_in_cents = serializers.IntegerField(help_text="Cents refunded to the card, debited from the wallet.")
    balance_in_cents = serializers.IntegerField(help_text="The cents balance after the debit.")
    metadata = serializers.DictField(
        child=serializers.CharField(allow_null=True),
        allow_null=True,
        help_text="The gateway's credit response, field for field (null before it answered).",
    )


class HopCreditDataSerializer(serializers.Serializer):
    credit = HopCreditSerializer()


class CreditResponseSerializer(serializers.Serializer):
    data = HopCreditDataSerializer()


# HOP's credit.md: its sample request and answer, as documented.
HOP_CREDIT_REQUEST_EXAMPLE = {"credit": {"amount_in_cents": "500"}}
HOP_CREDIT_EXAMPLE = {
    "data": {
        "credit": {
            "id": 961244813,
            "credit_at": "2017-04-05T21:30:54Z",
            "amount_in_cents": 500,
            "balance_in_cents": 3700,
            "metadata": {
                "Token": "1000000074340019",
                "ExpirationDate": "0818",
                "AuthorizationCode": "128375",
                "ReferenceNumber": None,
                "AuthorizedAmount": "500",
                "OriginalAmount": "500",
                "GatewayTransID": "221763504",
                "GatewayMessage": "A02 - Credit Posted",
                "InternalMessage": "Credit Posted",
                "GatewayResult": "00000",
                "AVSMessage": None,
                "AVSResult": None,
                "CVMessage": None,
                "CVResult": None,
                "TransactionCode": "3307b1c8-ac62-43db-8f66-8a4060023a41",
                "TransactionDate": "20170327",
                "RemainingAmount": "0",
                "IsoCountryCode": "840",
                "IsoCurrencyCode": "USD",
                "IsoTransactionDate": "2017-03-27 13:18:59.43",
                "IsoRequestDate": "2017-03-27 13:18:59.43",
                "NetworkReferenceNumber": None,
                "MerchantCategoryCode": None,
                "NetworkMerchantId": None,
                "NetworkTerminalId": None,
                "CardType": None,
                "MaskedPan": None,
                "ResponseTypeDescription": "credit",
                "IsCommercialCard": "False",
                "StreetMatchMessage": None,
                "WalletID": None,
                "WalletPaymentMethodID": None,
                "WalletResponseCode": None,
                "WalletResponseMessage": None,
            },
        }
    }
}
PENDING_CREDIT_EXAMPLE = {
    "data": {
        "credit": {
            "id": 2,
            "credit_at": "2026-11-21T07:15:02Z",
            "amount_in_cents": 500,
            "balance_in_cents": 3200,
            "metadata": None,
        }
    }
}

CREDIT_ERRORS = hop_errors(
    UNAUTHORIZED,
    TOO_MANY_REQUESTS,
    (
        hop_envelope.gateway_busy(1),
        "10019 Card gateway busy: no gateway slot free; nothing debited or refunded, the key stays free",
    ),
    USER_NOT_FOUND,
    (
        to_hop_error(errors.CreditFailed("credit", "Denied by customer's bank")),
        "10007 denied: the gateway's description (HOP's credit.md); the wallet is given the cents back",
    ),
    (
        to_hop_error(errors.CreditFailed("payment", "details are missing")),
        "10007 payment details missing: no card on record stored by this partner (HOP's credit.md)",
    ),
    (
        to_hop_error(errors.CreditFailed("balance", "is not sufficient")),
        "10007 more than the balance: the wallet holds less than the amount; nothing debited",
    ),
    HOP_KEY_IN_USE,
    HOP_TOO_LARGE,
    HOP_INVALID_JSON,
    (
        hop_envelope.invalid_params({"amount_in_cents": ["must be a whole number of cents from 1 to 100000"]}),
        "10013 Param is missing or the value is empty: credit or amount",
    ),
    HOP_KEY_REUSED,
)


class CustomerCreditsView(IdempotentGatewayWriteView):
    @extend_schema(
        operation_id="createCredit",
        summary="Refund cents from the balance to the customer's card on record",
        description="Debits the cents balance, then credits the card this partner stored (BridgeComm 004 `credit`); "
        "a refusal gives the cents back. An unknown gateway outcome answers 202: the balance stays debited and a "
        "worker re-sends the same request until the outcome is known (never refunded twice).",
        parameters=[IDEMPOTENCY_KEY],
        request=HopCreditCreateSerializer,
        examples=[
            OpenApiExample("HOP credit.md", value=HOP_CREDIT_REQUEST_EXAMPLE, request_only=True, summary="HOP's sample request"),
            OpenApiExample("integer", value={"credit": {"amount_in_cents": 500}}, request_only=True, summary="An integer"),
        ],
        responses={
            201: OpenApiResponse(
                CreditResponseSerializer,
                description="Posted to the card; the balance debited",
                examples=[OpenApiExample("HOP credit.md", value=HOP_CREDIT_EXAMPLE, summary="HOP's sample answer")],
            ),
            202: OpenApiResponse(
                CreditResponseSerializer,
                description="Outcome unknown (pending): the balance is debited, a worker resolves it",
                examples=[OpenApiExample("pending", value=PENDING_CREDIT_EXAMPLE, summary="The gateway's answer was lost")],
            ),
            **CREDIT_ERRORS,
        },
    )
    def post(self, request, user_id: str):
        return super().post(request, user_id=user_id)

    def perform(self, request, body, kwargs, idempotency_record=None) -> tuple[int, dict, dict]:
        try:
            customer = selectors.customer_for_partner(partner=request.user.partner, customer_id=kwargs["user_id"])
            if customer is None:
                raise errors.ObjectNotFound(kind="user", id=kwargs["user_id"])
            field_errors, cleaned = parse_credit_request(body)
            if field_errors:
                raise errors.InvalidParameters(field_errors=field_errors)
            credit = services.card_credit_create(
                requested_by=request.user,
                customer=customer,
                amount_cents=cleaned["amount_in_cents"],
                idempotency_record=idempotency_record,
            )
        except errors.ChargepayError as refusal:
            error = to_hop_error(refusal)
            if error is None:
                raise
            return error.status, error.body(), error.headers
        status = 201 if credit.status in (CreditStatus.POSTED, CreditStatus.SETTLED) else 202
        return status, credit_body(credit, selectors.cents_balance(customer_id=customer.pk)), {}
