"""The dashboard on the admin's front page: kilometers paid per day and per partner, top-ups, refusals by code,
card charges by status (review and debt highlighted), open findings and the last run, what customers hold; its
query count does not grow with the rows."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.tests.factories import CustomerFactory, PartnerLinkFactory
from backoffice.models import RefusedAttempt
from backoffice.tests.helpers import text
from gateways.models import CardCharge, ChargeStatus
from gateways.tests.factories import CardChargeFactory
from ledger.tests.factories import SessionPaymentFactory
from ledger.tests.helpers import grant
from reconciliation.models import ReconciliationFinding, ReconciliationRun

INDEX = "/admin/"


def _activity(partner, other_partner, *, customers: int, payments_each: int, refusals: int, first: int = 0) -> None:
    for n in range(first, first + customers):
        customer = CustomerFactory()
        grant(customer, 1000)
        PartnerLinkFactory(partner=partner, customer=customer, external_user_id=f"a-{n}")
        PartnerLinkFactory(partner=other_partner, customer=customer, external_user_id=f"b-{n}")
        for _ in range(payments_each):
            SessionPaymentFactory(partner=partner, external_user_id=f"a-{n}", kilometer=30)
            SessionPaymentFactory(partner=other_partner, external_user_id=f"b-{n}", kilometer=5)
    for n in range(refusals):
        RefusedAttempt.objects.create(
            api="andcharge",
            method="POST",
            path="/v1/x",
            status=422 if n % 2 else 404,
            request_id=f"r{n}",
            error_code="ACCOUNT_BALANCE_NOT_SUFFICIENT" if n % 2 else "REFERENCED_OBJECT_NOT_FOUND",
        )


def test_the_dashboard_shows_money_refusals_charges_findings_and_liability(
    finance_client, partner, other_partner, gateway_settings, service_account, hop_customer
):
    _activity(partner, other_partner, customers=2, payments_each=2, refusals=3)
    charges = [CardChargeFactory(requested_by=service_account, customer=hop_customer, amount_cents=c) for c in (2500, 700)]
    CardCharge.objects.filter(pk=charges[1].pk).update(status=ChargeStatus.REVIEW, debt_cents=700)
    run = ReconciliationRun.objects.create(business_date=charges[0].created_at.date(), summary={"new": 1, "auto_closed": 0})
    ReconciliationFinding.objects.create(kind="amount_mismatch", severity="error", fingerprint="f", first_run=run, last_run=run)

    response = finance_client.get(INDEX)

    board = response.context["board"]
    assert board.km_paid_by_day[-1][1] == 2 * 2 * (30 + 5)  # today's row
    assert sum(km for _, km in board.km_paid_by_day) == 140
    assert board.km_paid_by_partner == [("PCS-001", 120), ("PCS-002", 20)]
    assert board.topups_by_day[-1][1] == 3200
    assert board.refusals_by_code == [("REFERENCED_OBJECT_NOT_FOUND", 2), ("ACCOUNT_BALANCE_NOT_SUFFICIENT", 1)]
    assert board.charges_by_status == [("authorized", 1), ("review", 1)]
    assert (board.debt_cents, board.open_errors, board.last_run) == (700, 1, run)
    assert board.liability == {"KM": 2 * 1000 - 140, "USD": 3200}
    page = text(response)
    assert page.count('class="dashboard-chart"') == 6
    assert "1,860 km" in page and "$32.00" in page and "$7.00" in page
    assert "1 open error finding(s)" in page
    assert 'fill="#ba2121"><title>review: 1</title>' in page  # review highlighted
    assert 'action="/admin/accounts/customer/"' in page  # find a customer from the front page


def test_the_dashboard_costs_the_same_queries_at_any_size(finance_client, partner, other_partner, django_assert_max_num_queries):
    _activity(partner, other_partner, customers=1, payments_each=1, refusals=1)
    with CaptureQueriesContext(connection) as small:
        assert finance_client.get(INDEX).status_code == 200

    _activity(partner, other_partner, customers=6, payments_each=4, refusals=12, first=1)
    with django_assert_max_num_queries(len(small)):
        response = finance_client.get(INDEX)

    assert sum(km for _, km in response.context["board"].km_paid_by_day) == 35 + 6 * 4 * 35


def test_staff_in_no_role_see_no_figures(nogroup_client, db):
    page = text(nogroup_client.get(INDEX))

    assert 'id="dashboard"' not in page
