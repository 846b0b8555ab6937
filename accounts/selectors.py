"""Reads for people and partners."""

from urllib.parse import urlsplit

from django.db.models import Exists, OuterRef

from .models import Customer, Partner, PartnerApiKey, User

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


def _url_parts(url: str) -> tuple[str, str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower(), parts.path


def callback_url_allowed(*, partner: Partner, url: str) -> bool:
    """Whether the hosted link page may send the browser to `url`: the same scheme and host as one of the
    partner's registered callback prefixes, and a path at or under the prefix's path (so `/cb` allows `/cb` and
    `/cb/done`, never `/cbx`). No credentials in the host, no whitespace or backslashes (browsers read those
    differently from urlsplit)."""
    if not url or len(url) > 2000 or any(char in url for char in "\\ \t\r\n") or not url.isprintable():
        return False
    scheme, host, path = _url_parts(url)
    if not scheme or not host or "@" in host:
        return False
    for prefix in partner.callback_prefixes.values_list("prefix", flat=True):
        prefix_scheme, prefix_host, prefix_path = _url_parts(prefix)
        if (scheme, host) != (prefix_scheme, prefix_host):
            continue
        base = prefix_path.rstrip("/")
        if path in (prefix_path, base) or path.startswith(base + "/"):
            return True
    return False


def customer_of_user(*, user: User) -> Customer | None:
    """The customer whose credentials `user` is (None for staff, service accounts and anonymous users)."""
    if not user.is_authenticated:
        return None
    return Customer.objects.filter(user=user, user__is_active=True).first()
