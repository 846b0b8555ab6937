"""HOP API: charge a customer's card to top up the cents wallet (DESIGN §4)."""

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.response import Response

from accounts.api.hop import HopView
from core import errors
from core.api import hop as hop_envelope
from core.api.hop import to_hop_error
from core.api.openapi import HOP_INVALID_JSON, HOP_KEY_IN_USE, HOP_KEY_REUSED, HOP_TOO_LARGE, hop_errors
from core.idempotency import (
    MAX_KEY_LENGTH,
    idempotency_begin,
    idempotency_complete,
    idempotency_release,
    request_fingerprint,
)
from gateways import bulkhead, selectors, services

from ..representations import APPROVED_STATUSES, charge_body
from .serializers import (
    SEED_CHARGE_EXAMPLE,
    SEED_CHARGE_REQUEST_EXAMPLE,
    ChargeResponseSerializer,
    HopChargeCreateSerializer,
    parse_charge_request,
)

UNAUTHORIZED = (hop_envelope.unauthorized(), "10005 Unauthorized: bad or missing token, or no right to charge")
USER_NOT_FOUND = (hop_envelope.user_not_found(), "10004 Record not found: unknown customer, or one the caller may not see")
TOO_MANY_REQUESTS = (
    hop_envelope.too_many_requests(60),
    "10017 Too many requests: this service account's rate limit (Retry-After)",
)
CHARGE_ERRORS = hop_errors(
    UNAUTHORIZED,
    TOO_MANY_REQUESTS,
    (hop_envelope.gateway_busy(1), "10019 Card gateway busy: no gateway slot free; nothing charged, the key stays free"),
    USER_NOT_FOUND,
    (
        hop_envelope.HopError(406, 10006, "Charge transaction failure", {"payment": ["details are missing"]}),
        "10006 payment details missing: no card sent and none on record",
    ),
    (
        hop_envelope.HopError(406, 10006, "Charge transaction failure", {"charge": ["Denied by customer's bank"]}),
        "10006 declined: the gateway's description (seed)",
    ),
    HOP_KEY_IN_USE,
    HOP_TOO_LARGE,
    HOP_INVALID_JSON,
    (
        hop_envelope.invalid_params({"amount_in_cents": ["must be a whole number of cents from 1 to 100000"]}),
        "10013 Param is missing or the value is empty: charge, amount, token or expiry",
    ),
    HOP_KEY_REUSED,
)
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key",
    {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH},
    OpenApiParameter.HEADER,
    description="Same key + same body replays the first answer (with Idempotent-Replayed: true); kept at least 24 h, "
    "per service account. Printable text.",
)
SEED_CHARGE = OpenApiExample("seed", value=SEED_CHARGE_EXAMPLE, summary="The seed's sample answer (the sandbox's values)")
PENDING_CHARGE = OpenApiExample(
    "pending",
    value={
        "data": {
            "charge": {
                "id": 2,
                "charge_at": "2026-11-21T07:15:02Z",
                "amount_in_cents": 2500,
                "balance_in_cents": 500,
                "status": "pending",
                "metadata": None,
            }
        }
    },
    summary="The gateway's outcome is unknown: nothing credited yet",
)
CHARGE_OPERATION = {
    "request": HopChargeCreateSerializer,
    "examples": [
        OpenApiExample("seed", value=SEED_CHARGE_REQUEST_EXAMPLE, request_only=True, summary="The seed's sample request"),
        OpenApiExample(
            "card on record", value={"charge": {"amount_in_cents": 2500}}, request_only=True, summary="The card on record"
        ),
    ],
    "responses": {
        201: OpenApiResponse(ChargeResponseSerializer, description="Approved and credited", examples=[SEED_CHARGE]),
        202: OpenApiResponse(
            ChargeResponseSerializer, description="Outcome unknown (pending): a worker resolves it", examples=[PENDING_CHARGE]
        ),
        **CHARGE_ERRORS,
    },
}


class IdempotentGatewayWriteView(HopView):
    """A HOP write that waits for the card gateway (a charge, a credit): the Idempotency-Key flow and the bulkhead
    around `perform`, which returns (HTTP status, body, headers) with refusals rendered, so they can be stored."""

    def perform(self, request, body, kwargs, idempotency_record=None) -> tuple[int, dict, dict]:
        raise NotImplementedError

    def post(self, request, **kwargs):
        body = request.data  # parse first: a broken body is 10012 whatever else is wrong
        key = request.headers.get("Idempotency-Key")
        if key is None:
            # With the gateway's slots all taken, refuse before any lookup: cheap, nothing written. A request with a
            # key claims it first, so a concurrent duplicate still gets 409 or the replay.
            bulkhead.gateway_refuse_if_full()
            status, answer, headers = self.perform(request, body, kwargs)
            return Response(answer, status=status, headers=headers)
        record, replay = idempotency_begin(
            client=request.user, key=key, fingerprint=request_fingerprint(method="POST", path=request.path, body=body)
        )
        if replay is not None:
            status, replayed = replay
            return Response(replayed, status=status, headers={"Idempotent-Replayed": "true"})
        try:
            status, answer, headers = self.perform(request, body, kwargs, idempotency_record=record)
        except BaseException:
            idempotency_release(record=record)
            raise
        if status == 503:  # refused by the bulkhead before anything happened: the key stays retryable
            idempotency_release(record=record)
        else:
            idempotency_complete(record=record, status=status, body=answer)
        return Response(answer, status=status, headers=headers)


class _ChargeCreateView(IdempotentGatewayWriteView):
    """Shared by the user-id and RFID routes: only how the customer is found differs."""

    def find_customer(self, request, **kwargs):
        raise NotImplementedError

    def perform(self, request, body, kwargs, idempotency_record=None) -> tuple[int, dict, dict]:
        """Run the charge and return (HTTP status, body, headers); a refusal is rendered, not raised, so it can be
        stored."""
        try:
            customer = self.find_customer(request, **kwargs)
            if customer is None:
                raise errors.ObjectNotFound(kind="user", id=next(iter(kwargs.values()), ""))
            field_errors, cleaned = parse_charge_request(body)
            if field_errors:
                raise errors.InvalidParameters(field_errors=field_errors)
            method = None
            if "token" in cleaned:
                method = services.payment_method_store(
                    customer=customer, partner=request.user.partner, token=cleaned["token"], expires_at=cleaned["expires_at"]
                )
            charge = services.card_charge_create(
                requested_by=request.user,
                customer=customer,
                amount_cents=cleaned["amount_in_cents"],
                payment_method=method,
                idempotency_record=idempotency_record,
            )
        except errors.ChargepayError as refusal:
            error = to_hop_error(refusal)
            if error is None:
                raise
            return error.status, error.body(), error.headers
        status = 201 if charge.status in APPROVED_STATUSES else 202
        return status, charge_body(charge, selectors.cents_balance(customer_id=customer.pk)), {}


class CustomerChargesView(_ChargeCreateView):
    @extend_schema(
        operation_id="createCharge",
        summary="Charge the customer's card and top up the cents balance",
        description="Charges the card sent (stored as the card on record) or the card on record, and credits the "
        "authorized amount (a partial approval credits only what was authorized).",
        parameters=[IDEMPOTENCY_KEY],
        **CHARGE_OPERATION,
    )
    def post(self, request, user_id: str):
        return super().post(request, user_id=user_id)

    def find_customer(self, request, *, user_id: str):
        return selectors.customer_for_partner(partner=request.user.partner, customer_id=user_id)


class RfidChargesView(_ChargeCreateView):
    @extend_schema(
        operation_id="createChargeByRfid",
        summary="The same, finding the customer by an RFID session token",
        description="An unknown or revoked token answers like an unknown customer (406 10004).",
        parameters=[IDEMPOTENCY_KEY],
        **CHARGE_OPERATION,
    )
    def post(self, request, session_token: str):
        return super().post(request, session_token=session_token)

    def find_customer(self, request, *, session_token: str):
        return selectors.customer_for_rfid(partner=request.user.partner, session_token=session_token)


class CustomerChargeDetailView(HopView):
    @extend_schema(
        operation_id="getCharge",
        summary="One charge of the customer",
        description="The charge as the create call answered it, with its status now and the balance now.",
        responses={
            200: OpenApiResponse(ChargeResponseSerializer, description="The charge", examples=[SEED_CHARGE]),
            **hop_errors(
                UNAUTHORIZED,
                TOO_MANY_REQUESTS,
                USER_NOT_FOUND,
                (
                    hop_envelope.HopError(406, 10004, "Record not found", {"charge": ["not found"]}),
                    "10004 charge not found: unknown charge id, or another customer's",
                ),
            ),
        },
    )
    def get(self, request, user_id: str, charge_id: str):
        customer = selectors.customer_for_partner(partner=request.user.partner, customer_id=user_id)
        if customer is None:
            raise errors.ObjectNotFound(kind="user", id=user_id)
        charge = selectors.charge_for_customer(customer=customer, partner=request.user.partner, charge_id=charge_id)
        if charge is None:
            raise errors.ObjectNotFound(kind="charge", id=charge_id)
        balance = selectors.cents_balance(customer_id=customer.pk)
        return Response(charge_body(charge, balance, token_shown=charge.payment_method.partner_id == request.user.partner_id))
