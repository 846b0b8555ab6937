"""&Charge partner API: kilometer payments, balance and transaction history (DESIGN §3)."""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.response import Response

from accounts.api.andcharge import AndChargeView
from core import errors
from core.api.andcharge import ErrorSerializer
from core.api.fields import validated
from ledger import selectors, services

from .serializers import (
    ACCOUNT_SUMMARY_CONSTANTS,
    AccountSummarySerializer,
    TransactionRequestSerializer,
    TransactionSerializer,
    transaction_representation,
    transaction_request_fast,
)

MAX_PAGE_SIZE = 100

ERRORS = {
    400: OpenApiResponse(
        ErrorSerializer, description="INVALID_FORMAT, MANDATORY_PARAMETER_NOT_SET, PARAMETER_MAX_LENGTH, INVALID_PARAMETER"
    ),
    401: OpenApiResponse(ErrorSerializer, description="AUTHORIZATION_INVALID"),
    403: OpenApiResponse(ErrorSerializer, description="ACCESS_DENIED: the token is not for this partnerId"),
    404: OpenApiResponse(ErrorSerializer, description='REFERENCED_OBJECT_NOT_FOUND ["user", userId]'),
    429: OpenApiResponse(ErrorSerializer, description="TOO_MANY_REQUESTS [retryAfterSeconds]"),
    500: OpenApiResponse(ErrorSerializer, description="INTERNAL_ERROR [requestId]"),
}


def _linked_wallet(view: AndChargeView, user_id: str):
    wallet = selectors.wallet_for_partner_user(partner=view.partner, external_user_id=user_id)
    if wallet is None:
        raise errors.ObjectNotFound("user", user_id)
    return wallet


def _query_int(request, name: str, default: int, lowest: int, highest: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    if not raw.isascii() or not raw.isdigit() or not lowest <= int(raw) <= highest:
        raise errors.InvalidParameter(raw, name)
    return int(raw)


class AccountTransactionsView(AndChargeView):
    key_checked_by_service = frozenset({"POST"})  # the payment checks the key in its own round trip

    @extend_schema(
        operation_id="createTransaction",
        summary="Pay for a charging session with kilometers",
        request=TransactionRequestSerializer,
        responses={
            201: TransactionSerializer,
            **ERRORS,
            409: OpenApiResponse(ErrorSerializer, description="TRANSACTION_ALREADY_PROCESSED [transactionId]"),
            422: OpenApiResponse(ErrorSerializer, description="ACCOUNT_BALANCE_NOT_SUFFICIENT [available, requested]"),
        },
    )
    def post(self, request, partner_id: str, user_id: str):
        data = transaction_request_fast(request.data) or validated(TransactionRequestSerializer, request)
        principal = request.user
        txn = services.charging_session_pay(
            access_key_id=principal.access_key_id,
            partner_code=principal.partner_code,
            external_user_id=user_id,
            external_id=data["transactionId"],
            kilometer=data["kilometer"],
            reference=data.get("transactionReference") or "",
            service_data=data["serviceSpecificData"],
        )
        principal.key_found_active(partner=txn.partner)
        return Response(transaction_representation(txn), status=201)

    @extend_schema(
        operation_id="listTransactions",
        summary="This partner's transactions for one user, newest first",
        parameters=[
            OpenApiParameter("page", int, description="0-based page number", default=0),
            OpenApiParameter("limit", int, description=f"page size, 1–{MAX_PAGE_SIZE}", default=20),
        ],
        responses={200: TransactionSerializer(many=True), **ERRORS},
    )
    def get(self, request, partner_id: str, user_id: str):
        page = _query_int(request, "page", 0, 0, 10_000_000)
        limit = _query_int(request, "limit", 20, 1, MAX_PAGE_SIZE)
        wallet = _linked_wallet(self, user_id)
        rows = selectors.partner_transactions_for_customer(partner=self.partner, customer_id=wallet.customer_id)
        return Response(TransactionSerializer(rows[page * limit : (page + 1) * limit], many=True).data)


class AccountTransactionDetailView(AndChargeView):
    @extend_schema(
        operation_id="getTransaction",
        summary="One transaction by the partner's transactionId",
        responses={200: TransactionSerializer, **ERRORS},
    )
    def get(self, request, partner_id: str, user_id: str, transaction_id: str):
        wallet = _linked_wallet(self, user_id)
        txn = selectors.partner_transaction_get(partner=self.partner, customer_id=wallet.customer_id, external_id=transaction_id)
        if txn is None:
            raise errors.ObjectNotFound("transaction", transaction_id)
        return Response(TransactionSerializer(txn).data)


class AccountView(AndChargeView):
    @extend_schema(
        operation_id="getAccount",
        summary="A linked user's kilometer balance",
        responses={200: AccountSummarySerializer, **ERRORS},
    )
    def get(self, request, partner_id: str, user_id: str):
        wallet = _linked_wallet(self, user_id)
        summary = {
            "userId": user_id,
            "kmAvailable": wallet.balance,
            "kmPending": selectors.wallet_pending(account=wallet),
            **ACCOUNT_SUMMARY_CONSTANTS,
        }
        return Response(AccountSummarySerializer(summary).data)


class PublicAccountTransactionsView(AccountTransactionsView):
    """`GET /public/v1/partners/{pid}/accounts/{userId}/transactions`: the listing under the URL of &Charge's
    user_transactions.md (the same token, checks and answer)."""

    http_method_names = ["get", "options"]

    @extend_schema(
        operation_id="listTransactionsPublicPath",
        summary="The listing, under the /public prefix (an alias)",
        parameters=[
            OpenApiParameter("page", int, description="0-based page number", default=0),
            OpenApiParameter("limit", int, description=f"page size, 1–{MAX_PAGE_SIZE}", default=20),
        ],
        responses={200: TransactionSerializer(many=True), **ERRORS},
    )
    def get(self, request, partner_id: str, user_id: str):
        return super().get(request, partner_id, user_id)
