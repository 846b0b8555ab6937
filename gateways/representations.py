"""The HOP API's rendering of card charges, in one place: the API answers with it, and a webhook event (recorded
by the services, in the change's own database transaction) carries the same object. Services and the API both
import it from here, so services never import the API."""

from datetime import UTC

from core.masking import LOGGED, last_four

from .bridgecomm.protocol import METADATA_FIELDS
from .models import CardCharge, ChargeStatus


def iso_utc(moment) -> str | None:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def ordered_metadata(metadata: dict) -> dict | None:
    """The gateway's fields in the gateway's order (the database's jsonb does not keep it)."""
    if not metadata:
        return None
    known = {name: metadata[name] for name in METADATA_FIELDS if name in metadata}
    return known | {name: value for name, value in metadata.items() if name not in known}


# Approved and credited (a worker may have captured or settled it since): answered 201 with the authorized amount.
APPROVED_STATUSES = (ChargeStatus.AUTHORIZED, ChargeStatus.CAPTURED, ChargeStatus.SETTLED)


def charge_body(charge: CardCharge, balance_in_cents: int, *, token_shown: bool = True) -> dict:
    """`{"data": {"charge": {...}}}` as in the seed, plus `status`. `metadata` is the gateway's answer as is, but
    for a card another partner stored (`token_shown` False) its `Token` is masked: tokens are shown only to the
    partner that stored the card."""
    credited = charge.status in APPROVED_STATUSES
    metadata = ordered_metadata(charge.metadata)
    if not token_shown and metadata and metadata.get("Token"):
        metadata["Token"] = last_four(metadata["Token"], mark=LOGGED)
    return {
        "data": {
            "charge": {
                "id": charge.pk,
                "charge_at": iso_utc(charge.authorized_at or charge.created_at),
                "amount_in_cents": charge.amount_authorized if credited else charge.amount_requested,
                "balance_in_cents": balance_in_cents,
                "status": charge.status,
                "metadata": metadata,
            }
        }
    }
