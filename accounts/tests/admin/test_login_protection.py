"""The admin login against brute force (django-axes: AXES_FAILURE_LIMIT failures for a username from one address
lock that pair out, even with the right password afterwards) and the production session settings."""

import pytest
from django.conf import settings as django_settings
from django.test import Client

from backoffice.tests.helpers import staff_member, text

LOGIN = "/admin/login/"
PASSWORD = "correct-horse-battery-staple-2026"
LOCKED = "Too many failed log-ins"


@pytest.fixture(autouse=True)
def _fast_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def agent(db):
    return staff_member("sam.support", "support", password=PASSWORD)


@pytest.fixture
def colleague(db):
    return staff_member("fay.finance", "finance", password=PASSWORD)


def log_in(client: Client, username: str, password: str, address: str = "127.0.0.1"):
    return client.post(LOGIN, {"username": username, "password": password, "next": "/admin/"}, REMOTE_ADDR=address)


def logged_in_as(client: Client) -> str | None:
    return client.session.get("_auth_user_id")


def test_the_limit_is_five(settings):
    assert settings.AXES_FAILURE_LIMIT == 5
    assert settings.AXES_LOCKOUT_PARAMETERS == [["username", "ip_address"]]


def test_five_failures_lock_the_username_out_even_with_the_right_password(agent):
    client = Client()

    failures = [log_in(client, "sam.support", f"wrong-{n}") for n in range(5)]
    sixth = log_in(client, "sam.support", PASSWORD)

    for response in failures[:4]:
        assert response.status_code == 200
        assert "Please enter the correct username and password" in text(response)
    assert failures[4].status_code == 429  # the fifth failure reaches the limit: locked from now on
    assert sixth.status_code == 429
    assert LOCKED in text(sixth)
    assert logged_in_as(client) is None
    assert Client().get("/admin/", REMOTE_ADDR="127.0.0.1").status_code == 302  # nobody got in


def test_four_failures_do_not_lock_and_a_success_resets_the_count(agent):
    client = Client()

    for n in range(4):
        log_in(client, "sam.support", f"wrong-{n}")
    success = log_in(client, "sam.support", PASSWORD)
    client.logout()
    for n in range(4):
        log_in(client, "sam.support", f"wrong-again-{n}")
    again = log_in(client, "sam.support", PASSWORD)

    assert success.status_code == 302 and success["Location"] == "/admin/"
    assert again.status_code == 302
    assert logged_in_as(client) == str(agent.pk)


def test_a_locked_out_username_does_not_lock_out_the_others(agent, colleague):
    for n in range(5):
        log_in(Client(), "sam.support", f"wrong-{n}")
    other = Client()

    response = log_in(other, "fay.finance", PASSWORD)

    assert response.status_code == 302
    assert logged_in_as(other) == str(colleague.pk)
    assert log_in(Client(), "sam.support", PASSWORD).status_code == 429


def test_the_lockout_is_per_username_and_address(agent):
    for n in range(5):
        log_in(Client(), "sam.support", f"wrong-{n}", address="203.0.113.7")
    elsewhere = Client()

    locked = log_in(Client(), "sam.support", PASSWORD, address="203.0.113.7")
    response = log_in(elsewhere, "sam.support", PASSWORD, address="198.51.100.20")

    assert locked.status_code == 429
    assert response.status_code == 302
    assert logged_in_as(elsewhere) == str(agent.pk)


def test_unknown_usernames_are_locked_out_too(db):
    responses = [log_in(Client(), "no.such.user", f"guess-{n}") for n in range(6)]

    assert [r.status_code for r in responses] == [200, 200, 200, 200, 429, 429]


def test_production_session_settings_are_on():
    """Tests run as production does (make test: DEBUG=false)."""
    assert django_settings.SESSION_COOKIE_SECURE is True
    assert django_settings.CSRF_COOKIE_SECURE is True
    assert django_settings.SESSION_COOKIE_HTTPONLY is True
    assert django_settings.SESSION_COOKIE_SAMESITE == "Lax"
    assert django_settings.SESSION_EXPIRE_AT_BROWSER_CLOSE is True
    assert django_settings.SESSION_COOKIE_AGE == 8 * 3600
    assert django_settings.X_FRAME_OPTIONS == "DENY"


def test_the_session_cookie_of_a_login_is_secure_and_http_only(agent):
    client = Client()

    response = log_in(client, "sam.support", PASSWORD)

    assert response.status_code == 302
    cookie = response.cookies[django_settings.SESSION_COOKIE_NAME]
    assert (bool(cookie["secure"]), bool(cookie["httponly"]), cookie["samesite"], cookie["max-age"]) == (True, True, "Lax", "")
    csrf = Client().get(LOGIN).cookies[django_settings.CSRF_COOKIE_NAME]  # the login form of an anonymous visitor
    assert bool(csrf["secure"]) is True
