"""Input and output of the cents wallet's HOP routes (DESIGN §4.1; HOP's user.md, purchase.md, comp.md,
transactions_history.md, drinkcommand.md). Parsers return (field errors, cleaned); builders render the answers."""

import re
from datetime import UTC

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import Customer
from core.masking import LOGGED
from gateways.api.serializers import AmountField, parse_amount
from gateways.models import PaymentMethod

from ..models import Comp, LineItem, LineItemStatus, Purchase
from ..selectors import HOP_TYPE_NAMES, HOP_TYPES

MAX_TEXT = 100
MAX_DESCRIPTION = 255
MAX_QTY = 1_000_000
_SIGNED = re.compile(r"-?[0-9]{1,12}")


def iso(moment) -> str | None:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def signed_int(value) -> int | None:
    """A JSON integer or a string of digits with an optional minus; None when it is not."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and _SIGNED.fullmatch(value):
        return int(value)
    return value if isinstance(value, int) else None


def _text(source: dict, name: str, errors: dict, cleaned: dict, *, longest: int = MAX_TEXT) -> None:
    """An optional id or text: a string, or an integer (HOP's samples send venue_id both ways); "" when absent."""
    value = source.get(name)
    if value is None:
        cleaned[name] = ""
    elif isinstance(value, int) and not isinstance(value, bool):
        cleaned[name] = str(value)
    elif isinstance(value, str) and len(value) <= longest:
        cleaned[name] = value.strip()
    else:
        errors[name] = [f"must be text of at most {longest} characters"]


def _object(body, name: str) -> dict | None:
    value = body.get(name) if isinstance(body, dict) else None
    return value if isinstance(value, dict) else None


def _positive_amount(source: dict, errors: dict, cleaned: dict) -> None:
    if source.get("amount_in_cents") in (None, ""):
        errors["amount_in_cents"] = ["is missing or empty"]
    elif (amount := parse_amount(source["amount_in_cents"])) is None:
        errors["amount_in_cents"] = [f"must be a whole number of cents from 1 to {settings.CHARGE_MAX_CENTS}"]
    else:
        cleaned["amount_in_cents"] = amount


def parse_purchase_request(body) -> tuple[dict[str, list[str]], dict]:
    """`{"purchase": {"amount_in_cents", "qty", "venue_id", "tap_id", "employee_id", "description"}}`."""
    purchase = _object(body, "purchase")
    if purchase is None:
        return {"purchase": ["is missing or not an object"]}, {}
    errors: dict[str, list[str]] = {}
    cleaned: dict = {}
    _positive_amount(purchase, errors, cleaned)
    qty = purchase.get("qty")
    if qty in (None, ""):
        cleaned["qty"] = None
    elif (number := signed_int(qty)) is None or not 1 <= number <= MAX_QTY:
        errors["qty"] = [f"must be a whole number from 1 to {MAX_QTY}"]
    else:
        cleaned["qty"] = number
    for name in ("venue_id", "tap_id", "employee_id"):
        _text(purchase, name, errors, cleaned)
    _text(purchase, "description", errors, cleaned, longest=MAX_DESCRIPTION)
    return errors, cleaned


def parse_comp_request(body) -> tuple[dict[str, list[str]], dict]:
    """`{"comp": {"amount_in_cents", "employee_id", "venue_id", "description"}}`. A negative amount is cleaned as
    such (the service refuses it with HOP's own 10010); zero, non-numbers and amounts over the maximum are 10013."""
    comp = _object(body, "comp")
    if comp is None:
        return {"comp": ["is missing or not an object"]}, {}
    errors: dict[str, list[str]] = {}
    cleaned: dict = {}
    amount = signed_int(comp.get("amount_in_cents"))
    if comp.get("amount_in_cents") in (None, ""):
        errors["amount_in_cents"] = ["is missing or empty"]
    elif amount is not None and amount < 0:
        cleaned["amount_in_cents"] = amount
    else:
        _positive_amount(comp, errors, cleaned)
    for name in ("venue_id", "employee_id"):
        _text(comp, name, errors, cleaned)
    _text(comp, "description", errors, cleaned, longest=MAX_DESCRIPTION)
    return errors, cleaned


LINE_ITEM_ID_BLANK = "Line item ID can't be blank"


def parse_line_item_request(body) -> tuple[str | None, dict]:
    """Drink Command's `{"line_item": {...}}` (drinkcommand.md). Returns (the first problem, or None; the model's
    fields). `line_item_id` and `money_units` (cents, negative = spent) are required; the rest is stored as sent."""
    item = _object(body, "line_item")
    if item is None:
        return LINE_ITEM_ID_BLANK, {}
    raw_id = item.get("line_item_id")
    if isinstance(raw_id, int) and not isinstance(raw_id, bool):
        raw_id = str(raw_id)
    if not isinstance(raw_id, str) or not raw_id.strip():
        return LINE_ITEM_ID_BLANK, {}
    if len(raw_id) > MAX_TEXT or not raw_id.isprintable():
        return f"Line item ID must be at most {MAX_TEXT} printable characters", {}
    fields: dict = {"line_item_id": raw_id.strip()}
    money = signed_int(item.get("money_units"))
    if item.get("money_units") in (None, ""):
        return "Money units can't be blank", {}
    if money is None or abs(money) > settings.CHARGE_MAX_CENTS:
        return f"Money units must be a whole number of cents from -{settings.CHARGE_MAX_CENTS} to {settings.CHARGE_MAX_CENTS}", {}
    fields["money_units"] = money
    for name in ("volume_units", "price_money_units", "price_volume_units"):
        value = item.get(name)
        number = signed_int(value)
        if value not in (None, "") and (number is None or abs(number) > 10**12):
            return f"{name.replace('_', ' ').capitalize()} must be a whole number", {}
        fields[name] = number if value not in (None, "") else None
    errors: dict = {}
    texts: dict = {}
    for name in ("session_uuid", "account_type", "product_code", "tap_id", "venue_id"):
        _text(item, name, errors, texts)
    _text(item, "account_name", errors, texts, longest=MAX_DESCRIPTION)
    _text(item, "created_at", errors, texts, longest=60)
    _text(item, "note", errors, texts, longest=1000)
    if errors:
        name = next(iter(errors))
        return f"{name.replace('_', ' ').capitalize()} {errors[name][0]}", {}
    texts["reported_at"] = texts.pop("created_at")
    return None, fields | texts


# --- Answers ---------------------------------------------------------------------------------------------------


def masked_number(token: str) -> str:
    """A card shown as Drink Command's sample shows it: eight stars and the last 4 (never the token)."""
    return "********" + token[-4:]


def split_name(name: str) -> tuple[str, str]:
    """The customer's one name as HOP's first and last name: the last word is the last name."""
    words = name.split()
    if len(words) < 2:
        return (words[0] if words else ""), ""
    return " ".join(words[:-1]), words[-1]


def payment_method_body(method: PaymentMethod | None, card_type: str | None) -> dict | None:
    if method is None:
        return None
    return {
        "id": method.pk,
        "token": LOGGED + method.token[-4:],
        "expires_at": method.expires_at.isoformat(),
        "card_type": card_type,
        "masked_number": masked_number(method.token),
    }


def user_body(customer: Customer, *, balance: int, credit_limit: int, method, card_type) -> dict:
    first_name, last_name = split_name(customer.name)
    return {
        "data": {
            "user": {
                "id": customer.pk,
                "email": customer.email,
                "first_name": first_name,
                "last_name": last_name,
                "balance_in_cents": balance,
                "credit_limit_in_cents": credit_limit,
                "payment_method": payment_method_body(method, card_type),
            }
        }
    }


def purchase_row(purchase: Purchase, balance_after: int) -> dict:
    return {
        "id": purchase.pk,
        "purchase_at": iso(purchase.created_at),
        "amount_in_cents": purchase.amount_cents,
        "balance_in_cents": balance_after,
        "venue_id": purchase.venue_id,
        "qty": purchase.qty,
        "tap_id": purchase.tap_id,
        "employee_id": purchase.employee_id,
        "description": purchase.description,
    }


def comp_body(comp: Comp, balance_after: int) -> dict:
    return {
        "data": {
            "comp": {
                "id": comp.pk,
                "comp_at": iso(comp.created_at),
                "amount_in_cents": comp.amount_cents,
                "balance_in_cents": balance_after,
                "venue_id": comp.venue_id,
                "employee_id": comp.employee_id,
            }
        }
    }


def history_row(entry) -> dict:
    """One row of HOP's history from a cents wallet entry (with `balance_after`)."""
    txn = entry.transaction
    record = next(
        (getattr(txn, name) for name in ("purchase", "comp", "line_item") if getattr(txn, name, None) is not None),
        None,
    )
    description, tap_id, qty, venue_id = txn.get_kind_display(), None, None, None
    if isinstance(record, LineItem):
        description, tap_id, venue_id = record.account_name or description, record.tap_id, record.venue_id
    elif record is not None:
        description = record.description or description
        venue_id = record.venue_id
        tap_id, qty = getattr(record, "tap_id", None), getattr(record, "qty", None)
    return {
        "id": txn.pk,
        "type": HOP_TYPES.get(txn.kind, "charge" if entry.amount > 0 else "purchase"),
        "amount_in_cents": entry.amount,
        "balance_in_cents": entry.balance_after,
        "description": description,
        "tap_id": tap_id,
        "qty": qty,
        "venue_id": venue_id,
        "created_at": iso(txn.created_at),
    }


def line_item_body(item: LineItem, status: str) -> dict:
    return {"data": {"line_item_id": item.line_item_id, "status": status}}


# --- Schemas (the parsers above validate; these describe) ----------------------------------------------------


@extend_schema_field(
    {
        "oneOf": [{"type": "string", "maxLength": MAX_TEXT}, {"type": "integer"}],
        "description": "An id of the partner's own (venue, tap, employee): text or an integer; stored as text.",
        "example": "123",
    }
)
class IdField(serializers.Field):
    pass


@extend_schema_field(
    {
        "oneOf": [
            {"type": "integer", "minimum": -settings.CHARGE_MAX_CENTS, "maximum": settings.CHARGE_MAX_CENTS},
            {"type": "string", "pattern": r"^-?[0-9]{1,12}$"},
        ],
        "description": "Cents: an integer or a string of digits with an optional minus.",
        "example": -175,
    }
)
class SignedCentsField(serializers.Field):
    pass


class PaymentMethodOutSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    token = serializers.CharField(help_text="Masked: ****1234 (tokens are never shown here).")
    expires_at = serializers.DateField()
    card_type = serializers.CharField(allow_null=True, help_text="The card's brand as the gateway last named it.")
    masked_number = serializers.CharField(help_text="********1234")


class UserSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.CharField(allow_blank=True)
    first_name = serializers.CharField(allow_blank=True)
    last_name = serializers.CharField(allow_blank=True)
    balance_in_cents = serializers.IntegerField(help_text="The one cents wallet's balance (below 0 when on credit).")
    credit_limit_in_cents = serializers.IntegerField(min_value=0)
    payment_method = PaymentMethodOutSerializer(allow_null=True, help_text="The card on record this partner stored.")


class UserDataSerializer(serializers.Serializer):
    user = UserSerializer()


class UserResponseSerializer(serializers.Serializer):
    data = UserDataSerializer()


class PurchaseFieldsSerializer(serializers.Serializer):
    amount_in_cents = AmountField()
    qty = serializers.IntegerField(min_value=1, max_value=MAX_QTY, required=False, allow_null=True)
    venue_id = IdField(required=False, allow_null=True)
    tap_id = IdField(required=False, allow_null=True)
    employee_id = IdField(required=False, allow_null=True)
    description = serializers.CharField(max_length=MAX_DESCRIPTION, required=False, allow_blank=True, allow_null=True)


class PurchaseCreateSerializer(serializers.Serializer):
    purchase = PurchaseFieldsSerializer()


class PurchaseSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    purchase_at = serializers.DateTimeField()
    amount_in_cents = serializers.IntegerField(min_value=1)
    balance_in_cents = serializers.IntegerField(help_text="The wallet's balance right after this purchase.")
    venue_id = serializers.CharField(allow_blank=True)
    qty = serializers.IntegerField(allow_null=True)
    tap_id = serializers.CharField(allow_blank=True)
    employee_id = serializers.CharField(allow_blank=True)
    description = serializers.CharField(allow_blank=True)


class PurchaseDataSerializer(serializers.Serializer):
    purchase = PurchaseSerializer()


class PurchaseResponseSerializer(serializers.Serializer):
    data = PurchaseDataSerializer()


class PageFieldsSerializer(serializers.Serializer):
    total = serializers.IntegerField(min_value=0)
    pages = serializers.IntegerField(min_value=0)
    next_page = serializers.IntegerField(min_value=2, allow_null=True)


class PurchasesDataSerializer(PageFieldsSerializer):
    purchases = PurchaseSerializer(many=True)


class PurchasesResponseSerializer(serializers.Serializer):
    data = PurchasesDataSerializer()


class CompFieldsSerializer(serializers.Serializer):
    amount_in_cents = SignedCentsField()
    employee_id = IdField(required=False, allow_null=True)
    venue_id = IdField(required=False, allow_null=True)
    description = serializers.CharField(max_length=MAX_DESCRIPTION, required=False, allow_blank=True, allow_null=True)


class CompCreateSerializer(serializers.Serializer):
    comp = CompFieldsSerializer()


class CompSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    comp_at = serializers.DateTimeField()
    amount_in_cents = serializers.IntegerField(min_value=1)
    balance_in_cents = serializers.IntegerField()
    venue_id = serializers.CharField(allow_blank=True)
    employee_id = serializers.CharField(allow_blank=True)


class CompDataSerializer(serializers.Serializer):
    comp = CompSerializer()


class CompResponseSerializer(serializers.Serializer):
    data = CompDataSerializer()


class HopTransactionSerializer(serializers.Serializer):
    id = serializers.IntegerField(help_text="The ledger transaction's id (unique across types).")
    type = serializers.ChoiceField(choices=list(HOP_TYPE_NAMES))
    amount_in_cents = serializers.IntegerField(help_text="Signed as the wallet moved: a purchase is negative.")
    balance_in_cents = serializers.IntegerField(help_text="The wallet's balance right after this row.")
    description = serializers.CharField()
    tap_id = serializers.CharField(allow_null=True)
    qty = serializers.IntegerField(allow_null=True)
    venue_id = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()


class HopTransactionsDataSerializer(PageFieldsSerializer):
    transactions = HopTransactionSerializer(many=True)


class HopTransactionsResponseSerializer(serializers.Serializer):
    data = HopTransactionsDataSerializer()


class DrinkCommandCustomerDataSerializer(serializers.Serializer):
    first_name = serializers.CharField(allow_blank=True)
    last_name = serializers.CharField(allow_blank=True)
    name_on_card = serializers.CharField(allow_blank=True)
    card_type = serializers.CharField(allow_null=True)
    masked_number = serializers.CharField()
    expires_at = serializers.DateField()
    balance_in_cents = serializers.IntegerField()
    credit_limit_in_cents = serializers.IntegerField(min_value=0)


class DrinkCommandCustomerResponseSerializer(serializers.Serializer):
    data = DrinkCommandCustomerDataSerializer()


class DrinkCommandChargeFieldsSerializer(serializers.Serializer):
    amount_in_cents = AmountField()


class DrinkCommandChargeCreateSerializer(serializers.Serializer):
    charge = DrinkCommandChargeFieldsSerializer()


class DrinkCommandChargeDataSerializer(serializers.Serializer):
    amount_in_cents = serializers.IntegerField(min_value=1)
    balance_in_cents = serializers.IntegerField()
    reference_number = serializers.CharField(allow_null=True, help_text="The gateway's ReferenceNumber (null while pending).")


class DrinkCommandChargeResponseSerializer(serializers.Serializer):
    data = DrinkCommandChargeDataSerializer()


class LineItemFieldsSerializer(serializers.Serializer):
    line_item_id = IdField()
    session_uuid = IdField(required=False, allow_null=True)
    created_at = serializers.CharField(required=False, allow_null=True, max_length=60)
    account_type = IdField(required=False, allow_null=True)
    account_name = serializers.CharField(required=False, allow_null=True, max_length=MAX_DESCRIPTION)
    product_code = IdField(required=False, allow_null=True)
    volume_units = serializers.IntegerField(required=False, allow_null=True)
    money_units = SignedCentsField()
    tap_id = IdField(required=False, allow_null=True)
    price_money_units = serializers.IntegerField(required=False, allow_null=True)
    price_volume_units = serializers.IntegerField(required=False, allow_null=True)
    note = serializers.CharField(required=False, allow_null=True, max_length=1000)
    venue_id = IdField(required=False, allow_null=True)


class LineItemCreateSerializer(serializers.Serializer):
    line_item = LineItemFieldsSerializer()


class LineItemDataSerializer(serializers.Serializer):
    line_item_id = serializers.CharField()
    status = serializers.ChoiceField(choices=LineItemStatus.values)


class LineItemResponseSerializer(serializers.Serializer):
    data = LineItemDataSerializer()
