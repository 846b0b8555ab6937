"""Plumbing of the &Charge partner API: bearer authentication, partner scope, rate limit, error envelope.

Every &Charge view subclasses AndChargeView; every error it raises is answered as
`{"error": CODE, "args": [...]}` with the code's HTTP status, and nothing else ever leaves it.
"""

import hashlib
import logging
import math
import threading
import time
from collections import OrderedDict

from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache.backends.redis import RedisCache
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import Http404
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions as drf_exceptions
from rest_framework import serializers
from rest_framework.authentication import BaseAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import TokenError
from rest_framework_simplejwt.tokens import AccessToken

from accounts import selectors as accounts_selectors
from accounts.models import Partner, PartnerApiKey
from accounts.tokens import ANDCHARGE_API
from chargepay import errors
from chargepay.request_context import current_request_id

logger = logging.getLogger("chargepay.api.andcharge")


class ErrorSerializer(serializers.Serializer):
    """`{"error": CODE, "args": [...]}` (for the OpenAPI schema)."""

    error = serializers.ChoiceField(choices=[code.value for code in errors.ErrorCode])
    args = serializers.ListField(child=serializers.JSONField())


def error_body(error: errors.ChargepayError) -> dict:
    return {"error": str(error.code), "args": list(error.args)}


def error_response(error: errors.ChargepayError) -> Response:
    response = Response(error_body(error), status=error.status)
    if isinstance(error, errors.TooManyRequests):
        response["Retry-After"] = str(error.args[0])
    return response


def to_chargepay_error(exc: Exception) -> errors.ChargepayError | None:
    """Translate framework exceptions into our hierarchy; None for an unexpected exception."""
    if isinstance(exc, errors.ChargepayError):
        return exc
    if isinstance(exc, drf_exceptions.NotAuthenticated | drf_exceptions.AuthenticationFailed):
        return errors.AuthorizationInvalid()
    if isinstance(exc, drf_exceptions.PermissionDenied | DjangoPermissionDenied):
        return errors.AccessDenied()
    if isinstance(exc, drf_exceptions.Throttled):
        return errors.TooManyRequests(max(1, math.ceil(exc.wait or 1)))
    if isinstance(exc, drf_exceptions.ParseError | drf_exceptions.UnsupportedMediaType):
        return errors.InvalidFormat("request body is not valid JSON")
    if isinstance(exc, drf_exceptions.MethodNotAllowed):
        return errors.MethodNotAllowed(exc.args[0] if exc.args else "")
    if isinstance(exc, Http404 | drf_exceptions.NotFound):
        return errors.ObjectNotFound("route", "")
    return None


def andcharge_exception_handler(exc: Exception, context: dict) -> Response:
    error = to_chargepay_error(exc)
    if error is None:
        logger.exception("unexpected error in the &Charge API")
        error = errors.InternalError(current_request_id())
    elif error.status >= 400:
        logger.info("refused", extra={"error": str(error.code), "status_code": error.status})
    return error_response(error)


class PartnerPrincipal:
    """The caller of the &Charge API: a partner, by the claims of a genuine, unexpired access token.

    Whether the token's API key is still active (not revoked, partner active) is a database question, asked
    once, on first use of `partner` (or by `verify()`); the payment path asks it inside its own posting.
    """

    is_authenticated = True

    def __init__(self, *, partner_code: str, access_key_id: str):
        self.partner_code = partner_code
        self.access_key_id = access_key_id
        self._key: PartnerApiKey | None = None
        self._verified = False

    @property
    def verified(self) -> bool:
        return self._verified

    def verify(self) -> bool:
        """True when the token's key is active and belongs to the token's partner (one indexed query, once)."""
        if not self._verified:
            key = accounts_selectors.api_key_get_active(access_key_id=self.access_key_id)
            self._key = key if key is not None and key.partner.code == self.partner_code else None
            self._verified = True
        return self._key is not None

    def mark_verified(self, *, partner: Partner) -> None:
        """The key was found active by a query that did other work too (the payment's posting)."""
        self._key = PartnerApiKey(access_key_id=self.access_key_id, partner=partner)
        self._verified = True

    @property
    def partner(self) -> Partner:
        if not self.verify():
            raise errors.AuthorizationInvalid()
        return self._key.partner


# Access tokens this process has verified: raw token → (partner code, key id, exp). A partner reuses one access
# token for its whole lifetime (minutes, thousands of requests); its signature, algorithm, issuer, audience and
# claims cannot change, so they are checked once. Expiry is checked on every use. Bounded; cleared when the JWT
# settings change. Revocation is never cached (PartnerPrincipal.verify asks the database).
_VERIFIED_TOKENS: OrderedDict[str, tuple[str, str, float]] = OrderedDict()
_VERIFIED_TOKENS_MAX = 4096
_verified_tokens_lock = threading.Lock()


@receiver(setting_changed)
def _forget_verified_tokens(*, setting, **kwargs):
    if setting in ("SIMPLE_JWT", "JWT_SIGNING_KEY"):
        with _verified_tokens_lock:
            _VERIFIED_TOKENS.clear()


def _verified_access_token(raw: str) -> tuple[str, str]:
    """(partner code, API key id) of a genuine, unexpired &Charge access token. Raises AuthorizationInvalid."""
    known = _VERIFIED_TOKENS.get(raw)
    if known is not None:
        partner_code, access_key_id, expires_at = known
        if time.time() < expires_at:
            return partner_code, access_key_id
        raise errors.AuthorizationInvalid()
    try:
        token = AccessToken(raw)  # signature, algorithm, expiry, issuer, audience, token_type=access
    except TokenError:
        raise errors.AuthorizationInvalid() from None
    partner_code, access_key_id, expires_at = token.get("partner"), token.get("kid"), token.get("exp")
    if token.get("api") != ANDCHARGE_API or not isinstance(partner_code, str) or not isinstance(access_key_id, str):
        raise errors.AuthorizationInvalid()
    if not partner_code or not access_key_id or not isinstance(expires_at, int | float):
        raise errors.AuthorizationInvalid()
    with _verified_tokens_lock:
        _VERIFIED_TOKENS[raw] = (partner_code, access_key_id, float(expires_at))
        while len(_VERIFIED_TOKENS) > _VERIFIED_TOKENS_MAX:
            _VERIFIED_TOKENS.popitem(last=False)
    return partner_code, access_key_id


def _partner_token_claims(request) -> PartnerPrincipal | None:
    """The principal named by a genuine &Charge access token (signature, algorithm, expiry, issuer, audience,
    token type, api claim), without touching the database. None without an Authorization header."""
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if not header:
        return None
    scheme, _, raw = header.partition(" ")
    if scheme.lower() != "bearer" or not raw or " " in raw:
        raise errors.AuthorizationInvalid()
    partner_code, access_key_id = _verified_access_token(raw)
    return PartnerPrincipal(partner_code=partner_code, access_key_id=access_key_id)


class PartnerTokenAuthentication(BaseAuthentication):
    """`Authorization: Bearer <accessToken>`, checked from the token alone (no database): a signed, unexpired
    &Charge access token. Whether its key was revoked is checked later (PartnerPrincipal.verify)."""

    def authenticate(self, request):
        principal = _partner_token_claims(request)
        return None if principal is None else (principal, None)

    def authenticate_header(self, request):
        return "Bearer"


class PartnerJWTAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = PartnerTokenAuthentication
    match_subclasses = True
    name = "partnerAccessToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}


class IsPathPartner(BasePermission):
    """The token's partner must be the path's partnerId: another partner's path is ACCESS_DENIED."""

    def has_permission(self, request, view):
        principal = request.user
        if not isinstance(principal, PartnerPrincipal):
            return False
        if principal.partner_code != view.kwargs.get("partner_id"):
            raise errors.AccessDenied()
        return True


# One round trip per request: count the hit and read how long the partner's window still runs. The window opens
# with the partner's first request and lasts the rate's period (a fixed window per partner); INCR is atomic, so
# concurrent workers never lose a count.
_WINDOW_SCRIPT = """
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
    redis.call('PEXPIRE', KEYS[1], ARGV[1])
    ttl = tonumber(ARGV[1])
end
return {count, ttl}
"""


class PartnerRateThrottle(SimpleRateThrottle):
    """Per-partner rate limit (PARTNER_RATE_LIMIT, DRF syntax, e.g. 6000/min), counted in the cache.

    With Redis (production, make test) each partner has a counter whose window opens with its first request
    and lasts the period: at most N requests per window, one atomic round trip per request, O(1) whatever the
    rate. Other caches (make run's in-memory cache) use DRF's sliding log. If the cache is unreachable the
    limit is not applied (fail open, logged): a payment must not fail because a counter is unavailable.
    """

    scope = "partner"

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        try:
            window = self._redis_hit(self.key)
            if window is None:
                return super().allow_request(request, view)
        except Exception:
            logger.warning("rate-limit cache unavailable; request allowed", exc_info=True)
            return True
        count, ttl_ms = window
        if count <= self.num_requests:
            return True
        self._redis_wait = ttl_ms / 1000
        return False

    def wait(self):
        redis_wait = getattr(self, "_redis_wait", None)
        return redis_wait if redis_wait is not None else super().wait()

    def _redis_hit(self, key: str) -> tuple[int, int] | None:
        backend = caches[DEFAULT_CACHE_ALIAS]
        if not isinstance(backend, RedisCache):
            return None
        script = getattr(backend, "_partner_window_script", None)
        if script is None:
            client = backend._cache.get_client(write=True)
            script = client.register_script(_WINDOW_SCRIPT)
            backend._partner_window_script = script  # one client and script per cache handler (per thread)
        count, ttl = script(keys=[backend.make_and_validate_key(key)], args=[int(self.duration * 1000)])
        return int(count), int(ttl)

    def get_cache_key(self, request, view):
        principal = request.user
        if not isinstance(principal, PartnerPrincipal):
            return None
        # The partner code from the token (no database); hashed so any code makes a valid cache key.
        ident = hashlib.blake2s(principal.partner_code.encode(), digest_size=12).hexdigest()
        return self.cache_format % {"scope": self.scope, "ident": ident}


class AndChargeView(APIView):
    """Base of every authenticated &Charge view. Order: auth → partner scope → rate limit → the view.

    Authentication checks the token itself (no database). Whether its API key is still active is checked
    once per request, before any answer other than 401 leaves: by the view's first use of `self.partner`, by
    the payment's own posting (which checks the key in the same round trip), or, for a refusal, here in
    handle_exception; finalize_response checks it for any success that did neither (a backstop). So a
    revoked key's tokens stop at once, with no cache of revocation. Only `checks_key = False` views (the
    ping) answer from the token alone.
    """

    authentication_classes = [PartnerTokenAuthentication]
    permission_classes = [IsPathPartner]
    throttle_classes = [PartnerRateThrottle]
    checks_key = True

    def get_exception_handler(self):
        return andcharge_exception_handler

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if len(kwargs.get("user_id", "")) > 100:
            raise errors.ParameterMaxLength("userId", 100)

    def _principal(self) -> PartnerPrincipal | None:
        principal = getattr(self.request, "_user", None)  # never triggers authentication
        return principal if isinstance(principal, PartnerPrincipal) else None

    def handle_exception(self, exc):
        principal = self._principal()
        if principal is not None and not principal.verified and not isinstance(exc, errors.AuthorizationInvalid):
            try:
                if not principal.verify():
                    exc = errors.AuthorizationInvalid()
            except Exception as error:  # the key cannot be checked (database down): answer 500, not the refusal
                exc = error
        return super().handle_exception(exc)

    def finalize_response(self, request, response, *args, **kwargs):
        principal = self._principal()
        if self.checks_key and principal is not None and not principal.verified and response.status_code < 400:
            try:
                if not principal.verify():
                    response = self.handle_exception(errors.AuthorizationInvalid())
            except Exception as error:
                response = self.handle_exception(error)
        return super().finalize_response(request, response, *args, **kwargs)

    @property
    def partner(self) -> Partner:
        return self.request.user.partner


class AndChargePublicView(APIView):
    # The login endpoints: no bearer auth, same error envelope.

    authentication_classes = []
    permission_classes = []

    def get_exception_handler(self):
        return andcharge_exception_handler
