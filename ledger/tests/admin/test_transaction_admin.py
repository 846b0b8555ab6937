"""The transactions of the back-office (DESIGN §8): list, filter and search, a read-only detail with its entries,
and the staff reversal (permission-gated, confirmation page with a required reason, audited, refused with a clear
message when it would overdraw a wallet, is already reversed, is above the support limit or moves card money)."""

from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.contrib import admin
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditAction
from accounts.tests.factories import CustomerFactory, PartnerLinkFactory
from accounts.tests.helpers import assert_audited
from backoffice.tests.helpers import money_state, shown_ids, shown_messages, staff_member, text
from ledger import services
from ledger.models import Account, AccountKind, Entry, Transaction, TransactionKind, TransactionStatus, Unit
from ledger.tests.factories import SessionPaymentFactory
from ledger.tests.helpers import SEED_REQUEST, grant, pay_url, wallet_of

CHANGELIST = "admin:ledger_transaction_changelist"


def pay(partner, external_id: str, km: int, *, user_id="pcsUserId001", reference="", evse="DE*911E12345") -> Transaction:
    return SessionPaymentFactory(
        partner=partner,
        external_user_id=user_id,
        external_id=external_id,
        kilometer=km,
        reference=reference,
        service_data={**SEED_REQUEST["serviceSpecificData"], "EVSE_ID": evse},
    )


def reverse_url(txn: Transaction) -> str:
    return reverse("admin:ledger_transaction_reverse", args=[txn.pk])


def change_url(txn: Transaction) -> str:
    return reverse("admin:ledger_transaction_change", args=[txn.pk])


@contextmanager
def created_at(moment):
    """Transactions created inside the block carry `moment` as created_at (their rows are immutable afterwards,
    so a back-dated row can only be made like this): the clock of the model field's default, nothing else."""
    field = Transaction._meta.get_field("created_at")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(field, "_get_default", lambda: moment)
        yield


@pytest.fixture
def payment(funded_link, partner) -> Transaction:
    """PCS-001's customer held 100 km and paid 38 for a session: 62 left."""
    return pay(partner, "T-1001", 38, reference="ref-1001", evse="DE*AAA*E1")


@pytest.fixture
def two_customers(funded_link, partner, other_partner):
    """Alice (PCS-001, pcsUserId001) and Bob (PCS-002, bobUser), 100 km each, one payment each; Alice's reversed."""
    alice = funded_link.customer
    bob = CustomerFactory(email="bob@example.com", name="Bob Builder")
    PartnerLinkFactory(partner=other_partner, customer=bob, external_user_id="bobUser")
    grant(bob, 100)
    pay_a = pay(partner, "T-A1", 10, reference="ref-A1", evse="DE*AAA*E1")
    pay_b = pay(other_partner, "T-B1", 20, user_id="bobUser", reference="ref-B1", evse="DE*BBB*E2")
    colleague = staff_member("colleague.finance", "finance")
    reversal_a = services.transaction_reverse(transaction_id=pay_a.pk, reversed_by=colleague, reason="charger fault")
    return {"alice": alice, "bob": bob, "pay_a": pay_a, "pay_b": pay_b, "reversal_a": reversal_a}


# --- listing -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["superuser", "support", "finance"])
def test_changelist_loads_for_each_role_that_reads(request, role, payment):
    client = request.getfixturevalue(f"{role}_client")

    response = client.get(reverse(CHANGELIST))

    assert response.status_code == 200
    assert payment.pk in shown_ids(response)


def test_changelist_is_refused_to_staff_in_no_group(nogroup_client, payment):
    response = nogroup_client.get(reverse(CHANGELIST))

    assert response.status_code == 403


def test_filter_by_partner(superuser_client, two_customers, partner, other_partner):
    t = two_customers

    by_first = superuser_client.get(reverse(CHANGELIST), {"partner__id__exact": partner.pk})
    by_second = superuser_client.get(reverse(CHANGELIST), {"partner__id__exact": other_partner.pk})

    assert shown_ids(by_first) == [t["reversal_a"].pk, t["pay_a"].pk]  # a reversal keeps its original's partner
    assert shown_ids(by_second) == [t["pay_b"].pk]


def test_filter_by_kind(superuser_client, two_customers):
    t = two_customers
    grants = list(Transaction.objects.filter(kind=TransactionKind.KM_GRANT).order_by("-pk").values_list("pk", flat=True))

    response_grants = superuser_client.get(reverse(CHANGELIST), {"kind__exact": "KM_GRANT"})
    response_reversals = superuser_client.get(reverse(CHANGELIST), {"kind__exact": "REVERSAL"})
    response_payments = superuser_client.get(reverse(CHANGELIST), {"kind__exact": "PAY_FOR_CHARGING_SESSION"})

    assert len(grants) == 2
    assert shown_ids(response_grants) == grants
    assert shown_ids(response_reversals) == [t["reversal_a"].pk]
    assert shown_ids(response_payments) == [t["pay_b"].pk, t["pay_a"].pk]


def test_filter_by_status(superuser_client, two_customers):
    t = two_customers

    cancelled = superuser_client.get(reverse(CHANGELIST), {"status__exact": "CANCELLED"})
    confirmed = superuser_client.get(reverse(CHANGELIST), {"status__exact": "CONFIRMED"})

    assert shown_ids(cancelled) == [t["pay_a"].pk]
    assert t["pay_a"].pk not in shown_ids(confirmed)
    assert set(shown_ids(confirmed)) == set(Transaction.objects.exclude(pk=t["pay_a"].pk).values_list("pk", flat=True))


def test_filter_by_created_date_range(superuser_client, customer):
    """rangefilter's GET parameters: created_at__range__gte / created_at__range__lte, dates, both ends included."""
    now = timezone.now()
    with created_at(now - timedelta(days=40)):
        old = services.kilometers_grant(customer=customer, kilometer=1, reason="forty days ago")
    with created_at(now - timedelta(days=10)):
        recent = services.kilometers_grant(customer=customer, kilometer=2, reason="ten days ago")
    today = services.kilometers_grant(customer=customer, kilometer=3, reason="today")
    day = timedelta(days=1)

    def shown(gte=None, lte=None):
        params = {}
        if gte is not None:
            params["created_at__range__gte"] = (now + gte).date().isoformat()
        if lte is not None:
            params["created_at__range__lte"] = (now + lte).date().isoformat()
        return shown_ids(superuser_client.get(reverse(CHANGELIST), params))

    assert shown(gte=-41 * day, lte=-39 * day) == [old.pk]
    assert shown(gte=-40 * day, lte=-40 * day) == [old.pk]  # one day, both ends included
    assert shown(gte=-11 * day, lte=-day) == [recent.pk]
    assert shown(gte=0 * day) == [today.pk]
    assert shown(lte=-day) == [recent.pk, old.pk]
    assert shown(gte=day) == []
    assert shown() == [today.pk, recent.pk, old.pk]


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("T-A1", ["pay_a"]),  # a partner's transactionId
        ("T-B1", ["pay_b"]),
        ("ref-B1", ["pay_b"]),  # the partner's transactionReference
        ("DE*BBB*E2", ["pay_b"]),  # EVSE_ID
        ("DE*AAA*E1", ["pay_a"]),
        ("T-A", []),  # transactionId, reference and EVSE_ID match whole values only
        ("bob@example.com", ["pay_b", "bob_grant"]),  # the customer's email
        ("BOB@Example.com", ["pay_b", "bob_grant"]),  # whatever its case
    ],
)
def test_search(superuser_client, two_customers, term, expected):
    t = two_customers
    t["bob_grant"] = Transaction.objects.get(customer=t["bob"], kind=TransactionKind.KM_GRANT)

    response = superuser_client.get(reverse(CHANGELIST), {"q": term})

    assert sorted(shown_ids(response)) == sorted(t[name].pk for name in expected)


def test_search_by_a_number_finds_the_transaction_and_the_customers_transactions(superuser_client, two_customers):
    t = two_customers
    bob = t["bob"]

    by_transaction = superuser_client.get(reverse(CHANGELIST), {"q": str(t["pay_a"].pk)})
    by_customer = superuser_client.get(reverse(CHANGELIST), {"q": str(bob.pk)})

    # The number is a transaction id or a customer id: both match.
    expected_a = {t["pay_a"].pk} | set(Transaction.objects.filter(customer_id=t["pay_a"].pk).values_list("pk", flat=True))
    expected_bob = set(Transaction.objects.filter(customer=bob).values_list("pk", flat=True)) | set(
        Transaction.objects.filter(pk=bob.pk).values_list("pk", flat=True)
    )
    assert set(shown_ids(by_transaction)) == expected_a
    assert set(shown_ids(by_customer)) == expected_bob
    assert {t["pay_b"].pk, Transaction.objects.get(customer=bob, kind=TransactionKind.KM_GRANT).pk} <= expected_bob


# --- the detail page is read-only, and so is every ledger row -------------------------------------------------


def test_detail_page_is_read_only_and_shows_the_entries(support_client, payment, partner):
    response = support_client.get(change_url(payment))

    assert response.status_code == 200
    page = text(response)
    [entries] = response.context["inline_admin_formsets"]
    shown_entries = sorted((form.original.account_id, form.original.amount) for form in entries)
    partner_account = Account.objects.get(partner=partner, kind=AccountKind.PARTNER)
    assert shown_entries == sorted([(wallet_of(payment.customer).pk, -38), (partner_account.pk, 38)])
    assert response.context["has_change_permission"] is False
    assert response.context["has_delete_permission"] is False
    assert 'name="_save"' not in page and 'name="_continue"' not in page
    assert "T-1001" in page and "ref-1001" in page and "DE*AAA*E1" in page
    assert 'id="reverse-transaction"' in page  # support may reverse


@pytest.mark.parametrize("model", [Transaction, Account])
def test_nobody_adds_changes_or_deletes_ledger_rows_in_admin_not_even_a_superuser(superuser_client, payment, model):
    obj = payment if model is Transaction else wallet_of(payment.customer)
    name = f"admin:ledger_{model._meta.model_name}"
    before = money_state()

    add_get = superuser_client.get(reverse(f"{name}_add"))
    add_post = superuser_client.post(reverse(f"{name}_add"), {"kind": "KM_GRANT", "status": "CONFIRMED", "balance": 1})
    change_post = superuser_client.post(
        reverse(f"{name}_change", args=[obj.pk]), {"status": "CANCELLED", "reason": "edited", "balance": 1000}
    )
    delete_get = superuser_client.get(reverse(f"{name}_delete", args=[obj.pk]))
    delete_post = superuser_client.post(reverse(f"{name}_delete", args=[obj.pk]), {"post": "yes"})
    bulk_delete = superuser_client.post(
        reverse(f"{name}_changelist"), {"action": "delete_selected", "_selected_action": [obj.pk], "post": "yes"}
    )
    listing = superuser_client.get(reverse(f"{name}_changelist"))

    assert [add_get.status_code, add_post.status_code, change_post.status_code] == [403, 403, 403]
    assert [delete_get.status_code, delete_post.status_code] == [403, 403]
    # Not offered: the transaction list answers "no action selected" (302), the account list has no actions (200).
    assert bulk_delete.status_code == (302 if model is Transaction else 200)
    assert reverse(f"{name}_add") not in text(listing)
    assert "delete_selected" not in text(listing)
    assert money_state() == before


def test_entries_have_no_admin_page_at_all():
    assert not admin.site.is_registered(Entry)


# --- reversal ------------------------------------------------------------------------------------------------


def test_support_reverses_a_small_payment(support_client, support_user, payment, api):
    # Given: the customer paid 38 of 100 km (62 left).
    customer = payment.customer
    assert wallet_of(customer).balance == 62

    # When: a support agent confirms the reversal with a reason.
    response = support_client.post(reverse_url(payment), {"reason": "charger fault, session never started"})

    # Then: a REVERSAL mirrors the payment, the original reads CANCELLED, the wallet is restored...
    assert response.status_code == 302
    assert response["Location"] == change_url(payment)
    reversal = Transaction.objects.get(kind=TransactionKind.REVERSAL)
    assert (reversal.reverses_id, reversal.created_by, reversal.reason, reversal.customer_id, reversal.partner_id) == (
        payment.pk,
        support_user,
        "charger fault, session never started",
        customer.pk,
        payment.partner_id,
    )
    assert sorted(reversal.entries.values_list("account_id", "amount")) == sorted(
        (account_id, -amount) for account_id, amount in payment.entries.values_list("account_id", "amount")
    )
    payment.refresh_from_db()
    assert payment.status == TransactionStatus.CANCELLED
    assert wallet_of(customer).balance == 100
    # ... in the admin ...
    detail = support_client.get(change_url(payment))
    assert response.status_code == 302 and detail.status_code == 200
    assert f"Transaction #{payment.pk} reversed by #{reversal.pk}; the wallet is restored." in shown_messages(detail)
    assert "Cancelled (reversed)" in text(detail)
    assert reverse("admin:ledger_transaction_change", args=[reversal.pk]) in text(detail)  # "reversed by #…"
    assert 'id="reverse-transaction"' not in text(detail)
    # ... and in the partner API.
    partner_view = api.get(f"{pay_url()}/T-1001")
    assert partner_view.status_code == 200
    assert partner_view.json()["status"] == "CANCELLED"
    # And the audit log says who, what, why and the balances before and after.
    assert_audited(
        actor=support_user,
        action=AuditAction.TRANSACTION_REVERSE,
        reason="charger fault, session never started",
        object_type="ledger.transaction",
        object_id=str(payment.pk),
        customer_id=customer.pk,
        partner_id=payment.partner_id,
        balances_before={"KM": 62, "USD": 0},
        balances_after={"KM": 100, "USD": 0},
        detail={"reversal": reversal.pk, "kind": "PAY_FOR_CHARGING_SESSION", "transactionId": "T-1001"},
    )


def test_the_confirmation_page_shows_the_wallet_now_and_after(support_client, payment):
    response = support_client.get(reverse_url(payment))

    assert response.status_code == 200
    wallet = wallet_of(payment.customer)
    [move] = response.context["moves"]
    assert (move["account_id"], move["unit"], move["balance"], move["change"], move["after"]) == (wallet.pk, "KM", 62, 38, 100)
    page = text(response)
    assert "<td>62 km</td>" in page and "<td>+38 km</td>" in page and "<td>100 km</td>" in page
    assert 'name="reason"' in page
    assert "errornote" not in page  # nothing stands in the way
    assert money_state()["transactions"][-1] == (payment.pk, "PAY_FOR_CHARGING_SESSION", "CONFIRMED")  # a GET changes nothing


@pytest.mark.parametrize(
    ("reason", "error"),
    [
        ("", "This field is required."),
        ("    ", "This field is required."),
        ("oops", "Say why, in a few words (at least 5 characters)."),
    ],
)
def test_reversal_needs_a_reason(support_client, payment, reason, error):
    before = money_state()

    response = support_client.post(reverse_url(payment), {"reason": reason})

    assert response.status_code == 200
    assert response.context["form"].errors == {"reason": [error]}
    assert money_state() == before


def test_an_already_reversed_transaction_is_refused_clearly(support_client, finance_client, payment):
    finance_client.post(reverse_url(payment), {"reason": "first reversal, charger fault"})
    before = money_state()

    page = support_client.get(reverse_url(payment))
    response = support_client.post(reverse_url(payment), {"reason": "second reversal, by mistake"})

    assert "This transaction is already reversed (it reads CANCELLED)" in text(page)
    assert response.status_code == 200
    assert shown_messages(response) == [
        f"Refused (TRANSACTION_ALREADY_REVERSED): transaction #{payment.pk} is already reversed (it reads CANCELLED); "
        "nothing was changed."
    ]
    assert money_state() == before


def test_a_reversal_that_would_overdraw_the_wallet_is_refused_clearly(finance_client, funded_link, partner):
    # Given: 100 km granted, then 80 spent: reversing the grant would take 100 from a wallet holding 20.
    granted = Transaction.objects.get(kind=TransactionKind.KM_GRANT)
    pay(partner, "T-2001", 80)
    before = money_state()

    page = finance_client.get(reverse_url(granted))
    response = finance_client.post(reverse_url(granted), {"reason": "granted to the wrong customer"})

    [move] = page.context["moves"]
    assert (move["balance"], move["change"], move["after"]) == (20, -100, -80)
    assert page.context["would_overdraw"] is True
    assert "would go negative" in text(page)
    assert response.status_code == 200
    assert shown_messages(response) == [
        "Refused (ACCOUNT_BALANCE_NOT_SUFFICIENT): the wallet holds 20 but 100 would be taken back, so it would go "
        "negative. The customer has spent it since; nothing was changed."
    ]
    assert money_state() == before
    assert wallet_of(funded_link.customer).balance == 20


def test_support_is_refused_above_its_limit_and_finance_is_not(settings, support_client, finance_client, finance_user, payment):
    settings.SUPPORT_REVERSAL_LIMIT_KM = 30  # the payment moved 38 km
    before = money_state()

    page = support_client.get(reverse_url(payment))
    refused = support_client.post(reverse_url(payment), {"reason": "customer complaint"})

    assert page.context["over_limit"] is True
    assert "above your reversal limit of 30 km" in text(page)
    assert shown_messages(refused) == [
        "Refused (STAFF_LIMIT_EXCEEDED): 38 KM is above your limit of 30 KM; ask someone in finance."
    ]
    assert money_state() == before

    allowed = finance_client.post(reverse_url(payment), {"reason": "customer complaint, escalated"})

    assert allowed.status_code == 302
    assert Transaction.objects.get(kind=TransactionKind.REVERSAL).created_by == finance_user
    assert wallet_of(payment.customer).balance == 100


def test_support_may_reverse_exactly_its_limit(settings, support_client, payment):
    settings.SUPPORT_REVERSAL_LIMIT_KM = 38

    response = support_client.post(reverse_url(payment), {"reason": "customer complaint"})

    assert response.status_code == 302
    assert wallet_of(payment.customer).balance == 100


def test_card_money_is_not_reversed_by_staff(superuser_client, customer):
    topup = services.card_topup_credit(customer_id=customer.pk, amount_cents=500)
    before = money_state()

    page = superuser_client.get(reverse_url(topup))
    response = superuser_client.post(reverse_url(topup), {"reason": "customer asked for a refund"})

    assert "not reversed by staff: card money is given back by voiding or refunding its card charge" in text(page)
    assert 'id="reverse-transaction"' not in text(superuser_client.get(change_url(topup)))
    assert shown_messages(response) == [
        f"Refused (TRANSACTION_NOT_REVERSIBLE): #{topup.pk}: card money is given back by voiding or refunding its "
        "card charge, not by a reversal."
    ]
    assert money_state() == before
    assert wallet_of(customer, Unit.USD_CENTS).balance == 500


def test_support_reverses_payments_only_grants_and_corrections_are_for_finance(
    support_client, finance_client, finance_user, funded_link
):
    # Given: a goodwill grant and a correction that took 30 km away, both by finance.
    customer = funded_link.customer
    correction = services.kilometers_change_by_staff(
        customer=customer, kilometer=-30, goodwill=False, reason="double grant last week", staff=finance_user
    )
    grant_txn = Transaction.objects.get(customer=customer, kind=TransactionKind.KM_GRANT)
    before = money_state()

    # When: support tries to reverse the correction (which would hand the 30 km back: a grant by another name).
    detail = support_client.get(change_url(correction))
    page = support_client.get(reverse_url(correction))
    response = support_client.post(reverse_url(correction), {"reason": "customer complained"})

    # Then: no button, the page says who may, the post is refused and nothing changes.
    assert 'id="reverse-transaction"' not in text(detail)
    assert "Kilometers adjusted by staff transactions are reversed by finance." in text(page)
    assert shown_messages(response) == [
        f"Refused (TRANSACTION_NOT_REVERSIBLE): #{correction.pk}: a kilometers adjusted by staff is reversed by finance."
    ]
    assert support_client.post(reverse_url(grant_txn), {"reason": "customer complained"}).status_code == 200
    assert money_state() == before

    # And finance may reverse the correction: the 30 km come back.
    assert 'id="reverse-transaction"' in text(finance_client.get(change_url(correction)))
    response = finance_client.post(reverse_url(correction), {"reason": "the double grant was real after all"})
    assert response.status_code == 302
    assert wallet_of(customer).balance == 100
    assert Transaction.objects.get(pk=correction.pk).status == TransactionStatus.CANCELLED


def test_a_page_for_what_can_only_be_refused_offers_no_confirm_button(finance_client, finance_user, payment):
    services.transaction_reverse_by_staff(transaction_id=payment.pk, staff=finance_user, reason="charger fault, refund it")

    page = text(finance_client.get(reverse_url(payment)))

    assert 'id="action-blocked"' in page
    assert 'name="confirm"' not in page


def test_a_reversal_is_not_reversed(finance_client, finance_user, payment):
    reversal = services.transaction_reverse_by_staff(
        transaction_id=payment.pk, staff=finance_user, reason="charger fault, refund it"
    )
    before = money_state()

    page = finance_client.get(reverse_url(reversal))
    detail = finance_client.get(change_url(reversal))
    response = finance_client.post(reverse_url(reversal), {"reason": "undo the reversal"})

    assert "A reversal cannot be reversed." in text(page)
    assert 'id="reverse-transaction"' not in text(detail)  # no button for what cannot be done
    assert shown_messages(response) == [f"Refused (TRANSACTION_NOT_REVERSIBLE): #{reversal.pk}: a reversal cannot be reversed."]
    assert money_state() == before


def test_staff_in_no_group_cannot_reverse(nogroup_client, payment):
    before = money_state()

    page = nogroup_client.get(reverse_url(payment))
    post = nogroup_client.post(reverse_url(payment), {"reason": "I should not be able to do this"})

    assert (page.status_code, post.status_code) == (403, 403)
    assert money_state() == before


def test_reversing_an_unknown_transaction_is_not_found(superuser_client, payment):
    response = superuser_client.post(reverse("admin:ledger_transaction_reverse", args=[payment.pk + 1000]), {"reason": "typo"})

    assert response.status_code == 404


# --- the list action -----------------------------------------------------------------------------------------


def test_the_list_action_with_one_selected_opens_the_confirmation_page(support_client, payment):
    before = money_state()

    response = support_client.post(reverse(CHANGELIST), {"action": "reverse_selected", "_selected_action": [payment.pk]})

    assert response.status_code == 302
    assert response["Location"] == reverse_url(payment)
    assert money_state() == before  # the action itself reverses nothing


def test_the_list_action_with_two_selected_asks_for_one(support_client, two_customers):
    t = two_customers
    before = money_state()

    response = support_client.post(
        reverse(CHANGELIST), {"action": "reverse_selected", "_selected_action": [t["pay_a"].pk, t["pay_b"].pk]}, follow=True
    )

    assert response.redirect_chain == [(reverse(CHANGELIST), 302)]
    assert shown_messages(response) == ["Select exactly one transaction: each reversal needs its own reason."]
    assert money_state() == before


def test_the_list_action_is_offered_without_a_bulk_delete(support_client, payment):
    response = support_client.get(reverse(CHANGELIST))

    actions = dict(response.context["action_form"].fields["action"].choices)
    assert "reverse_selected" in actions
    assert "delete_selected" not in actions
