"""&Charge partner API: kilometer payments, balance and transaction history (DESIGN §3)."""

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.response import Response

from accounts.api.andcharge import AndChargeView
from core import errors
from core.api.fields import validated
from core.api.openapi import (
    ANDCHARGE_FORBIDDEN,
    ANDCHARGE_RATE_LIMITED,
    ANDCHARGE_TOO_LARGE,
    ANDCHARGE_UNAUTHORIZED,
    andcharge_errors,
)
from ledger import selectors, services

from ..representations import transaction_representation
from .serializers import (
    ACCOUNT_SUMMARY_CONSTANTS,
    CO2_OFFSET,
    CO2_REQUEST_EXAMPLE,
    CO2_TRANSACTION_EXAMPLE,
    DONATE,
    DONATION_REQUEST_EXAMPLE,
    DONATION_TRANSACTION_EXAMPLE,
    PAY,
    SEED_REQUEST_EXAMPLE,
    SEED_TRANSACTION_EXAMPLE,
    AccountSummarySerializer,
    TransactionRequestSerializer,
    TransactionSerializer,
    transaction_request_fast,
)

MAX_PAGE_SIZE = 100
MAX_PAGE = 10_000_000

# The errors of every partner call on a user's account, in the order they are checked.
BAD_USER_ID = (errors.ParameterMaxLength("userId", 100), "PARAMETER_MAX_LENGTH userId: over 100 characters")
USER_NOT_FOUND = (errors.ObjectNotFound("user", "msp_001-unknown"), "REFERENCED_OBJECT_NOT_FOUND user: userId not linked (seed)")
SEED_TRANSACTION = OpenApiExample("seed", value=SEED_TRANSACTION_EXAMPLE, summary="The seed's sample answer")
CO2_REQUEST = OpenApiExample(
    "co2Offset", value=CO2_REQUEST_EXAMPLE, request_only=True, summary="CO2 offset, kilometers computed (the doc's sample)"
)
CO2_TRANSACTION = OpenApiExample(
    "co2Offset",
    value=CO2_TRANSACTION_EXAMPLE,
    response_only=True,
    summary="CO2 offset (the doc's sample; the kilometers follow the grid intensity table)",
)
DONATION_REQUEST = OpenApiExample("donation", value=DONATION_REQUEST_EXAMPLE, request_only=True, summary="A donation")
DONATION_TRANSACTION = OpenApiExample("donation", value=DONATION_TRANSACTION_EXAMPLE, response_only=True, summary="A donation")
USER_ID = OpenApiParameter(
    "user_id",
    {"type": "string", "maxLength": 100},
    OpenApiParameter.PATH,
    description="The partner's own user id (linked first).",
)


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


# The listing, under both of its paths (the /public alias below)
LISTING_SCHEMA = {
    "parameters": [
        USER_ID,
        OpenApiParameter(
            "page", {"type": "integer", "minimum": 0, "maximum": MAX_PAGE}, description="0-based page number", default=0
        ),
        OpenApiParameter(
            "limit", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE}, description="page size", default=20
        ),
    ],
    "responses": {
        200: OpenApiResponse(
            TransactionSerializer(many=True),
            description="A page of transactions",
            examples=[OpenApiExample("seed", value=[SEED_TRANSACTION_EXAMPLE], summary="One payment")],
        ),
        **andcharge_errors(
            BAD_USER_ID,
            (errors.InvalidParameter("-1", "page"), "INVALID_PARAMETER page: page or limit out of range"),
            ANDCHARGE_UNAUTHORIZED,
            ANDCHARGE_FORBIDDEN,
            USER_NOT_FOUND,
            ANDCHARGE_RATE_LIMITED,
        ),
    },
}


class AccountTransactionsView(AndChargeView):
    key_checked_by_service = frozenset({"POST"})  # the payment checks the key in its own round trip

    @extend_schema(
        operation_id="createTransaction",
        summary="Pay for a charging session, its CO2 offset or a CO2 donation with kilometers",
        description="Debits the linked user's kilometers in one balanced transaction. PAY_FOR_CHARGING_SESSION pays "
        "the session; CO2_OFFSET_CHARGING_SESSION offsets its CO2 (kilometer optional: when absent it is computed from "
        "the energy, or MAX_CHARGING_POWER × hours × a load factor, and the country's grid intensity); "
        "DONATE_FOR_CO2_OFFSET donates (answers type CO2_DONATION). One transactionId namespace for all three. "
        "Checks run in this order: "
        "token, partner, rate limit, body, already processed, user link, balance; a refused request (4xx) does not "
        "use up its transactionId. Beyond what the schema states: SESSION_START/END must be real instants with "
        "SESSION_END ≥ SESSION_START, GEO_POSITION_* in range (lat ±90, lon ±180), COUNTRY an ISO 3166 code "
        "(INVALID_PARAMETER otherwise).",
        parameters=[USER_ID],
        request=TransactionRequestSerializer,
        examples=[
            OpenApiExample("seed", value=SEED_REQUEST_EXAMPLE, request_only=True, summary="The seed's sample request"),
            CO2_REQUEST,
            DONATION_REQUEST,
        ],
        responses={
            201: OpenApiResponse(
                TransactionSerializer, description="Paid", examples=[SEED_TRANSACTION, CO2_TRANSACTION, DONATION_TRANSACTION]
            ),
            **andcharge_errors(
                (errors.InvalidFormat("request body is not valid JSON"), "INVALID_FORMAT: the body is not a JSON object"),
                (
                    errors.MandatoryParameterNotSet("serviceSpecificData.EVSE_ID"),
                    "MANDATORY_PARAMETER_NOT_SET: a key is missing or null",
                ),
                (errors.ParameterMaxLength("transactionId", 100), "PARAMETER_MAX_LENGTH: a text over its maximum"),
                (errors.InvalidParameter(-5, "kilometer"), "INVALID_PARAMETER: any other bad value (seed)"),
                BAD_USER_ID,
                ANDCHARGE_UNAUTHORIZED,
                ANDCHARGE_FORBIDDEN,
                USER_NOT_FOUND,
                (errors.TransactionAlreadyProcessed("348328463873"), "TRANSACTION_ALREADY_PROCESSED: transactionId used (seed)"),
                ANDCHARGE_TOO_LARGE,
                (errors.InsufficientBalance(15, 25), "ACCOUNT_BALANCE_NOT_SUFFICIENT: [available, requested] (seed)"),
                ANDCHARGE_RATE_LIMITED,
            ),
        },
    )
    def post(self, request, partner_id: str, user_id: str):
        data = transaction_request_fast(request.data) or validated(TransactionRequestSerializer, request)
        principal = request.user
        try:
            if data["service"] == PAY:
                txn = services.charging_session_pay(
                    access_key_id=principal.access_key_id,
                    partner_code=principal.partner_code,
                    external_user_id=user_id,
                    external_id=data["transactionId"],
                    kilometer=data["kilometer"],
                    reference=data.get("transactionReference") or "",
                    service_data=data["serviceSpecificData"],
                )
            else:
                pay = services.co2_offset_pay if data["service"] == CO2_OFFSET else services.co2_donation_pay
                txn = pay(
                    access_key_id=principal.access_key_id,
                    partner_code=principal.partner_code,
                    external_user_id=user_id,
                    external_id=data["transactionId"],
                    kilometer=data.get("kilometer"),
                    reference=data.get("transactionReference") or "",
                    service_data=data["serviceSpecificData"],
                )
        except services.PAYMENT_REFUSALS_AFTER_KEY_CHECK:
            # Decided in the statement that found the key active: asking again could only turn it into a 500.
            principal.key_found_active()
            raise
        principal.key_found_active(partner=txn.partner)
        return Response(transaction_representation(txn), status=201)

    @extend_schema(
        operation_id="listTransactions",
        summary="This partner's transactions for one user, newest first",
        description="Only this partner's payments; a reversed one reads CANCELLED.",
        **LISTING_SCHEMA,
    )
    def get(self, request, partner_id: str, user_id: str):
        page = _query_int(request, "page", 0, 0, MAX_PAGE)
        limit = _query_int(request, "limit", 20, 1, MAX_PAGE_SIZE)
        wallet = _linked_wallet(self, user_id)
        rows = selectors.partner_transactions_for_customer(partner=self.partner, customer_id=wallet.customer_id)
        return Response(TransactionSerializer(rows[page * limit : (page + 1) * limit], many=True).data)


class PartnerTransactionsView(AndChargeView):
    """`POST /v1/partners/{pid}/transactions`: the partner pays a session's CO2 offset itself (no user)."""

    @extend_schema(
        operation_id="createPartnerTransaction",
        summary="Offset a charging session's CO2 at the partner's own cost",
        description="The body of createTransaction with service CO2_OFFSET_CHARGING_SESSION (any other service is "
        "INVALID_PARAMETER): the kilometers, as sent or computed, are booked to the partner's CO2 billing account and "
        "billed in its monthly statement. No user, so no user lookup and no balance check. The same transactionId "
        "namespace as every other transaction of the partner.",
        request=TransactionRequestSerializer,
        examples=[CO2_REQUEST],
        responses={
            201: OpenApiResponse(TransactionSerializer, description="Booked to the partner", examples=[CO2_TRANSACTION]),
            **andcharge_errors(
                (errors.InvalidFormat("request body is not valid JSON"), "INVALID_FORMAT: the body is not a JSON object"),
                (
                    errors.MandatoryParameterNotSet("serviceSpecificData.CPO_ID"),
                    "MANDATORY_PARAMETER_NOT_SET: a key is missing or null",
                ),
                (errors.ParameterMaxLength("transactionId", 100), "PARAMETER_MAX_LENGTH: a text over its maximum"),
                (errors.InvalidParameter(DONATE, "service"), "INVALID_PARAMETER: any other bad value"),
                ANDCHARGE_UNAUTHORIZED,
                ANDCHARGE_FORBIDDEN,
                (errors.TransactionAlreadyProcessed("348324563873"), "TRANSACTION_ALREADY_PROCESSED: transactionId used"),
                ANDCHARGE_TOO_LARGE,
                ANDCHARGE_RATE_LIMITED,
            ),
        },
    )
    def post(self, request, partner_id: str):
        data = validated(TransactionRequestSerializer, request, context={"services": {CO2_OFFSET}})
        txn = services.co2_offset_partner_pay(
            partner=self.partner,
            external_id=data["transactionId"],
            kilometer=data.get("kilometer"),
            reference=data.get("transactionReference") or "",
            service_data=data["serviceSpecificData"],
        )
        return Response(transaction_representation(txn), status=201)


class AccountTransactionDetailView(AndChargeView):
    @extend_schema(
        operation_id="getTransaction",
        summary="One transaction by the partner's transactionId",
        description="Learn the outcome of a payment whose answer was lost.",
        parameters=[USER_ID],
        responses={
            200: OpenApiResponse(TransactionSerializer, description="The transaction", examples=[SEED_TRANSACTION]),
            **andcharge_errors(
                BAD_USER_ID,
                ANDCHARGE_UNAUTHORIZED,
                ANDCHARGE_FORBIDDEN,
                USER_NOT_FOUND,
                (
                    errors.ObjectNotFound("transaction", "348328463874"),
                    "REFERENCED_OBJECT_NOT_FOUND transaction: no such transactionId",
                ),
                ANDCHARGE_RATE_LIMITED,
            ),
        },
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
        description="kmPending sums OPEN transactions (none today).",
        parameters=[USER_ID],
        responses={
            200: OpenApiResponse(
                AccountSummarySerializer,
                description="The balance",
                examples=[
                    OpenApiExample(
                        "balance",
                        value={"userId": "pcsUserId001", "kmAvailable": 62, "kmPending": 0},
                        summary="After the seed's payment",
                    )
                ],
            ),
            **andcharge_errors(BAD_USER_ID, ANDCHARGE_UNAUTHORIZED, ANDCHARGE_FORBIDDEN, USER_NOT_FOUND, ANDCHARGE_RATE_LIMITED),
        },
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
        description="Only this partner's payments; a reversed one reads CANCELLED.",
        **LISTING_SCHEMA,
    )
    def get(self, request, partner_id: str, user_id: str):
        return super().get(request, partner_id, user_id)
