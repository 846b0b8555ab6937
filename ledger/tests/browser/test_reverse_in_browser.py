"""Issue 5 in a real browser: a support agent finds a customer by the partner's userId, opens the payment,
reverses it with a reason, and sees it CANCELLED, the wallet restored and the audit entry.

Headless Chromium (Debian's) driven by Playwright against a live server on the test database; screenshots of
the key pages are saved under test-artifacts/screenshots/."""

import re

import pytest
from playwright.sync_api import expect

from accounts.models import AuditAction
from accounts.tests.helpers import assert_audited
from backoffice.tests.browser import STAFF_PASSWORD, admin_login, screenshot
from backoffice.tests.helpers import staff_member
from ledger.models import Transaction, TransactionKind, TransactionStatus
from ledger.tests.factories import SessionPaymentFactory
from ledger.tests.helpers import SEED_REQUEST, grant, wallet_of

pytestmark = pytest.mark.django_db(transaction=True)


def test_support_reverses_a_payment_end_to_end(http_server, page, partner, link, api):
    # Given: a customer linked as pcsUserId001 who paid 38 km of 100, and a support agent.
    customer = link.customer
    grant(customer, 100)
    payment = SessionPaymentFactory(
        partner=partner,
        external_user_id="pcsUserId001",
        external_id=SEED_REQUEST["transactionId"],
        kilometer=38,
        reference=SEED_REQUEST["transactionReference"],
    )
    staff_member("sam.support", "support", password=STAFF_PASSWORD)

    # When: the agent logs in and searches customers by the partner's userId.
    admin_login(page, http_server, "sam.support")
    page.goto(f"{http_server}/admin/accounts/customer/")
    page.fill("#searchbar", "pcsUserId001")
    page.press("#searchbar", "Enter")
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(1)
    rows.first.locator("th a").click()

    # Then: the customer's page shows both balances, the link and the payment in the timeline.
    expect(page.locator("#balance-km")).to_have_text("62 km")
    expect(page.locator("#balance-usd")).to_have_text("$0.00")
    expect(page.locator("#partnerlink_set-group, .inline-group").first).to_contain_text("pcsUserId001")
    payment_row = page.locator("#timeline tr.timeline-payment")
    expect(payment_row).to_contain_text("-38 km")
    expect(payment_row).to_contain_text(SEED_REQUEST["transactionId"])
    screenshot(page, "01-customer-found-by-partner-user-id")

    # When: the agent opens the payment and asks to reverse it.
    payment_row.locator("a").click()
    expect(page.locator("body")).to_contain_text("Pay for a charging session")
    expect(page.locator("body")).to_contain_text("DE*911E12345")
    screenshot(page, "02-payment-detail")
    page.click("#reverse-transaction")

    # Then: the confirmation page says what happens to which balance, and asks for a reason.
    effect = page.locator("#reversal-effect")
    expect(effect).to_contain_text("62 km")
    expect(effect).to_contain_text("+38 km")
    expect(effect).to_contain_text("100 km")
    screenshot(page, "03-reverse-confirmation")

    # A reason is required: the browser will not send the form without one, and nothing changes.
    page.click("input[name=confirm]")
    expect(page.locator("#id_reason:invalid")).to_have_count(1)
    expect(page).to_have_url(re.compile(rf"/admin/ledger/transaction/{payment.pk}/reverse/$"))
    assert Transaction.objects.get(pk=payment.pk).status == TransactionStatus.CONFIRMED

    page.fill("#id_reason", "Charge point fault: session never delivered energy (ticket 4711)")
    page.click("input[name=confirm]")

    # Then: the payment reads CANCELLED, with a link to its reversal.
    expect(page.locator(".messagelist")).to_contain_text(f"Transaction #{payment.pk} reversed")
    expect(page.locator(".field-status")).to_contain_text("Cancelled")
    screenshot(page, "04-payment-cancelled")

    # And the wallet is restored on the customer's page, with the staff action in the timeline.
    page.goto(f"{http_server}/admin/accounts/customer/{customer.pk}/change/")
    expect(page.locator("#balance-km")).to_have_text("100 km")
    expect(page.locator("#timeline tr.timeline-staff")).to_contain_text("Transaction reversed by sam.support")
    expect(page.locator("#timeline tr.timeline-reversal")).to_contain_text("+38 km")
    screenshot(page, "05-customer-wallet-restored")

    # And the audit log has the entry: who, what, why, balances before and after.
    page.goto(f"{http_server}/admin/accounts/auditlog/")
    page.fill("#searchbar", "ticket 4711")
    page.press("#searchbar", "Enter")
    audit_rows = page.locator("#result_list tbody tr")
    expect(audit_rows).to_have_count(1)
    expect(audit_rows.first).to_contain_text("sam.support")
    expect(audit_rows.first).to_contain_text("Transaction reversed")
    expect(audit_rows.first).to_contain_text(re.compile(r"62 km"))
    expect(audit_rows.first).to_contain_text(re.compile(r"100 km"))
    screenshot(page, "06-audit-log")

    # The database agrees, and so does the partner API.
    assert_audited(
        action=AuditAction.TRANSACTION_REVERSE,
        actor__username="sam.support",
        balances_before={"KM": 62, "USD": 0},
        balances_after={"KM": 100, "USD": 0},
    )
    [reversal] = Transaction.objects.filter(kind=TransactionKind.REVERSAL)
    assert reversal.reverses_id == payment.pk
    assert wallet_of(customer).balance == 100
    response = api.get(f"/v1/partners/PCS-001/accounts/pcsUserId001/transactions/{SEED_REQUEST['transactionId']}")
    assert response.status_code == 200
    assert response.json()["status"] == "CANCELLED"
