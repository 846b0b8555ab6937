"""A month closes while an offset of that month is still in flight (real commits, two connections): the closing
neither waits for it nor sees it, and the offset, committed after, is a late item of the next month."""

import copy
import threading
from datetime import UTC, date, datetime

import pytest
from django.db import connection, transaction

from ledger import services as ledger_services
from ledger.models import Transaction
from ledger.tests.helpers import CO2_REQUEST, grid_intensities_seed
from statements import selectors, services

pytestmark = pytest.mark.django_db(transaction=True)


def test_an_offset_in_flight_at_closing_falls_into_the_next_month(partner, monkeypatch):
    grid_intensities_seed()
    moment = {"now": datetime(2031, 10, 31, 23, 59, 59, tzinfo=UTC)}
    monkeypatch.setattr("django.utils.timezone.now", lambda: moment["now"])
    monkeypatch.setattr(Transaction._meta.get_field("created_at"), "_get_default", lambda: moment["now"])
    booked, release, failures = threading.Event(), threading.Event(), []

    def offset_in_flight():
        try:
            with transaction.atomic():
                ledger_services.co2_offset_partner_pay(
                    partner=partner,
                    external_id="in-flight",
                    kilometer=6,
                    service_data=copy.deepcopy(CO2_REQUEST["serviceSpecificData"]),
                )
                booked.set()
                assert release.wait(timeout=30)
        except Exception as error:  # reported to the test's own thread
            failures.append(error)
            booked.set()
        finally:
            connection.close()

    worker = threading.Thread(target=offset_in_flight)
    worker.start()
    assert booked.wait(timeout=30)
    moment["now"] = datetime(2031, 11, 1, 0, 0, 1, tzinfo=UTC)

    october = services.statement_close(partner=partner, month=date(2031, 10, 1))  # does not wait for the offset

    release.set()
    worker.join(timeout=30)
    assert not failures
    assert (october.offsets, october.kilometer_total) == (0, 0)
    november = selectors.statement_get(partner=partner, month=date(2031, 11, 1))
    assert [(item.transaction_id_external, item.kilometer, item.late) for item in november.items] == [("in-flight", 6, True)]
    assert selectors.billing_balance(partner=partner) == -6
