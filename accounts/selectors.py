"""Reads for people and partners."""

from django.db.models import Exists, OuterRef

from .models import PartnerApiKey, User

# The HOP right to charge cards (gateways.CardCharge's `charge_card` permission), named here by its string.
CHARGE_CARD_PERMISSION = ("gateways", "charge_card")


def api_key_get_active(*, access_key_id: str) -> PartnerApiKey | None:
    """An unrevoked key of an active partner, with its partner, or None."""
    if not access_key_id:
        return None
    return (
        PartnerApiKey.objects.select_related("partner")
        .filter(access_key_id=access_key_id, revoked_at__isnull=True, partner__is_active=True)
        .first()
    )


def service_account_get_active(*, user_id: object) -> User | None:
    """An active service account of an active partner, with its partner, or None; in the same indexed query,
    `can_charge_cards`: whether it holds the charge permission (directly, through a group, or as a superuser,
    as ModelBackend.has_perm decides it), so a HOP request costs one query to authorize."""
    if not isinstance(user_id, int | str) or not str(user_id).isascii() or not str(user_id).isdigit():
        return None
    app_label, codename = CHARGE_CARD_PERMISSION
    direct = User.user_permissions.through.objects.filter(
        user_id=OuterRef("pk"), permission__content_type__app_label=app_label, permission__codename=codename
    )
    via_group = User.groups.through.objects.filter(
        user_id=OuterRef("pk"),
        group__permissions__content_type__app_label=app_label,
        group__permissions__codename=codename,
    )
    user = (
        User.objects.select_related("partner")
        .filter(pk=int(user_id), is_active=True, partner__isnull=False, partner__is_active=True)
        .annotate(has_direct_permission=Exists(direct), has_group_permission=Exists(via_group))
        .first()
    )
    if user is not None:
        user.can_charge_cards = user.is_superuser or user.has_direct_permission or user.has_group_permission
    return user
