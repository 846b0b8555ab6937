"""Writes of the back-office's own: refused API requests kept for support, and their purge."""

from datetime import timedelta

from django.conf import settings
from django.db.models import Subquery
from django.utils import timezone

from accounts.models import Customer, Partner, PartnerLink, RfidToken
from core.api.refusals import ANDCHARGE, Refusal

from .models import RefusedAttempt

_BIGINT = 2**63 - 1


def _storable(value):
    """`value` with NUL removed from every text in it: PostgreSQL's text and jsonb cannot hold it, and a refused
    request may well carry one."""
    if isinstance(value, str):
        return value.replace("\x00", "")  # lone surrogates never get here: the JSON parser refuses them
    if isinstance(value, dict):
        return {_storable(str(key)): _storable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_storable(item) for item in value]
    return value


def _whole_number(value) -> int | None:
    """The amount asked, when it is a whole number (HOP also takes digit strings); None for anything else."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 18:
        return int(value)
    if type(value) is int and -_BIGINT <= value <= _BIGINT:
        return value
    return None


def refused_attempt_keep(refusal: Refusal) -> RefusedAttempt:
    """Keep one refused request: a single INSERT, the partner and the customer found by subqueries inside it
    (a refusal costs its answer one round trip; an accepted request costs nothing). Locks nothing.

    The customer is who the path names: &Charge's userId through the partner's newest link to it, HOP's
    customer id when that customer exists, an RFID session token's holder. What the partner sent is kept as
    sent (cut to the column's length), so a refusal of a malformed request is still found by its userId."""
    request, path_params = refusal.request, refusal.view.kwargs
    body = getattr(request, "_full_data", None)  # read only if the view parsed it: never parse here
    body = body if isinstance(body, dict) else {}
    if refusal.api == ANDCHARGE:
        user_id = _storable(str(path_params.get("user_id", "")))
        partner_code = getattr(request.user, "partner_code", "")
        partner = Subquery(Partner.objects.filter(code=partner_code).values("pk")[:1])
        customer = Subquery(
            PartnerLink.objects.filter(partner__code=partner_code, external_user_id=user_id[:100], customer__isnull=False)
            .order_by("-pk")
            .values("customer_id")[:1]
        )
        amount = body.get("kilometer")
        transaction_id = body.get("transactionId")
        idempotency_key = ""
    else:
        partner = getattr(request.user, "partner_id", None)
        if "session_token" in path_params:
            user_id = _storable(str(path_params["session_token"]))
            customer = Subquery(RfidToken.objects.filter(token=user_id[:100]).values("customer_id")[:1])
        else:
            user_id = _storable(str(path_params.get("user_id", "")))
            is_id = user_id.isascii() and user_id.isdigit() and len(user_id) <= 18
            customer = Subquery(Customer.objects.filter(pk=int(user_id)).values("pk")[:1]) if is_id else None
        charge = body.get("charge")
        amount = charge.get("amount_in_cents") if isinstance(charge, dict) else None
        transaction_id = None
        idempotency_key = request.headers.get("Idempotency-Key", "")
    return RefusedAttempt.objects.create(
        api=refusal.api,
        method=request.method[:10],
        path=_storable(request.path)[:300],
        status=refusal.status,
        error_code=refusal.code[:40],
        error_args=_storable(refusal.args),
        partner_id=partner,
        user_id=user_id[:100],
        customer_id=customer,
        transaction_id=_storable(transaction_id)[:100] if isinstance(transaction_id, str) else "",
        idempotency_key=_storable(idempotency_key)[:255],
        amount=_whole_number(amount),
        request_id=refusal.request_id[:100],
    )


def refused_attempt_purge(*, now=None) -> int:
    """Delete refused attempts older than ATTEMPT_RETENTION_DAYS; how many were deleted. Locks nothing."""
    cutoff = (now or timezone.now()) - timedelta(days=settings.ATTEMPT_RETENTION_DAYS)
    deleted, _ = RefusedAttempt.objects.filter(created_at__lt=cutoff).delete()
    return deleted
