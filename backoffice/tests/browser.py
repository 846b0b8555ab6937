"""Helpers of the tests that drive the back office in a real browser (the `page` fixture, backoffice.tests.fixtures):
logging in to the admin and keeping screenshots."""

from pathlib import Path

CHROMIUM = "/usr/bin/chromium"  # `.ci/run` installs Debian's chromium when it is missing
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
STAFF_PASSWORD = "staff-password-for-tests-2026"  # give it to staff_member() for a user who logs in through the form


def screenshot(page, name: str) -> Path:
    """Save a full-page screenshot under test-artifacts/screenshots/ (CI keeps the folder)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def admin_login(page, base_url: str, username: str) -> None:
    """Log in to the admin through its form as `username`, whose password is STAFF_PASSWORD."""
    page.goto(f"{base_url}/admin/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", STAFF_PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#user-tools")
