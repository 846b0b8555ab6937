"""HOP routes of the cents wallet (DESIGN §4.1): the customer, purchases, comps and the history. Every write takes
an Idempotency-Key as the charge does; everything a partner may not see answers as an unknown customer."""

import math

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.response import Response

from accounts.api.hop import HopView
from core import errors
from core.api import hop as hop_envelope
from core.api.openapi import HOP_INVALID_JSON, HOP_KEY_IN_USE, HOP_KEY_REUSED, HOP_TOO_LARGE, hop_errors
from core.idempotency import idempotency_begin, idempotency_complete, idempotency_release, request_fingerprint
from gateways import selectors as gateway_selectors
from gateways.api.views import IDEMPOTENCY_KEY, TOO_MANY_REQUESTS, UNAUTHORIZED, USER_NOT_FOUND

from .. import selectors, services
from . import examples
from .serializers import (
    CompCreateSerializer,
    CompResponseSerializer,
    HopTransactionsResponseSerializer,
    PurchaseCreateSerializer,
    PurchaseResponseSerializer,
    PurchasesResponseSerializer,
    UserResponseSerializer,
    comp_body,
    history_row,
    parse_comp_request,
    parse_purchase_request,
    purchase_row,
    user_body,
)

MAX_PER_PAGE = 100
MAX_PAGE = 10_000_000

BAD_PARAMS = (
    hop_envelope.invalid_params({"amount_in_cents": ["must be a whole number of cents from 1 to 100000"]}),
    "10013 Param is missing or the value is empty: the body's object, a bad amount or field",
)
PAGE_PARAMETERS = [
    OpenApiParameter("page", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}, default=1, description="1-based page"),
    OpenApiParameter(
        "per_page", {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE}, default=100, description="page size, at most 100"
    ),
]
BAD_PAGE = (
    hop_envelope.invalid_params({"per_page": ["must be a whole number from 1 to 100"]}),
    "10013 page, per_page or q out of range",
)


class WalletWriteView(HopView):
    """A write with HOP's Idempotency-Key (Stripe semantics, per service account): the answer, refusals included,
    is stored under the key and replayed for the same request. `write` returns (status, body); a refusal it raises
    is rendered by `render_refusal` (HOP's codes here, Drink Command's on its routes)."""

    render_refusal = staticmethod(hop_envelope.to_hop_error)

    def write(self, request, body, idempotency_record, **kwargs) -> tuple[int, dict]:
        raise NotImplementedError

    def post(self, request, **kwargs):
        body = request.data  # parse first: a broken body is 10012 whatever else is wrong
        key = request.headers.get("Idempotency-Key")
        if key is None:
            status, answer, headers = self._answer(request, body, None, kwargs)
            return Response(answer, status=status, headers=headers)
        record, replay = idempotency_begin(
            client=request.user, key=key, fingerprint=request_fingerprint(method="POST", path=request.path, body=body)
        )
        if replay is not None:
            status, replayed = replay
            return Response(replayed, status=status, headers={"Idempotent-Replayed": "true"})
        try:
            status, answer, headers = self._answer(request, body, record, kwargs)
        except BaseException:
            idempotency_release(record=record)
            raise
        if status == 503:  # refused by the bulkhead before anything happened: the key stays retryable
            idempotency_release(record=record)
        else:
            idempotency_complete(record=record, status=status, body=answer)
        return Response(answer, status=status, headers=headers)

    def _answer(self, request, body, record, kwargs) -> tuple[int, dict, dict]:
        try:
            status, answer = self.write(request, body, record, **kwargs)
        except errors.ChargepayError as refusal:
            error = self.render_refusal(refusal)
            if error is None:
                raise
            return error.status, error.body(), error.headers
        return status, answer, {}


def _customer_or_not_found(request, user_id: str):
    customer = gateway_selectors.customer_for_partner(partner=request.user.partner, customer_id=user_id)
    if customer is None:
        raise errors.ObjectNotFound(kind="user", id=user_id)
    return customer


def page_params(request) -> tuple[int, int]:
    def one(name: str, default: int, highest: int) -> int:
        raw = request.query_params.get(name)
        if raw is None:
            return default
        if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= highest:
            raise errors.InvalidParameters(field_errors={name: [f"must be a whole number from 1 to {highest}"]})
        return int(raw)

    return one("page", 1, MAX_PAGE), one("per_page", MAX_PER_PAGE, MAX_PER_PAGE)


def paged(queryset, page: int, per_page: int) -> tuple[dict, list]:
    """HOP's paging fields (`total`, `pages`, `next_page`) and the page's rows."""
    total = queryset.count()
    pages = math.ceil(total / per_page)
    rows = list(queryset[(page - 1) * per_page : page * per_page]) if page <= pages else []
    return {"total": total, "pages": pages, "next_page": page + 1 if page < pages else None}, rows


class UserView(HopView):
    @extend_schema(
        operation_id="getUser",
        summary="The customer as this partner may see them",
        description="Found by customer id or by an active RFID session token (HOP's `:id_or_rfid`; an id wins). The "
        "balance is the one wallet's; the card is the one this partner stored (another partner's card is no card: null), "
        "its token masked.",
        responses={
            200: OpenApiResponse(UserResponseSerializer, description="The customer", examples=[examples.USER]),
            **hop_errors(UNAUTHORIZED, TOO_MANY_REQUESTS, USER_NOT_FOUND),
        },
    )
    def get(self, request, user_id: str):
        partner = request.user.partner
        customer = selectors.customer_by_id_or_rfid(partner=partner, value=user_id)
        if customer is None:
            raise errors.ObjectNotFound(kind="user", id=user_id)
        wallet = selectors.cents_wallet(customer_id=customer.pk)
        method = gateway_selectors.payment_method_on_record(customer=customer, partner=partner)
        card_type = selectors.card_type(method=method) if method else None
        return Response(
            user_body(customer, balance=wallet.balance, credit_limit=wallet.credit_limit, method=method, card_type=card_type)
        )


class PurchasesView(WalletWriteView):
    @extend_schema(
        operation_id="listPurchases",
        summary="The purchases this partner made for the customer, newest first",
        parameters=PAGE_PARAMETERS,
        responses={
            200: OpenApiResponse(PurchasesResponseSerializer, description="A page of purchases", examples=[examples.PURCHASES]),
            **hop_errors(UNAUTHORIZED, TOO_MANY_REQUESTS, USER_NOT_FOUND, BAD_PAGE),
        },
    )
    def get(self, request, user_id: str):
        customer = _customer_or_not_found(request, user_id)
        page, per_page = page_params(request)
        fields, rows = paged(selectors.purchases_for_customer(partner=request.user.partner, customer=customer), page, per_page)
        return Response({"data": {**fields, "purchases": [purchase_row(p, p.balance_after) for p in rows]}})

    @extend_schema(
        operation_id="createPurchase",
        summary="Spend from the customer's cents balance",
        description="Debits the wallet, down to minus the customer's credit limit (finance sets it; default 0). Below "
        "it: 400 10008 and nothing is recorded. Concurrent purchases on one wallet never pass the limit.",
        parameters=[IDEMPOTENCY_KEY],
        request=PurchaseCreateSerializer,
        examples=[examples.PURCHASE_REQUEST],
        responses={
            201: OpenApiResponse(PurchaseResponseSerializer, description="Spent", examples=[examples.PURCHASE]),
            **hop_errors(
                UNAUTHORIZED,
                TOO_MANY_REQUESTS,
                USER_NOT_FOUND,
                (
                    hop_envelope.HopError(400, 10008, "Purchase transaction failure", {"balance": ["is not sufficient"]}),
                    "10008 Purchase transaction failure: the balance would pass the credit limit; nothing recorded",
                ),
                HOP_KEY_IN_USE,
                HOP_TOO_LARGE,
                HOP_INVALID_JSON,
                BAD_PARAMS,
                HOP_KEY_REUSED,
            ),
        },
    )
    def post(self, request, user_id: str):
        return super().post(request, user_id=user_id)

    def write(self, request, body, idempotency_record, *, user_id: str):
        customer = _customer_or_not_found(request, user_id)
        field_errors, cleaned = parse_purchase_request(body)
        if field_errors:
            raise errors.InvalidParameters(field_errors=field_errors)
        purchase = services.purchase_create(
            requested_by=request.user,
            customer=customer,
            amount_cents=cleaned["amount_in_cents"],
            qty=cleaned["qty"],
            venue_id=cleaned["venue_id"],
            tap_id=cleaned["tap_id"],
            employee_id=cleaned["employee_id"],
            description=cleaned["description"],
            idempotency_record=idempotency_record,
        )
        balance = selectors.balance_after(transaction_id=purchase.ledger_transaction_id)
        return 201, {"data": {"purchase": purchase_row(purchase, balance)}}


class CompsView(WalletWriteView):
    @extend_schema(
        operation_id="createComp",
        summary="Credit the customer's cents balance as goodwill (no card)",
        description="Needs the `wallet.comp_wallet` permission on the service account besides the right to charge "
        "(without it: 401 10005). A negative amount: 406 10010.",
        parameters=[IDEMPOTENCY_KEY],
        request=CompCreateSerializer,
        examples=[examples.COMP_REQUEST],
        responses={
            201: OpenApiResponse(CompResponseSerializer, description="Comped", examples=[examples.COMP]),
            **hop_errors(
                (hop_envelope.unauthorized(), "10005 Unauthorized: bad or missing token, or no right to charge or to comp"),
                TOO_MANY_REQUESTS,
                USER_NOT_FOUND,
                (
                    hop_envelope.HopError(
                        406, 10010, "Comp transaction failure", {"amount_in_cents": ["must be greater than or equal to 0"]}
                    ),
                    "10010 Comp transaction failure: a negative amount (HOP's sample)",
                ),
                HOP_KEY_IN_USE,
                HOP_TOO_LARGE,
                HOP_INVALID_JSON,
                BAD_PARAMS,
                HOP_KEY_REUSED,
            ),
        },
    )
    def post(self, request, user_id: str):
        if not request.user.has_perm("wallet.comp_wallet"):
            raise errors.AuthorizationInvalid()
        return super().post(request, user_id=user_id)

    def write(self, request, body, idempotency_record, *, user_id: str):
        customer = _customer_or_not_found(request, user_id)
        field_errors, cleaned = parse_comp_request(body)
        if field_errors:
            raise errors.InvalidParameters(field_errors=field_errors)
        comp = services.comp_create(
            requested_by=request.user,
            customer=customer,
            amount_cents=cleaned["amount_in_cents"],
            venue_id=cleaned["venue_id"],
            employee_id=cleaned["employee_id"],
            description=cleaned["description"],
            idempotency_record=idempotency_record,
        )
        return 201, comp_body(comp, selectors.balance_after(transaction_id=comp.ledger_transaction_id))


class TransactionsView(HopView):
    @extend_schema(
        operation_id="listCentsTransactions",
        summary="The customer's cents history, newest first (HOP's transactions_history.md)",
        description="The rows this partner made (charges and their refunds, credits to the card, purchases, comps, tap "
        "line items), newest first, each with the one wallet's balance right after it. The customer by id or RFID "
        "session token. `q` keeps one type.",
        parameters=[
            *PAGE_PARAMETERS,
            OpenApiParameter(
                "q",
                {"type": "string", "enum": list(selectors.HOP_TYPE_NAMES)},
                description="Only this type of transaction (default: all)",
            ),
        ],
        responses={
            200: OpenApiResponse(
                HopTransactionsResponseSerializer, description="A page of the history", examples=[examples.HISTORY]
            ),
            **hop_errors(UNAUTHORIZED, TOO_MANY_REQUESTS, USER_NOT_FOUND, BAD_PAGE),
        },
    )
    def get(self, request, user_id: str):
        partner = request.user.partner
        customer = selectors.customer_by_id_or_rfid(partner=partner, value=user_id)
        if customer is None:
            raise errors.ObjectNotFound(kind="user", id=user_id)
        page, per_page = page_params(request)
        hop_type = request.query_params.get("q")
        if hop_type is not None and hop_type not in selectors.HOP_TYPE_NAMES:
            raise errors.InvalidParameters(field_errors={"q": [f"must be one of {', '.join(selectors.HOP_TYPE_NAMES)}"]})
        fields, entries = paged(selectors.cents_history(customer=customer, partner=partner, hop_type=hop_type), page, per_page)
        return Response({"data": {**fields, "transactions": [history_row(entry) for entry in entries]}})
