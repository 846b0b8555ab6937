"""One error hierarchy for the whole product.

Domain code raises these; each API's exception handler renders them in that API's envelope.
Every error has a stable `code` (partners switch on it, never on text), an HTTP `status`, and
positional `args` that the &Charge envelope echoes verbatim (`{"error": code, "args": [...]}`).
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
    TRANSACTION_ALREADY_PROCESSED = "TRANSACTION_ALREADY_PROCESSED"
    TRANSACTION_ALREADY_REVERSED = "TRANSACTION_ALREADY_REVERSED"
    TRANSACTION_NOT_REVERSIBLE = "TRANSACTION_NOT_REVERSIBLE"
    ACCOUNT_BALANCE_NOT_SUFFICIENT = "ACCOUNT_BALANCE_NOT_SUFFICIENT"
    TOO_MANY_REQUESTS = "TOO_MANY_REQUESTS"
    INTERNAL_ERROR = "INTERNAL_ERROR"
    PAYMENT_DETAILS_MISSING = "PAYMENT_DETAILS_MISSING"
    CHARGE_FAILED = "CHARGE_FAILED"
    IDEMPOTENCY_KEY_IN_USE = "IDEMPOTENCY_KEY_IN_USE"
    IDEMPOTENCY_KEY_REUSED = "IDEMPOTENCY_KEY_REUSED"
    STAFF_LIMIT_EXCEEDED = "STAFF_LIMIT_EXCEEDED"
    WORK_IN_PROGRESS = "WORK_IN_PROGRESS"


class ChargepayError(Exception):
    code: ErrorCode = ErrorCode.INTERNAL_ERROR
    status: int = 500

    def __str__(self) -> str:
        return f"{self.code}: {list(self.args)}"


# --- Request errors ---------------------------------------------------------------------------
class InvalidFormat(ChargepayError):
    """args: (message,)"""

    code, status = ErrorCode.INVALID_FORMAT, 400


class MandatoryParameterNotSet(ChargepayError):
    """args: (name,)"""

    code, status = ErrorCode.MANDATORY_PARAMETER_NOT_SET, 400


class ParameterMaxLength(ChargepayError):
    """args: (name, max_length)"""

    code, status = ErrorCode.PARAMETER_MAX_LENGTH, 400


class InvalidParameter(ChargepayError):
    """args: (value, name)"""

    code, status = ErrorCode.INVALID_PARAMETER, 400


class AuthorizationInvalid(ChargepayError):
    code, status = ErrorCode.AUTHORIZATION_INVALID, 401


class AccessDenied(ChargepayError):
    code, status = ErrorCode.ACCESS_DENIED, 403


class ObjectNotFound(ChargepayError):
    """args: (kind, id), e.g. ("user", "pcsUserId001"). A forbidden object answers the same."""

    code, status = ErrorCode.REFERENCED_OBJECT_NOT_FOUND, 404


class MethodNotAllowed(ChargepayError):
    """args: (method,)"""

    code, status = ErrorCode.METHOD_NOT_ALLOWED, 405


class TooManyRequests(ChargepayError):
    """args: (retry_after_seconds,)"""

    code, status = ErrorCode.TOO_MANY_REQUESTS, 429


class InternalError(ChargepayError):
    """args: (request id,). Never expected; the log has the traceback, the caller only the id."""

    code, status = ErrorCode.INTERNAL_ERROR, 500


# --- Ledger errors ----------------------------------------------------------------------------
class TransactionAlreadyProcessed(ChargepayError):
    """args: (external transaction id,)"""

    code, status = ErrorCode.TRANSACTION_ALREADY_PROCESSED, 409


class TransactionAlreadyReversed(ChargepayError):
    """args: (transaction pk,)"""

    code, status = ErrorCode.TRANSACTION_ALREADY_REVERSED, 409


class TransactionNotReversible(ChargepayError):
    """args: (transaction pk, why)"""

    code, status = ErrorCode.TRANSACTION_NOT_REVERSIBLE, 409


class StaffLimitExceeded(ChargepayError):
    """args: (amount, limit, unit): a staff action above what the user's role may do alone."""

    code, status = ErrorCode.STAFF_LIMIT_EXCEEDED, 403


class WorkInProgress(ChargepayError):
    """args: (object pk, what): a worker is on it right now; try again when it is done."""

    code, status = ErrorCode.WORK_IN_PROGRESS, 409


class InsufficientBalance(ChargepayError):
    """args: (available, requested)"""

    code, status = ErrorCode.ACCOUNT_BALANCE_NOT_SUFFICIENT, 422


# --- Card charge errors -----------------------------------------------------------------------
class PaymentDetailsMissing(ChargepayError):
    """No payment method sent and none on record."""

    code, status = ErrorCode.PAYMENT_DETAILS_MISSING, 406


class ChargeFailed(ChargepayError):
    """args: (the gateway's description,): declined, or the gateway said nothing was charged."""

    code, status = ErrorCode.CHARGE_FAILED, 406


class IdempotencyKeyInUse(ChargepayError):
    """A request with this Idempotency-Key is still running."""

    code, status = ErrorCode.IDEMPOTENCY_KEY_IN_USE, 409


class IdempotencyKeyReused(ChargepayError):
    """The Idempotency-Key was used before with a different request."""

    code, status = ErrorCode.IDEMPOTENCY_KEY_REUSED, 422
