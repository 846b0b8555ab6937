"""Helpers of the gateways tests: what the gateway sandbox received."""


def requests_of(sandbox, request_type: str, transaction_id: str | None = None) -> list[dict]:
    """Every request of `request_type` (optionally for one TransactionID) the sandbox received, oldest first."""
    return sandbox.control.requests(request_type=request_type, transaction_id=transaction_id)
