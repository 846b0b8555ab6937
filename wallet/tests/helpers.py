"""Helpers of the cents wallet's tests: URLs, HOP's documented bodies (docs/api of marceltheshell/hop, copied here
independently of the server's examples), the comp permission, a customer's credit limit."""

from django.contrib.auth.models import Permission

from ledger.models import Account, AccountKind, Unit

# comp.md
COMP_DENIED = {
    "data": {
        "code": 10010,
        "message": "Comp transaction failure",
        "errors": {"amount_in_cents": ["must be greater than or equal to 0"]},
    }
}
# DESIGN §4.1 (purchase.md's error body is generic)
PURCHASE_DENIED = {
    "data": {"code": 10008, "message": "Purchase transaction failure", "errors": {"balance": ["is not sufficient"]}}
}
# drinkcommand.md
PAYMENT_NOT_AVAILABLE = {
    "data": {"code": 20401, "message": "Payment information failure", "errors": {"payment": ["not available"]}}
}
PAYMENT_EXPIRED = {"data": {"code": 20401, "message": "Payment information failure", "errors": {"payment": ["has expired"]}}}
SESSION_TOKEN_NOT_FOUND = {
    "data": {"code": 20404, "message": "User with session token not found", "errors": {"session_token": ["missing or invalid"]}}
}
LINE_ITEM_ID_MISSING = {
    "data": {"code": 20402, "message": "Line item failure", "errors": {"line_item": ["Line item ID can't be blank"]}}
}


def drinkcommand_charge_failure(description: str) -> dict:
    return {"data": {"code": 20400, "message": "Charge transaction failure", "errors": {"charge": [description]}}}


# drinkcommand.md's line item sample, verbatim.
LINE_ITEM_SAMPLE = {
    "line_item": {
        "line_item_id": "a097ca3e-d7c8-4850-b654-835a7d3fe294",
        "session_uuid": "58d2fa8c55098",
        "created_at": "2017-05-02 10:37:21 (-0700)",
        "account_type": "PRODUCT",
        "account_name": "Blue Moon",
        "product_code": "blue_moon",
        "volume_units": 70,
        "money_units": -175,
        "tap_id": "1b",
        "price_money_units": 25,
        "price_volume_units": 10,
        "note": None,
        "venue_id": 123,
    }
}


def line_item(line_item_id: str, money_units: int) -> dict:
    return {"line_item": {**LINE_ITEM_SAMPLE["line_item"], "line_item_id": line_item_id, "money_units": money_units}}


def user_url(value) -> str:
    return f"/api/v1/users/{value}"


def purchases_url(customer_id) -> str:
    return f"/api/v1/users/{customer_id}/purchases"


def comps_url(customer_id) -> str:
    return f"/api/v1/users/{customer_id}/comps"


def history_url(value) -> str:
    return f"/api/v1/users/{value}/transactions"


def dc_customer_url(token: str) -> str:
    return f"/api/v1/drinkcommand/customer/{token}"


def dc_charge_url(token: str) -> str:
    return f"/api/v1/drinkcommand/charge/{token}"


def dc_line_item_url(token: str) -> str:
    return f"/api/v1/drinkcommand/line_item/{token}"


def purchase(amount, **fields) -> dict:
    return {"purchase": {"amount_in_cents": amount, **fields}}


def allow_comps(user) -> None:
    user.user_permissions.add(Permission.objects.get(content_type__app_label="wallet", codename="comp_wallet"))


def set_credit_limit(customer, cents: int) -> None:
    Account.objects.filter(kind=AccountKind.WALLET, customer=customer, unit=Unit.USD_CENTS).update(credit_limit=cents)
