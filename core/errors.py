"""One error hierarchy for the whole product.

Domain code raises these; each API's exception handler renders them in that API's envelope, and views raise
nothing else. Every error has a stable `code` (partners switch on it, never on text), an HTTP `status`, and
named fields (`InsufficientBalance(available=15, requested=25)`; positional values bind in field order).
Readers use the names; the &Charge envelope lists the values in field order as its `args`
(`{"error": code, "args": [15, 25]}`).
"""

from enum import StrEnum


class ErrorCode(StrEnum):
    INVALID_FORMAT = "INVALID_FORMAT"
    MANDATORY_PARAMETER_NOT_SET = "MANDATORY_PARAMETER_NOT_SET"
    PARAMETER_MAX_LENGTH = "PARAMETER_MAX_LENGTH"
    INVALID_PARAMETER = "INVALID_PARAMETER"
    AUTHORIZATION_INVALID = "AUTHORIZATION_INVALID"
    ACCESS_DENIED = "ACCESS_DENIED"
    REFERENCED_OBJECT_NOT_FOUND = "REFERENCED_OBJECT_NOT_FOUND"
    METHOD_NOT_ALLOWED = "METHOD_NOT_ALLOWED"
    PAYLOAD_TOO_LARGE = "PAYLOAD_TOO_LARGE"
    TRANSACTION_ALREADY_PROCESSED = "TRANSACTION_ALREADY_PROCESSED"
    TRANSACTION_ALREADY_REVERSED = "TRANSACTION_ALREADY_REVERSED"
    TRANSACTION_NOT_REVERSIBLE = "TRANSACTION_NOT_REVERSIBLE"
    ACCOUNT_BALANCE_NOT_SUFFICIENT = "ACCOUNT_BALANCE_NOT_SUFFICIENT"
    TOO_MANY_REQUESTS = "TOO_MANY_REQUESTS"
    LOGIN_LOCKED_OUT = "LOGIN_LOCKED_OUT"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    PAYMENT_DETAILS_MISSING = "PAYMENT_DETAILS_MISSING"
    CHARGE_FAILED = "CHARGE_FAILED"
    CREDIT_FAILED = "CREDIT_FAILED"
    IDEMPOTENCY_KEY_IN_USE = "IDEMPOTENCY_KEY_IN_USE"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    STAFF_LIMIT_EXCEEDED = "STAFF_LIMIT_EXCEEDED"
    WORK_IN_PROGRESS = "WORK_IN_PROGRESS"
    CHARGE_STATE_CONFLICT = "CHARGE_STATE_CONFLICT"
    API_KEY_ALREADY_REVOKED = "API_KEY_ALREADY_REVOKED"
    GATEWAY_BUSY = "GATEWAY_BUSY"
    PARTNER_ALREADY_REGISTERED = "PARTNER_ALREADY_REGISTERED"
    # The hosted link page's answers (sent back to the partner's callbackUrl as `error=`)
    ACCOUNT_LINKED_TO_DIFFERENT_USER = "ACCOUNT_LINKED_TO_DIFFERENT_USER"
    PARTNER_NOT_FOUND = "PARTNER_NOT_FOUND"
    ACTIVATION_CODE_NOT_FOUND = "ACTIVATION_CODE_NOT_FOUND"
    GENERAL_PROCESSING_FAILURE = "GENERAL_PROCESSING_FAILURE"
    # Spending the cents wallet (purchases, comps, the tap system's line items)
    PURCHASE_FAILED = "PURCHASE_FAILED"
    COMP_FAILED = "COMP_FAILED"
    LINE_ITEM_FAILED = "LINE_ITEM_FAILED"
    PAYMENT_EXPIRED = "PAYMENT_EXPIRED"
    CREDIT_LIMIT_BELOW_BALANCE = "CREDIT_LIMIT_BELOW_BALANCE"
    LINE_ITEM_STATE_CONFLICT = "LINE_ITEM_STATE_CONFLICT"


class ChargepayError(Exception):
    code: ErrorCode = ErrorCode.INTERNAL_ERROR
    status: int = 500
    fields: tuple[str, ...] = ()  # the error's named fields, in the order the &Charge envelope lists them

    def __init__(self, *values, **named):
        if len(values) > len(self.fields):
            raise TypeError(f"{type(self).__name__} takes the fields {self.fields}, got {values!r}")
        bound = dict(zip(self.fields, values, strict=False))
        unknown = set(named) - set(self.fields) | set(named) & set(bound)
        missing = set(self.fields) - set(bound) - set(named)
        if unknown or missing:
            raise TypeError(f"{type(self).__name__} takes the fields {self.fields}, got {values!r} and {named!r}")
        bound.update(named)
        for name in self.fields:
            setattr(self, name, bound[name])
        super().__init__(*(bound[name] for name in self.fields))

    @property
    def values(self) -> list:
        """The fields' values in field order (the &Charge envelope's `args`)."""
        return [getattr(self, name) for name in self.fields]

    def __str__(self) -> str:
        return f"{self.code}: {self.values}"


# --- Request errors ---------------------------------------------------------------------------
class InvalidFormat(ChargepayError):
    fields = ("message",)
    code, status = ErrorCode.INVALID_FORMAT, 400


class MandatoryParameterNotSet(ChargepayError):
    fields = ("name",)
    code, status = ErrorCode.MANDATORY_PARAMETER_NOT_SET, 400


class ParameterMaxLength(ChargepayError):
    fields = ("name", "max_length")
    code, status = ErrorCode.PARAMETER_MAX_LENGTH, 400


class InvalidParameter(ChargepayError):
    fields = ("value", "name")
    code, status = ErrorCode.INVALID_PARAMETER, 400


class InvalidParameters(ChargepayError):
    """Several parameters refused at once: `field_errors` = {name: [messages]} (HOP answers them all)."""

    fields = ("field_errors",)
    code, status = ErrorCode.INVALID_PARAMETER, 400


class AuthorizationInvalid(ChargepayError):
    code, status = ErrorCode.AUTHORIZATION_INVALID, 401


class AccessDenied(ChargepayError):
    code, status = ErrorCode.ACCESS_DENIED, 403


class ObjectNotFound(ChargepayError):
    """e.g. kind="user", id="pcsUserId001". A forbidden object answers the same."""

    fields = ("kind", "id")
    code, status = ErrorCode.REFERENCED_OBJECT_NOT_FOUND, 404


class MethodNotAllowed(ChargepayError):
    fields = ("method",)
    code, status = ErrorCode.METHOD_NOT_ALLOWED, 405


class PayloadTooLarge(ChargepayError):
    """The request body is (or says it is) larger than the API reads."""

    fields = ("max_bytes",)
    code, status = ErrorCode.PAYLOAD_TOO_LARGE, 413


class TooManyRequests(ChargepayError):
    fields = ("retry_after_seconds",)
    code, status = ErrorCode.TOO_MANY_REQUESTS, 429


class LoginLockedOut(ChargepayError):
    """Too many failed log-ins for this account from this address: refused for a while, even with the right
    password; `retry_after_seconds` is how long the lockout still runs."""

    fields = ("retry_after_seconds",)
    code, status = ErrorCode.LOGIN_LOCKED_OUT, 429


class InternalError(ChargepayError):
    """Never expected; the log has the traceback, the caller only the request id."""

    fields = ("request_id",)
    code, status = ErrorCode.INTERNAL_ERROR, 500


# --- Ledger errors ----------------------------------------------------------------------------
class TransactionAlreadyProcessed(ChargepayError):
    fields = ("transaction_id",)  # the partner's transactionId
    code, status = ErrorCode.TRANSACTION_ALREADY_PROCESSED, 409


class TransactionAlreadyReversed(ChargepayError):
    fields = ("transaction_pk",)
    code, status = ErrorCode.TRANSACTION_ALREADY_REVERSED, 409


class TransactionNotReversible(ChargepayError):
    fields = ("transaction_pk", "why")
    code, status = ErrorCode.TRANSACTION_NOT_REVERSIBLE, 409


class StaffLimitExceeded(ChargepayError):
    """A staff action above what the user's role may do alone."""

    fields = ("amount", "limit", "unit")
    code, status = ErrorCode.STAFF_LIMIT_EXCEEDED, 403


class WorkInProgress(ChargepayError):
    """A worker is on it right now; try again when it is done."""

    fields = ("object_pk", "what")
    code, status = ErrorCode.WORK_IN_PROGRESS, 409


class InsufficientBalance(ChargepayError):
    fields = ("available", "requested")
    code, status = ErrorCode.ACCOUNT_BALANCE_NOT_SUFFICIENT, 422


class ApiKeyAlreadyRevoked(ChargepayError):
    fields = ("access_key_id",)
    code, status = ErrorCode.API_KEY_ALREADY_REVOKED, 409


# --- Linking and partner self-service errors -------------------------------------------------
class PartnerAlreadyRegistered(ChargepayError):
    fields = ("partner_id",)
    code, status = ErrorCode.PARTNER_ALREADY_REGISTERED, 400


class PartnerNotFound(ChargepayError):
    fields = ("partner_id",)
    code, status = ErrorCode.PARTNER_NOT_FOUND, 404


class ActivationCodeNotFound(ChargepayError):
    """Unknown, used, replaced or expired: the page cannot tell them apart, and neither can the caller."""

    code, status = ErrorCode.ACTIVATION_CODE_NOT_FOUND, 404


class AccountLinkedToDifferentUser(ChargepayError):
    """The partner's userId is linked to another customer, or the customer to another userId of that partner."""

    fields = ("user_id",)
    code, status = ErrorCode.ACCOUNT_LINKED_TO_DIFFERENT_USER, 409


# --- Card charge errors -----------------------------------------------------------------------
class PaymentDetailsMissing(ChargepayError):
    """No payment method sent and none on record."""

    code, status = ErrorCode.PAYMENT_DETAILS_MISSING, 406


class ChargeFailed(ChargepayError):
    """Declined, or the gateway said nothing was charged; `description` is the gateway's."""

    fields = ("description",)
    code, status = ErrorCode.CHARGE_FAILED, 406


class CreditFailed(ChargepayError):
    """A refund to the card that did not happen, nothing kept: `field` says what stood in the way (`balance`: more
    than the wallet holds; `payment`: no card on record; `credit`: the gateway refused, `reason` is its description)."""

    fields = ("field", "reason")
    code, status = ErrorCode.CREDIT_FAILED, 406


class GatewayBusy(ChargepayError):
    """This process already has as many requests waiting for the card gateway as it may (the bulkhead):
    refused before anything was recorded or sent; the same request may be retried after `retry_after_seconds`."""

    fields = ("retry_after_seconds",)
    code, status = ErrorCode.GATEWAY_BUSY, 503


class IdempotencyKeyInUse(ChargepayError):
    """A request with this Idempotency-Key is still running."""

    code, status = ErrorCode.IDEMPOTENCY_KEY_IN_USE, 409


class IdempotencyKeyReused(ChargepayError):
    """The Idempotency-Key was used before with a different request."""

    code, status = ErrorCode.IDEMPOTENCY_KEY_REUSED, 422


class ChargeStateConflict(ChargepayError):
    """The card charge is not in a state the action applies to (e.g. a capture retry of a captured charge)."""

    fields = ("charge_pk", "why")
    code, status = ErrorCode.CHARGE_STATE_CONFLICT, 409


# --- Cents wallet errors ----------------------------------------------------------------------
class PurchaseDeclined(ChargepayError):
    """The purchase would take the cents wallet below minus its credit limit; nothing was recorded."""

    fields = ("available", "requested")
    code, status = ErrorCode.PURCHASE_FAILED, 400


class CompRefused(ChargepayError):
    """A comp of a negative amount (a comp only ever credits)."""

    fields = ("amount",)
    code, status = ErrorCode.COMP_FAILED, 406


class LineItemInvalid(ChargepayError):
    """The tap system's line item cannot be stored: `message` says which part (its id missing, a bad number)."""

    fields = ("message",)
    code, status = ErrorCode.LINE_ITEM_FAILED, 406


class PaymentExpired(ChargepayError):
    """The card on record has expired."""

    code, status = ErrorCode.PAYMENT_EXPIRED, 406


class CreditLimitBelowBalance(ChargepayError):
    """The wallet is already further below zero than the credit limit asked for would allow."""

    fields = ("balance", "credit_limit")
    code, status = ErrorCode.CREDIT_LIMIT_BELOW_BALANCE, 409


class LineItemStateConflict(ChargepayError):
    """The line item is not in a state the staff action applies to (only a rejected one is retried or written off)."""

    fields = ("line_item_pk", "why")
    code, status = ErrorCode.LINE_ITEM_STATE_CONFLICT, 409
