"""The customer (HOP's user.md `GET /api/v1/users/:id_or_rfid`) and the cents history (transactions_history.md):
HOP's shape, its paging and `q`, and a running balance that equals the ledger after a mixed sequence."""

import itertools
from datetime import date

import pytest

from gateways import services as gateway_services
from gateways.models import CardCharge
from gateways.tests.factories import PaymentMethodFactory
from ledger import services as ledger_services
from ledger.models import Entry, SystemAccount, TransactionKind, Unit
from ledger.tests.helpers import cents, wallet_of
from wallet.selectors import HOP_TYPES

from ..helpers import comps_url, history_url, purchase, purchases_url, set_credit_limit, user_url

USER_NOT_FOUND = {"data": {"code": 10004, "message": "Record not found", "errors": {"user": ["not found"]}}}


# --- GET /api/v1/users/{id_or_rfid} ----------------------------------------------------------------------------


def test_the_customer_with_balance_credit_limit_and_masked_card(hop_api, hop_customer, gateway_settings, rfid):
    set_credit_limit(hop_customer, 20000)
    assert (
        hop_api.post(f"/api/v1/users/{hop_customer.pk}/charges", {"charge": {"amount_in_cents": 3200}}, format="json").status_code
        == 201
    )
    hop_customer.name = "Test T Tester"
    hop_customer.save()
    # BridgePay names the brand in its answer (the seed's CardType); the sandbox leaves it out.
    charge = CardCharge.objects.get()
    CardCharge.objects.filter(pk=charge.pk).update(metadata={**charge.metadata, "CardType": "Visa"})

    by_id = hop_api.get(user_url(hop_customer.pk))
    by_rfid = hop_api.get(user_url(rfid))

    method = hop_customer.payment_methods.get()
    assert by_id.status_code == 200
    assert by_id.json() == {
        "data": {
            "user": {
                "id": hop_customer.pk,
                "email": "hop.customer@example.com",
                "first_name": "Test T",
                "last_name": "Tester",
                "balance_in_cents": 3200,
                "credit_limit_in_cents": 20000,
                "payment_method": {
                    "id": method.pk,
                    "token": "****0019",
                    "expires_at": "2030-12-31",
                    "card_type": "Visa",
                    "masked_number": "********0019",
                },
            }
        }
    }
    assert by_rfid.json() == by_id.json()
    assert "1000000074340019" not in by_id.content.decode()


def test_a_card_only_another_partner_stored_is_no_card(hop_api, hop_customer, other_partner):
    hop_customer.payment_methods.all().delete()
    PaymentMethodFactory(customer=hop_customer, partner=other_partner, token="4000000000000002", expires_at=date(2031, 6, 30))

    response = hop_api.get(user_url(hop_customer.pk))

    assert response.json()["data"]["user"]["payment_method"] is None


@pytest.mark.parametrize("value", ["999999", "no-such-rfid", "0"])
def test_an_unknown_customer_is_10004(hop_api, hop_customer, value):
    response = hop_api.get(user_url(value))

    assert (response.status_code, response.json()) == (406, USER_NOT_FOUND)


# --- GET /api/v1/users/{id_or_rfid}/transactions ---------------------------------------------------------------


def _mixed_sequence(hop_api, comp_api, hop_customer, partner, admin_user):
    """Top-ups, purchases (one on credit, one refused past the limit), comps, a staff refund of a top-up: what a
    wallet goes through, through the API where there is one. Ends at 0."""
    url = f"/api/v1/users/{hop_customer.pk}/charges"
    assert hop_api.post(url, {"charge": {"amount_in_cents": 3000}}, format="json").status_code == 201
    assert (
        hop_api.post(
            purchases_url(hop_customer.pk), purchase(1200, tap_id="1b", qty=2, venue_id="123"), format="json"
        ).status_code
        == 201
    )
    assert (
        comp_api.post(
            comps_url(hop_customer.pk), {"comp": {"amount_in_cents": "500", "description": "sorry"}}, format="json"
        ).status_code
        == 201
    )
    assert hop_api.post(url, {"charge": {"amount_in_cents": 700}}, format="json").status_code == 201
    set_credit_limit(hop_customer, 1000)
    assert hop_api.post(purchases_url(hop_customer.pk), purchase(3500), format="json").status_code == 201  # -> -500
    assert hop_api.post(purchases_url(hop_customer.pk), purchase(600), format="json").status_code == 400  # past -1000
    ledger_services.cents_wallet_move(
        kind=TransactionKind.COMP,
        customer_id=hop_customer.pk,
        partner=partner,
        amount_cents=1200,
        counterpart=SystemAccount.USD_COMPS,
    )
    charge = CardCharge.objects.order_by("pk").last()
    gateway_services.card_charge_refund_request(charge_id=charge.pk, requested_by=admin_user, reason="customer asked")


def test_the_running_balance_equals_the_ledger_after_a_mixed_sequence(
    hop_api, comp_api, hop_customer, partner, admin_user, gateway_settings, settings
):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    _mixed_sequence(hop_api, comp_api, hop_customer, partner, admin_user)

    response = hop_api.get(history_url(hop_customer.pk))

    assert response.status_code == 200
    body = response.json()["data"]
    rows = body["transactions"]
    assert [(r["type"], r["amount_in_cents"]) for r in rows] == [
        ("refund", -700),
        ("comp", 1200),
        ("purchase", -3500),
        ("charge", 700),
        ("comp", 500),
        ("purchase", -1200),
        ("charge", 3000),
    ]
    assert (body["total"], body["pages"], body["next_page"]) == (7, 1, None)
    wallet = wallet_of(hop_customer, Unit.USD_CENTS)
    assert rows[0]["balance_in_cents"] == cents(hop_customer) == 0
    # Each row's balance is the ledger's: the sum of the wallet's entries up to it, and the next row's plus its amount.
    for row in rows:
        entry = Entry.objects.get(transaction_id=row["id"], account=wallet)
        assert row["balance_in_cents"] == sum(
            Entry.objects.filter(account=wallet, pk__lte=entry.pk).values_list("amount", flat=True)
        )
    for newer, older in itertools.pairwise(rows):
        assert newer["balance_in_cents"] == older["balance_in_cents"] + newer["amount_in_cents"]
    assert rows[-1]["balance_in_cents"] == rows[-1]["amount_in_cents"]
    bought = rows[5]
    assert (bought["tap_id"], bought["qty"], bought["venue_id"], bought["description"]) == (
        "1b",
        2,
        "123",
        "Cents spent on a purchase",
    )
    assert rows[4]["description"] == "sorry"


def test_q_keeps_one_type_and_paging_follows_hop(
    hop_api, comp_api, hop_customer, partner, admin_user, gateway_settings, settings, rfid
):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    _mixed_sequence(hop_api, comp_api, hop_customer, partner, admin_user)

    purchases = hop_api.get(history_url(hop_customer.pk), {"q": "purchase"}).json()["data"]
    charges = hop_api.get(history_url(rfid), {"q": "charge", "per_page": 1, "page": 2}).json()["data"]
    default = hop_api.get(history_url(hop_customer.pk)).json()["data"]
    bad = hop_api.get(history_url(hop_customer.pk), {"q": "charges"})

    assert [(r["type"], r["amount_in_cents"], r["balance_in_cents"]) for r in purchases["transactions"]] == [
        ("purchase", -3500, -500),
        ("purchase", -1200, 1800),
    ]
    assert (charges["total"], charges["pages"], charges["next_page"]) == (2, 2, None)
    assert [r["amount_in_cents"] for r in charges["transactions"]] == [3000]
    assert len(default["transactions"]) == 7  # per_page defaults to 100
    assert bad.status_code == 422
    assert bad.json()["data"]["errors"] == {"q": ["must be one of charge, credit, refund, comp, purchase"]}


def test_one_mapping_from_ledger_kinds_to_hop_types():
    assert HOP_TYPES[TransactionKind.CARD_CREDIT] == "credit"
    assert HOP_TYPES[TransactionKind.CARD_TOPUP] == "charge"
    assert HOP_TYPES[TransactionKind.CARD_REFUND] == "refund"
    assert HOP_TYPES[TransactionKind.PURCHASE] == HOP_TYPES[TransactionKind.LINE_ITEM_PURCHASE] == "purchase"
    assert HOP_TYPES[TransactionKind.COMP] == "comp"
    cents_kinds = set(TransactionKind) - {
        TransactionKind.PAY_FOR_CHARGING_SESSION,
        TransactionKind.KM_GRANT,
        TransactionKind.KM_ADJUSTMENT,
        TransactionKind.CARD_CAPTURE,
        TransactionKind.CARD_SETTLEMENT,
        TransactionKind.CARD_CREDIT_POSTED,
        TransactionKind.CARD_CREDIT_SETTLEMENT,
        TransactionKind.CO2_OFFSET_CHARGING_SESSION,
        TransactionKind.CO2_DONATION,
    }
    assert cents_kinds <= set(HOP_TYPES)  # every kind that moves a cents wallet has a HOP type


def test_a_card_credit_row_is_a_credit(hop_api, hop_customer, partner, topped_up):
    topped_up(1000)
    ledger_services.cents_wallet_move(
        kind=TransactionKind.CARD_CREDIT,
        customer_id=hop_customer.pk,
        partner=partner,
        amount_cents=-400,
        counterpart=SystemAccount.USD_CARD_SETTLED,
    )

    rows = hop_api.get(history_url(hop_customer.pk), {"q": "credit"}).json()["data"]["transactions"]

    assert [(r["type"], r["amount_in_cents"], r["balance_in_cents"], r["description"]) for r in rows] == [
        ("credit", -400, 600, "Cents refunded to the card")
    ]
