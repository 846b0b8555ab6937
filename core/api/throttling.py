"""The rate limit of both APIs: at most N requests per window per caller, counted in the cache.

Each API names its caller (FixedWindowRateThrottle.ident): the &Charge API its partner, the HOP API its service
account. The rate is DRF's syntax (`6000/min`) under the throttle's `scope` in DEFAULT_THROTTLE_RATES.
"""

import hashlib
import logging

from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache.backends.redis import RedisCache
from rest_framework.throttling import SimpleRateThrottle

logger = logging.getLogger("chargepay.api.throttling")

# One round trip per request: count the hit and read how long the caller's window still runs. The window opens
# with the caller's first request and lasts the rate's period (a fixed window per caller); INCR is atomic, so
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


class FixedWindowRateThrottle(SimpleRateThrottle):
    """A per-caller rate limit, counted in the cache; subclasses name the scope and the caller (`ident`).

    With Redis (production, make test) each caller has a counter whose window opens with its first request
    and lasts the period: at most N requests per window, one atomic round trip per request, O(1) whatever the
    rate. Other caches (make run's in-memory cache) use DRF's sliding log. If the cache is unreachable the
    limit is not applied (fail open, logged): a payment must not fail because a counter is unavailable.
    """

    def ident(self, request) -> str | None:
        """The caller whose budget the request spends, from what authentication already knows (no database);
        None: not counted."""
        raise NotImplementedError

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
        script = getattr(backend, "_rate_window_script", None)
        if script is None:
            client = backend._cache.get_client(write=True)
            script = client.register_script(_WINDOW_SCRIPT)
            backend._rate_window_script = script  # one client and script per cache handler (per thread)
        count, ttl = script(keys=[backend.make_and_validate_key(key)], args=[int(self.duration * 1000)])
        return int(count), int(ttl)

    def get_cache_key(self, request, view):
        caller = self.ident(request)
        if caller is None:
            return None
        # Hashed so any caller name makes a valid cache key.
        digest = hashlib.blake2s(caller.encode(), digest_size=12).hexdigest()
        return self.cache_format % {"scope": self.scope, "ident": digest}
