"""In a real browser: a support agent goes from a partner's userId to the reason its payment was refused in at
most 3 clicks (DESIGN §12), and the money columns fit a 1366 px screen.

The partner's refused payment goes over real HTTP to a live server; headless Chromium (Debian's) drives the admin.
The screenshot of the answer is kept under test-artifacts/screenshots/; with UPDATE_DOCS_SCREENSHOTS=1 it also
replaces the one the README shows (docs/screenshots/)."""

import os
import shutil
from pathlib import Path

import pytest
import requests
from playwright.sync_api import expect

from backoffice.models import RefusedAttempt
from backoffice.tests.browser import STAFF_PASSWORD, admin_login, screenshot
from backoffice.tests.helpers import staff_member
from gateways.tests.factories import CardChargeFactory
from ledger.tests.helpers import SEED_REQUEST, grant, pay_url

pytestmark = pytest.mark.django_db(transaction=True)
DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
SCREEN = {"width": 1366, "height": 900}


def _keep(shot: Path) -> None:
    """With UPDATE_DOCS_SCREENSHOTS=1, the screenshot also replaces the README's copy."""
    if os.environ.get("UPDATE_DOCS_SCREENSHOTS"):
        DOCS.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, DOCS / shot.name)


class Clicks:
    """Counts the clicks (and Enter presses) the agent makes."""

    def __init__(self, page):
        self.page, self.count = page, 0

    def click(self, selector: str) -> None:
        self.count += 1
        self.page.click(selector)


def test_support_finds_why_a_payment_was_refused_in_three_clicks(http_server, page, link, tokens):
    # Given: pcsUserId001 holds 100 km and the partner's app asks for 500 km over HTTP: refused.
    grant(link.customer, 100)
    refused = requests.post(
        http_server + pay_url(),
        json={**SEED_REQUEST, "kilometer": 500},
        headers={"Authorization": f"Bearer {tokens['accessToken']}"},
        timeout=10,
    )
    assert refused.status_code == 422
    assert RefusedAttempt.objects.get().request_id == refused.headers["X-Request-Id"]
    staff_member("sam.support", "support", password=STAFF_PASSWORD)
    page.set_viewport_size(SCREEN)
    admin_login(page, http_server, "sam.support")  # lands on the front page, the dashboard
    expect(page.locator("#dashboard-refusals")).to_contain_text("ACCOUNT_BALANCE_NOT_SUFFICIENT: 1")
    _keep(screenshot(page, "dashboard"))

    # When: the agent types the partner's userId into the front page's customer search and opens the customer.
    clicks = Clicks(page)
    page.fill("#find-customer-q", "pcsUserId001")
    clicks.click("#find-customer input[type=submit]")
    clicks.click("#result_list tbody tr th a")

    # Then: the customer's timeline says why, in words, with the amount, partner, transactionId and request id.
    row = page.locator("#timeline tr.timeline-refused")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Refused: ACCOUNT_BALANCE_NOT_SUFFICIENT")
    expect(row).to_contain_text("Not enough kilometers: the wallet held 100 km, the partner asked for 500 km.")
    expect(row).to_contain_text("500 km")
    expect(row).to_contain_text(f"transactionId {SEED_REQUEST['transactionId']}")
    expect(row).to_contain_text(refused.headers["X-Request-Id"])
    assert clicks.count <= 3
    row.scroll_into_view_if_needed()
    _keep(screenshot(page, "support-refusal-reason"))

    # And one more click opens the refusal itself, with everything the partner sent.
    clicks.click("#timeline tr.timeline-refused a")
    expect(page.locator("#content")).to_contain_text("Not enough kilometers")
    expect(page.locator("#content")).to_contain_text(refused.headers["X-Request-Id"])


def test_the_amount_columns_fit_a_1366_px_screen(http_server, page, link, gateway_settings, service_account, hop_customer):
    grant(link.customer, 100)
    CardChargeFactory(requested_by=service_account, customer=hop_customer, amount_cents=2500)
    RefusedAttempt.objects.create(
        api="hop", method="POST", path="/api/v1/users/1/charges", status=406, error_code="10004", request_id="r", amount=2500
    )
    staff_member("fay.finance", "finance", password=STAFF_PASSWORD)
    page.set_viewport_size(SCREEN)
    admin_login(page, http_server, "fay.finance")

    for path, column in (
        ("/admin/ledger/transaction/", "wallet_amount"),
        ("/admin/gateways/cardcharge/", "requested"),
        ("/admin/backoffice/refusedattempt/", "amount_shown"),
    ):
        page.goto(http_server + path)
        header = page.locator(f"#result_list th.column-{column}")
        box = header.bounding_box()
        assert box is not None and box["x"] + box["width"] <= SCREEN["width"], (path, box)
