"""Refused API requests, handed to whoever keeps them (DESIGN §12: support answers "why was I refused?").

Both APIs' base views (AndChargeAPIView, HopAPIView) call `refusal_report` as their answer leaves, for every
request refused after authentication: every 4xx but a 401, and the 503 of a full gateway bulkhead. A 401 is
never reported (the caller is nobody we know), nor a 500 (not a refusal: the log has its traceback). The
answer as rendered is the source, so a refusal a view renders itself (HOP's charge, which stores its answer
for Idempotency-Key replays) is reported like one the exception handler renders.

`core` imports no app, so the keeper registers itself here (backoffice does, in its AppConfig.ready). A keeper
that fails never changes the answer: its error is logged and the refusal leaves as it was.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from core.request_context import current_request_id

logger = logging.getLogger("chargepay.api.refusals")

ANDCHARGE = "andcharge"
HOP = "hop"


@dataclass(frozen=True)
class Refusal:
    """One refused request, in its API's own terms."""

    api: str  # ANDCHARGE or HOP
    status: int
    code: str  # the envelope's code: "ACCOUNT_BALANCE_NOT_SUFFICIENT", or HOP's "10006"
    args: Any  # &Charge: the `args` list; HOP: {"message": ..., "errors": {field: [messages]}}
    request_id: str
    request: Any  # the DRF request (authenticated: request.user is the caller)
    view: Any  # the view that answered (its kwargs are the path's parameters)


RefusalKeeper = Callable[[Refusal], None]
_keepers: list[RefusalKeeper] = []


def refusal_keeper_register(keeper: RefusalKeeper) -> None:
    """Add a keeper (idempotent: registering the same function twice keeps one)."""
    if keeper not in _keepers:
        _keepers.append(keeper)


def is_kept(status: int) -> bool:
    """Which answers are refusals worth keeping: 4xx but 401, and 503 (the gateway bulkhead said no)."""
    return (400 <= status < 500 and status != 401) or status == 503


def refusal_report(*, api: str, request, view, status: int, code, args) -> None:
    """Tell every keeper about a refused request (called by the base views; never raises)."""
    if not _keepers:
        return
    refusal = Refusal(
        api=api, status=status, code=str(code), args=args, request_id=current_request_id(), request=request, view=view
    )
    for keeper in _keepers:
        try:
            keeper(refusal)
        except Exception:
            logger.exception("a refused attempt could not be kept", extra={"error": refusal.code})


def authenticated_caller(request) -> bool:
    """Whether authentication ran and named a caller, without authenticating again (a 401 has none)."""
    user = getattr(request, "_user", None)
    return bool(user is not None and getattr(user, "is_authenticated", False))
