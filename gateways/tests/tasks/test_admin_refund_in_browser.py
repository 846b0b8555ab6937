"""Issue 5 in a real browser, with a real worker: a support agent voids a captured card charge from the admin;
the wallet gives the cents back at once, a Celery worker tells the gateway sandbox (012), and the charge reads
Voided. Screenshots of the key pages are saved under test-artifacts/screenshots/."""

import pytest
from playwright.sync_api import expect

from accounts.models import AuditAction, AuditLog
from conftest import admin_login, screenshot, staff_user
from gateways.models import ChargeStatus

from .support import REFUND_TASK, cents, charge_in, charge_through_api, logs, requests_of, task_results, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("gateway_settings")]

CARD_TOKEN = "1000000074340019"  # hop_customer's card: the page may show its last 4 digits only


def test_support_voids_a_card_charge_and_the_worker_tells_the_gateway(
    http_server, page, hop_api, hop_customer, sandbox, start_worker
):
    # Given: a worker running, and a 15.00 top-up that it captured.
    worker = start_worker()
    charge_id = charge_through_api(hop_api, hop_customer, 1500)
    wait_for(lambda: charge_in(charge_id, ChargeStatus.CAPTURED), 15, what="capture", details=lambda: logs(worker))
    assert cents(hop_customer) == 1500
    staff_user("sue.support", "support")

    # When: a support agent lists captured charges and opens this one.
    admin_login(page, http_server, "sue.support")
    page.goto(f"{http_server}/admin/gateways/cardcharge/?status__exact=captured")
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(1)
    rows.first.locator("th a").click()

    # Then: the charge shows its gateway attempts with their raw metadata, the card masked.
    expect(page.locator(".field-status")).to_contain_text("Captured")
    expect(page.locator(".gateway-metadata").first).to_contain_text("****0019")
    assert CARD_TOKEN not in page.content()
    screenshot(page, "07-card-charge-captured")

    # When: the agent voids it, with a reason, on the confirmation page.
    page.click("#refund-charge")
    expect(page.locator("#refund-effect")).to_contain_text("gives back 1500¢")
    screenshot(page, "08-void-confirmation")
    page.fill("#id_reason", "Customer topped up twice by mistake (ticket 5120)")
    page.click("input[name=confirm]")
    expect(page.locator(".messagelist")).to_contain_text("the wallet gave 1500¢ back")

    # Then: the wallet gave the cents back at once, and the worker tells the gateway, which voids it.
    assert cents(hop_customer) == 0
    voided = wait_for(lambda: charge_in(charge_id, ChargeStatus.VOIDED), 15, what="void", details=lambda: logs(worker))
    page.reload()
    expect(page.locator(".field-status")).to_contain_text("Voided")
    screenshot(page, "09-card-charge-voided")

    [void_request] = requests_of(sandbox, "012")
    assert (void_request["transaction_id"], void_request["amount"]) == (voided.refund_transaction_id, 1500)
    assert task_results(worker.log(), REFUND_TASK) == ["'voided'"]
    [record] = AuditLog.objects.filter(action=AuditAction.CARD_CHARGE_REFUND)
    assert (record.actor.username, record.reason, record.balances_before, record.balances_after) == (
        "sue.support",
        "Customer topped up twice by mistake (ticket 5120)",
        {"KM": 0, "USD": 1500},
        {"KM": 0, "USD": 0},
    )
    assert (record.object_type, record.object_id) == ("gateways.cardcharge", str(charge_id))
