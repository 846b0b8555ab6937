"""Input and output of the HOP API (DESIGN §4)."""

from datetime import UTC, date

from django.conf import settings
from rest_framework import serializers

from gateways.bridgecomm.protocol import METADATA_FIELDS
from gateways.models import CardCharge, ChargeStatus


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
        if expires_at is None or len(method["expires_at"]) != 10:
            errors["payment_method.expires_at"] = ["must be a date, YYYY-MM-DD"]
        else:
            cleaned["expires_at"] = expires_at
    return errors, cleaned


def _iso(moment) -> str | None:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def ordered_metadata(metadata: dict) -> dict | None:
    """The gateway's fields in the gateway's order (the database's jsonb does not keep it)."""
    if not metadata:
        return None
    known = {name: metadata[name] for name in METADATA_FIELDS if name in metadata}
    return known | {name: value for name, value in metadata.items() if name not in known}


# Approved and credited (a worker may have captured or settled it since): answered 201 with the authorized amount.
APPROVED_STATUSES = (ChargeStatus.AUTHORIZED, ChargeStatus.CAPTURED, ChargeStatus.SETTLED)


def charge_body(charge: CardCharge, balance_in_cents: int) -> dict:
    """`{"data": {"charge": {...}}}` as in the seed, plus `status`. `metadata` is the gateway's answer as is."""
    credited = charge.status in APPROVED_STATUSES
    return {
        "data": {
            "charge": {
                "id": charge.pk,
                "charge_at": _iso(charge.authorized_at or charge.created_at),
                "amount_in_cents": charge.amount_authorized if credited else charge.amount_requested,
                "balance_in_cents": balance_in_cents,
                "status": charge.status,
                "metadata": ordered_metadata(charge.metadata),
            }
        }
    }


class ChargeRequestSerializer(serializers.Serializer):
    """For the OpenAPI schema; parse_charge_request does the validation (it accepts both string and integer forms)."""

    class Charge(serializers.Serializer):
        class PaymentMethod(serializers.Serializer):
            token = serializers.CharField(help_text="The gateway's card token, numeric, ≤ 22 digits (string or integer).")
            expires_at = serializers.DateField()

        amount_in_cents = serializers.IntegerField(min_value=1, help_text="Integer or string of digits.")
        payment_method = PaymentMethod(required=False, help_text="Optional when the customer has a card on record.")

    charge = Charge()


class ChargeResponseSerializer(serializers.Serializer):
    class Data(serializers.Serializer):
        class Charge(serializers.Serializer):
            id = serializers.IntegerField()
            charge_at = serializers.DateTimeField()
            amount_in_cents = serializers.IntegerField()
            balance_in_cents = serializers.IntegerField()
            status = serializers.ChoiceField(choices=ChargeStatus.choices)
            metadata = serializers.DictField(child=serializers.CharField(allow_null=True), allow_null=True)

        charge = Charge()

    data = Data()
