"""The &Charge CO2 services on the Charge&Pay URLs: the doc's sample, the donation, the partner-paid offset, the keys
each service requires, and the Charge&Pay rules they keep (one transactionId namespace, order of checks, errors)."""

import copy
import re
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from accounts.tests.helpers import bearer, login
from ledger import selectors
from ledger.models import AccountKind, Co2Computation, Entry, SystemAccount, Transaction, TransactionKind
from ledger.tests.helpers import (
    CO2_ANSWER,
    CO2_REQUEST,
    grant,
    grid_intensities_seed,
    partner_pay_url,
    pay_url,
    wallet_of,
)

CREATED_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+0000$")
DONATION = {"transactionId": "don-1", "service": "DONATE_FOR_CO2_OFFSET", "kilometer": 10, "serviceSpecificData": {}}


@pytest.fixture(autouse=True)
def _grid_intensities(db):
    grid_intensities_seed()


@pytest.fixture
def co2_request():
    return copy.deepcopy(CO2_REQUEST)


def offset_account_total() -> int:
    account_id = selectors.system_account_id(code=SystemAccount.KM_CO2_OFFSET)
    return selectors.account_entries_total(account_id=account_id)


def billing_total(partner) -> int:
    return selectors.account_entries_total(account_id=selectors.partner_billing_account_id(partner_id=partner.pk))


def test_the_docs_co2_sample_request_answers_the_docs_shape(api, funded_link, co2_request):
    response = api.post(pay_url(), co2_request, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert list(body) == list(CO2_ANSWER)
    assert CREATED_RE.match(body.pop("created"))
    # The doc's -3 is its own; 22 kW x 3.600213 h x 0.6 = 47.522812 kWh x 380.95 g/kWh (DE) = 18.1 kg -> 19 km.
    assert body == {**{k: v for k, v in CO2_ANSWER.items() if k != "created"}, "kilometer": -19}
    assert wallet_of(funded_link.customer).balance == 81
    assert offset_account_total() == 19
    computation = Co2Computation.objects.get(transaction__external_id="348324563873")
    assert (computation.energy_kwh, computation.energy_estimated, computation.co2_grams) == (
        Decimal("47.522812"),
        True,
        Decimal("18103.815231"),
    )
    assert (computation.factor_country, computation.grams_per_kwh, computation.factor_version) == ("DE", Decimal("380.95"), 1)
    assert (computation.kilometer_computed, computation.kilometer_sent) == (19, None)


def test_a_kilometer_sent_is_used_as_sent(api, funded_link, co2_request):
    co2_request["kilometer"] = 3

    response = api.post(pay_url(), co2_request, format="json")

    assert response.status_code == 201
    assert response.json()["kilometer"] == -3
    assert wallet_of(funded_link.customer).balance == 97
    computation = Co2Computation.objects.get()
    assert (computation.kilometer_computed, computation.kilometer_sent) == (19, 3)


def test_a_donation_debits_the_customer_and_answers_co2_donation(api, funded_link):
    response = api.post(pay_url(), DONATION, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert CREATED_RE.match(body.pop("created"))
    assert body == {
        "transactionId": "don-1",
        "partner": "MSP Partner",
        "kilometer": -10,
        "status": "CONFIRMED",
        "type": "CO2_DONATION",
        "address": "",
    }
    assert wallet_of(funded_link.customer).balance == 90
    assert offset_account_total() == 10
    assert not Co2Computation.objects.exists()
    listing = api.get(pay_url()).json()
    assert [(row["transactionId"], row["type"]) for row in listing] == [("don-1", "CO2_DONATION")]


def test_a_donation_over_the_balance_is_422_and_writes_nothing(api, link):
    grant(link.customer, 4)

    response = api.post(pay_url(), DONATION, format="json")

    assert response.status_code == 422
    assert response.json() == {"error": "ACCOUNT_BALANCE_NOT_SUFFICIENT", "args": [4, 10]}
    assert wallet_of(link.customer).balance == 4
    assert not Transaction.objects.filter(external_id="don-1").exists()


def test_an_offset_over_the_balance_is_422_and_stores_no_computation(api, link, co2_request):
    grant(link.customer, 15)

    response = api.post(pay_url(), co2_request, format="json")

    assert response.status_code == 422
    assert response.json() == {"error": "ACCOUNT_BALANCE_NOT_SUFFICIENT", "args": [15, 19]}
    assert not Transaction.objects.filter(external_id="348324563873").exists()
    assert not Co2Computation.objects.exists()
    assert wallet_of(link.customer).balance == 15


def test_an_offset_for_an_unlinked_user_is_404(api, funded_link, co2_request):
    response = api.post(pay_url(user_id="nobody"), co2_request, format="json")

    assert response.status_code == 404
    assert response.json() == {"error": "REFERENCED_OBJECT_NOT_FOUND", "args": ["user", "nobody"]}
    assert not Co2Computation.objects.exists()


def test_the_partner_pays_an_offset_without_any_balance(api, partner, co2_request):
    assert billing_total(partner) == 0  # nothing owed, nothing prepaid

    response = api.post(partner_pay_url(), co2_request, format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    body.pop("created")
    assert body == {**{k: v for k, v in CO2_ANSWER.items() if k != "created"}, "kilometer": -19}
    txn = Transaction.objects.get(external_id="348324563873")
    assert (txn.kind, txn.customer_id, txn.partner_id) == (TransactionKind.CO2_OFFSET_CHARGING_SESSION, None, partner.pk)
    assert billing_total(partner) == -19  # what the partner owes
    assert offset_account_total() == 19
    assert sorted(Entry.objects.filter(transaction=txn).values_list("account__kind", "amount")) == [
        (AccountKind.BILLING, -19),
        (AccountKind.SYSTEM, 19),
    ]
    assert Co2Computation.objects.get(transaction=txn).kilometer_computed == 19


def test_the_partner_pays_again_with_its_billing_account_already_owing(api, partner, co2_request):
    assert api.post(partner_pay_url(), co2_request, format="json").status_code == 201
    co2_request["transactionId"], co2_request["kilometer"] = "second", 5

    response = api.post(partner_pay_url(), co2_request, format="json")

    assert response.status_code == 201
    assert response.json()["kilometer"] == -5
    assert billing_total(partner) == -24


@pytest.mark.parametrize("service", ["PAY_FOR_CHARGING_SESSION", "DONATE_FOR_CO2_OFFSET"])
def test_the_partner_url_takes_only_the_offset(api, partner, seed_request, service):
    seed_request["service"] = service

    response = api.post(partner_pay_url(), seed_request, format="json")

    assert response.status_code == 400
    assert response.json() == {"error": "INVALID_PARAMETER", "args": [service, "service"]}
    assert not Transaction.objects.exists()


def test_the_partner_url_refuses_another_partners_path(api, other_partner, co2_request):
    response = api.post(partner_pay_url("PCS-002"), co2_request, format="json")

    assert response.status_code == 403
    assert response.json() == {"error": "ACCESS_DENIED", "args": []}


def test_a_revoked_key_cannot_pay_an_offset_either_way(api, api_key, funded_link, co2_request):
    key, _ = api_key
    key.revoked_at = key.created_at
    key.save(update_fields=["revoked_at"])

    assert api.post(pay_url(), co2_request, format="json").status_code == 401
    assert api.post(partner_pay_url(), co2_request, format="json").status_code == 401
    assert not Transaction.objects.filter(external_id="348324563873").exists()


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("pay", "offset"),
        ("offset", "donation"),
        ("pay", "partner"),
        ("partner", "pay"),
        ("partner", "offset"),
    ],
)
def test_one_transaction_id_namespace_across_services(api, funded_link, seed_request, co2_request, first, second):
    bodies = {
        "pay": (pay_url(), seed_request),
        "offset": (pay_url(), co2_request),
        "donation": (pay_url(), dict(DONATION)),
        "partner": (partner_pay_url(), copy.deepcopy(co2_request)),
    }
    for name in (first, second):
        bodies[name][1]["transactionId"] = "shared-id"
    assert api.post(*bodies[first], format="json").status_code == 201
    balance = wallet_of(funded_link.customer).balance

    response = api.post(*bodies[second], format="json")

    assert response.status_code == 409
    assert response.json() == {"error": "TRANSACTION_ALREADY_PROCESSED", "args": ["shared-id"]}
    assert wallet_of(funded_link.customer).balance == balance
    assert Transaction.objects.filter(external_id="shared-id").count() == 1


def test_409_comes_before_404_for_an_offset(api, funded_link, co2_request):
    assert api.post(pay_url(), co2_request, format="json").status_code == 201

    response = api.post(pay_url(user_id="nobody"), co2_request, format="json")

    assert response.status_code == 409


def _without(body: dict, key: str) -> dict:
    body = copy.deepcopy(body)
    body["serviceSpecificData"].pop(key)
    return body


def _with(body: dict, key: str, value) -> dict:
    body = copy.deepcopy(body)
    body["serviceSpecificData"][key] = value
    return body


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (_without(CO2_REQUEST, "CPO_ID"), ["MANDATORY_PARAMETER_NOT_SET", ["serviceSpecificData.CPO_ID"]]),
        (_with(CO2_REQUEST, "CPO_ID", None), ["MANDATORY_PARAMETER_NOT_SET", ["serviceSpecificData.CPO_ID"]]),
        (_with(CO2_REQUEST, "CPO_ID", ""), ["INVALID_PARAMETER", ["", "serviceSpecificData.CPO_ID"]]),
        (
            _without(CO2_REQUEST, "MAX_CHARGING_POWER"),
            ["MANDATORY_PARAMETER_NOT_SET", ["serviceSpecificData.MAX_CHARGING_POWER"]],
        ),
        (
            _with(CO2_REQUEST, "MAX_CHARGING_POWER", "22.5"),
            ["INVALID_PARAMETER", ["22.5", "serviceSpecificData.MAX_CHARGING_POWER"]],
        ),
        (
            _with(CO2_REQUEST, "MAX_CHARGING_POWER", "0"),
            ["INVALID_PARAMETER", ["0", "serviceSpecificData.MAX_CHARGING_POWER"]],
        ),
        (_without(CO2_REQUEST, "EVSE_ID"), ["MANDATORY_PARAMETER_NOT_SET", ["serviceSpecificData.EVSE_ID"]]),
        (
            _without(CO2_REQUEST, "CONSUMED_ENERGY_KWH"),
            ["MANDATORY_PARAMETER_NOT_SET", ["serviceSpecificData.CONSUMED_ENERGY_KWH"]],
        ),
        ({**CO2_REQUEST, "kilometer": 0}, ["INVALID_PARAMETER", [0, "kilometer"]]),
        ({**CO2_REQUEST, "kilometer": "3"}, ["INVALID_PARAMETER", ["3", "kilometer"]]),
        ({k: v for k, v in DONATION.items() if k != "kilometer"}, ["MANDATORY_PARAMETER_NOT_SET", ["kilometer"]]),
        (
            {k: v for k, v in DONATION.items() if k != "serviceSpecificData"},
            ["MANDATORY_PARAMETER_NOT_SET", ["serviceSpecificData"]],
        ),
        ({**DONATION, "serviceSpecificData": {"COLOR": "green"}}, ["INVALID_PARAMETER", ["green", "serviceSpecificData.COLOR"]]),
        ({**DONATION, "serviceSpecificData": {"COUNTRY": "XX"}}, ["INVALID_PARAMETER", ["XX", "serviceSpecificData.COUNTRY"]]),
        ({**DONATION, "service": "PLANT_A_TREE"}, ["INVALID_PARAMETER", ["PLANT_A_TREE", "service"]]),
    ],
)
@pytest.mark.parametrize("url", ["user", "partner"])
def test_the_keys_each_service_requires(api, funded_link, body, error, url):
    if url == "partner" and body["service"] != "CO2_OFFSET_CHARGING_SESSION":
        error = ["INVALID_PARAMETER", [body["service"], "service"]]

    response = api.post(pay_url() if url == "user" else partner_pay_url(), body, format="json")

    assert response.status_code == 400
    assert response.json() == {"error": error[0], "args": error[1]}
    assert not Transaction.objects.exclude(kind=TransactionKind.KM_GRANT).exists()
    assert wallet_of(funded_link.customer).balance == 100


def test_a_payment_still_requires_its_kilometer(api, funded_link, seed_request):
    del seed_request["kilometer"]

    response = api.post(pay_url(), seed_request, format="json")

    assert response.status_code == 400
    assert response.json() == {"error": "MANDATORY_PARAMETER_NOT_SET", "args": ["kilometer"]}


def test_a_donation_may_send_the_session(api, funded_link, seed_request):
    seed_request.update(service="DONATE_FOR_CO2_OFFSET", kilometer=12)

    response = api.post(pay_url(), seed_request, format="json")

    assert response.status_code == 201
    assert response.json()["address"] == "Kölner Straße, Eschborn"
    assert Transaction.objects.get(external_id=seed_request["transactionId"]).evse_id == "DE*911E12345"


def test_an_offset_is_found_by_its_transaction_id(api, funded_link, co2_request):
    api.post(pay_url(), co2_request, format="json")

    response = api.get(f"{pay_url()}/348324563873")

    assert response.status_code == 200
    assert (response.json()["type"], response.json()["kilometer"]) == ("CO2_OFFSET_CHARGING_SESSION", -19)


def test_another_partners_offsets_stay_its_own(partner, other_partner, funded_link, co2_request):
    from accounts.tests.factories import PartnerApiKeyFactory

    key = PartnerApiKeyFactory(partner=other_partner)
    other = bearer(login(APIClient(), key.access_key_id, key.secret).json()["accessToken"])

    assert other.post(partner_pay_url("PCS-002"), co2_request, format="json").status_code == 201

    assert billing_total(other_partner) == -19
    assert billing_total(partner) == 0
