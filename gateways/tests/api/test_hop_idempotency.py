"""`Idempotency-Key` on HOP charges (DESIGN §4, Stripe semantics): replay, reuse, per-client scope, concurrency, retention."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import requests
from django.utils import timezone

from core.idempotency import idempotency_purge
from core.models import IdempotencyRecord, IdempotencyStatus
from gateways.models import CardCharge, ChargeStatus
from ledger.models import Transaction, TransactionKind
from ledger.tests.helpers import cents

from .support import (
    KEY_IN_USE,
    KEY_REUSED,
    authorizations,
    charge_failure,
    charges_url,
    invalid_params,
    rfid_charges_url,
)

BODY = {"charge": {"amount_in_cents": "500"}}


def post(client, customer, body=BODY, key="key-1", path=None):
    return client.post(path or charges_url(customer.pk), body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_same_key_and_body_replays_the_first_answer_without_calling_the_gateway(hop_api, hop_customer, sandbox):
    first = post(hop_api, hop_customer)

    replay = post(hop_api, hop_customer)

    assert first.status_code == 201, first.content
    assert "Idempotent-Replayed" not in first
    assert replay.status_code == 201
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()
    assert len(authorizations(sandbox)) == 1
    assert CardCharge.objects.count() == 1
    assert cents(hop_customer) == 500
    record = IdempotencyRecord.objects.get()
    assert (record.key, record.status, record.response_status) == ("key-1", IdempotencyStatus.COMPLETED, 201)


@pytest.mark.parametrize(
    ("body", "status"),
    [({"charge": {"amount_in_cents": 500}}, 201), ({"charge": {"amount_in_cents": 100}}, 406), ({"charge": {}}, 422)],
    ids=["approved", "declined", "refused"],
)
def test_the_replay_is_byte_for_byte_the_first_answer(hop_api, hop_customer, body, status):
    first = post(hop_api, hop_customer, body)

    replay = post(hop_api, hop_customer, body)

    assert (first.status_code, replay.status_code) == (status, status)
    assert replay.content == first.content  # same keys in the same order: the envelope's and the seed's metadata order


def test_the_replay_is_the_first_answer_even_after_the_balance_moved(hop_api, hop_customer, sandbox):
    first = post(hop_api, hop_customer)
    assert post(hop_api, hop_customer, {"charge": {"amount_in_cents": 700}}, key="key-2").status_code == 201

    replay = post(hop_api, hop_customer)

    assert replay.json() == first.json()
    assert replay.json()["data"]["charge"]["balance_in_cents"] == 500
    assert cents(hop_customer) == 1200
    assert len(authorizations(sandbox)) == 2


def test_the_same_body_in_another_key_order_is_the_same_request(hop_api, hop_customer, sandbox):
    body = {"charge": {"amount_in_cents": 600, "payment_method": {"token": "12345", "expires_at": "2031-01-31"}}}
    reordered = {"charge": {"payment_method": {"expires_at": "2031-01-31", "token": "12345"}, "amount_in_cents": 600}}
    first = post(hop_api, hop_customer, body)

    replay = post(hop_api, hop_customer, reordered)

    assert replay.status_code == 201
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()
    assert len(authorizations(sandbox)) == 1


@pytest.mark.parametrize(
    "other_body",
    [
        {"charge": {"amount_in_cents": "501"}},
        {"charge": {"amount_in_cents": 500}},  # the integer form is another body
        {"charge": {"amount_in_cents": "500", "payment_method": {"token": "12345", "expires_at": "2031-01-31"}}},
    ],
    ids=repr,
)
def test_same_key_with_another_body_is_10016(hop_api, hop_customer, sandbox, other_body):
    first = post(hop_api, hop_customer)

    reused = post(hop_api, hop_customer, other_body)

    assert first.status_code == 201
    assert reused.status_code == 422
    assert reused.json() == KEY_REUSED
    assert len(authorizations(sandbox)) == 1
    assert CardCharge.objects.count() == 1
    assert cents(hop_customer) == 500
    assert not hop_customer.payment_methods.filter(token="12345").exists()


def test_same_key_and_body_on_another_route_is_10016(hop_api, hop_customer, second_customer, sandbox):
    from accounts import services as accounts_services

    accounts_services.rfid_token_add(customer=hop_customer, token="rfid-1")
    assert post(hop_api, hop_customer).status_code == 201

    other_customer_route = post(hop_api, second_customer)
    rfid_route = post(hop_api, hop_customer, path=rfid_charges_url("rfid-1"))

    assert (other_customer_route.status_code, rfid_route.status_code) == (422, 422)
    assert other_customer_route.json() == rfid_route.json() == KEY_REUSED
    assert len(authorizations(sandbox)) == 1
    assert (cents(hop_customer), cents(second_customer)) == (500, 0)


def test_a_declined_charge_is_replayed_identically(hop_api, hop_customer, sandbox):
    first = post(hop_api, hop_customer, {"charge": {"amount_in_cents": 100}})

    replay = post(hop_api, hop_customer, {"charge": {"amount_in_cents": 100}})

    assert first.status_code == 406
    assert first.json() == charge_failure("Denied by customer's bank")
    assert replay.status_code == 406
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()
    assert len(authorizations(sandbox)) == 1
    assert list(CardCharge.objects.values_list("status", flat=True)) == [ChargeStatus.DECLINED]
    assert cents(hop_customer) == 0


def test_a_refused_request_is_replayed_identically(hop_api, hop_customer, sandbox):
    first = post(hop_api, hop_customer, {"charge": {"amount_in_cents": -5}})

    replay = post(hop_api, hop_customer, {"charge": {"amount_in_cents": -5}})

    assert first.status_code == replay.status_code == 422
    assert replay["Idempotent-Replayed"] == "true"
    assert (
        replay.json() == first.json() == invalid_params({"amount_in_cents": ["must be a whole number of cents from 1 to 100000"]})
    )
    assert authorizations(sandbox) == []


def test_a_pending_charge_is_replayed_as_pending_and_never_sent_again(hop_api, hop_customer, sandbox, settings):
    settings.GATEWAY_TIMEOUT_SECONDS = 0.5
    sandbox.control.add_fault("drop", request_type="004")
    first = post(hop_api, hop_customer)

    replay = post(hop_api, hop_customer)

    assert first.status_code == replay.status_code == 202
    assert replay.json() == first.json()
    assert replay.json()["data"]["charge"]["status"] == "pending"
    assert len(authorizations(sandbox)) == 1
    assert CardCharge.objects.count() == 1
    assert cents(hop_customer) == 0


def test_without_a_key_every_request_is_a_new_charge(hop_api, hop_customer, sandbox):
    first = hop_api.post(charges_url(hop_customer.pk), BODY, format="json")
    second = hop_api.post(charges_url(hop_customer.pk), BODY, format="json")

    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["data"]["charge"]["id"] != second.json()["data"]["charge"]["id"]
    assert len(authorizations(sandbox)) == 2
    assert cents(hop_customer) == 1000
    assert not IdempotencyRecord.objects.exists()


def test_keys_are_scoped_per_api_client(hop_api, hop_customer, other_hop_api, other_customer, sandbox):
    mine = post(hop_api, hop_customer, key="shared-key")

    theirs = post(other_hop_api, other_customer, key="shared-key")

    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert "Idempotent-Replayed" not in theirs
    assert mine.json()["data"]["charge"]["id"] != theirs.json()["data"]["charge"]["id"]
    assert theirs.json()["data"]["charge"]["metadata"]["Token"] == "4000000000000002"
    assert (cents(hop_customer), cents(other_customer)) == (500, 500)
    assert len(authorizations(sandbox)) == 2
    assert IdempotencyRecord.objects.filter(key="shared-key").count() == 2


def test_another_client_cannot_replay_my_answer_by_using_my_key(hop_api, hop_customer, other_hop_api, sandbox):
    assert post(hop_api, hop_customer, key="shared-key").status_code == 201

    response = post(other_hop_api, hop_customer, key="shared-key")  # PCS-002 may not see PCS-001's customer

    assert response.status_code == 406
    assert "Idempotent-Replayed" not in response
    assert response.json()["data"]["code"] == 10004
    assert len(authorizations(sandbox)) == 1


@pytest.mark.parametrize("key", ["k" * 256, "tab\tkey", "new\nline"], ids=["too-long", "tab", "newline"])
def test_an_unusable_key_is_refused_before_anything_happens(hop_api, hop_customer, sandbox, key):
    response = hop_api.post(charges_url(hop_customer.pk), BODY, format="json", HTTP_IDEMPOTENCY_KEY=key)

    assert response.status_code == 422
    assert response.json() == invalid_params({"Idempotency-Key": ["is invalid"]})
    assert authorizations(sandbox) == []
    assert not CardCharge.objects.exists()
    assert not IdempotencyRecord.objects.exists()


def test_a_255_character_key_is_accepted(hop_api, hop_customer):
    assert post(hop_api, hop_customer, key="k" * 255).status_code == 201
    assert post(hop_api, hop_customer, key="k" * 255)["Idempotent-Replayed"] == "true"


def test_unparsable_json_does_not_consume_the_key(hop_api, hop_customer, sandbox):
    broken = hop_api.post(charges_url(hop_customer.pk), b"{oops", content_type="application/json", HTTP_IDEMPOTENCY_KEY="key-1")

    fixed = post(hop_api, hop_customer)

    assert broken.status_code == 422
    assert fixed.status_code == 201
    assert "Idempotent-Replayed" not in fixed
    assert len(authorizations(sandbox)) == 1


# --- concurrency over real HTTP -------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_10_concurrent_requests_with_one_key_charge_once(http_server, hop_jwt, hop_customer, sandbox):
    # The gateway answers after 1 s (within the 5 s timeout), so the first request is still running when the rest arrive.
    sandbox.control.add_fault("slow", seconds=1, request_type="004", record=True)
    barrier = threading.Barrier(10)

    def fire(_):
        with requests.Session() as session:
            barrier.wait(timeout=30)
            return session.post(
                http_server + charges_url(hop_customer.pk),
                json=BODY,
                headers={"Authorization": f"Bearer {hop_jwt}", "Idempotency-Key": "burst-key"},
                timeout=60,
            )

    with ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(pool.map(fire, range(10)))

    created = [r for r in responses if r.status_code == 201 and "Idempotent-Replayed" not in r.headers]
    replayed = [r for r in responses if r.status_code == 201 and r.headers.get("Idempotent-Replayed") == "true"]
    in_use = [r for r in responses if r.status_code == 409]
    assert len(created) == 1
    assert len(created) + len(replayed) + len(in_use) == 10
    assert all(r.json() == KEY_IN_USE for r in in_use)
    assert all(r.json() == created[0].json() for r in replayed)
    assert len(in_use) >= 1  # the 1 s gateway answer keeps the key busy while the others arrive
    assert len(authorizations(sandbox)) == 1
    assert len(sandbox.control.transactions()) == 1
    assert CardCharge.objects.count() == 1
    assert Transaction.objects.filter(kind=TransactionKind.CARD_TOPUP).count() == 1
    assert cents(hop_customer) == 500
    assert IdempotencyRecord.objects.get().status == IdempotencyStatus.COMPLETED

    # and once it is done, the key replays
    with requests.Session() as session:
        later = session.post(
            http_server + charges_url(hop_customer.pk),
            json=BODY,
            headers={"Authorization": f"Bearer {hop_jwt}", "Idempotency-Key": "burst-key"},
            timeout=60,
        )
    assert later.status_code == 201
    assert later.headers["Idempotent-Replayed"] == "true"
    assert later.json() == created[0].json()
    assert len(authorizations(sandbox)) == 1


@pytest.mark.django_db(transaction=True)
def test_10_concurrent_charges_with_distinct_keys_all_go_through(http_server, hop_jwt, hop_customer, sandbox, settings):
    settings.GATEWAY_CALLS_PER_PROCESS = 10  # one test server stands for ten web processes here (see test_hop_bulkhead)
    barrier = threading.Barrier(10)

    def fire(index):
        with requests.Session() as session:
            barrier.wait(timeout=30)
            return session.post(
                http_server + charges_url(hop_customer.pk),
                json={"charge": {"amount_in_cents": 500 + index}},
                headers={"Authorization": f"Bearer {hop_jwt}", "Idempotency-Key": f"key-{index}"},
                timeout=60,
            )

    with ThreadPoolExecutor(max_workers=10) as pool:
        responses = list(pool.map(fire, range(10)))

    assert [r.status_code for r in responses] == [201] * 10
    expected_total = sum(500 + index for index in range(10))
    assert cents(hop_customer) == expected_total
    assert max(r.json()["data"]["charge"]["balance_in_cents"] for r in responses) == expected_total
    assert len({r["transaction_id"] for r in authorizations(sandbox)}) == 10
    assert Transaction.objects.filter(kind=TransactionKind.CARD_TOPUP).count() == 10
    assert CardCharge.objects.filter(status=ChargeStatus.AUTHORIZED).count() == 10


# --- retention ------------------------------------------------------------------------------------------------


def test_keys_are_kept_at_least_24_hours_by_default(settings):
    assert settings.IDEMPOTENCY_RETENTION_HOURS >= 24


def test_purge_deletes_records_older_than_the_retention_stuck_ones_too(hop_api, hop_customer, service_account, sandbox, settings):
    hours = settings.IDEMPOTENCY_RETENTION_HOURS
    for key in ("expired", "kept", "recent"):
        assert post(hop_api, hop_customer, key=key).status_code == 201
    # never completed (its request died): after the retention its key is free again
    stuck = IdempotencyRecord.objects.create(client=service_account, key="stuck", request_fingerprint="0" * 64)
    now = timezone.now()
    IdempotencyRecord.objects.filter(key="expired").update(created_at=now - timedelta(hours=hours, minutes=1))
    IdempotencyRecord.objects.filter(key="kept").update(created_at=now - timedelta(hours=hours) + timedelta(minutes=1))
    IdempotencyRecord.objects.filter(pk=stuck.pk).update(created_at=now - timedelta(hours=hours * 10))

    deleted = idempotency_purge(now=now)

    assert deleted == 2
    assert set(IdempotencyRecord.objects.values_list("key", flat=True)) == {"kept", "recent"}
    # the kept key still replays; the expired one is a new request again
    assert post(hop_api, hop_customer, key="kept")["Idempotent-Replayed"] == "true"
    fresh = post(hop_api, hop_customer, key="expired")
    assert fresh.status_code == 201
    assert "Idempotent-Replayed" not in fresh
    assert len(authorizations(sandbox)) == 4
    assert cents(hop_customer) == 2000


def test_purge_with_the_minimum_retention_keeps_a_day_old_key(hop_api, hop_customer, settings):
    settings.IDEMPOTENCY_RETENTION_HOURS = 24
    assert post(hop_api, hop_customer, key="day-old").status_code == 201
    now = timezone.now()
    IdempotencyRecord.objects.update(created_at=now - timedelta(hours=23, minutes=59))

    assert idempotency_purge(now=now) == 0
    assert idempotency_purge(now=now + timedelta(minutes=2)) == 1
    assert not IdempotencyRecord.objects.exists()
