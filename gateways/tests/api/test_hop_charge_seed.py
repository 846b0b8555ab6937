"""The HOP seed (seeds/004_9cc3fc7f19becc09.txt): its sample request and its three error examples, exactly."""

from datetime import UTC, datetime, timedelta

from accounts.tests.factories import CustomerFactory, PartnerLinkFactory
from gateways.models import CardCharge, ChargeStatus, PaymentMethod
from ledger import services as ledger_services
from ledger.models import Transaction
from ledger.tests.helpers import cents

from .support import (
    CHARGE_AT_FORMAT,
    CHARGE_KEYS,
    PAYMENT_MISSING,
    SEED_METADATA_KEYS,
    USER_NOT_FOUND,
    authorizations,
    charge_failure,
    charges_url,
)

# The seed's curl example, verbatim but for the expiry (the seed's 2018-01-01 has passed).
SEED_REQUEST = {"charge": {"amount_in_cents": "500", "payment_method": {"token": 12345, "expires_at": "2030-01-01"}}}


def test_seed_sample_request_gives_the_seed_response(hop_api, hop_customer, sandbox):
    ledger_services.card_topup_credit(customer_id=hop_customer.pk, amount_cents=3200)  # the seed: 3200 + 500 = 3700
    before = datetime.now(UTC).replace(microsecond=0)

    response = hop_api.post(charges_url(hop_customer.pk), SEED_REQUEST, format="json")

    assert response.status_code == 201, response.content
    assert response["Content-Type"].startswith("application/json")
    assert response["X-Request-Id"]
    body = response.json()
    assert list(body) == ["data"]
    assert list(body["data"]) == ["charge"]
    charge = body["data"]["charge"]
    assert list(charge) == CHARGE_KEYS
    stored = CardCharge.objects.get()
    assert charge["id"] == stored.pk
    assert charge["amount_in_cents"] == 500
    assert charge["balance_in_cents"] == 3700
    assert charge["status"] == "authorized"
    charge_at = datetime.strptime(charge["charge_at"], CHARGE_AT_FORMAT).replace(tzinfo=UTC)
    assert before <= charge_at <= datetime.now(UTC)
    metadata = charge["metadata"]
    assert list(metadata) == SEED_METADATA_KEYS
    assert all(value is None or isinstance(value, str) for value in metadata.values())
    assert metadata["Token"] == "12345"
    assert metadata["ExpirationDate"] == "0130"
    assert metadata["AuthorizedAmount"] == "500"
    assert metadata["OriginalAmount"] == "500"
    assert metadata["GatewayMessage"] == "A01 - Approved"
    assert metadata["GatewayResult"] == "00000"
    assert metadata["InternalMessage"] == f"Approved: {metadata['AuthorizationCode']} (approval code)"
    assert metadata["AuthorizationCode"].isdigit()
    assert metadata["GatewayTransID"] == stored.gateway_trans_id != ""
    assert metadata["TransactionCode"] == stored.gateway_transaction_id
    assert metadata["ResponseTypeDescription"] == "sale"
    assert metadata["IsoCurrencyCode"] == "USD"
    assert metadata["RemainingAmount"] == "0"
    assert metadata["ReferenceNumber"] is None
    assert cents(hop_customer) == 3700
    assert (stored.status, stored.amount_requested, stored.amount_authorized) == (ChargeStatus.AUTHORIZED, 500, 500)
    assert stored.payment_method.token == "12345"
    sent = authorizations(sandbox)
    assert [(r["transaction_id"], r["transaction_type"], r["amount"], r["token_last4"]) for r in sent] == [
        (stored.gateway_transaction_id, "sale-auth", 500, "2345")
    ]


def test_seed_amount_as_a_json_integer_is_accepted_too(hop_api, hop_customer):
    response = hop_api.post(charges_url(hop_customer.pk), {"charge": {"amount_in_cents": 500}}, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["data"]["charge"]["amount_in_cents"] == 500
    assert response.json()["data"]["charge"]["balance_in_cents"] == 500
    assert cents(hop_customer) == 500


def test_the_token_sent_becomes_the_card_on_record(hop_api, hop_customer, sandbox):
    assert hop_api.post(charges_url(hop_customer.pk), SEED_REQUEST, format="json").status_code == 201

    response = hop_api.post(charges_url(hop_customer.pk), {"charge": {"amount_in_cents": "600"}}, format="json")

    assert response.status_code == 201, response.content
    charge = response.json()["data"]["charge"]
    assert (charge["amount_in_cents"], charge["balance_in_cents"]) == (600, 1100)
    assert (charge["metadata"]["Token"], charge["metadata"]["ExpirationDate"]) == ("12345", "0130")
    assert [(r["amount"], r["token_last4"]) for r in authorizations(sandbox)] == [(500, "2345"), (600, "2345")]
    assert [c.payment_method.token for c in CardCharge.objects.order_by("pk")] == ["12345", "12345"]
    stored = PaymentMethod.objects.get(customer=hop_customer, token="12345")
    assert stored.expires_at.isoformat() == "2030-01-01"
    assert cents(hop_customer) == 1100


def test_the_card_on_record_is_used_when_no_payment_method_is_sent(hop_api, hop_customer, sandbox):
    response = hop_api.post(charges_url(hop_customer.pk), {"charge": {"amount_in_cents": "500"}}, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["data"]["charge"]["metadata"]["Token"] == "1000000074340019"
    assert response.json()["data"]["charge"]["metadata"]["ExpirationDate"] == "1230"
    assert [r["token_last4"] for r in authorizations(sandbox)] == ["0019"]


def test_seed_error_user_missing(hop_api, hop_customer, sandbox):
    response = hop_api.post(charges_url(hop_customer.pk + 1000), SEED_REQUEST, format="json")

    assert response.status_code == 406
    assert response.json() == USER_NOT_FOUND
    assert list(response.json()["data"]) == ["code", "message", "errors"]
    assert authorizations(sandbox) == []
    assert not CardCharge.objects.exists()
    assert not PaymentMethod.objects.filter(token="12345").exists()
    assert cents(hop_customer) == 0


def test_seed_error_payment_method_missing(hop_api, partner, sandbox):
    customer = CustomerFactory()
    PartnerLinkFactory(partner=partner, customer=customer, external_user_id="noCardUser")

    response = hop_api.post(charges_url(customer.pk), {"charge": {"amount_in_cents": "500"}}, format="json")

    assert response.status_code == 406
    assert response.json() == PAYMENT_MISSING
    assert authorizations(sandbox) == []
    assert not CardCharge.objects.exists()
    assert not PaymentMethod.objects.filter(customer=customer).exists()
    assert cents(customer) == 0


def test_seed_error_denied_by_the_customers_bank(hop_api, hop_customer, sandbox):
    ledger_services.card_topup_credit(customer_id=hop_customer.pk, amount_cents=3200)
    transactions_before = Transaction.objects.count()
    request = {"charge": {"amount_in_cents": "100", "payment_method": {"token": 12345, "expires_at": "2030-01-01"}}}

    response = hop_api.post(charges_url(hop_customer.pk), request, format="json")

    assert response.status_code == 406
    assert response.json() == charge_failure("Denied by customer's bank")
    stored = CardCharge.objects.get()
    assert (stored.status, stored.amount_authorized, stored.ledger_transaction) == (ChargeStatus.DECLINED, None, None)
    assert (stored.response_code, stored.response_description) == ("30032", "Denied by customer's bank")
    assert cents(hop_customer) == 3200
    assert Transaction.objects.count() == transactions_before
    assert [(r["amount"], r["token_last4"], r["outcome"]) for r in authorizations(sandbox)] == [(100, "2345", "declined")]


def test_charge_at_is_utc_with_seconds_and_z(hop_api, hop_customer):
    response = hop_api.post(charges_url(hop_customer.pk), SEED_REQUEST, format="json")

    charge_at = response.json()["data"]["charge"]["charge_at"]
    assert len(charge_at) == len("2017-04-05T21:30:54Z")
    parsed = datetime.strptime(charge_at, CHARGE_AT_FORMAT).replace(tzinfo=UTC)
    assert abs(parsed - CardCharge.objects.get().authorized_at) < timedelta(seconds=1)
