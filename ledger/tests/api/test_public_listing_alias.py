"""GET /public/v1/partners/{pid}/accounts/{userId}/transactions: the listing under &Charge's user_transactions.md URL."""

from rest_framework.test import APIClient

from ledger.tests.helpers import pay_url

ALIAS = "/public/v1/partners/PCS-001/accounts/pcsUserId001/transactions"


def test_the_alias_answers_as_the_listing(api, funded_link, seed_request):
    assert api.post(pay_url(), seed_request, format="json").status_code == 201
    for query in ("", "?page=0&limit=1", "?page=1&limit=1"):
        alias, listing = api.get(ALIAS + query), api.get(pay_url() + query)
        assert (alias.status_code, alias.json()) == (listing.status_code, listing.json())
    assert [t["transactionId"] for t in api.get(ALIAS).json()] == ["348328463873"]


def test_the_alias_refuses_as_the_listing(api, funded_link, other_partner):
    assert APIClient().get(ALIAS).json() == {"error": "AUTHORIZATION_INVALID", "args": []}
    assert api.get("/public/v1/partners/PCS-002/accounts/pcsUserId001/transactions").status_code == 403
    unknown = api.get("/public/v1/partners/PCS-001/accounts/nobody/transactions")
    assert (unknown.status_code, unknown.json()) == (404, {"error": "REFERENCED_OBJECT_NOT_FOUND", "args": ["user", "nobody"]})
    assert api.get(ALIAS + "?limit=0").json() == {"error": "INVALID_PARAMETER", "args": ["0", "limit"]}


def test_the_alias_does_not_pay(api, funded_link, seed_request):
    response = api.post(ALIAS, seed_request, format="json")
    assert response.status_code == 405
    assert api.get(pay_url()).json() == []
