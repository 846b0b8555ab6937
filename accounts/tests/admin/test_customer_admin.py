"""Customers in the back-office (DESIGN §8): found by id, email, name, a partner's userId or an RFID token; the page
shows both balances, the partner links, the cards (masked) and one timeline; finance grants or adjusts kilometers
with a required reason, audited."""

import pytest
from django.urls import reverse

from accounts import services as accounts_services
from accounts.models import AuditAction, AuditLog
from accounts.tests.factories import CustomerFactory, PartnerLinkFactory
from accounts.tests.helpers import assert_audited
from backoffice.tests.helpers import money_state, shown_ids, shown_messages, text
from gateways.tests.factories import SEED_TOKEN, CardChargeFactory
from ledger import services as ledger_services
from ledger.models import Transaction, TransactionKind, Unit
from ledger.tests.factories import SessionPaymentFactory
from ledger.tests.helpers import wallet_of

CHANGELIST = "admin:accounts_customer_changelist"


def change_url(customer) -> str:
    return reverse("admin:accounts_customer_change", args=[customer.pk])


def kilometers_url(customer) -> str:
    return reverse("admin:accounts_customer_kilometers", args=[customer.pk])


@pytest.fixture
def alice(partner):
    customer = CustomerFactory(email="alice@example.com", name="Alice Liddell")
    PartnerLinkFactory(partner=partner, customer=customer, external_user_id="pcsUserId001")
    accounts_services.rfid_token_add(customer=customer, token="RFID-ALICE-0001")
    return customer


@pytest.fixture
def bob(other_partner):
    customer = CustomerFactory(email="bob@example.com", name="Bob Builder")
    PartnerLinkFactory(partner=other_partner, customer=customer, external_user_id="bobUser")
    accounts_services.rfid_token_add(customer=customer, token="RFID-BOB-0002")
    return customer


# --- finding a customer ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("alice@example.com", ["alice"]),  # email
        ("Liddell", ["alice"]),  # name
        ("Bob Builder", ["bob"]),
        ("pcsUserId001", ["alice"]),  # a partner's userId, whichever partner
        ("bobUser", ["bob"]),
        ("RFID-BOB-0002", ["bob"]),  # an RFID token
        ("RFID-ALICE-0001", ["alice"]),
        ("RFID-ALICE", []),  # userIds and RFID tokens match whole values only
        ("nobody@example.com", []),
    ],
)
def test_search(support_client, alice, bob, term, expected):
    people = {"alice": alice, "bob": bob}

    response = support_client.get(reverse(CHANGELIST), {"q": term})

    assert shown_ids(response) == [people[name].pk for name in expected]


def test_search_by_id(support_client, alice, bob):
    by_alice = support_client.get(reverse(CHANGELIST), {"q": str(alice.pk)})
    by_bob = support_client.get(reverse(CHANGELIST), {"q": f" {bob.pk} "})

    assert shown_ids(by_alice) == [alice.pk]
    assert shown_ids(by_bob) == [bob.pk]


def test_the_list_shows_both_balances(support_client, alice, bob):
    ledger_services.kilometers_grant(customer=alice, kilometer=70, reason="welcome")
    ledger_services.card_topup_credit(customer_id=bob.pk, amount_cents=1250)

    response = support_client.get(reverse(CHANGELIST))

    rows = {customer.pk: (customer.km, customer.usd) for customer in response.context["cl"].result_list}
    assert rows[alice.pk] == (70, 0)
    assert rows[bob.pk] == (0, 1250)


def test_staff_in_no_group_cannot_see_customers(nogroup_client, alice):
    assert nogroup_client.get(reverse(CHANGELIST)).status_code == 403
    assert nogroup_client.get(change_url(alice)).status_code == 403


# --- the customer's page -----------------------------------------------------------------------------------------


def test_the_page_shows_balances_links_masked_card_and_the_timeline_newest_first(
    support_client, support_user, finance_user, gateway_settings, service_account, hop_customer, partner, other_partner
):
    # Given: a goodwill grant, a payment, a card top-up (with its gateway attempt), a reversal of the payment by
    # support, and a second partner link not confirmed yet.
    customer = hop_customer
    PartnerLinkFactory(partner=other_partner, customer=customer, external_user_id="pendingUser", confirmed=False)
    grant = ledger_services.kilometers_change_by_staff(
        customer=customer, kilometer=100, goodwill=True, reason="welcome bonus", staff=finance_user
    )
    payment = SessionPaymentFactory(partner=partner, external_user_id="hopUser001", external_id="T-3001", kilometer=38)
    charge = CardChargeFactory(requested_by=service_account, customer=customer, amount_cents=500)
    [attempt] = charge.attempts.all()
    reversal = ledger_services.transaction_reverse_by_staff(transaction_id=payment.pk, staff=support_user, reason="charger fault")

    # When: support opens the customer.
    response = support_client.get(change_url(customer))

    # Then: both balances,
    assert response.status_code == 200
    page = text(response)
    assert '<div class="readonly" id="balance-km">100 km</div>' in page
    assert '<div class="readonly" id="balance-usd">$5.00</div>' in page
    assert response.context["balances"] == {"KM": 100, "USD": 500}
    # the links with their status,
    [links] = response.context["inline_admin_formsets"]
    assert sorted((f.original.partner.code, f.original.external_user_id, f.original.status) for f in links) == [
        ("PCS-001", "hopUser001", "LINKED"),
        ("PCS-002", "pendingUser", "INITIAL"),
    ]
    assert "Initial (awaiting the customer's confirmation)" in page
    # the card, masked: never its full token,
    assert "…0019" in page
    assert "stored by PCS-001" in page
    assert SEED_TOKEN not in page
    # and the timeline, newest first.
    timeline = [
        (row["event"].category, row["event"].title, row["event"].amount, row["url"]) for row in response.context["timeline"]
    ]
    audit_reverse, audit_grant = AuditLog.objects.order_by("-pk")
    topup = Transaction.objects.get(kind=TransactionKind.CARD_TOPUP)
    charge_url = reverse("admin:gateways_cardcharge_change", args=[charge.pk])

    def txn_url(txn):
        return reverse("admin:ledger_transaction_change", args=[txn.pk])

    def audit_url(record):
        return reverse("admin:accounts_auditlog_change", args=[record.pk])

    assert timeline == [
        ("staff", "Transaction reversed by sam.support", "", audit_url(audit_reverse)),
        ("reversal", "Reversal", "+38 km", txn_url(reversal)),
        ("card", "Cents topped up by card", "+$5.00", txn_url(topup)),
        ("gateway", f"Gateway 004 for charge #{charge.pk}: approved", "", charge_url),
        ("card", f"Card charge #{charge.pk}: Authorized and credited, awaiting capture", "", charge_url),
        ("payment", "Pay for a charging session", "-38 km", txn_url(payment)),
        ("staff", "Kilometers granted by fay.finance", "", audit_url(audit_grant)),
        ("grant", "Kilometers granted", "+100 km", txn_url(grant)),
        (
            "link",
            "Linked to PCS-001",
            "",
            reverse("admin:accounts_partnerlink_change", args=[customer.links.get(partner=partner).pk]),
        ),
    ]
    moments = [row["event"].at for row in response.context["timeline"]]
    assert moments == sorted(moments, reverse=True)
    assert attempt.created_at in moments
    assert page.index('class="timeline-staff"') < page.index('class="timeline-reversal"') < page.index('class="timeline-payment"')
    assert "transactionId T-3001" in page and "charger fault" in page and "CANCELLED" in page
    assert 'id="adjust-kilometers"' not in page  # support does not grant or adjust


def test_finance_sees_the_grant_and_adjust_button(finance_client, alice):
    response = finance_client.get(change_url(alice))

    assert f'<a id="adjust-kilometers" href="{kilometers_url(alice)}">' in text(response)


def test_customer_rows_cannot_be_added_changed_or_deleted(superuser_client, alice):
    before = (alice.email, alice.name)

    add = superuser_client.post(reverse("admin:accounts_customer_add"), {"email": "new@example.com", "name": "New"})
    change = superuser_client.post(change_url(alice), {"email": "changed@example.com", "name": "Changed"})
    delete = superuser_client.post(reverse("admin:accounts_customer_delete", args=[alice.pk]), {"post": "yes"})

    assert (add.status_code, change.status_code, delete.status_code) == (403, 403, 403)
    alice.refresh_from_db()
    assert (alice.email, alice.name) == before


# --- grant or adjust kilometers ------------------------------------------------------------------------------------


def test_finance_grants_goodwill_kilometers(finance_client, finance_user, funded_link):
    customer = funded_link.customer

    page = finance_client.get(kilometers_url(customer))
    response = finance_client.post(
        kilometers_url(customer), {"purpose": "goodwill", "kilometers": "25", "reason": "apology for a broken charger"}
    )

    assert page.status_code == 200
    assert '<p id="current-balances">100 km · $0.00</p>' in text(page)
    assert response.status_code == 302
    assert response["Location"] == change_url(customer)
    txn = Transaction.objects.get(kind=TransactionKind.KM_GRANT, created_by=finance_user)
    assert (txn.customer_id, txn.reason, txn.status) == (customer.pk, "apology for a broken charger", "CONFIRMED")
    assert sorted(txn.entries.values_list("amount", flat=True)) == [-25, 25]
    assert wallet_of(customer).balance == 125
    assert_audited(
        actor=finance_user,
        action=AuditAction.KILOMETERS_GRANT,
        reason="apology for a broken charger",
        object_type="ledger.transaction",
        object_id=str(txn.pk),
        customer_id=customer.pk,
        partner_id=None,
        balances_before={"KM": 100, "USD": 0},
        balances_after={"KM": 125, "USD": 0},
        detail={"kilometer": 25},
    )
    assert shown_messages(finance_client.get(change_url(customer))) == [f"Recorded as transaction #{txn.pk}."]


@pytest.mark.parametrize(("purpose", "km", "after"), [("credit", 30, 130), ("debit", 30, 70), ("debit", 100, 0)])
def test_finance_corrects_kilometers_up_and_down(finance_client, finance_user, funded_link, purpose, km, after):
    customer = funded_link.customer
    signed = km if purpose == "credit" else -km

    response = finance_client.post(
        kilometers_url(customer), {"purpose": purpose, "kilometers": str(km), "reason": "meter reading corrected"}
    )

    assert response.status_code == 302
    txn = Transaction.objects.get(kind=TransactionKind.KM_ADJUSTMENT)
    assert (txn.created_by, txn.reason) == (finance_user, "meter reading corrected")
    assert txn.entries.get(account=wallet_of(customer)).amount == signed
    assert wallet_of(customer).balance == after
    assert_audited(
        action=AuditAction.KILOMETERS_ADJUST,
        balances_before={"KM": 100, "USD": 0},
        balances_after={"KM": after, "USD": 0},
        detail={"kilometer": signed},
    )


def test_a_correction_below_zero_is_refused_clearly(finance_client, funded_link):
    customer = funded_link.customer
    before = money_state()

    response = finance_client.post(
        kilometers_url(customer), {"purpose": "debit", "kilometers": "150", "reason": "meter reading corrected"}
    )

    assert response.status_code == 200
    assert shown_messages(response) == [
        "Refused (ACCOUNT_BALANCE_NOT_SUFFICIENT): the wallet holds 100 km, less than the 150 km to take away; "
        "nothing was changed."
    ]
    assert money_state() == before
    assert wallet_of(customer).balance == 100


@pytest.mark.parametrize(
    ("data", "errors"),
    [
        ({"purpose": "goodwill", "kilometers": "25", "reason": ""}, {"reason": ["This field is required."]}),
        (
            {"purpose": "goodwill", "kilometers": "25", "reason": "why"},
            {"reason": ["Say why, in a few words (at least 5 characters)."]},
        ),
        (
            {"purpose": "goodwill", "kilometers": "0", "reason": "welcome bonus"},
            {"kilometers": ["Ensure this value is greater than or equal to 1."]},
        ),
        (
            {"purpose": "debit", "kilometers": "-5", "reason": "welcome bonus"},
            {"kilometers": ["Ensure this value is greater than or equal to 1."]},
        ),
        ({"kilometers": "25", "reason": "welcome bonus"}, {"purpose": ["This field is required."]}),
        (
            {"purpose": "gift", "kilometers": "25", "reason": "welcome bonus"},
            {"purpose": ["Select a valid choice. gift is not one of the available choices."]},
        ),
    ],
)
def test_the_kilometers_form_needs_a_purpose_an_amount_and_a_reason(finance_client, funded_link, data, errors):
    before = money_state()

    response = finance_client.post(kilometers_url(funded_link.customer), data)

    assert response.status_code == 200
    assert response.context["form"].errors == errors
    assert money_state() == before


@pytest.mark.parametrize("role", ["support", "nogroup"])
def test_only_finance_grants_or_adjusts(request, role, funded_link):
    client = request.getfixturevalue(f"{role}_client")
    customer = funded_link.customer
    before = money_state()

    page = client.get(kilometers_url(customer))
    post = client.post(kilometers_url(customer), {"purpose": "goodwill", "kilometers": "25", "reason": "welcome bonus"})

    assert (page.status_code, post.status_code) == (403, 403)
    assert money_state() == before


def test_kilometers_of_an_unknown_customer_are_not_found(finance_client, alice):
    url = reverse("admin:accounts_customer_kilometers", args=[alice.pk + 1000])

    assert finance_client.get(url).status_code == 404


def test_cents_are_untouched_by_a_kilometer_change(finance_client, alice):
    ledger_services.card_topup_credit(customer_id=alice.pk, amount_cents=900)

    finance_client.post(kilometers_url(alice), {"purpose": "goodwill", "kilometers": "5", "reason": "welcome bonus"})

    assert (wallet_of(alice).balance, wallet_of(alice, Unit.USD_CENTS).balance) == (5, 900)
    assert_audited(balances_after={"KM": 5, "USD": 900})
