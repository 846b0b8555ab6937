"""Issue 5 in a real browser, with a real worker: a support agent voids a captured card charge from the admin;
the wallet gives the cents back at once, a Celery worker tells the gateway sandbox (012), and the charge reads
Voided. Screenshots of the key pages are saved under test-artifacts/screenshots/."""

import pytest
from playwright.sync_api import expect

from accounts.models import AuditAction
from accounts.tests.helpers import assert_audited
from backoffice.tests.browser import STAFF_PASSWORD, admin_login, screenshot
from backoffice.tests.helpers import staff_member
from gateways.models import ChargeStatus
from gateways.tests.factories import SEED_TOKEN
from gateways.tests.helpers import requests_of
from ledger.tests.helpers import cents

from .support import (
    REFUND_TASK,
    charge_in,
    charge_through_api,
    logs,
    task_results,
    wait_for,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("gateway_settings")]


def test_support_voids_a_card_charge_and_the_worker_tells_the_gateway(
    http_server, page, hop_api, hop_customer, sandbox, start_worker
):
    # Given: a worker running, and a 15.00 top-up that it captured.
    worker = start_worker()
    charge_id = charge_through_api(hop_api, hop_customer, 1500)
    wait_for(lambda: charge_in(charge_id, ChargeStatus.CAPTURED), 15, what="capture", details=lambda: logs(worker))
    assert cents(hop_customer) == 1500
    staff_member("sue.support", "support", password=STAFF_PASSWORD)

    # When: a support agent lists captured charges and opens this one.
    admin_login(page, http_server, "sue.support")
    page.goto(f"{http_server}/admin/gateways/cardcharge/?status__exact=captured")
    rows = page.locator("#result_list tbody tr")
    expect(rows).to_have_count(1)
    rows.first.locator("th a").click()

    # Then: the charge shows its gateway attempts with their raw metadata, the card masked.
    expect(page.locator(".field-status")).to_contain_text("Captured")
    expect(page.locator(".gateway-metadata").first).to_contain_text("****0019")
    assert SEED_TOKEN not in page.content()  # hop_customer's card: the page may show its last 4 digits only
    screenshot(page, "07-card-charge-captured")

    # When: the agent voids it, with a reason, on the confirmation page.
    page.click("#refund-charge")
    expect(page.locator("#refund-effect")).to_contain_text("gives back $15.00")
    screenshot(page, "08-void-confirmation")
    page.fill("#id_reason", "Customer topped up twice by mistake (ticket 5120)")
    page.click("input[name=confirm]")
    expect(page.locator(".messagelist")).to_contain_text("the wallet gave $15.00 back")

    # Then: the wallet gave the cents back at once, and the worker tells the gateway, which voids it.
    assert cents(hop_customer) == 0
    voided = wait_for(lambda: charge_in(charge_id, ChargeStatus.VOIDED), 15, what="void", details=lambda: logs(worker))
    page.reload()
    expect(page.locator(".field-status")).to_contain_text("Voided")
    screenshot(page, "09-card-charge-voided")

    [void_request] = requests_of(sandbox, "012")
    assert (void_request["transaction_id"], void_request["amount"]) == (voided.refund_transaction_id, 1500)
    assert task_results(worker.log(), REFUND_TASK) == ["'voided'"]
    assert_audited(
        among_others=True,
        action=AuditAction.CARD_CHARGE_REFUND,
        actor__username="sue.support",
        reason="Customer topped up twice by mistake (ticket 5120)",
        balances_before={"KM": 0, "USD": 1500},
        balances_after={"KM": 0, "USD": 0},
        object_type="gateways.cardcharge",
        object_id=str(charge_id),
    )
