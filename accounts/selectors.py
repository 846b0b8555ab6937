"""Reads for people and partners."""

from urllib.parse import urlsplit

from .models import Customer, Partner, PartnerApiKey, User


def api_key_get_active(*, access_key_id: str) -> PartnerApiKey | None:
    """An unrevoked key of an active partner, with its partner, or None."""
    if not access_key_id:
        return None
    return (
        PartnerApiKey.objects.select_related("partner")
        .filter(access_key_id=access_key_id, revoked_at__isnull=True, partner__is_active=True)
        .first()
    )


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
