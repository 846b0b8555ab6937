"""&Charge account linking by the partner (DESIGN §3.5): POST and DELETE /v1/partners/{pid}/accounts?userId=."""

import hashlib
import threading
from datetime import timedelta

import pytest
import requests
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import services
from accounts.models import LinkStatus, PartnerLink
from accounts.tests.factories import CustomerFactory, PartnerLinkFactory
from accounts.tests.helpers import bearer, login
from core.errors import ActivationCodeNotFound
from ledger.tests.helpers import grant, pay_url

LINKS_URL = "/v1/partners/PCS-001/accounts"


def start(api, user_id="pcsUserId001"):
    return api.post(f"{LINKS_URL}?userId={user_id}")


def confirm(link_partner, user_id, code, customer):
    return services.partner_link_confirm(partner=link_partner, external_user_id=user_id, activation_code=code, customer=customer)


def test_a_new_user_id_gets_an_initial_link_with_a_code_stored_only_as_a_digest(api, partner, settings):
    # when
    response = start(api)
    # then
    assert response.status_code == 201
    body = response.json()
    assert body == {"status": "INITIAL", "activationCode": body["activationCode"], "userId": "pcsUserId001"}
    code = body["activationCode"]
    assert len(code) == 43 and code.replace("-", "").replace("_", "").isalnum()  # 256 bits, URL-safe
    [link] = PartnerLink.objects.all()
    assert (link.partner, link.external_user_id, link.customer, link.status) == (partner, "pcsUserId001", None, "INITIAL")
    assert link.activation_code_digest == hashlib.sha256(code.encode()).hexdigest()
    assert code not in str(PartnerLink.objects.values().get())
    assert link.activation_code_expires_at - link.activation_code_issued_at == timedelta(hours=settings.LINK_ACTIVATION_HOURS)
    assert link.activation_code_used_at is None


def test_a_new_post_replaces_the_code_of_an_initial_link(api, partner):
    old = start(api).json()["activationCode"]
    # when
    response = start(api)
    # then
    assert response.status_code == 201
    new = response.json()["activationCode"]
    assert new != old and PartnerLink.objects.count() == 1
    with pytest.raises(ActivationCodeNotFound):
        confirm(partner, "pcsUserId001", old, CustomerFactory())
    assert confirm(partner, "pcsUserId001", new, CustomerFactory()).status == LinkStatus.LINKED


def test_a_linked_user_id_answers_200_and_changes_nothing(api, link):
    before = PartnerLink.objects.values().get()
    # when
    response = start(api)
    # then
    assert response.status_code == 200
    assert response.json() == {"status": "LINKED", "activationCode": None, "userId": "pcsUserId001"}
    assert PartnerLink.objects.values().get() == before


@pytest.mark.parametrize(
    ("query", "status", "body"),
    [
        ("", 400, {"error": "MANDATORY_PARAMETER_NOT_SET", "args": ["userId"]}),
        ("?other=1", 400, {"error": "MANDATORY_PARAMETER_NOT_SET", "args": ["userId"]}),
        ("?userId=", 400, {"error": "INVALID_PARAMETER", "args": ["", "userId"]}),
        ("?userId=%20%20", 400, {"error": "INVALID_PARAMETER", "args": ["  ", "userId"]}),
        ("?userId=" + "u" * 101, 400, {"error": "PARAMETER_MAX_LENGTH", "args": ["userId", 100]}),
    ],
)
@pytest.mark.parametrize("method", ["post", "delete"])
def test_a_missing_blank_or_long_user_id_is_refused_and_nothing_changes(api, partner, method, query, status, body):
    response = getattr(api, method)(LINKS_URL + query)
    assert (response.status_code, response.json()) == (status, body)
    assert not PartnerLink.objects.exists()


def test_a_user_id_of_100_characters_is_accepted(api, partner):
    assert start(api, "u" * 100).status_code == 201


def test_order_of_checks_auth_then_partner_scope_then_user_id(api, partner, other_partner):
    # no token: 401 even with no userId
    response = bearer("not-a-token").post(LINKS_URL)
    assert (response.status_code, response.json()) == (401, {"error": "AUTHORIZATION_INVALID", "args": []})
    # another partner's path: 403 before the userId is looked at
    response = api.post("/v1/partners/PCS-002/accounts")
    assert (response.status_code, response.json()) == (403, {"error": "ACCESS_DENIED", "args": []})
    response = api.delete("/v1/partners/PCS-002/accounts?userId=x")
    assert (response.status_code, response.json()) == (403, {"error": "ACCESS_DENIED", "args": []})
    assert not PartnerLink.objects.exists()


def test_another_partners_user_id_is_neither_seen_nor_touched(api, partner, other_partner):
    theirs = PartnerLinkFactory(partner=other_partner, external_user_id="shared-id")
    # deleting it through our path: not ours, so unknown
    response = api.delete(f"{LINKS_URL}?userId=shared-id")
    assert (response.status_code, response.json()) == (
        404,
        {"error": "REFERENCED_OBJECT_NOT_FOUND", "args": ["user", "shared-id"]},
    )
    # starting it: our own, new link; theirs is unchanged
    response = start(api, "shared-id")
    assert response.status_code == 201 and response.json()["status"] == "INITIAL"
    theirs.refresh_from_db()
    assert theirs.status == LinkStatus.LINKED
    assert PartnerLink.objects.filter(partner=partner, external_user_id="shared-id", status="INITIAL").count() == 1


def test_an_initial_link_is_not_payable_and_is_once_linked(api, partner, seed_request):
    code = start(api).json()["activationCode"]
    customer = CustomerFactory()
    grant(customer, 100)
    # an INITIAL link: 404 as for no link
    response = api.post(pay_url(), seed_request, format="json")
    assert (response.status_code, response.json()) == (
        404,
        {"error": "REFERENCED_OBJECT_NOT_FOUND", "args": ["user", "pcsUserId001"]},
    )
    # once the customer confirmed: 201
    confirm(partner, "pcsUserId001", code, customer)
    response = api.post(pay_url(), seed_request, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["kilometer"] == -38


def test_delete_removes_the_link_keeps_its_history_and_the_user_id_can_be_linked_again(api, link, seed_request):
    grant(link.customer, 100)
    # when
    response = api.delete(f"{LINKS_URL}?userId=pcsUserId001")
    # then
    assert response.status_code == 204 and response.content == b""
    link.refresh_from_db()
    assert (link.status, link.customer_id) == (LinkStatus.REMOVED, link.customer.pk) and link.removed_at is not None
    assert api.post(pay_url(), seed_request, format="json").status_code == 404
    response = api.delete(f"{LINKS_URL}?userId=pcsUserId001")
    assert (response.status_code, response.json()) == (
        404,
        {"error": "REFERENCED_OBJECT_NOT_FOUND", "args": ["user", "pcsUserId001"]},
    )
    # linked again, to someone else
    response = start(api)
    assert response.status_code == 201 and response.json()["status"] == "INITIAL"
    someone_else = CustomerFactory()
    grant(someone_else, 50)
    confirm(link.partner, "pcsUserId001", response.json()["activationCode"], someone_else)
    assert api.post(pay_url(), seed_request, format="json").status_code == 201
    assert PartnerLink.objects.filter(external_user_id="pcsUserId001").count() == 2


def test_delete_of_an_unknown_user_id_is_404(api, partner):
    response = api.delete(f"{LINKS_URL}?userId=nobody")
    assert (response.status_code, response.json()) == (404, {"error": "REFERENCED_OBJECT_NOT_FOUND", "args": ["user", "nobody"]})


def test_a_code_works_once(api, partner):
    code = start(api).json()["activationCode"]
    confirm(partner, "pcsUserId001", code, CustomerFactory())
    # the same code, by someone else: the userId is taken
    with pytest.raises(Exception) as refused:
        confirm(partner, "pcsUserId001", code, CustomerFactory())
    assert refused.value.code == "ACCOUNT_LINKED_TO_DIFFERENT_USER"
    # once the link is removed and started again, the old code is gone for good
    api.delete(f"{LINKS_URL}?userId=pcsUserId001")
    start(api)
    with pytest.raises(ActivationCodeNotFound):
        confirm(partner, "pcsUserId001", code, CustomerFactory())


def test_an_expired_code_is_refused_and_the_link_stays_initial(api, partner):
    code = start(api).json()["activationCode"]
    PartnerLink.objects.update(activation_code_expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(ActivationCodeNotFound):
        confirm(partner, "pcsUserId001", code, CustomerFactory())
    assert PartnerLink.objects.get().status == LinkStatus.INITIAL


@pytest.mark.django_db(transaction=True)
def test_concurrent_posts_for_one_user_id_open_one_link(http_server, api_key):
    key, secret = api_key
    token = login(APIClient(), key.access_key_id, secret).json()["accessToken"]
    barrier = threading.Barrier(8)
    statuses = []

    def post():
        barrier.wait()
        response = requests.post(
            f"{http_server}{LINKS_URL}?userId=race", headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=post) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [201] * 8
    assert PartnerLink.objects.filter(external_user_id="race").count() == 1


def test_an_operator_may_link_a_removed_user_id_again(api, link):
    api.delete(f"{LINKS_URL}?userId=pcsUserId001")
    again = services.partner_link_create(
        partner=link.partner, external_user_id="pcsUserId001", customer=link.customer, confirmed=True
    )
    assert again.status == LinkStatus.LINKED and again.pk != link.pk
