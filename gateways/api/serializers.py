"""Input and output of the HOP API (DESIGN §4)."""

import re
from datetime import date

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from gateways.models import ChargeStatus


def parse_amount(value) -> int | None:
    """A JSON integer or a string of digits, 1 ≤ amount ≤ CHARGE_MAX_CENTS; None when it is not."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 12:
        value = int(value)
    if not isinstance(value, int) or not 1 <= value <= settings.CHARGE_MAX_CENTS:
        return None
    return value


def parse_charge_request(body) -> tuple[dict[str, list[str]], dict]:
    """Validate `{"charge": {"amount_in_cents", "payment_method": {"token", "expires_at"}}}`.

    Returns (field errors, cleaned): cleaned has `amount_in_cents` and, when sent, `token` and `expires_at`.
    """
    errors: dict[str, list[str]] = {}
    charge = body.get("charge") if isinstance(body, dict) else None
    if not isinstance(charge, dict):
        return {"charge": ["is missing or not an object"]}, {}
    cleaned: dict = {}
    if charge.get("amount_in_cents") in (None, ""):
        errors["amount_in_cents"] = ["is missing or empty"]
    elif (amount := parse_amount(charge["amount_in_cents"])) is None:
        errors["amount_in_cents"] = [f"must be a whole number of cents from 1 to {settings.CHARGE_MAX_CENTS}"]
    else:
        cleaned["amount_in_cents"] = amount
    method = charge.get("payment_method")
    if method is not None:
        if not isinstance(method, dict):
            errors["payment_method"] = ["must be an object with token and expires_at"]
            return errors, cleaned
        token = method.get("token")
        if isinstance(token, int) and not isinstance(token, bool) and token >= 0:
            token = str(token)
        if not isinstance(token, str) or not token.isascii() or not token.isdigit() or len(token) > 22:
            errors["payment_method.token"] = ["must be the gateway's numeric card token (at most 22 digits)"]
        else:
            cleaned["token"] = token
        try:
            expires_at = date.fromisoformat(method.get("expires_at")) if isinstance(method.get("expires_at"), str) else None
        except ValueError:
            expires_at = None
        if expires_at is None or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", method["expires_at"]):
            errors["payment_method.expires_at"] = ["must be a date, YYYY-MM-DD"]
        else:
            cleaned["expires_at"] = expires_at
    return errors, cleaned


def digits_up_to(highest: int) -> str:
    """A regex of the decimal numbers 1..highest, leading zeros allowed (as parse_amount takes them)."""
    text = str(highest)
    alternatives = [f"[1-9][0-9]{{0,{len(text) - 2}}}"] if len(text) > 1 else []
    for position, digit in enumerate(text):
        lowest = 1 if position == 0 else 0
        if int(digit) > lowest:
            rest = len(text) - position - 1
            alternatives.append(f"{text[:position]}[{lowest}-{int(digit) - 1}]" + (f"[0-9]{{{rest}}}" if rest else ""))
    alternatives.append(text)
    return f"^0*({'|'.join(alternatives)})$"


@extend_schema_field(
    {
        "oneOf": [
            {"type": "integer", "minimum": 1, "maximum": settings.CHARGE_MAX_CENTS},
            {"type": "string", "pattern": digits_up_to(settings.CHARGE_MAX_CENTS), "maxLength": 12},
        ],
        "description": f"Cents to charge, 1 to {settings.CHARGE_MAX_CENTS} (CHARGE_MAX_CENTS): an integer or a string of digits.",
        "example": 500,
    }
)
class AmountField(serializers.Field):
    pass


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "pattern": "^[0-9]{1,22}$"},
            {"type": "integer", "minimum": 0, "maximum": 10**22 - 1},
        ],
        "description": "The gateway's numeric card token, at most 22 digits: a string or an integer. No card number.",
        "example": "1000000074340019",
    }
)
class CardTokenField(serializers.Field):
    pass


class HopPaymentMethodSerializer(serializers.Serializer):
    token = CardTokenField()
    expires_at = serializers.DateField(help_text="The card's expiry, YYYY-MM-DD.")


class HopChargeFieldsSerializer(serializers.Serializer):
    amount_in_cents = AmountField()
    payment_method = HopPaymentMethodSerializer(
        required=False, allow_null=True, help_text="Optional when the customer has a card on record; stored as it."
    )


# The schema of the request; parse_charge_request does the validation.
class HopChargeCreateSerializer(serializers.Serializer):
    """A card top-up. Unknown keys are ignored."""

    charge = HopChargeFieldsSerializer()


class HopChargeSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    charge_at = serializers.DateTimeField(help_text="UTC, seconds: 2026-11-21T07:14:18Z")
    amount_in_cents = serializers.IntegerField(help_text="Authorized (credited) cents; requested cents while pending.")
    balance_in_cents = serializers.IntegerField(help_text="The cents balance after this charge.")
    status = serializers.ChoiceField(choices=ChargeStatus.values)
    metadata = serializers.DictField(
        child=serializers.CharField(allow_null=True),
        allow_null=True,
        help_text="The gateway's authorization response, field for field (null before it answered).",
    )


class HopChargeDataSerializer(serializers.Serializer):
    charge = HopChargeSerializer()


class ChargeResponseSerializer(serializers.Serializer):
    data = HopChargeDataSerializer()


# The seed's sample (seeds/004): its request, and an answer of the sandbox to it.
SEED_CHARGE_REQUEST_EXAMPLE = {
    "charge": {"amount_in_cents": "500", "payment_method": {"token": 12345, "expires_at": "2030-01-01"}}
}
SEED_CHARGE_EXAMPLE = {
    "data": {
        "charge": {
            "id": 1,
            "charge_at": "2026-11-21T07:14:18Z",
            "amount_in_cents": 500,
            "balance_in_cents": 500,
            "status": "authorized",
            "metadata": {
                "Token": "12345",
                "ExpirationDate": "0130",
                "AuthorizationCode": "447996",
                "ReferenceNumber": "447996",
                "AuthorizedAmount": "500",
                "OriginalAmount": "500",
                "GatewayTransID": "1000000001",
                "GatewayMessage": "A01 - Approved",
                "InternalMessage": "Approved: 447996 (approval code)",
                "GatewayResult": "00000",
                "AVSMessage": None,
                "AVSResult": None,
                "CVMessage": None,
                "CVResult": None,
                "TransactionCode": "1000000001",
                "TransactionDate": "20261121",
                "RemainingAmount": "0",
                "IsoCountryCode": "840",
                "IsoCurrencyCode": "USD",
                "IsoTransactionDate": "2026-11-21 07:14:18",
                "IsoRequestDate": "2026-11-21 07:14:18",
                "NetworkReferenceNumber": None,
                "MerchantCategoryCode": None,
                "NetworkMerchantId": None,
                "NetworkTerminalId": None,
                "CardType": "Visa",
                "MaskedPan": "************2345",
                "ResponseTypeDescription": "sale",
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
