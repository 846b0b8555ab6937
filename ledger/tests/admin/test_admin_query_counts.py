"""The back-office pages stay fast as the data grows: a changelist (or a customer's page) makes as many queries with
50 rows as with 5, so nothing is fetched row by row."""

import itertools

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts import services as accounts_services
from accounts.tests.factories import CustomerFactory, PartnerLinkFactory
from backoffice.tests.helpers import staff_member
from gateways import services as gateways_services
from gateways.tests.factories import CardChargeFactory
from ledger import services as ledger_services
from ledger.tests.factories import SessionPaymentFactory

_numbers = itertools.count(1)


def queries_of(client, url: str):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, response.status_code
    return len(queries), response


def shown(response) -> int:
    return len(response.context["cl"].result_list)


class Rows:
    """Adds `n` rows of every kind a page lists (each with its own related objects)."""

    def __init__(self, partner, staff, service_account, hop_customer):
        self.partner, self.staff, self.service_account, self.hop_customer = partner, staff, service_account, hop_customer

    def customers(self, n: int) -> None:
        """n customers, each linked, with a grant (KM_GRANT + its audit record) and a payment."""
        for _ in range(n):
            number = next(_numbers)
            customer = CustomerFactory(email=f"row{number}@example.com")
            PartnerLinkFactory(partner=self.partner, customer=customer, external_user_id=f"rowUser{number}")
            ledger_services.kilometers_change_by_staff(
                customer=customer, kilometer=10, goodwill=True, reason="volume test", staff=self.staff
            )
            SessionPaymentFactory(
                partner=self.partner, external_user_id=f"rowUser{number}", external_id=f"ROW-{number}", kilometer=1
            )

    def charges(self, n: int) -> None:
        for _ in range(n):
            CardChargeFactory(requested_by=self.service_account, customer=self.hop_customer, amount_cents=500)

    def credits(self, n: int) -> None:
        """n refunds to the card, each posted (its wallet debit and gateway attempt)."""
        ledger_services.card_topup_credit(customer_id=self.hop_customer.pk, amount_cents=600 * n)
        for _ in range(n):
            gateways_services.card_credit_create(requested_by=self.service_account, customer=self.hop_customer, amount_cents=600)

    def staff_users(self, n: int) -> None:
        for _ in range(n):
            staff_member(f"agent{next(_numbers)}", "support", "finance")

    def api_keys(self, n: int) -> None:
        for _ in range(n):
            accounts_services.api_key_create_by_staff(
                partner=self.partner, label="volume", staff=self.staff, reason="volume test"
            )


@pytest.fixture
def rows(partner, finance_user, service_account, hop_customer, gateway_settings):
    return Rows(partner, finance_user, service_account, hop_customer)


# (changelist, how to add rows, rows shown per unit added)
PAGES = [
    ("admin:ledger_transaction_changelist", "customers", 2),  # a grant and a payment each
    ("admin:accounts_customer_changelist", "customers", 1),
    ("admin:accounts_auditlog_changelist", "customers", 1),  # the grant's audit record
    ("admin:ledger_account_changelist", "customers", 2),  # two wallets each (the partner account is there from the start)
    ("admin:accounts_partnerlink_changelist", "customers", 1),
    ("admin:gateways_cardcharge_changelist", "charges", 1),
    ("admin:gateways_cardcredit_changelist", "credits", 1),
    ("admin:accounts_user_changelist", "staff_users", 1),  # with their groups
]


@pytest.mark.parametrize(("page", "adds", "per_unit"), PAGES, ids=[page.split(":")[1] for page, _, _ in PAGES])
def test_a_changelist_makes_as_many_queries_with_50_rows_as_with_5(superuser_client, rows, page, adds, per_unit):
    url = reverse(page)
    getattr(rows, adds)(5)
    queries_of(superuser_client, url)  # warm up: content types, permissions cache
    few_queries, few = queries_of(superuser_client, url)

    getattr(rows, adds)(45)
    many_queries, many = queries_of(superuser_client, url)

    assert shown(many) == min(shown(few) + 45 * per_unit, 100)  # 100 rows a page
    assert many_queries == few_queries


def test_the_audit_log_with_partner_records_too(superuser_client, rows):
    url = reverse("admin:accounts_auditlog_changelist")
    rows.customers(3)
    rows.api_keys(2)
    queries_of(superuser_client, url)
    few_queries, few = queries_of(superuser_client, url)

    rows.customers(20)
    rows.api_keys(25)
    many_queries, many = queries_of(superuser_client, url)

    assert (shown(few), shown(many)) == (5, 50)
    assert many_queries == few_queries


def test_a_customers_page_makes_as_many_queries_with_a_long_history_as_with_a_short_one(
    superuser_client, finance_user, partner, gateway_settings, service_account, hop_customer
):
    customer = hop_customer
    url = reverse("admin:accounts_customer_change", args=[customer.pk])
    numbers = itertools.count(1)

    def history(n: int) -> None:
        """Per step: a grant (with its audit record), a payment, a card charge (with its gateway attempt and top-up),
        a refund to the card (with its gateway attempt and wallet debit)."""
        for _ in range(n):
            number = next(numbers)
            ledger_services.kilometers_change_by_staff(
                customer=customer, kilometer=10, goodwill=True, reason="volume test", staff=finance_user
            )
            SessionPaymentFactory(partner=partner, external_user_id="hopUser001", external_id=f"HIST-{number}", kilometer=1)
            CardChargeFactory(requested_by=service_account, customer=customer, amount_cents=500)
            gateways_services.card_credit_create(requested_by=service_account, customer=customer, amount_cents=500)

    history(5)
    queries_of(superuser_client, url)
    few_queries, few = queries_of(superuser_client, url)

    history(45)
    many_queries, many = queries_of(superuser_client, url)

    # 9 events a step, and the customer's link; 200 at most
    assert (len(few.context["timeline"]), len(many.context["timeline"])) == (5 * 9 + 1, 200)
    assert many_queries == few_queries
