"""HOP API: charge a customer's card to top up the cents wallet (DESIGN §4)."""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.response import Response

from accounts.api.hop import HopView
from core import errors
from core.api.hop import HopErrorSerializer, to_hop_error
from core.idempotency import idempotency_begin, idempotency_complete, idempotency_release, request_fingerprint
from gateways import bulkhead, selectors, services

from .serializers import (
    APPROVED_STATUSES,
    ChargeRequestSerializer,
    ChargeResponseSerializer,
    charge_body,
    parse_charge_request,
)

ERRORS = {
    401: OpenApiResponse(HopErrorSerializer, description="10005 Unauthorized"),
    406: OpenApiResponse(HopErrorSerializer, description="10004 Record not found; 10006 Charge transaction failure"),
    409: OpenApiResponse(HopErrorSerializer, description="10015 Idempotency key in use"),
    503: OpenApiResponse(HopErrorSerializer, description="10017 Card gateway busy (Retry-After; nothing charged)"),
    422: OpenApiResponse(
        HopErrorSerializer, description="10012 Invalid Format; 10013 Param is missing or empty; 10016 key reused"
    ),
}
IDEMPOTENCY_KEY = OpenApiParameter(
    "Idempotency-Key", str, OpenApiParameter.HEADER, description="Same key + same body replays the first answer (kept ≥ 24 h)."
)


class _ChargeCreateView(HopView):
    """Shared by the user-id and RFID routes: only how the customer is found differs."""

    def find_customer(self, request, **kwargs):
        raise NotImplementedError

    def post(self, request, **kwargs):
        body = request.data  # parse first: a broken body is 10012 whatever else is wrong
        key = request.headers.get("Idempotency-Key")
        if key is None:
            # With the gateway's slots all taken, refuse before any lookup: cheap, nothing written. A request with a
            # key claims it first, so a concurrent duplicate still gets 409 or the replay.
            bulkhead.gateway_refuse_if_full()
            status, answer, headers = self._charge(request, body, kwargs)
            return Response(answer, status=status, headers=headers)
        record, replay = idempotency_begin(
            client=request.user, key=key, fingerprint=request_fingerprint(method="POST", path=request.path, body=body)
        )
        if replay is not None:
            status, replayed = replay
            return Response(replayed, status=status, headers={"Idempotent-Replayed": "true"})
        try:
            status, answer, headers = self._charge(request, body, kwargs, idempotency_record=record)
        except BaseException:
            idempotency_release(record=record)
            raise
        if status == 503:  # refused by the bulkhead before anything happened: the key stays retryable
            idempotency_release(record=record)
        else:
            idempotency_complete(record=record, status=status, body=answer)
        return Response(answer, status=status, headers=headers)

    def _charge(self, request, body, kwargs, idempotency_record=None) -> tuple[int, dict, dict]:
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
                    customer=customer, token=cleaned["token"], expires_at=cleaned["expires_at"]
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
        parameters=[IDEMPOTENCY_KEY],
        request=ChargeRequestSerializer,
        responses={201: ChargeResponseSerializer, 202: ChargeResponseSerializer, **ERRORS},
    )
    def post(self, request, user_id: str):
        return super().post(request, user_id=user_id)

    def find_customer(self, request, *, user_id: str):
        return selectors.customer_for_partner(partner=request.user.partner, customer_id=user_id)


class RfidChargesView(_ChargeCreateView):
    @extend_schema(
        operation_id="createChargeByRfid",
        summary="The same, finding the customer by an RFID session token",
        parameters=[IDEMPOTENCY_KEY],
        request=ChargeRequestSerializer,
        responses={201: ChargeResponseSerializer, 202: ChargeResponseSerializer, **ERRORS},
    )
    def post(self, request, session_token: str):
        return super().post(request, session_token=session_token)

    def find_customer(self, request, *, session_token: str):
        return selectors.customer_for_rfid(partner=request.user.partner, session_token=session_token)


class CustomerChargeDetailView(HopView):
    @extend_schema(operation_id="getCharge", responses={200: ChargeResponseSerializer, **ERRORS})
    def get(self, request, user_id: str, charge_id: str):
        customer = selectors.customer_for_partner(partner=request.user.partner, customer_id=user_id)
        if customer is None:
            raise errors.ObjectNotFound(kind="user", id=user_id)
        charge = selectors.charge_for_customer(customer=customer, charge_id=charge_id)
        if charge is None:
            raise errors.ObjectNotFound(kind="charge", id=charge_id)
        return Response(charge_body(charge, selectors.cents_balance(customer_id=customer.pk)))


def _page_param(request, name: str, default: int, highest: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= highest:
        raise errors.InvalidParameters(field_errors={name: [f"must be a whole number from 1 to {highest}"]})
    return int(raw)


class CustomerTransactionsView(HopView):
    @extend_schema(
        operation_id="listCentsTransactions",
        summary="The customer's cents history, newest first",
        parameters=[OpenApiParameter("page", int, default=1), OpenApiParameter("per_page", int, default=25)],
        responses={200: dict, **ERRORS},
    )
    def get(self, request, user_id: str):
        customer = selectors.customer_for_partner(partner=request.user.partner, customer_id=user_id)
        if customer is None:
            raise errors.ObjectNotFound(kind="user", id=user_id)
        page = _page_param(request, "page", 1, 10_000_000)
        per_page = _page_param(request, "per_page", 25, 100)
        entries = selectors.cents_history(customer=customer)[(page - 1) * per_page : page * per_page]
        rows = [
            {
                "id": entry.transaction_id,
                "type": entry.transaction.kind,
                "status": entry.transaction.status,
                "amount_in_cents": entry.amount,
                "created_at": entry.transaction.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "charge_id": getattr(getattr(entry.transaction, "card_charge", None), "pk", None),
            }
            for entry in entries
        ]
        return Response({"data": {"transactions": rows, "page": page, "per_page": per_page}})
