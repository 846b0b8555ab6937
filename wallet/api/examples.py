"""OpenAPI examples of the cents wallet's routes, from HOP's own docs (docs/api: user.md, purchase.md, comp.md,
transactions_history.md, drinkcommand.md) where they give values, and from this server's answers otherwise."""

from drf_spectacular.utils import OpenApiExample

USER = OpenApiExample(
    "customer",
    value={
        "data": {
            "user": {
                "id": 2,
                "email": "hop.customer@example.com",
                "first_name": "Test T",
                "last_name": "Tester",
                "balance_in_cents": 3200,
                "credit_limit_in_cents": 20000,
                "payment_method": {
                    "id": 1,
                    "token": "****5555",
                    "expires_at": "2030-01-01",
                    "card_type": "Visa",
                    "masked_number": "********5555",
                },
            }
        }
    },
    summary="A customer with a card this partner stored",
)
PURCHASE_REQUEST = OpenApiExample(
    "purchase",
    value={
        "purchase": {
            "amount_in_cents": "500",
            "employee_id": "7",
            "qty": "2",
            "venue_id": "123",
            "tap_id": "1b",
            "description": "Blue Moon",
        }
    },
    request_only=True,
    summary="HOP's purchase.md fields",
)
_PURCHASE_ROW = {
    "id": 5,
    "purchase_at": "2026-11-21T07:16:40Z",
    "amount_in_cents": 500,
    "balance_in_cents": 2700,
    "venue_id": "123",
    "qty": 2,
    "tap_id": "1b",
    "employee_id": "7",
    "description": "Blue Moon",
}
PURCHASE = OpenApiExample("purchase", value={"data": {"purchase": _PURCHASE_ROW}}, summary="Spent 500 of 3200")
PURCHASES = OpenApiExample(
    "purchases",
    value={"data": {"total": 1, "pages": 1, "next_page": None, "purchases": [_PURCHASE_ROW]}},
    summary="One page",
)
COMP_REQUEST = OpenApiExample(
    "comp", value={"comp": {"amount_in_cents": "500"}}, request_only=True, summary="HOP's comp.md test example"
)
COMP = OpenApiExample(
    "comp",
    value={
        "data": {
            "comp": {
                "id": 961244813,
                "comp_at": "2017-04-05T21:30:54Z",
                "amount_in_cents": 500,
                "balance_in_cents": 3700,
                "venue_id": "",
                "employee_id": "",
            }
        }
    },
    summary="HOP's comp.md sample answer",
)
HISTORY = OpenApiExample(
    "history",
    value={
        "data": {
            "total": 3,
            "pages": 1,
            "next_page": None,
            "transactions": [
                {
                    "id": 12,
                    "type": "purchase",
                    "amount_in_cents": -175,
                    "balance_in_cents": 825,
                    "description": "Blue Moon",
                    "tap_id": "1b",
                    "qty": None,
                    "venue_id": "123",
                    "created_at": "2026-11-21T07:20:02Z",
                },
                {
                    "id": 9,
                    "type": "comp",
                    "amount_in_cents": 500,
                    "balance_in_cents": 1000,
                    "description": "Cents comped at the venue",
                    "tap_id": None,
                    "qty": None,
                    "venue_id": "",
                    "created_at": "2026-11-21T07:18:30Z",
                },
                {
                    "id": 7,
                    "type": "charge",
                    "amount_in_cents": 500,
                    "balance_in_cents": 500,
                    "description": "Cents topped up by card",
                    "tap_id": None,
                    "qty": None,
                    "venue_id": None,
                    "created_at": "2026-11-21T07:14:18Z",
                },
            ],
        }
    },
    summary="A top-up, a comp and a pour",
)
DRINKCOMMAND_CUSTOMER = OpenApiExample(
    "customer",
    value={
        "data": {
            "first_name": "test",
            "last_name": "testerine",
            "name_on_card": "Test T Tester",
            "card_type": "visa",
            "masked_number": "********5555",
            "expires_at": "2018-01-01",
            "balance_in_cents": 3200,
            "credit_limit_in_cents": 20000,
        }
    },
    summary="drinkcommand.md's sample",
)
DRINKCOMMAND_CHARGE_REQUEST = OpenApiExample(
    "charge", value={"charge": {"amount_in_cents": 500}}, request_only=True, summary="drinkcommand.md's sample"
)
DRINKCOMMAND_CHARGE = OpenApiExample(
    "charge",
    value={"data": {"amount_in_cents": 500, "balance_in_cents": 2000, "reference_number": "717083"}},
    summary="drinkcommand.md's sample",
)
DRINKCOMMAND_CHARGE_PENDING = OpenApiExample(
    "pending",
    value={"data": {"amount_in_cents": 500, "balance_in_cents": 1500, "reference_number": None}},
    summary="The gateway's outcome is unknown: nothing credited yet, a worker resolves it",
)
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
LINE_ITEM_REQUEST = OpenApiExample("line item", value=LINE_ITEM_SAMPLE, request_only=True, summary="drinkcommand.md's sample")
LINE_ITEM_PENDING = OpenApiExample(
    "pending",
    value={"data": {"line_item_id": "a097ca3e-d7c8-4850-b654-835a7d3fe294", "status": "pending"}},
    summary="Stored; a worker applies it",
)
LINE_ITEM_PROCESSED = OpenApiExample(
    "duplicate",
    value={"data": {"line_item_id": "a097ca3e-d7c8-4850-b654-835a7d3fe294", "status": "processed"}},
    summary="The same line_item_id again: its status now, never applied twice",
)
