"""Tenant isolation on the HOP API (DESIGN §4.1, last point): two partners share a customer (one wallet); each
sees and touches only what its own service accounts made and the cards stored through it; a card token is shown
only to the partner that stored it; whatever a partner may not see answers exactly as something that does not
exist (406 10004).

The matrix runs every HOP read and write across the boundary in both directions, against the real sandbox.
"""

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date

import pytest
import requests
from rest_framework.test import APIClient

from accounts import services as accounts_services
from accounts.tests.factories import CustomerFactory, PartnerLinkFactory, ServiceAccountFactory
from accounts.tests.helpers import hop_login
from core.models import IdempotencyRecord
from gateways.models import CardCharge, CardCredit, PaymentMethod
from gateways.tests.factories import SEED_TOKEN, PaymentMethodFactory
from ledger.models import Entry
from ledger.tests.helpers import cents
from wallet.models import Comp, LineItem, Purchase
from wallet.tests.helpers import allow_comps

from .support import (
    OTHER_SERVICE_PASSWORD,
    PAYMENT_MISSING,
    USER_NOT_FOUND,
    authorizations,
    charge_url,
    charges_url,
    hop_error,
    rfid_charges_url,
    transactions_url,
)

CHARGE_NOT_FOUND = hop_error(10004, "Record not found", {"charge": ["not found"]})
B_TOKEN = "4000000000000002"
RFID = "shared-rfid-0001"


@dataclass
class Side:
    code: str
    client: APIClient
    jwt: str
    token: str  # the card this partner stored for the shared customer
    charge_id: int  # a charge this partner made on the shared customer


@dataclass
class World:
    customer: object
    sides: dict


def _snapshot(world: World) -> dict:
    """Everything a cross-boundary request could move."""
    return {
        "cents": cents(world.customer),
        "charges": sorted(CardCharge.objects.values_list("pk", "partner__code", "status", "amount_requested")),
        "cards": sorted(PaymentMethod.objects.values_list("pk", "partner__code", "token", "expires_at")),
        "credits": sorted(CardCredit.objects.values_list("pk", "partner__code", "status", "amount")),
        "entries": Entry.objects.count(),
    }


@pytest.fixture
def world(partner, other_partner, hop_api, hop_jwt, hop_customer, sandbox) -> World:
    """PCS-001 (A) and PCS-002 (B) both linked to one customer; each stored its own card and charged it once."""
    ServiceAccountFactory(partner=other_partner, email="hop@other.example", password=OTHER_SERVICE_PASSWORD)
    b_jwt = hop_login("hop@other.example", OTHER_SERVICE_PASSWORD).json()["data"]["jwt"]
    b_client = APIClient()
    b_client.credentials(HTTP_AUTHORIZATION=f"Bearer {b_jwt}")
    PartnerLinkFactory(partner=other_partner, customer=hop_customer, external_user_id="sharedUser")
    accounts_services.rfid_token_add(customer=hop_customer, token=RFID)

    a_charge = hop_api.post(charges_url(hop_customer.pk), {"charge": {"amount_in_cents": 500}}, format="json")
    b_charge = b_client.post(
        charges_url(hop_customer.pk),
        {"charge": {"amount_in_cents": 700, "payment_method": {"token": B_TOKEN, "expires_at": "2031-06-30"}}},
        format="json",
    )
    assert (a_charge.status_code, b_charge.status_code) == (201, 201), (a_charge.content, b_charge.content)
    assert cents(hop_customer) == 1200
    return World(
        customer=hop_customer,
        sides={
            "A": Side("PCS-001", hop_api, hop_jwt, SEED_TOKEN, a_charge.json()["data"]["charge"]["id"]),
            "B": Side("PCS-002", b_client, b_jwt, B_TOKEN, b_charge.json()["data"]["charge"]["id"]),
        },
    )


DIRECTIONS = [("A", "B"), ("B", "A")]


def _charge_txn(charge_id: int) -> int:
    """The ledger transaction of a charge's top-up: the id its history row carries."""
    return CardCharge.objects.values_list("ledger_transaction_id", flat=True).get(pk=charge_id)


# --- reads ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("me", "them"), DIRECTIONS, ids=["A-reads-B", "B-reads-A"])
def test_another_partners_charge_answers_as_a_charge_that_does_not_exist(world, sandbox, me, them):
    client, customer = world.sides[me].client, world.customer
    before, requests_before = _snapshot(world), len(sandbox.control.requests())

    theirs = client.get(charge_url(customer.pk, world.sides[them].charge_id))
    unknown = client.get(charge_url(customer.pk, 999_999_999))

    assert (theirs.status_code, theirs.json()) == (406, CHARGE_NOT_FOUND)
    assert theirs.content == unknown.content
    assert world.sides[them].token not in theirs.content.decode()
    assert _snapshot(world) == before
    assert len(sandbox.control.requests()) == requests_before


@pytest.mark.parametrize("me", ["A", "B"])
def test_a_partner_reads_its_own_charge_with_its_own_cards_token(world, me):
    side = world.sides[me]

    response = side.client.get(charge_url(world.customer.pk, side.charge_id))

    assert response.status_code == 200
    assert response.json()["data"]["charge"]["id"] == side.charge_id
    assert response.json()["data"]["charge"]["metadata"]["Token"] == side.token
    assert response.json()["data"]["charge"]["balance_in_cents"] == 1200  # one wallet


@pytest.mark.parametrize(("me", "them"), DIRECTIONS, ids=["A-lists", "B-lists"])
def test_the_history_lists_only_the_partners_own_rows(world, me, them):
    response = world.sides[me].client.get(transactions_url(world.customer.pk))

    assert response.status_code == 200
    rows = response.json()["data"]["transactions"]
    assert [row["id"] for row in rows] == [_charge_txn(world.sides[me].charge_id)]
    assert _charge_txn(world.sides[them].charge_id) not in [row["id"] for row in rows]
    assert rows[0]["balance_in_cents"] == (500 if me == "A" else 1200)  # the one wallet's balance after the row


# --- writes --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("me", ["A", "B"])
@pytest.mark.parametrize("route", ["user", "rfid"])
def test_a_charge_without_a_card_uses_only_the_card_the_partner_stored(world, sandbox, me, route):
    side = world.sides[me]
    path = charges_url(world.customer.pk) if route == "user" else rfid_charges_url(RFID)
    other_cards = sorted(PaymentMethod.objects.exclude(partner__code=side.code).values_list("pk", "last_used_at"))

    response = side.client.post(path, {"charge": {"amount_in_cents": 600}}, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["data"]["charge"]["metadata"]["Token"] == side.token
    assert authorizations(sandbox)[-1]["token_last4"] == side.token[-4:]
    assert cents(world.customer) == 1800
    charge = CardCharge.objects.get(pk=response.json()["data"]["charge"]["id"])
    assert (charge.partner.code, charge.payment_method.partner.code) == (side.code, side.code)
    assert sorted(PaymentMethod.objects.exclude(partner__code=side.code).values_list("pk", "last_used_at")) == other_cards


@pytest.mark.parametrize("me", ["A", "B"])
def test_a_credit_refunds_only_to_the_card_the_partner_stored(world, sandbox, me):
    side = world.sides[me]

    response = side.client.post(f"/api/v1/users/{world.customer.pk}/credits", {"credit": {"amount_in_cents": 600}}, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["data"]["credit"]["metadata"]["Token"] == side.token
    assert authorizations(sandbox)[-1]["token_last4"] == side.token[-4:]
    assert cents(world.customer) == 600  # one wallet
    credit = CardCredit.objects.get(pk=response.json()["data"]["credit"]["id"])
    assert (credit.partner.code, credit.payment_method.partner.code) == (side.code, side.code)


@pytest.mark.parametrize("route", ["user", "rfid"])
def test_a_card_only_the_other_partner_stored_is_no_card_at_all(partner, other_partner, hop_api, sandbox, route):
    # A customer both partners know, with a card only PCS-002 stored: for PCS-001 there is no card on record.
    customer = CustomerFactory()
    PartnerLinkFactory(partner=partner, customer=customer, external_user_id="onlyTheirCard")
    PartnerLinkFactory(partner=other_partner, customer=customer, external_user_id="theirUser")
    PaymentMethodFactory(customer=customer, partner=other_partner, token=B_TOKEN, expires_at=date(2031, 6, 30))
    accounts_services.rfid_token_add(customer=customer, token="their-card-rfid")
    path = charges_url(customer.pk) if route == "user" else rfid_charges_url("their-card-rfid")

    response = hop_api.post(path, {"charge": {"amount_in_cents": 600}}, format="json")

    assert (response.status_code, response.json()) == (406, PAYMENT_MISSING)
    assert sandbox.control.requests() == []
    assert not CardCharge.objects.exists()
    assert cents(customer) == 0


@pytest.mark.parametrize(("me", "them"), DIRECTIONS, ids=["A-sends-Bs-token", "B-sends-As-token"])
def test_sending_the_other_partners_token_stores_a_card_of_ones_own(world, sandbox, me, them):
    side, theirs = world.sides[me], world.sides[them]
    their_card = PaymentMethod.objects.values().get(partner__code=theirs.code)
    expires = their_card["expires_at"].isoformat()

    response = side.client.post(
        charges_url(world.customer.pk),
        {"charge": {"amount_in_cents": 600, "payment_method": {"token": theirs.token, "expires_at": expires}}},
        format="json",
    )

    assert response.status_code == 201, response.content
    assert PaymentMethod.objects.values().get(pk=their_card["id"]) == their_card  # untouched, still theirs alone
    mine = PaymentMethod.objects.get(partner__code=side.code, token=theirs.token)
    assert CardCharge.objects.get(pk=response.json()["data"]["charge"]["id"]).payment_method == mine
    assert cents(world.customer) == 1800
    assert authorizations(sandbox)[-1]["token_last4"] == theirs.token[-4:]


@pytest.mark.parametrize(("me", "them"), DIRECTIONS, ids=["A-then-B", "B-then-A"])
def test_an_idempotency_key_of_one_partner_never_replays_for_the_other(world, sandbox, me, them):
    first = world.sides[them].client.post(
        charges_url(world.customer.pk), {"charge": {"amount_in_cents": 650}}, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    second = world.sides[me].client.post(
        charges_url(world.customer.pk), {"charge": {"amount_in_cents": 650}}, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )

    assert (first.status_code, second.status_code) == (201, 201)
    assert "Idempotent-Replayed" not in second
    assert first.json()["data"]["charge"]["id"] != second.json()["data"]["charge"]["id"]
    assert first.json()["data"]["charge"]["metadata"]["Token"] == world.sides[them].token
    assert second.json()["data"]["charge"]["metadata"]["Token"] == world.sides[me].token
    assert cents(world.customer) == 1200 + 650 + 650
    assert IdempotencyRecord.objects.filter(key="k-1").count() == 2


def test_a_customer_linked_only_to_the_other_partner_is_unknown_on_every_route(world, other_partner, sandbox):
    # For contrast: the customer-level refusal is the same 10004 (with "user"), and nothing is looked up further.
    stranger = CustomerFactory()
    PartnerLinkFactory(partner=other_partner, customer=stranger, external_user_id="onlyB")
    accounts_services.rfid_token_add(customer=stranger, token="only-b-rfid")
    a = world.sides["A"].client
    before, requests_before = _snapshot(world), len(sandbox.control.requests())

    responses = [
        a.post(charges_url(stranger.pk), {"charge": {"amount_in_cents": 600}}, format="json"),
        a.post(rfid_charges_url("only-b-rfid"), {"charge": {"amount_in_cents": 600}}, format="json"),
        a.get(transactions_url(stranger.pk)),
        a.get(charge_url(stranger.pk, world.sides["B"].charge_id)),
    ]

    assert [(r.status_code, r.json()) for r in responses] == [(406, USER_NOT_FOUND)] * 4
    assert _snapshot(world) == before
    assert len(sandbox.control.requests()) == requests_before


def test_a_legacy_charge_on_another_partners_card_shows_its_token_masked(world):
    # A charge made before cards were scoped may sit on a card another partner stored: its charge is still the
    # charging partner's to read, the card's token is not.
    a_side, b_side = world.sides["A"], world.sides["B"]
    CardCharge.objects.filter(pk=a_side.charge_id).update(payment_method=PaymentMethod.objects.get(partner__code=b_side.code))
    CardCharge.objects.filter(pk=a_side.charge_id).update(metadata={"Token": b_side.token, "GatewayMessage": "A01 - Approved"})

    response = a_side.client.get(charge_url(world.customer.pk, a_side.charge_id))

    assert response.status_code == 200
    assert response.json()["data"]["charge"]["metadata"]["Token"] == "****" + b_side.token[-4:]


# --- concurrently ----------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_both_partners_charging_the_shared_customer_at_once_each_use_their_own_card(http_server, world, sandbox):
    barrier = threading.Barrier(8)
    plan = [("A", 500 + n) for n in range(4)] + [("B", 700 + n) for n in range(4)]

    def fire(step):
        me, amount = step
        with requests.Session() as session:
            barrier.wait(timeout=30)
            return session.post(
                http_server + charges_url(world.customer.pk),
                json={"charge": {"amount_in_cents": amount}},
                headers={"Authorization": f"Bearer {world.sides[me].jwt}"},
                timeout=60,
            )

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(fire, plan))

    assert [r.status_code for r in responses] == [201] * 8
    for (me, _), response in zip(plan, responses, strict=True):
        assert response.json()["data"]["charge"]["metadata"]["Token"] == world.sides[me].token
    assert cents(world.customer) == 1200 + sum(amount for _, amount in plan)
    made = CardCharge.objects.exclude(pk__in=[world.sides["A"].charge_id, world.sides["B"].charge_id])
    assert sorted(made.values_list("partner__code", "payment_method__partner__code", "payment_method__token")) == sorted(
        [("PCS-001", "PCS-001", SEED_TOKEN)] * 4 + [("PCS-002", "PCS-002", B_TOKEN)] * 4
    )
    for me in ("A", "B"):
        rows = world.sides[me].client.get(transactions_url(world.customer.pk)).json()["data"]["transactions"]
        assert len(rows) == 5
        made = CardCharge.objects.filter(ledger_transaction_id__in=[r["id"] for r in rows])
        assert set(made.values_list("partner__code", flat=True)) == {world.sides[me].code}


# --- the cents wallet's routes (purchases, comps, the customer, Drink Command) ----------------------------------


def _wallet_routes(customer_id, rfid: str) -> list[tuple[str, str, dict | None]]:
    """Every cents-wallet route that names a customer, as (method, path, body)."""
    return [
        ("get", f"/api/v1/users/{customer_id}", None),
        ("get", f"/api/v1/users/{rfid}", None),
        ("get", f"/api/v1/users/{rfid}/transactions", None),
        ("get", f"/api/v1/users/{customer_id}/purchases", None),
        ("post", f"/api/v1/users/{customer_id}/purchases", {"purchase": {"amount_in_cents": 100}}),
        ("post", f"/api/v1/users/{customer_id}/comps", {"comp": {"amount_in_cents": 100}}),
    ]


def _drinkcommand_routes(rfid: str) -> list[tuple[str, str, dict | None]]:
    return [
        ("get", f"/api/v1/drinkcommand/customer/{rfid}", None),
        ("post", f"/api/v1/drinkcommand/charge/{rfid}", {"charge": {"amount_in_cents": 500}}),
        ("post", f"/api/v1/drinkcommand/line_item/{rfid}", {"line_item": {"line_item_id": "li-1", "money_units": -100}}),
    ]


def _call(client, method: str, path: str, body):
    return client.get(path) if method == "get" else client.post(path, body, format="json")


SESSION_TOKEN_NOT_FOUND = {
    "data": {"code": 20404, "message": "User with session token not found", "errors": {"session_token": ["missing or invalid"]}}
}


def test_a_customer_only_the_other_partner_knows_is_unknown_on_every_wallet_route(world, other_partner, sandbox):
    stranger = CustomerFactory()
    PartnerLinkFactory(partner=other_partner, customer=stranger, external_user_id="onlyB-wallet")
    accounts_services.rfid_token_add(customer=stranger, token="only-b-wallet-rfid")
    allow_comps(ServiceAccountFactory._meta.model.objects.get(email="hop@pcs.example"))
    a = world.sides["A"].client
    before, requests_before = _snapshot(world), len(sandbox.control.requests())

    hop = [_call(a, *route) for route in _wallet_routes(stranger.pk, "only-b-wallet-rfid")]
    drinkcommand = [_call(a, *route) for route in _drinkcommand_routes("only-b-wallet-rfid")]

    assert [(r.status_code, r.json()) for r in hop] == [(406, USER_NOT_FOUND)] * len(hop)
    assert [(r.status_code, r.json()) for r in drinkcommand] == [(404, SESSION_TOKEN_NOT_FOUND)] * len(drinkcommand)
    assert _snapshot(world) == before
    assert len(sandbox.control.requests()) == requests_before
    assert not (Purchase.objects.exists() or Comp.objects.exists() or LineItem.objects.exists())


@pytest.mark.parametrize(("me", "them"), DIRECTIONS, ids=["A-reads-B", "B-reads-A"])
def test_wallet_records_are_seen_only_by_the_partner_that_made_them(
    world, me, them, settings, django_capture_on_commit_callbacks
):
    settings.CELERY_TASK_ALWAYS_EAGER = True  # the line items' worker runs in the request, after commit
    customer, mine, theirs = world.customer, world.sides[me], world.sides[them]
    for side, amount in ((theirs, 300), (mine, 200)):
        assert (
            side.client.post(
                f"/api/v1/users/{customer.pk}/purchases", {"purchase": {"amount_in_cents": amount}}, format="json"
            ).status_code
            == 201
        )
        with django_capture_on_commit_callbacks(execute=True):
            response = side.client.post(
                f"/api/v1/drinkcommand/line_item/{RFID}",
                {"line_item": {"line_item_id": "same-id", "money_units": -amount}},
                format="json",
            )
        assert (response.status_code, response.json()["data"]["status"]) == (201, "pending")

    purchases = mine.client.get(f"/api/v1/users/{customer.pk}/purchases").json()["data"]["purchases"]
    history = mine.client.get(f"/api/v1/users/{customer.pk}/transactions").json()["data"]["transactions"]
    user = mine.client.get(f"/api/v1/users/{customer.pk}").json()["data"]["user"]
    card = mine.client.get(f"/api/v1/drinkcommand/customer/{RFID}").json()["data"]

    assert [p["amount_in_cents"] for p in purchases] == [200]
    assert [(r["type"], r["amount_in_cents"]) for r in history] == [
        ("purchase", -200),
        ("purchase", -200),
        ("charge", 500 if me == "A" else 700),
    ]
    assert user["balance_in_cents"] == card["balance_in_cents"] == 1200 - 2 * 500  # one wallet
    assert user["payment_method"]["masked_number"] == card["masked_number"] == "********" + mine.token[-4:]
    assert theirs.token not in str(user) + str(card)
    # The same line_item_id from two partners is two line items, one each (idempotency never crosses partners).
    assert sorted(LineItem.objects.values_list("partner__code", "line_item_id", "status")) == [
        ("PCS-001", "same-id", "processed"),
        ("PCS-002", "same-id", "processed"),
    ]
