"""Staff send a customer a password-reset link from the customer's page (Django's password reset, mail through the
e-mail backend), audited; the customer sets a password with it and signs in on the hosted link page."""

import re

import pytest
from django.core import mail
from django.urls import reverse

from accounts.models import AuditAction, Customer
from accounts.tests.factories import CustomerFactory
from accounts.tests.helpers import assert_audited

NEW_PASSWORD = "a-brand-new-customer-password-77"


@pytest.fixture(autouse=True)
def _fast_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def reset_url(customer) -> str:
    return reverse("admin:accounts_customer_password_reset", args=[customer.pk])


def test_support_sends_a_link_and_the_customer_sets_a_password(support_client, support_user, client):
    customer = CustomerFactory(email="dana@example.com", name="Dana Driver")
    page = support_client.get(reverse("admin:accounts_customer_change", args=[customer.pk]))
    assert reset_url(customer) in page.content.decode()
    # when
    response = support_client.post(reset_url(customer), {"reason": "customer asked by phone"})
    # then
    assert response.status_code == 302
    [message] = mail.outbox
    assert message.to == ["dana@example.com"] and "password" in message.subject.lower()
    link = re.search(r"http://testserver(/account/reset/\S+/)", message.body).group(1)
    customer = Customer.objects.get(pk=customer.pk)
    assert customer.user is not None and not customer.user.has_usable_password() and not customer.user.is_staff
    assert_audited(
        actor=support_user,
        action=AuditAction.CUSTOMER_PASSWORD_RESET,
        reason="customer asked by phone",
        customer_id=customer.pk,
        detail={"email": "dana@example.com"},
    )
    # the customer follows the link (Django redirects it to a session-bound URL) and sets a password
    form_page = client.get(link, follow=True)
    assert "Set my password" in form_page.content.decode()
    done = client.post(
        form_page.redirect_chain[-1][0], {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}, follow=True
    )
    assert "Your password is set" in done.content.decode()
    customer.user.refresh_from_db()
    assert customer.user.check_password(NEW_PASSWORD)
    # used once
    assert "no longer valid" in client.get(link, follow=True).content.decode()


def test_a_customer_without_an_email_cannot_get_a_link(support_client):
    customer = CustomerFactory(email="")
    response = support_client.post(reset_url(customer), {"reason": "customer asked by phone"})
    assert "no e-mail address" in response.content.decode()
    assert mail.outbox == [] and Customer.objects.get(pk=customer.pk).user is None


def test_staff_in_no_role_cannot_send(nogroup_client):
    customer = CustomerFactory()
    assert nogroup_client.post(reset_url(customer), {"reason": "customer asked"}).status_code == 403
    assert mail.outbox == []
