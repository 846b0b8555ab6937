"""The Drink Command tap system's routes (HOP's drinkcommand.md): the customer by RFID session token, a charge of
the card on record, and line items. Same authentication and Idempotency-Key rules as the rest of HOP; its own error
codes (20400 charge, 20401 card, 20402 line item, 20404 session token: `core.api.hop.to_drinkcommand_error`)."""

from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response

from accounts.api.hop import HopView
from core import errors
from core.api import hop as hop_envelope
from core.api.openapi import HOP_INVALID_JSON, HOP_KEY_IN_USE, HOP_KEY_REUSED, HOP_TOO_LARGE, hop_errors
from gateways import selectors as gateway_selectors
from gateways import services as gateway_services
from gateways.api.serializers import parse_amount
from gateways.api.views import IDEMPOTENCY_KEY, TOO_MANY_REQUESTS, UNAUTHORIZED
from gateways.representations import APPROVED_STATUSES

from .. import selectors, services
from . import examples
from .serializers import (
    DrinkCommandChargeCreateSerializer,
    DrinkCommandChargeResponseSerializer,
    DrinkCommandCustomerResponseSerializer,
    LineItemCreateSerializer,
    LineItemResponseSerializer,
    line_item_body,
    masked_number,
    parse_line_item_request,
    split_name,
)
from .views import BAD_PARAMS, WalletWriteView

SESSION_TOKEN_NOT_FOUND = (
    hop_envelope.HopError(404, 20404, "User with session token not found", {"session_token": ["missing or invalid"]}),
    "20404 User with session token not found: unknown or revoked token, or a customer the caller may not see",
)
PAYMENT_NOT_AVAILABLE = (
    hop_envelope.HopError(406, 20401, "Payment information failure", {"payment": ["not available"]}),
    "20401 payment not available: no card on record for this partner",
)
PAYMENT_EXPIRED = (
    hop_envelope.HopError(406, 20401, "Payment information failure", {"payment": ["has expired"]}),
    "20401 payment expired: the card on record has expired",
)


def _customer_and_card(request, session_token: str):
    """The customer the token names for the caller's partner and the card that partner stored. Raises ObjectNotFound
    (20404), PaymentDetailsMissing / PaymentExpired (20401)."""
    partner = request.user.partner
    customer = gateway_selectors.customer_for_rfid(partner=partner, session_token=session_token)
    if customer is None:
        raise errors.ObjectNotFound(kind="session_token", id=session_token)
    method = gateway_selectors.payment_method_on_record(customer=customer, partner=partner)
    if method is None:
        raise errors.PaymentDetailsMissing()
    if method.expires_at < timezone.localdate():
        raise errors.PaymentExpired()
    return customer, method


class DrinkCommandView(HopView):
    def get_exception_handler(self):
        return hop_envelope.drinkcommand_exception_handler


class DrinkCommandWriteView(WalletWriteView):
    render_refusal = staticmethod(hop_envelope.to_drinkcommand_error)

    def get_exception_handler(self):
        return hop_envelope.drinkcommand_exception_handler


class DrinkCommandCustomerView(DrinkCommandView):
    @extend_schema(
        operation_id="drinkCommandCustomer",
        summary="Drink Command: the customer's viewable payment details by session token (RFID)",
        description="The name on the card is the customer's name (the gateway keeps no card holder). The balance is the "
        "one wallet's; the card the one this partner stored.",
        responses={
            200: OpenApiResponse(
                DrinkCommandCustomerResponseSerializer, description="The customer", examples=[examples.DRINKCOMMAND_CUSTOMER]
            ),
            **hop_errors(UNAUTHORIZED, TOO_MANY_REQUESTS, SESSION_TOKEN_NOT_FOUND, PAYMENT_NOT_AVAILABLE, PAYMENT_EXPIRED),
        },
    )
    def get(self, request, session_token: str):
        customer, method = _customer_and_card(request, session_token)
        wallet = selectors.cents_wallet(customer_id=customer.pk)
        first_name, last_name = split_name(customer.name)
        return Response(
            {
                "data": {
                    "first_name": first_name,
                    "last_name": last_name,
                    "name_on_card": customer.name,
                    "card_type": selectors.card_type(method=method),
                    "masked_number": masked_number(method.token),
                    "expires_at": method.expires_at.isoformat(),
                    "balance_in_cents": wallet.balance,
                    "credit_limit_in_cents": wallet.credit_limit,
                }
            }
        )


class DrinkCommandChargeView(DrinkCommandWriteView):
    @extend_schema(
        operation_id="drinkCommandCharge",
        summary="Drink Command: charge the card on record and top up the cents balance",
        description="The same card-charge path as `POST /api/v1/users/{user_id}/charges` (a gateway TransactionID reused "
        "on every retry, the Idempotency-Key's lease, the bulkhead). 202 when the gateway's outcome is unknown (nothing "
        "credited yet; a worker resolves it).",
        parameters=[IDEMPOTENCY_KEY],
        request=DrinkCommandChargeCreateSerializer,
        examples=[examples.DRINKCOMMAND_CHARGE_REQUEST],
        responses={
            201: OpenApiResponse(
                DrinkCommandChargeResponseSerializer, description="Approved and credited", examples=[examples.DRINKCOMMAND_CHARGE]
            ),
            202: OpenApiResponse(
                DrinkCommandChargeResponseSerializer,
                description="Outcome unknown (pending)",
                examples=[examples.DRINKCOMMAND_CHARGE_PENDING],
            ),
            **hop_errors(
                UNAUTHORIZED,
                TOO_MANY_REQUESTS,
                (
                    hop_envelope.gateway_busy(1),
                    "10019 Card gateway busy: no gateway slot free; nothing charged, the key stays free",
                ),
                SESSION_TOKEN_NOT_FOUND,
                PAYMENT_NOT_AVAILABLE,
                PAYMENT_EXPIRED,
                (
                    hop_envelope.HopError(406, 20400, "Charge transaction failure", {"charge": ["Denied by customer's bank"]}),
                    "20400 Charge transaction failure: the gateway's description (drinkcommand.md)",
                ),
                HOP_KEY_IN_USE,
                HOP_TOO_LARGE,
                HOP_INVALID_JSON,
                BAD_PARAMS,
                HOP_KEY_REUSED,
            ),
        },
    )
    def post(self, request, session_token: str):
        return super().post(request, session_token=session_token)

    def write(self, request, body, idempotency_record, *, session_token: str):
        customer, method = _customer_and_card(request, session_token)
        charge_fields = body.get("charge") if isinstance(body, dict) else None
        if not isinstance(charge_fields, dict):
            raise errors.InvalidParameters(field_errors={"charge": ["is missing or not an object"]})
        amount = parse_amount(charge_fields.get("amount_in_cents"))
        if amount is None:
            raise errors.InvalidParameters(field_errors={"amount_in_cents": ["must be a whole number of cents from 1 to 100000"]})
        charge = gateway_services.card_charge_create(
            requested_by=request.user,
            customer=customer,
            amount_cents=amount,
            payment_method=method,
            idempotency_record=idempotency_record,
        )
        approved = charge.status in APPROVED_STATUSES
        metadata = charge.metadata or {}
        return (201 if approved else 202), {
            "data": {
                "amount_in_cents": charge.amount_authorized if approved else charge.amount_requested,
                "balance_in_cents": selectors.cents_wallet(customer_id=customer.pk).balance,
                "reference_number": (metadata.get("ReferenceNumber") or metadata.get("AuthorizationCode")) if approved else None,
            }
        }


class DrinkCommandLineItemView(DrinkCommandWriteView):
    @extend_schema(
        operation_id="drinkCommandLineItem",
        summary="Drink Command: report a line item (a pour) for a session token",
        description="Stored pending and applied by a worker (money_units < 0 spends -money_units cents, down to minus the "
        "credit limit; past it the line item is rejected for staff, after an automatic top-up of the card on record when "
        "AUTO_TOPUP_CENTS is set). The same line_item_id again answers its status now and is never applied twice.",
        parameters=[IDEMPOTENCY_KEY],
        request=LineItemCreateSerializer,
        examples=[examples.LINE_ITEM_REQUEST],
        responses={
            201: OpenApiResponse(
                LineItemResponseSerializer,
                description="Stored (or already stored)",
                examples=[examples.LINE_ITEM_PENDING, examples.LINE_ITEM_PROCESSED],
            ),
            **hop_errors(
                UNAUTHORIZED,
                TOO_MANY_REQUESTS,
                SESSION_TOKEN_NOT_FOUND,
                (
                    hop_envelope.HopError(406, 20402, "Line item failure", {"line_item": ["Line item ID can't be blank"]}),
                    "20402 Line item failure: line_item_id missing (drinkcommand.md), or money_units or a number invalid",
                ),
                HOP_KEY_IN_USE,
                HOP_TOO_LARGE,
                HOP_INVALID_JSON,
                HOP_KEY_REUSED,
            ),
        },
    )
    def post(self, request, session_token: str):
        return super().post(request, session_token=session_token)

    def write(self, request, body, idempotency_record, *, session_token: str):
        customer = gateway_selectors.customer_for_rfid(partner=request.user.partner, session_token=session_token)
        if customer is None:
            raise errors.ObjectNotFound(kind="session_token", id=session_token)
        problem, fields = parse_line_item_request(body)
        if problem is not None:
            raise errors.LineItemInvalid(message=problem)
        item, _created = services.line_item_receive(
            requested_by=request.user, customer=customer, session_token=session_token, fields=fields
        )
        return 201, line_item_body(item, item.status)
