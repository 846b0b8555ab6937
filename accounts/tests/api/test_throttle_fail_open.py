"""With the rate-limit cache unreachable, payments still work (the limit fails open)."""

from ledger.tests.helpers import pay_url, wallet_of


def test_payment_succeeds_when_the_cache_is_unreachable(api, funded_link, seed_request, settings):
    # A real Redis cache client pointed at a closed port: every cache call raises ConnectionError.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}}
    # (the settings fixture's setting_changed signal makes Django rebuild its cache handlers)

    response = api.post(pay_url(), seed_request, format="json")

    assert response.status_code == 201
    assert wallet_of(funded_link.customer).balance == 62
