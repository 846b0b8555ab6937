"""One transactionId sent at once to every service and URL over real HTTP (a live server thread per request, real
commits): the unique index decides, whatever the service, and exactly one is booked."""

import copy
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.db.models import Sum

from ledger import selectors
from ledger.models import Co2Computation, Entry, Transaction
from ledger.tests.helpers import CO2_REQUEST, grant, grid_intensities_seed, partner_pay_url, pay_url, wallet_of

pytestmark = pytest.mark.django_db(transaction=True)


def test_one_transaction_id_sent_at_once_to_every_service_is_booked_once(http_server, link, tokens, seed_request):
    grid_intensities_seed()
    grant(link.customer, 1000)
    offset = copy.deepcopy(CO2_REQUEST)
    donation = {"service": "DONATE_FOR_CO2_OFFSET", "kilometer": 10, "serviceSpecificData": {}}
    requests_to_send = [
        *[(pay_url(), {**seed_request, "kilometer": 5})] * 4,
        *[(pay_url(), offset)] * 4,
        *[(pay_url(), donation)] * 4,
        *[(partner_pay_url(), offset)] * 4,
    ]
    barrier = threading.Barrier(len(requests_to_send))

    def post(request):
        path, body = request
        with requests.Session() as session:
            barrier.wait(timeout=30)
            return session.post(
                http_server + path,
                json={**body, "transactionId": "same-id"},
                headers={"Authorization": f"Bearer {tokens['accessToken']}"},
                timeout=60,
            )

    with ThreadPoolExecutor(max_workers=len(requests_to_send)) as pool:
        responses = list(pool.map(post, requests_to_send))

    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 15, [r.content for r in responses]
    [booked] = Transaction.objects.filter(external_id="same-id")
    moved = {5: "PAY_FOR_CHARGING_SESSION", 19: "CO2_OFFSET_CHARGING_SESSION", 10: "CO2_DONATION"}
    billing = selectors.account_entries_total(account_id=selectors.partner_billing_account_id(partner_id=link.partner_id))
    spent = 1000 - wallet_of(link.customer).balance
    assert booked.kind == (moved[spent] if spent else "CO2_OFFSET_CHARGING_SESSION")
    assert billing == (0 if spent else -19)
    assert Co2Computation.objects.count() == (1 if booked.kind == "CO2_OFFSET_CHARGING_SESSION" else 0)
    assert Entry.objects.aggregate(total=Sum("amount"))["total"] == 0
