"""Refused API requests are kept for support (DESIGN §12): every refusal kind of both APIs after authentication,
with who, what and why; never a 401; not in the ledger; found in the admin and on the customer's timeline;
purged after ATTEMPT_RETENTION_DAYS."""

import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from accounts.api.andcharge import PartnerRateThrottle
from accounts.api.hop import ServiceAccountRateThrottle
from accounts.models import PartnerApiKey, RfidToken
from accounts.tests.factories import CustomerFactory, PartnerLinkFactory
from accounts.tests.helpers import bearer
from backoffice.models import RefusedAttempt
from backoffice.selectors import refusal_reason
from backoffice.tests.helpers import money_state, text
from core.idempotency import idempotency_begin, request_fingerprint
from gateways import bulkhead
from gateways.tests.api.support import charge_request, charges_url, rfid_charges_url, transactions_url
from ledger.tests.helpers import pay_url

LONG_ID = "t" * 101


def _pay(api, body, user_id="pcsUserId001", partner_code="PCS-001"):
    return api.post(pay_url(partner_code=partner_code, user_id=user_id), body, format="json")


def _throttle(settings, monkeypatch, throttle, scope):
    rest_framework = dict(settings.REST_FRAMEWORK)
    rest_framework["DEFAULT_THROTTLE_RATES"] = {scope: "1/min"}
    settings.REST_FRAMEWORK = rest_framework
    monkeypatch.setattr(throttle, "THROTTLE_RATES", {scope: "1/min"})


# Each &Charge refusal kind: (how to provoke it, status, code, args, userId kept, transactionId kept, amount kept)
def _bad_json(api, seed):
    return api.post(pay_url(), data="{not json", content_type="application/json")


def _missing(api, seed):
    del seed["serviceSpecificData"]["EVSE_ID"]
    return _pay(api, seed)


def _too_long(api, seed):
    seed["transactionId"] = LONG_ID
    return _pay(api, seed)


def _negative(api, seed):
    seed["kilometer"] = -5
    return _pay(api, seed)


def _other_partner(api, seed):
    return _pay(api, seed, partner_code="PCS-002")


def _unknown_user(api, seed):
    return _pay(api, seed, user_id="noSuchUser")


def _twice(api, seed):
    assert _pay(api, seed).status_code == 201
    return _pay(api, seed)


def _too_much(api, seed):
    seed["kilometer"] = 500
    return _pay(api, seed)


def _too_large(api, seed):
    seed["transactionReference"] = "x" * 70_000
    return _pay(api, seed)


def _wrong_method(api, seed):
    return api.put(pay_url(), seed, format="json")


def _unknown_user_read(api, seed):
    return api.get("/v1/partners/PCS-001/accounts/noSuchUser")


ANDCHARGE_KINDS = [
    (_bad_json, 400, "INVALID_FORMAT", ["request body is not valid JSON"], "pcsUserId001", "", None),
    (_missing, 400, "MANDATORY_PARAMETER_NOT_SET", ["serviceSpecificData.EVSE_ID"], "pcsUserId001", "348328463873", 38),
    (_too_long, 400, "PARAMETER_MAX_LENGTH", ["transactionId", 100], "pcsUserId001", LONG_ID[:100], 38),
    (_negative, 400, "INVALID_PARAMETER", [-5, "kilometer"], "pcsUserId001", "348328463873", -5),
    (_other_partner, 403, "ACCESS_DENIED", [], "pcsUserId001", "", None),  # refused before its body is read
    (_unknown_user, 404, "REFERENCED_OBJECT_NOT_FOUND", ["user", "noSuchUser"], "noSuchUser", "348328463873", 38),
    (_twice, 409, "TRANSACTION_ALREADY_PROCESSED", ["348328463873"], "pcsUserId001", "348328463873", 38),
    (_too_much, 422, "ACCOUNT_BALANCE_NOT_SUFFICIENT", [100, 500], "pcsUserId001", "348328463873", 500),
    (_wrong_method, 405, "METHOD_NOT_ALLOWED", ["PUT"], "pcsUserId001", "", None),
    (_unknown_user_read, 404, "REFERENCED_OBJECT_NOT_FOUND", ["user", "noSuchUser"], "noSuchUser", "", None),
]


@pytest.mark.parametrize(("provoke", "status", "code", "args", "user_id", "transaction_id", "amount"), ANDCHARGE_KINDS)
def test_each_andcharge_refusal_is_kept_with_who_what_and_why(
    api, funded_link, other_partner, seed_request, provoke, status, code, args, user_id, transaction_id, amount
):
    response = provoke(api, seed_request)

    assert response.status_code == status, response.content
    attempt = RefusedAttempt.objects.get()
    assert (attempt.api, attempt.status, attempt.error_code, attempt.error_args) == ("andcharge", status, code, args)
    assert attempt.partner.code == "PCS-001"  # the caller, also when it named another partner's path
    assert (attempt.user_id, attempt.transaction_id, attempt.amount) == (user_id, transaction_id, amount)
    assert attempt.customer_id == (funded_link.customer_id if user_id == "pcsUserId001" else None)
    assert attempt.request_id == response["X-Request-Id"]
    assert refusal_reason(attempt) and code not in refusal_reason(attempt)  # said in words, not as the code
    assert attempt.created_at > timezone.now() - timedelta(minutes=1)


def test_a_payment_too_large_is_kept_without_reading_its_body(api, funded_link, seed_request):
    response = _too_large(api, seed_request)

    assert response.status_code == 413
    attempt = RefusedAttempt.objects.get()
    assert (attempt.error_code, attempt.user_id, attempt.transaction_id, attempt.amount) == (
        "PAYLOAD_TOO_LARGE",
        "pcsUserId001",
        "",
        None,
    )


def test_the_rate_limit_refusal_is_kept(api, funded_link, seed_request, settings, monkeypatch):
    _throttle(settings, monkeypatch, PartnerRateThrottle, "partner")
    assert _pay(api, seed_request).status_code == 201

    seed_request["transactionId"] = "second"
    response = _pay(api, seed_request)

    assert response.status_code == 429
    attempt = RefusedAttempt.objects.get()
    assert (attempt.error_code, attempt.user_id) == ("TOO_MANY_REQUESTS", "pcsUserId001")
    assert "rate limit" in refusal_reason(attempt)


def test_a_refusal_is_not_in_the_ledger(api, funded_link, seed_request):
    before = money_state()

    _too_much(api, seed_request)

    assert money_state() == before
    assert RefusedAttempt.objects.count() == 1


def test_an_accepted_payment_keeps_nothing(api, funded_link, seed_request):
    assert _pay(api, seed_request).status_code == 201

    assert not RefusedAttempt.objects.exists()


def test_a_401_is_never_kept(api, api_key, funded_link, seed_request):
    assert bearer("not-a-token").post(pay_url(), seed_request, format="json").status_code == 401
    assert bearer("").get(pay_url()).status_code == 401
    key, _ = api_key
    PartnerApiKey.objects.filter(pk=key.pk).update(revoked_at=timezone.now())
    assert _too_much(api, seed_request).status_code == 401  # a revoked key's token: 401 comes first

    assert not RefusedAttempt.objects.exists()


def test_the_log_in_endpoints_keep_nothing(api_key, client):
    response = client.post("/public/v1/login/partner/token", {"accessKeyId": "nobody"}, content_type="application/json")

    assert response.status_code == 401
    assert not RefusedAttempt.objects.exists()


def test_a_nul_in_what_the_partner_sent_is_kept_without_it(api, funded_link, seed_request):
    seed_request["transactionId"] = "abc\x00def"

    response = _pay(api, seed_request)

    assert response.status_code == 400
    attempt = RefusedAttempt.objects.get()
    assert attempt.transaction_id == "abcdef"
    assert "\x00" not in json.dumps(attempt.error_args)


# --- HOP ------------------------------------------------------------------------------------------
@pytest.fixture
def _hop(gateway_settings):
    gateway_settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return gateway_settings


def _hop_kept(response, status: int, code: str) -> RefusedAttempt:
    assert response.status_code == status, response.content
    attempt = RefusedAttempt.objects.get()
    assert (attempt.api, attempt.status, attempt.error_code) == ("hop", status, code)
    assert attempt.error_args == {"message": response.json()["data"]["message"], "errors": response.json()["data"]["errors"]}
    assert attempt.partner.code == "PCS-001"
    assert attempt.request_id == response["X-Request-Id"]
    return attempt


def test_hop_unknown_customer(_hop, hop_api, partner):
    stranger = CustomerFactory()  # exists, not linked to PCS-001

    attempt = _hop_kept(hop_api.post(charges_url(stranger.pk), charge_request("500"), format="json"), 406, "10004")

    assert (attempt.user_id, attempt.customer_id, attempt.amount) == (str(stranger.pk), stranger.pk, 500)
    assert "not linked" in refusal_reason(attempt)


def test_hop_unknown_rfid_token_and_a_known_one_of_no_link(_hop, hop_api, partner):
    holder = CustomerFactory()
    RfidToken.objects.create(customer=holder, token="RFID-UNLINKED")

    attempt = _hop_kept(hop_api.post(rfid_charges_url("RFID-UNLINKED"), charge_request(500), format="json"), 406, "10004")

    assert (attempt.user_id, attempt.customer_id, attempt.amount) == ("RFID-UNLINKED", holder.pk, 500)


def test_hop_invalid_amount(_hop, hop_api, hop_customer):
    attempt = _hop_kept(hop_api.post(charges_url(hop_customer.pk), charge_request("-1"), format="json"), 422, "10013")

    assert attempt.customer_id == hop_customer.pk
    assert "amount_in_cents" in refusal_reason(attempt)


def test_hop_invalid_json(_hop, hop_api, hop_customer):
    response = hop_api.post(charges_url(hop_customer.pk), data="{oops", content_type="application/json")

    assert _hop_kept(response, 422, "10012").customer_id == hop_customer.pk


def test_hop_no_card(_hop, hop_api, partner):
    customer = CustomerFactory()
    PartnerLinkFactory(partner=partner, customer=customer, external_user_id="noCardUser")

    attempt = _hop_kept(hop_api.post(charges_url(customer.pk), charge_request(700), format="json"), 406, "10006")

    assert (attempt.customer_id, attempt.amount) == (customer.pk, 700)
    assert refusal_reason(attempt) == "No card was sent and none is on record for this partner."


def test_hop_declined_by_the_bank_is_kept_with_the_key(_hop, hop_api, hop_customer):
    body = charge_request("100", token=12345, expires_at="2030-01-01")

    response = hop_api.post(charges_url(hop_customer.pk), body, format="json", HTTP_IDEMPOTENCY_KEY="key-declined-1")

    attempt = _hop_kept(response, 406, "10006")
    assert (attempt.idempotency_key, attempt.amount) == ("key-declined-1", 100)
    assert refusal_reason(attempt) == "The card charge failed: Denied by customer's bank."


def test_hop_key_reused_and_key_in_use(_hop, hop_api, hop_customer, service_account):
    url = charges_url(hop_customer.pk)
    idempotency_begin(
        client=service_account,
        key="held-key",
        fingerprint=request_fingerprint(method="POST", path=url, body=charge_request(100)),
    )

    _hop_kept(hop_api.post(url, charge_request(100), format="json", HTTP_IDEMPOTENCY_KEY="held-key"), 409, "10015")
    RefusedAttempt.objects.all().delete()
    attempt = _hop_kept(hop_api.post(url, charge_request(200), format="json", HTTP_IDEMPOTENCY_KEY="held-key"), 422, "10016")
    assert attempt.idempotency_key == "held-key"


def test_hop_rate_limit(_hop, hop_api, hop_customer, settings, monkeypatch):
    _throttle(settings, monkeypatch, ServiceAccountRateThrottle, "service_account")
    hop_api.get(transactions_url(hop_customer.pk))

    _hop_kept(hop_api.get(transactions_url(hop_customer.pk)), 429, "10017")


def test_hop_gateway_busy(_hop, hop_api, hop_customer):
    _hop.GATEWAY_CALLS_PER_PROCESS = 1
    with bulkhead.gateway_slot():  # the process's only slot is taken
        response = hop_api.post(charges_url(hop_customer.pk), charge_request(100), format="json")

    assert _hop_kept(response, 503, "10019").amount == 100


def test_hop_401_is_never_kept(_hop, hop_customer):
    assert bearer("nope").post(charges_url(hop_customer.pk), charge_request(100), format="json").status_code == 401

    assert not RefusedAttempt.objects.exists()


# --- found by support -------------------------------------------------------------------------
@pytest.fixture
def refused(api, funded_link, seed_request) -> RefusedAttempt:
    _too_much(api, seed_request)
    return RefusedAttempt.objects.get()


@pytest.mark.parametrize("term", ["transaction_id", "user_id", "request_id", "error_code"])
def test_the_admin_finds_a_refusal_by_each_search_term(support_client, refused, term):
    RefusedAttempt.objects.create(
        api="andcharge", method="POST", path="/x", status=404, error_code="OTHER", request_id="other", user_id="u2"
    )

    response = support_client.get(reverse("admin:backoffice_refusedattempt_changelist"), {"q": getattr(refused, term)})

    assert [row.pk for row in response.context["cl"].result_list] == [refused.pk]
    page = text(response)
    assert "Not enough kilometers: the wallet held 100 km, the partner asked for 500 km." in page
    assert "500 km" in page


def test_the_refusal_page_says_why_and_links_the_customer(support_client, refused):
    response = support_client.get(reverse("admin:backoffice_refusedattempt_change", args=[refused.pk]))

    assert response.status_code == 200
    page = text(response)
    assert "Not enough kilometers" in page
    assert reverse("admin:accounts_customer_change", args=[refused.customer_id]) in page


def test_the_customer_timeline_shows_the_refusal_in_words(support_client, refused):
    response = support_client.get(reverse("admin:accounts_customer_change", args=[refused.customer_id]))

    rows = [row for row in response.context["timeline"] if row["event"].category == "refused"]
    assert [(row["event"].title, row["event"].amount) for row in rows] == [("Refused: ACCOUNT_BALANCE_NOT_SUFFICIENT", "500 km")]
    assert rows[0]["event"].detail.startswith("Not enough kilometers: the wallet held 100 km, the partner asked for 500 km.")
    assert refused.request_id in rows[0]["event"].detail
    assert rows[0]["url"] == reverse("admin:backoffice_refusedattempt_change", args=[refused.pk])


def test_support_reads_refusals_and_changes_none(support_client, refused):
    url = reverse("admin:backoffice_refusedattempt_change", args=[refused.pk])

    assert support_client.post(url, {}).status_code == 403
    assert support_client.get(reverse("admin:backoffice_refusedattempt_delete", args=[refused.pk])).status_code == 403


def test_the_purge_keeps_ATTEMPT_RETENTION_DAYS(refused, settings):
    settings.ATTEMPT_RETENTION_DAYS = 90
    old = RefusedAttempt.objects.create(
        api="hop", method="POST", path="/x", status=406, error_code="10004", request_id="old", user_id="1"
    )
    RefusedAttempt.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=91))
    RefusedAttempt.objects.filter(pk=refused.pk).update(created_at=timezone.now() - timedelta(days=89))

    call_command("purge_refused_attempts")

    assert list(RefusedAttempt.objects.values_list("pk", flat=True)) == [refused.pk]


def test_the_purge_is_scheduled_in_beat(settings):
    assert settings.CELERY_BEAT_SCHEDULE["purge-refused-attempts"]["task"] == "backoffice.purge_refused_attempts"
