"""Back-office fixtures, shared by every test package (root conftest's pytest_plugins).

People: a superuser, a `support` and a `finance` member (the groups that backoffice.roles syncs after migrate) and
a staff user in no group, each with a logged-in Django test client.
A real browser: Debian's headless Chromium driven by Playwright, a fresh page per test, and a screenshot of where
a failed test stood.
"""

import pytest
from django.test import Client

from accounts.models import User
from backoffice.roles import FINANCE, SUPPORT
from backoffice.tests.browser import CHROMIUM, screenshot
from backoffice.tests.helpers import logged_in, staff_member


@pytest.fixture
def superuser(db) -> User:
    return staff_member("root.admin", superuser=True)


@pytest.fixture
def support_user(db) -> User:
    return staff_member("sam.support", SUPPORT)


@pytest.fixture
def finance_user(db) -> User:
    return staff_member("fay.finance", FINANCE)


@pytest.fixture
def nogroup_user(db) -> User:
    """Staff, so the admin lets them in, but in neither role."""
    return staff_member("nora.nogroup")


@pytest.fixture
def superuser_client(superuser) -> Client:
    return logged_in(superuser)


@pytest.fixture
def support_client(support_user) -> Client:
    return logged_in(support_user)


@pytest.fixture
def finance_client(finance_user) -> Client:
    return logged_in(finance_user)


@pytest.fixture
def nogroup_client(nogroup_user) -> Client:
    return logged_in(nogroup_user)


@pytest.fixture
def chromium(monkeypatch):
    """A headless Chromium for one test (Playwright's own browser download does not exist here).

    Playwright's sync API keeps an event loop running in this thread while it lives, which Django's ORM
    takes for async code: the test's own database calls are plain synchronous calls, so they are allowed
    for the test's duration only (that is why the browser is not shared by the whole session)."""
    from playwright.sync_api import sync_playwright

    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(chromium, request):
    """A fresh browser context and page; on a failure a screenshot of where it stood is kept as an artifact."""
    context = chromium.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(15_000)
    page = context.new_page()
    yield page
    failed = getattr(request.node, "rep_call", None)
    if failed is not None and failed.failed:
        screenshot(page, f"FAILED-{request.node.name}")
    context.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    # The call phase's report, kept on the test item for the `page` fixture's teardown.
    report = yield
    if report.when == "call":
        item.rep_call = report
    return report
