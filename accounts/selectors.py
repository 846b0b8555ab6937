"""Reads for people and partners."""

from .models import PartnerApiKey


def api_key_get_active(*, access_key_id: str) -> PartnerApiKey | None:
    """An unrevoked key of an active partner, with its partner, or None."""
    if not access_key_id:
        return None
    return (
        PartnerApiKey.objects.select_related("partner")
        .filter(access_key_id=access_key_id, revoked_at__isnull=True, partner__is_active=True)
        .first()
    )
