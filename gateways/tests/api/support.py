"""Helpers shared by the HOP API tests (DESIGN §4): URLs, the error envelope, the sandbox's view of what it received."""

from rest_framework.test import APIClient

from accounts.tests.factories import ServiceAccountFactory
from accounts.tests.helpers import bearer, hop_login
from gateways.bridgecomm import client as bridgecomm
from gateways.bridgecomm.types import GatewayResult
from gateways.models import CardCharge

# seeds/004_9cc3fc7f19becc09.txt: the `metadata` keys of the sample response, in the seed's order (an independent copy).
SEED_METADATA_KEYS = [
    "Token",
    "ExpirationDate",
    "AuthorizationCode",
    "ReferenceNumber",
    "AuthorizedAmount",
    "OriginalAmount",
    "GatewayTransID",
    "GatewayMessage",
    "InternalMessage",
    "GatewayResult",
    "AVSMessage",
    "AVSResult",
    "CVMessage",
    "CVResult",
    "TransactionCode",
    "TransactionDate",
    "RemainingAmount",
    "IsoCountryCode",
    "IsoCurrencyCode",
    "IsoTransactionDate",
    "IsoRequestDate",
    "NetworkReferenceNumber",
    "MerchantCategoryCode",
    "NetworkMerchantId",
    "NetworkTerminalId",
    "CardType",
    "MaskedPan",
    "ResponseTypeDescription",
    "IsCommercialCard",
    "StreetMatchMessage",
    "WalletID",
    "WalletPaymentMethodID",
    "WalletResponseCode",
    "WalletResponseMessage",
]
CHARGE_KEYS = ["id", "charge_at", "amount_in_cents", "balance_in_cents", "status", "metadata"]
CHARGE_AT_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def hop_error(code: int, message: str, errors: dict) -> dict:
    return {"data": {"code": code, "message": message, "errors": errors}}


USER_NOT_FOUND = hop_error(10004, "Record not found", {"user": ["not found"]})
UNAUTHORIZED = hop_error(10005, "Unauthorized", {"access": ["Unauthorized"]})
PAYMENT_MISSING = hop_error(10006, "Charge transaction failure", {"payment": ["details are missing"]})
INVALID_JSON = hop_error(10012, "Invalid Format", {"request": ["Invalid JSON Format"]})
ROUTE_NOT_FOUND = hop_error(10001, "Generic default error", {"route": ["not found"]})
KEY_IN_USE = hop_error(10015, "Idempotency key in use", {"idempotency_key": ["a request with this key is in progress"]})
KEY_REUSED = hop_error(10016, "Idempotency key reused", {"idempotency_key": ["was used with a different request"]})


def charge_failure(reason: str) -> dict:
    return hop_error(10006, "Charge transaction failure", {"charge": [reason]})


def invalid_params(errors: dict) -> dict:
    return hop_error(10013, "Param is missing or the value is empty", errors)


def charges_url(customer_id) -> str:
    return f"/api/v1/users/{customer_id}/charges"


def charge_url(customer_id, charge_id) -> str:
    return f"/api/v1/users/{customer_id}/charges/{charge_id}"


def transactions_url(customer_id) -> str:
    return f"/api/v1/users/{customer_id}/transactions"


def rfid_charges_url(session_token: str) -> str:
    return f"/api/v1/rfid/{session_token}/charges"


def charge_request(amount, **payment_method) -> dict:
    charge = {"amount_in_cents": amount}
    if payment_method:
        charge["payment_method"] = payment_method
    return {"charge": charge}


def authorizations(sandbox) -> list[dict]:
    """Every 004 request the sandbox received, oldest first."""
    return sandbox.control.requests(request_type="004")


def booked_authorizations(sandbox, transaction_id: str) -> list[dict]:
    """The 004 operations on the sandbox's books for one TransactionID (what the card was actually charged)."""
    return [op for op in sandbox.control.transactions(transaction_id=transaction_id) if op["request_type"] == "004"]


def resend_authorization(charge: CardCharge) -> GatewayResult:
    """Re-send the charge's authorization exactly as card_charge_create sent it: same TransactionID, same fields."""
    method = charge.payment_method
    return bridgecomm.authorize(
        transaction_id=charge.gateway_transaction_id,
        token=method.token,
        expiration_mmyy=method.expiration_mmyy,
        amount_cents=charge.amount_requested,
        invoice_num=str(charge.pk),
        customer_account_code=str(charge.customer_id),
    )


OTHER_SERVICE_PASSWORD = "another-service-password-2026"


def hop_client_for(*, partner, email: str) -> APIClient:
    """A new service account of `partner`, logged in through the API."""
    ServiceAccountFactory(partner=partner, email=email, password=OTHER_SERVICE_PASSWORD)
    response = hop_login(email, OTHER_SERVICE_PASSWORD)
    assert response.status_code == 201, response.content
    return bearer(response.json()["data"]["jwt"])
