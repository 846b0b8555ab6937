"""The cents wallet in the back-office: finance sets a credit limit (audited), purchases, comps and line items in
lists with filters and in the customer's timeline, and the rejected line items' queue with retry and write-off
(audited); one flow in a real browser."""

import pytest
from playwright.sync_api import expect

from accounts.models import AuditAction
from accounts.tests.helpers import assert_audited
from backoffice.tests.browser import STAFF_PASSWORD, admin_login, screenshot
from backoffice.tests.helpers import shown_ids, shown_messages, staff_member, text
from ledger import services as ledger_services
from ledger.models import SystemAccount, TransactionKind, Unit
from ledger.tests.helpers import cents, wallet_of
from wallet import services
from wallet.models import LineItemStatus

from ..helpers import LINE_ITEM_SAMPLE


@pytest.fixture
def spend(hop_customer, service_account, settings):
    """A comp of 300, a purchase of 200 and a line item of -500 that does not fit (rejected) for the HOP customer."""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.AUTO_TOPUP_CENTS = 0
    comp = services.comp_create(requested_by=service_account, customer=hop_customer, amount_cents=300, description="birthday")
    bought = services.purchase_create(requested_by=service_account, customer=hop_customer, amount_cents=200, tap_id="1b")
    fields = {**LINE_ITEM_SAMPLE["line_item"], "money_units": -500, "line_item_id": "pour-9"}
    fields["reported_at"] = fields.pop("created_at")
    fields["venue_id"] = "123"
    fields["note"] = ""
    item, _ = services.line_item_receive(requested_by=service_account, customer=hop_customer, session_token="t", fields=fields)
    services.line_item_apply(line_item_pk=item.pk)
    item.refresh_from_db()
    assert item.status == LineItemStatus.REJECTED
    return comp, bought, item


def test_finance_sets_a_credit_limit_audited(finance_client, finance_user, hop_customer):
    response = finance_client.post(
        f"/admin/accounts/customer/{hop_customer.pk}/credit-limit/",
        {"credit_limit_cents": "2500", "reason": "Regular at venue 123", "confirm": "1"},
        follow=True,
    )

    assert shown_messages(response) == ["The credit limit is now $25.00."]
    assert wallet_of(hop_customer, Unit.USD_CENTS).credit_limit == 2500
    assert "$25.00" in text(finance_client.get(f"/admin/accounts/customer/{hop_customer.pk}/change/"))
    assert_audited(
        action=AuditAction.CREDIT_LIMIT_SET,
        actor=finance_user,
        reason="Regular at venue 123",
        customer_id=hop_customer.pk,
        detail={"credit_limit_before": 0, "credit_limit_after": 2500},
    )


def test_a_limit_below_what_the_customer_owes_is_refused(finance_client, hop_customer, partner):
    ledger_services.credit_limit_set_by_staff(
        customer=hop_customer, credit_limit_cents=1000, staff=staff_member("f2", "finance"), reason="start"
    )
    ledger_services.cents_wallet_move(
        kind=TransactionKind.PURCHASE,
        customer_id=hop_customer.pk,
        partner=partner,
        amount_cents=-800,
        counterpart=SystemAccount.USD_VENUE_SALES,
        use_credit=True,
    )

    response = finance_client.post(
        f"/admin/accounts/customer/{hop_customer.pk}/credit-limit/",
        {"credit_limit_cents": "500", "reason": "lower it", "confirm": "1"},
    )

    assert response.status_code == 200
    assert shown_messages(response) == [
        "Refused (CREDIT_LIMIT_BELOW_BALANCE): the balance is -$8.00, below minus the $5.00 asked for; nothing was changed."
    ]
    assert wallet_of(hop_customer, Unit.USD_CENTS).credit_limit == 1000


def test_support_may_neither_set_limits_nor_resolve_line_items(support_client, hop_customer, spend):
    _, _, item = spend

    limit = support_client.post(f"/admin/accounts/customer/{hop_customer.pk}/credit-limit/", {"credit_limit_cents": "9"})
    retry = support_client.post(f"/admin/wallet/lineitem/{item.pk}/retry/", {"reason": "x", "confirm": "1"})

    assert (limit.status_code, retry.status_code) == (403, 403)
    item.refresh_from_db()
    assert item.status == LineItemStatus.REJECTED
    assert wallet_of(hop_customer, Unit.USD_CENTS).credit_limit == 0
    assert support_client.get("/admin/wallet/rejectedlineitem/").status_code == 200  # support sees the queue


def test_lists_with_filters_and_the_timeline(finance_client, hop_customer, spend, partner):
    comp, bought, item = spend

    assert shown_ids(finance_client.get("/admin/wallet/purchase/", {"partner__id__exact": partner.pk})) == [bought.pk]
    assert shown_ids(finance_client.get("/admin/wallet/comp/", {"q": str(hop_customer.pk)})) == [comp.pk]
    assert shown_ids(finance_client.get("/admin/wallet/lineitem/", {"status__exact": "rejected"})) == [item.pk]
    assert shown_ids(finance_client.get("/admin/wallet/lineitem/", {"status__exact": "processed"})) == []
    assert shown_ids(finance_client.get("/admin/wallet/rejectedlineitem/")) == [item.pk]
    page = text(finance_client.get(f"/admin/accounts/customer/{hop_customer.pk}/change/"))
    assert "Cents spent on a purchase" in page
    assert "Cents comped at the venue" in page and "birthday" in page
    assert "Line item pour-9: Rejected" in page and "-$5.00" in page
    assert f"/admin/wallet/purchase/{bought.pk}/change/" in page


def test_write_off_is_audited_and_leaves_the_wallet(finance_client, finance_user, hop_customer, spend):
    _, _, item = spend
    before = cents(hop_customer)

    response = finance_client.post(
        f"/admin/wallet/lineitem/{item.pk}/write-off/", {"reason": "Pour on the house", "confirm": "1"}, follow=True
    )

    assert shown_messages(response) == ["Line item pour-9: written off; the wallet is untouched."]
    item.refresh_from_db()
    assert (item.status, item.resolved_by, item.resolution_reason) == (
        LineItemStatus.WRITTEN_OFF,
        finance_user,
        "Pour on the house",
    )
    assert cents(hop_customer) == before == 100
    assert shown_ids(finance_client.get("/admin/wallet/rejectedlineitem/")) == []
    assert_audited(
        action=AuditAction.LINE_ITEM_WRITE_OFF,
        actor=finance_user,
        reason="Pour on the house",
        object_type="wallet.lineitem",
        object_id=str(item.pk),
        detail={"line_item_id": "pour-9", "money_units": -500, "rejected_for": "the balance would pass the credit limit"},
    )
    again = finance_client.post(f"/admin/wallet/lineitem/{item.pk}/retry/", {"reason": "try it again", "confirm": "1"})
    assert shown_messages(again) == [
        f"Refused (LINE_ITEM_STATE_CONFLICT): line item #{item.pk}: only a rejected line item can be resolved; "
        "this one is written_off; nothing was changed."
    ]


@pytest.mark.django_db(transaction=True)
def test_finance_raises_the_limit_and_retries_a_rejected_pour_in_a_browser(http_server, page, hop_customer, spend, settings):
    _, _, item = spend
    staff_member("fiona.finance", "finance", password=STAFF_PASSWORD)
    admin_login(page, http_server, "fiona.finance")

    # The customer page: raise the credit limit to 1000.
    page.goto(f"{http_server}/admin/accounts/customer/{hop_customer.pk}/change/")
    expect(page.locator("#timeline")).to_contain_text("Line item pour-9: Rejected")
    page.click("#set-credit-limit")
    page.fill("#id_credit_limit_cents", "1000")
    page.fill("#id_reason", "Known regular, ticket 77")
    page.click("input[name=confirm]")
    expect(page.locator("#credit-limit")).to_contain_text("$10.00")

    # The queue: retry the rejected pour; the worker (eager here) applies it.
    page.goto(f"{http_server}/admin/wallet/rejectedlineitem/")
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    page.click("a.retry-line-item")
    expect(page.locator("#resolve-effect")).to_contain_text("pour-9")
    screenshot(page, "wallet-retry-line-item")
    page.fill("#id_reason", "Limit raised")
    page.click("input[name=confirm]")
    expect(page.locator(".messagelist")).to_contain_text("sent back to a worker")

    item.refresh_from_db()
    assert item.status == LineItemStatus.PROCESSED
    assert cents(hop_customer) == 100 - 500
    assert_audited(among_others=True, action=AuditAction.LINE_ITEM_RETRY, actor__username="fiona.finance", reason="Limit raised")
    assert_audited(
        among_others=True, action=AuditAction.CREDIT_LIMIT_SET, detail={"credit_limit_before": 0, "credit_limit_after": 1000}
    )
