"""Comps (HOP's comp.md): a credit without the gateway, only for service accounts with the comp permission."""

from ledger.models import Entry, SystemAccount, TransactionKind
from ledger.tests.helpers import cents
from wallet.models import Comp

from ..helpers import COMP_DENIED, comps_url


def test_the_docs_test_example_comps_500(comp_api, hop_customer, topped_up):
    topped_up(3200)

    response = comp_api.post(comps_url(hop_customer.pk), {"comp": {"amount_in_cents": "500"}}, format="json")

    assert response.status_code == 201, response.content
    made = Comp.objects.get()
    assert response.json() == {
        "data": {
            "comp": {
                "id": made.pk,
                "comp_at": made.created_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "amount_in_cents": 500,
                "balance_in_cents": 3700,
                "venue_id": "",
                "employee_id": "",
            }
        }
    }
    assert cents(hop_customer) == 3700
    txn = made.ledger_transaction
    assert (txn.kind, txn.partner.code) == (TransactionKind.COMP, "PCS-001")
    assert set(txn.entries.values_list("account__code", "amount")) == {(None, 500), (SystemAccount.USD_COMPS.value, -500)}


def test_all_the_docs_fields_are_kept(comp_api, hop_customer):
    body = {"comp": {"amount_in_cents": 250, "employee_id": "e-9", "venue_id": 123, "description": "Birthday round"}}

    response = comp_api.post(comps_url(hop_customer.pk), body, format="json")

    assert response.status_code == 201
    assert (response.json()["data"]["comp"]["venue_id"], response.json()["data"]["comp"]["employee_id"]) == ("123", "e-9")
    assert Comp.objects.values_list("description", flat=True).get() == "Birthday round"


def test_a_negative_comp_is_the_docs_denied_error_and_records_nothing(comp_api, hop_customer):
    entries = Entry.objects.count()

    for amount in (-500, "-500"):
        response = comp_api.post(comps_url(hop_customer.pk), {"comp": {"amount_in_cents": amount}}, format="json")

        assert (response.status_code, response.json()) == (406, COMP_DENIED)
    assert not Comp.objects.exists()
    assert Entry.objects.count() == entries
    assert cents(hop_customer) == 0


def test_a_zero_or_missing_amount_is_10013(comp_api, hop_customer):
    zero = comp_api.post(comps_url(hop_customer.pk), {"comp": {"amount_in_cents": 0}}, format="json")
    missing = comp_api.post(comps_url(hop_customer.pk), {"comp": {}}, format="json")

    assert (zero.status_code, zero.json()["data"]["code"]) == (422, 10013)
    assert missing.json()["data"]["errors"] == {"amount_in_cents": ["is missing or empty"]}
    assert not Comp.objects.exists()


def test_a_service_account_without_the_comp_permission_is_unauthorized(hop_api, hop_customer):
    response = hop_api.post(comps_url(hop_customer.pk), {"comp": {"amount_in_cents": "500"}}, format="json")

    assert response.status_code == 401
    assert response.json() == {"data": {"code": 10005, "message": "Unauthorized", "errors": {"access": ["Unauthorized"]}}}
    assert not Comp.objects.exists()
    assert cents(hop_customer) == 0


def test_an_idempotency_key_comps_once(comp_api, hop_customer):
    first = comp_api.post(
        comps_url(hop_customer.pk), {"comp": {"amount_in_cents": 100}}, format="json", HTTP_IDEMPOTENCY_KEY="c1"
    )
    again = comp_api.post(
        comps_url(hop_customer.pk), {"comp": {"amount_in_cents": 100}}, format="json", HTTP_IDEMPOTENCY_KEY="c1"
    )

    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert Comp.objects.count() == 1
    assert cents(hop_customer) == 100
