"""Monthly partner statements of the CO2 offsets partners pay: a month closes once and never changes, a late item
falls into the next month, the CSV's totals equal the ledger's, and reconciliation finds them consistent.

A test sets the clock (django.utils.timezone.now) to put offsets in the months it needs; the database is real."""

import copy
import csv
import io
import json
from datetime import UTC, date, datetime

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from ledger import selectors as ledger_selectors
from ledger import services as ledger_services
from ledger.models import Transaction
from ledger.tests.helpers import CO2_REQUEST, grid_intensities_seed
from reconciliation.checks import statement_checks
from statements import exports, selectors, services, tasks
from statements.models import PartnerStatement, StatementLine

pytestmark = pytest.mark.django_db
OCTOBER, NOVEMBER = date(2031, 10, 1), date(2031, 11, 1)


class Clock:
    """The time the statements and the ledger's new rows see (a row's created_at comes from its field's default)."""

    def __init__(self, monkeypatch):
        self.moment = datetime(2031, 10, 1, tzinfo=UTC)
        real_now = timezone.now
        monkeypatch.setattr("django.utils.timezone.now", lambda: self.moment or real_now())
        monkeypatch.setattr(Transaction._meta.get_field("created_at"), "_get_default", lambda: self.moment or real_now())

    def set(self, *parts):
        self.moment = datetime(*parts, tzinfo=UTC)

    def stop(self):
        """Back to the real time (a logged-in session of the test client expires in the future of the real clock)."""
        self.moment = None


@pytest.fixture
def clock(monkeypatch):
    return Clock(monkeypatch)


@pytest.fixture(autouse=True)
def _grid_intensities(db):
    grid_intensities_seed()


def offset(partner, external_id: str, kilometer: int | None):
    return ledger_services.co2_offset_partner_pay(
        partner=partner,
        external_id=external_id,
        kilometer=kilometer,
        reference=f"ref-{external_id}",
        service_data=copy.deepcopy(CO2_REQUEST["serviceSpecificData"]),
    )


def owed(partner) -> int:
    return -ledger_selectors.account_entries_total(account_id=ledger_selectors.partner_billing_account_id(partner_id=partner.pk))


def csv_rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_a_month_closes_once_and_never_changes(partner, clock, finance_user, funded_link):
    clock.set(2031, 10, 10, 9, 0)
    first = offset(partner, "oct-a", 5)
    offset(partner, "oct-b", None)  # computed: 19 km
    ledger_services.co2_offset_pay(  # a customer's own offset is the customer's, not on the partner's bill
        partner_code=partner.code,
        access_key_id=None,
        external_user_id=funded_link.external_user_id,
        external_id="customer-oct",
        kilometer=2,
        service_data=copy.deepcopy(CO2_REQUEST["serviceSpecificData"]),
    )
    clock.set(2031, 11, 2, 8, 0)
    offset(partner, "nov-a", 3)

    closed = services.statement_close(partner=partner, month=OCTOBER)

    assert (closed.offsets, closed.kilometer_total) == (2, 24)
    assert sorted(StatementLine.objects.filter(statement=closed).values_list("transaction__external_id", "kilometer")) == [
        ("oct-a", 5),
        ("oct-b", 19),
    ]
    # Closed once: again, or in any way, it is refused; a reversal later in time is November's.
    with pytest.raises(services.StatementAlreadyClosed):
        services.statement_close(partner=partner, month=OCTOBER)
    clock.set(2031, 11, 5, 8, 0)
    ledger_services.transaction_reverse_by_staff(transaction_id=first.pk, staff=finance_user, reason="duplicate session")
    october = selectors.statement_get(partner=partner, month=OCTOBER)
    assert (october.status, october.offsets, october.kilometer_total) == ("CLOSED", 2, 24)
    november = selectors.statement_get(partner=partner, month=NOVEMBER)
    assert (november.status, [(i.transaction_id_external, i.kilometer) for i in november.items]) == (
        "OPEN",
        [("nov-a", 3), ("", -5)],
    )
    with pytest.raises(DatabaseError), transaction.atomic():
        PartnerStatement.objects.filter(pk=closed.pk).update(kilometer_total=0)
    with pytest.raises(DatabaseError), transaction.atomic():
        StatementLine.objects.filter(statement=closed).delete()
    assert statement_checks(date(2031, 11, 5)) == []


def test_a_month_that_has_not_ended_does_not_close(partner, clock):
    clock.set(2031, 10, 31, 23, 59, 59)

    with pytest.raises(services.MonthNotOver):
        services.statement_close(partner=partner, month=OCTOBER)

    assert not PartnerStatement.objects.exists()


def test_a_late_item_falls_into_the_next_month(partner, clock):
    clock.set(2031, 10, 31, 12, 0)
    offset(partner, "on-time", 4)
    clock.set(2031, 11, 1, 0, 0, 1)
    services.statement_close(partner=partner, month=OCTOBER)
    # An offset stamped before midnight whose commit came after October closed (a request in flight at midnight).
    clock.set(2031, 10, 31, 23, 59, 59)
    offset(partner, "late", 6)
    clock.set(2031, 11, 20, 12, 0)
    offset(partner, "november", 2)

    october = selectors.statement_get(partner=partner, month=OCTOBER)
    assert [item.transaction_id_external for item in october.items] == ["on-time"]
    clock.set(2031, 12, 1, 0, 0, 1)
    closed = services.statement_close(partner=partner, month=NOVEMBER)
    november = selectors.statement_get(partner=partner, month=NOVEMBER)
    assert [(item.transaction_id_external, item.kilometer, item.late) for item in november.items] == [
        ("late", 6, True),
        ("november", 2, False),
    ]
    assert (closed.offsets, closed.kilometer_total) == (2, 8)
    assert owed(partner) == 4 + 8


def test_the_csv_totals_equal_the_ledger(partner, clock, finance_user):
    clock.set(2031, 10, 3, 10, 0)
    offset(partner, "a", None)
    second = offset(partner, "b", 7)
    offset(partner, "c", 11)
    clock.set(2031, 10, 20, 10, 0)
    ledger_services.transaction_reverse_by_staff(transaction_id=second.pk, staff=finance_user, reason="never charged")
    clock.set(2031, 11, 1, 6, 0)
    services.statement_close(partner=partner, month=OCTOBER)

    rows = csv_rows(exports.statement_csv(selectors.statement_get(partner=partner, month=OCTOBER)))

    assert rows[0] == ["# partner PCS-001", "month 2031-10", "CLOSED"]
    assert rows[1] == exports.CSV_HEADER
    items, total = rows[2:-1], rows[-1]
    assert [(row[0], row[2], int(row[6])) for row in items] == [
        ("a", "CO2_OFFSET_CHARGING_SESSION", 19),
        ("b", "CO2_OFFSET_CHARGING_SESSION", 7),
        ("c", "CO2_OFFSET_CHARGING_SESSION", 11),
        ("", "REVERSAL", -7),
    ]
    assert total[0] == "TOTAL" and int(total[1]) == 4
    assert int(total[6]) == sum(int(row[6]) for row in items) == owed(partner) == 30


def test_the_command_prints_closes_and_exports(partner, clock):
    clock.set(2031, 10, 3, 10, 0)
    offset(partner, "a", 9)
    clock.set(2031, 11, 3, 10, 0)
    out = io.StringIO()

    call_command("partner_statement", "--partner", "PCS-001", "--month", "2031-10", "--close", "--json", stdout=out)

    body = json.loads(out.getvalue())
    assert {key: body[key] for key in ("partner", "month", "status", "offsets", "kilometerTotal")} == {
        "partner": "PCS-001",
        "month": "2031-10",
        "status": "CLOSED",
        "offsets": 1,
        "kilometerTotal": 9,
    }
    assert [(item["transactionId"], item["kilometer"], item["late"]) for item in body["items"]] == [("a", 9, False)]
    text = io.StringIO()
    call_command("partner_statement", "--partner", "PCS-001", "--month", "2031-10", stdout=text)
    assert "month: 2031-10 (CLOSED)" in text.getvalue() and "kilometerTotal: 9" in text.getvalue()
    exported = io.StringIO()
    call_command("partner_statement", "--partner", "PCS-001", "--month", "2031-10", "--csv", stdout=exported)
    assert csv_rows(exported.getvalue())[-1][:2] == ["TOTAL", "1"]
    with pytest.raises(CommandError, match="INVALID_PARAMETER: 2031-10, month"):
        call_command("partner_statement", "--partner", "PCS-001", "--month", "2031-10", "--close", stdout=io.StringIO())
    with pytest.raises(CommandError, match="INVALID_PARAMETER: 2031-11, month"):
        call_command("partner_statement", "--partner", "PCS-001", "--month", "2031-11", "--close", stdout=io.StringIO())
    with pytest.raises(CommandError, match="REFERENCED_OBJECT_NOT_FOUND: partner, NOPE"):
        call_command("partner_statement", "--partner", "NOPE", "--month", "2031-10", stdout=io.StringIO())


def test_staff_download_a_closed_statements_csv(partner, clock, support_client):
    clock.set(2031, 10, 3, 10, 0)
    offset(partner, "a", 9)
    clock.set(2031, 11, 3, 10, 0)
    closed = services.statement_close(partner=partner, month=OCTOBER)
    clock.stop()

    response = support_client.get(reverse("admin:statements_partnerstatement_csv", args=[closed.pk]))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="statement-PCS-001-2031-10.csv"' in response["Content-Disposition"]
    assert response.content.decode() == exports.statement_csv(selectors.statement_get(partner=partner, month=OCTOBER))
    listing = support_client.get(reverse("admin:statements_partnerstatement_changelist"))
    assert listing.status_code == 200 and b"Download CSV" in listing.content


def test_the_scheduled_job_closes_last_month_for_every_partner(partner, other_partner, clock):
    clock.set(2031, 10, 3, 10, 0)
    offset(partner, "a", 9)
    clock.set(2031, 11, 1, 3, 0)

    result = tasks.close_last_month()

    assert result == {"month": "2031-10", "closed": 2}
    assert sorted(PartnerStatement.objects.values_list("partner__code", "kilometer_total")) == [("PCS-001", 9), ("PCS-002", 0)]
    assert tasks.close_last_month() == {"month": "2031-10", "closed": 0}


def test_reconciliation_finds_a_statement_that_no_longer_matches_the_ledger(partner, clock):
    clock.set(2031, 10, 3, 10, 0)
    offset(partner, "a", 9)
    clock.set(2031, 11, 3, 10, 0)
    closed = services.statement_close(partner=partner, month=OCTOBER)
    assert statement_checks(date(2031, 11, 3)) == []

    with connection.cursor() as cursor:  # what only someone bypassing the immutability trigger could do
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("UPDATE statements_partnerstatement SET kilometer_total = 10 WHERE id = %s", [closed.pk])
        cursor.execute("UPDATE statements_statementline SET kilometer = 10 WHERE statement_id = %s", [closed.pk])
        cursor.execute("SET LOCAL session_replication_role = origin")

    found = {(d.kind, d.expected, d.actual) for d in statement_checks(date(2031, 11, 3))}
    assert found == {("co2_billing_mismatch", 10, 9)}
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL session_replication_role = replica")
        cursor.execute("UPDATE statements_partnerstatement SET offsets = 2 WHERE id = %s", [closed.pk])
        cursor.execute("SET LOCAL session_replication_role = origin")
    assert {d.kind for d in statement_checks(date(2031, 11, 3))} == {"co2_billing_mismatch", "statement_total_mismatch"}
