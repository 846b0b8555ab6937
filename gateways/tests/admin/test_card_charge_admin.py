"""Card charges in the back-office (DESIGN §8): filtered by status (review included), debt, partner and date; each
with its gateway attempts and their raw metadata, the card token masked; void/refund (support and finance) and
retry capture (finance), each confirmed with a reason, audited and carried out by a worker (eager here, against
the real gateway sandbox)."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditAction
from accounts.tests.factories import ServiceAccountFactory
from accounts.tests.helpers import assert_audited
from backoffice.tests.helpers import money_state, shown_ids, shown_messages, text
from core.errors import ChargeFailed
from gateways import services
from gateways.models import CardCharge, ChargeStatus
from gateways.tests.factories import SEED_TOKEN, CardChargeFactory, PaymentMethodFactory
from gateways.tests.helpers import requests_of
from ledger import services as ledger_services
from ledger.models import SystemAccount, Transaction, TransactionKind
from ledger.tests.helpers import cents

CHANGELIST = "admin:gateways_cardcharge_changelist"

pytestmark = pytest.mark.usefixtures("gateway_settings")


def change_url(charge) -> str:
    return reverse("admin:gateways_cardcharge_change", args=[charge.pk])


def refund_url(charge) -> str:
    return reverse("admin:gateways_cardcharge_refund", args=[charge.pk])


def retry_url(charge) -> str:
    return reverse("admin:gateways_cardcharge_retry_capture", args=[charge.pk])


@pytest.fixture
def charge_of(service_account, hop_customer):
    """charge_of(cents) → a charge through the sandbox; a declined or failed one is returned too (not raised)."""

    def make(amount: int, *, requested_by=service_account) -> CardCharge:
        try:
            return CardChargeFactory(requested_by=requested_by, customer=hop_customer, amount_cents=amount)
        except ChargeFailed:
            return CardCharge.objects.latest("pk")

    return make


@pytest.fixture
def eager(settings):
    """Gateway work runs in-process when enqueued (the eager path of `make run`), against the sandbox."""
    settings.CELERY_TASK_ALWAYS_EAGER = True


# --- listing -----------------------------------------------------------------------------------------------------


def test_filters_by_status_debt_partner_and_date(
    superuser_client, settings, sandbox, charge_of, other_partner, hop_customer, service_account
):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    authorized = charge_of(500)
    declined = charge_of(16500)  # the sandbox declines 160.00 to 169.99 (D01)
    sandbox.control.add_fault("unavailable", request_type="004")
    failed = charge_of(600)
    in_review = charge_of(700)
    CardCharge.objects.filter(pk=in_review.pk).update(
        status=ChargeStatus.REVIEW, debt_cents=700, review_reason="capture refused: 30029"
    )
    other_account = ServiceAccountFactory(
        partner=other_partner, email="hop@other.example", password="another-service-password-2026"
    )
    PaymentMethodFactory(customer=hop_customer, partner=other_partner, token="4000000000000002")  # its own card
    elsewhere = charge_of(800, requested_by=other_account)
    CardCharge.objects.filter(pk=elsewhere.pk).update(created_at=timezone.now() - timedelta(days=20))
    day = timezone.localdate()

    def shown(**params):
        return shown_ids(superuser_client.get(reverse(CHANGELIST), params))

    assert (declined.status, failed.status) == (ChargeStatus.DECLINED, ChargeStatus.FAILED)
    assert shown(status__exact="review") == [in_review.pk]
    assert shown(status__exact="declined") == [declined.pk]
    assert shown(status__exact="failed") == [failed.pk]
    assert shown(status__exact="authorized") == [elsewhere.pk, authorized.pk]
    assert shown(debt="yes") == [in_review.pk]
    assert shown(debt="no") == [elsewhere.pk, failed.pk, declined.pk, authorized.pk]
    assert shown(partner__id__exact=other_partner.pk) == [elsewhere.pk]
    assert shown(partner__id__exact=service_account.partner_id) == [in_review.pk, failed.pk, declined.pk, authorized.pk]
    assert shown(created_at__range__lte=(day - timedelta(days=1)).isoformat()) == [elsewhere.pk]
    assert shown(created_at__range__gte=day.isoformat()) == [in_review.pk, failed.pk, declined.pk, authorized.pk]
    assert shown(status__exact="review", debt="yes", created_at__range__gte=day.isoformat()) == [in_review.pk]


def test_search_by_gateway_ids_email_or_number(support_client, charge_of, hop_customer):
    first, second = charge_of(500), charge_of(700)
    services.card_charge_capture(charge_id=second.pk)
    second.refresh_from_db()

    def shown(term):
        return shown_ids(support_client.get(reverse(CHANGELIST), {"q": term}))

    assert shown(first.gateway_transaction_id) == [first.pk]  # our TransactionID
    assert shown(second.gateway_trans_id) == [second.pk]  # the gateway's GatewayTransID
    assert shown(second.capture_gateway_trans_id) == [second.pk]  # the capture's
    assert shown("hop.customer@example.com") == [second.pk, first.pk]
    # A number is a charge id or a customer id.
    by_charge_id = [c.pk for c in (second, first) if first.pk in (c.pk, c.customer_id)]
    assert shown(str(first.pk)) == by_charge_id and first.pk in by_charge_id
    assert shown(str(hop_customer.pk)) == [second.pk, first.pk]
    assert shown("no-such-id") == []


@pytest.mark.parametrize("role", ["support", "finance"])
def test_the_roles_read_charges_and_staff_in_no_group_does_not(request, role, nogroup_client, charge_of):
    charge = charge_of(500)
    client = request.getfixturevalue(f"{role}_client")

    assert shown_ids(client.get(reverse(CHANGELIST))) == [charge.pk]
    assert client.get(change_url(charge)).status_code == 200
    assert nogroup_client.get(reverse(CHANGELIST)).status_code == 403
    assert nogroup_client.get(change_url(charge)).status_code == 403


def test_the_detail_shows_each_gateway_attempt_with_its_metadata_and_the_card_masked(support_client, charge_of):
    charge = charge_of(500)
    services.card_charge_capture(charge_id=charge.pk)

    response = support_client.get(change_url(charge))

    assert response.status_code == 200
    [attempts] = response.context["inline_admin_formsets"]
    assert [(f.original.request_type, f.original.outcome) for f in attempts] == [("004", "approved"), ("019", "approved")]
    assert attempts.formset.forms[0].instance.response_message["Token"] == SEED_TOKEN  # stored as the gateway said it
    page = text(response)
    assert "<tr><th>Token</th><td>****0019</td></tr>" in page
    assert "<tr><th>ExpirationDate</th><td>****1230</td></tr>" in page
    assert f"<tr><th>GatewayTransID</th><td>{charge.gateway_trans_id}</td></tr>" in page
    assert "…0019" in page  # the card column
    assert SEED_TOKEN not in page
    assert 'name="_save"' not in page


def test_card_charges_cannot_be_added_changed_or_deleted(superuser_client, charge_of):
    charge = charge_of(500)
    before = money_state()

    responses = [
        superuser_client.get(reverse("admin:gateways_cardcharge_add")),
        superuser_client.post(change_url(charge), {"status": "voided", "debt_cents": "0"}),
        superuser_client.post(reverse("admin:gateways_cardcharge_delete", args=[charge.pk]), {"post": "yes"}),
    ]

    assert [r.status_code for r in responses] == [403, 403, 403]
    assert money_state() == before


# --- void / refund -----------------------------------------------------------------------------------------------


def test_support_voids_an_authorized_charge_and_the_worker_tells_the_gateway(
    support_client, support_user, charge_of, hop_customer, sandbox, eager, django_capture_on_commit_callbacks
):
    # Given: a 5.00 top-up, authorized and credited.
    charge = charge_of(500)
    assert (charge.status, cents(hop_customer)) == (ChargeStatus.AUTHORIZED, 500)
    detail = support_client.get(change_url(charge))
    page = support_client.get(refund_url(charge))
    assert f'<a id="refund-charge" href="{refund_url(charge)}">Void…</a>' in text(detail)
    assert 'id="retry-capture"' not in text(detail)  # support does not retry captures
    assert "gives back $5.00 now" in text(page) and "…0019" in text(page) and SEED_TOKEN not in text(page)

    # When: support confirms the void with a reason.
    with django_capture_on_commit_callbacks() as enqueued:
        response = support_client.post(refund_url(charge), {"reason": "customer disputes the top-up"})

    # Then: the wallet gives the cents back at once, the charge is REFUNDING, and the work waits for the commit.
    assert response.status_code == 302
    assert response["Location"] == change_url(charge)
    charge.refresh_from_db()
    assert (charge.status, charge.refund_from_status, charge.refund_requested_by, charge.refund_reason) == (
        ChargeStatus.REFUNDING,
        ChargeStatus.AUTHORIZED,
        support_user,
        "customer disputes the top-up",
    )
    assert cents(hop_customer) == 0
    refund = Transaction.objects.get(kind=TransactionKind.CARD_REFUND)
    assert (refund.pk, refund.created_by, refund.reason) == (
        charge.refund_ledger_transaction_id,
        support_user,
        "customer disputes the top-up",
    )
    assert_audited(
        actor=support_user,
        action=AuditAction.CARD_CHARGE_REFUND,
        reason="customer disputes the top-up",
        object_type="gateways.cardcharge",
        object_id=str(charge.pk),
        customer_id=hop_customer.pk,
        partner_id=charge.partner_id,
        balances_before={"KM": 0, "USD": 500},
        balances_after={"KM": 0, "USD": 0},
        detail={"from_status": "authorized", "amount_cents": 500},
    )
    assert len(enqueued) == 1
    assert requests_of(sandbox, "012") == []

    # When: the commit hands the work to the worker (eager).
    enqueued[0]()

    # Then: the gateway voided it, once, with the charge's refund TransactionID.
    charge.refresh_from_db()
    assert charge.status == ChargeStatus.VOIDED
    [void] = requests_of(sandbox, "012")
    assert void["transaction_id"] == charge.refund_transaction_id
    assert cents(hop_customer) == 0
    after = support_client.get(change_url(charge))
    assert shown_messages(after) == [f"Charge #{charge.pk}: the wallet gave $5.00 back; a worker is telling the gateway."]
    assert "Voided" in text(after)
    assert 'id="refund-charge"' not in text(after)


def test_finance_refunds_a_settled_charge(
    finance_client, finance_user, charge_of, hop_customer, sandbox, eager, django_capture_on_commit_callbacks
):
    charge = charge_of(500)
    services.card_charge_capture(charge_id=charge.pk)
    services.settlement_close()

    detail = finance_client.get(change_url(charge))
    with django_capture_on_commit_callbacks(execute=True):
        response = finance_client.post(refund_url(charge), {"reason": "goodwill refund, ticket 4711"})

    assert f'<a id="refund-charge" href="{refund_url(charge)}">Refund…</a>' in text(detail)
    assert response.status_code == 302
    charge.refresh_from_db()
    assert (charge.status, charge.refund_from_status) == (ChargeStatus.REFUNDED, ChargeStatus.SETTLED)
    assert cents(hop_customer) == 0
    assert_audited(detail={"from_status": "settled", "amount_cents": 500})
    assert len(requests_of(sandbox, "012")) == 1


def test_a_void_is_refused_when_the_customer_spent_the_cents(
    support_client, support_user, charge_of, hop_customer, django_capture_on_commit_callbacks
):
    # Given: 5.00 credited, of which the customer has spent 1.00.
    charge = charge_of(500)
    ledger_services.card_refund_debit(
        customer_id=hop_customer.pk,
        amount_cents=100,
        counterpart=SystemAccount.USD_CARD_AUTHORIZED,
        created_by=support_user,
        reason="spent",
    )
    before = money_state()

    with django_capture_on_commit_callbacks() as enqueued:
        response = support_client.post(refund_url(charge), {"reason": "customer disputes the top-up"})

    assert response.status_code == 200
    assert shown_messages(response) == [
        "Refused (ACCOUNT_BALANCE_NOT_SUFFICIENT): the wallet holds 400 but 500 would be taken back, so it would go "
        "negative. The customer has spent it since; nothing was changed."
    ]
    assert money_state() == before
    assert enqueued == []
    charge.refresh_from_db()
    assert charge.status == ChargeStatus.AUTHORIZED


def test_a_void_needs_a_reason(support_client, charge_of, django_capture_on_commit_callbacks):
    charge = charge_of(500)
    before = money_state()

    with django_capture_on_commit_callbacks() as enqueued:
        response = support_client.post(refund_url(charge), {"reason": ""})

    assert response.context["form"].errors == {"reason": ["This field is required."]}
    assert money_state() == before
    assert enqueued == []


@pytest.mark.parametrize(("amount", "status", "label"), [(16500, "declined", "declined"), (600, "failed", "failed")])
def test_a_declined_or_failed_charge_cannot_be_voided(
    support_client, sandbox, charge_of, amount, status, label, django_capture_on_commit_callbacks
):
    if status == "failed":
        sandbox.control.add_fault("unavailable", request_type="004")
    charge = charge_of(amount)
    assert charge.status == status
    before = money_state()

    detail = support_client.get(change_url(charge))
    page = support_client.get(refund_url(charge))
    with django_capture_on_commit_callbacks() as enqueued:
        response = support_client.post(refund_url(charge), {"reason": "customer disputes the charge"})

    assert 'id="refund-charge"' not in text(detail)
    assert f"A {charge.get_status_display().lower()} charge cannot be voided or refunded." in text(page)
    assert shown_messages(response) == [
        f"Refused (TRANSACTION_NOT_REVERSIBLE): #{charge.pk}: a {label} charge cannot be voided or refunded."
    ]
    assert money_state() == before
    assert enqueued == []


def test_a_charge_is_voided_once(support_client, charge_of, django_capture_on_commit_callbacks):
    charge = charge_of(500)
    support_client.post(refund_url(charge), {"reason": "customer disputes the top-up"}, follow=True)
    before = money_state()

    with django_capture_on_commit_callbacks() as enqueued:
        again = support_client.post(refund_url(charge), {"reason": "clicked twice"})

    assert shown_messages(again) == [
        f"Refused (TRANSACTION_NOT_REVERSIBLE): #{charge.pk}: a refunding charge cannot be voided or refunded."
    ]
    assert money_state() == before
    assert enqueued == []


def test_staff_in_no_group_cannot_void(nogroup_client, charge_of):
    charge = charge_of(500)
    before = money_state()

    responses = [nogroup_client.get(refund_url(charge)), nogroup_client.post(refund_url(charge), {"reason": "not mine to do"})]

    assert [r.status_code for r in responses] == [403, 403]
    assert money_state() == before


# --- retry capture -----------------------------------------------------------------------------------------------


def test_finance_retries_a_capture_and_the_worker_captures(
    finance_client, finance_user, charge_of, hop_customer, sandbox, eager, django_capture_on_commit_callbacks
):
    charge = charge_of(500)
    detail = finance_client.get(change_url(charge))
    page = finance_client.get(retry_url(charge))
    assert f'<a id="retry-capture" href="{retry_url(charge)}">Retry capture…</a>' in text(detail)
    assert "tried 0 time(s)" in text(page)

    with django_capture_on_commit_callbacks() as enqueued:
        response = finance_client.post(retry_url(charge), {"reason": "gateway outage is over"})

    assert response.status_code == 302
    assert_audited(
        actor=finance_user,
        action=AuditAction.CARD_CHARGE_CAPTURE_RETRY,
        reason="gateway outage is over",
        object_id=str(charge.pk),
        balances_before={"KM": 0, "USD": 500},
        balances_after={"KM": 0, "USD": 500},
        detail={"work_attempts": 0},
    )
    assert len(enqueued) == 1 and requests_of(sandbox, "019") == []

    enqueued[0]()

    charge.refresh_from_db()
    assert charge.status == ChargeStatus.CAPTURED
    [capture] = requests_of(sandbox, "019")
    assert capture["transaction_id"] == charge.capture_transaction_id
    assert cents(hop_customer) == 500  # a capture moves no wallet money
    assert shown_messages(finance_client.get(change_url(charge))) == [f"Charge #{charge.pk}: capture sent to a worker."]


@pytest.mark.parametrize("role", ["support", "nogroup"])
def test_only_finance_retries_captures(request, role, charge_of):
    client = request.getfixturevalue(f"{role}_client")
    charge = charge_of(500)
    before = money_state()

    responses = [client.get(retry_url(charge)), client.post(retry_url(charge), {"reason": "gateway outage is over"})]

    assert [r.status_code for r in responses] == [403, 403]
    assert money_state() == before


def test_only_an_authorized_charge_is_retried(finance_client, charge_of, django_capture_on_commit_callbacks):
    charge = charge_of(500)
    services.card_charge_capture(charge_id=charge.pk)
    before = money_state()

    detail = finance_client.get(change_url(charge))
    page = finance_client.get(retry_url(charge))
    with django_capture_on_commit_callbacks() as enqueued:
        response = finance_client.post(retry_url(charge), {"reason": "capture it again"})

    assert 'id="retry-capture"' not in text(detail)
    assert "Only an authorized charge awaits capture; this one is captured, awaiting settlement." in text(page)
    assert shown_messages(response) == [
        f"Refused (CHARGE_STATE_CONFLICT): #{charge.pk}: only an authorized charge awaits capture; this one is captured."
    ]
    assert money_state() == before
    assert enqueued == []


def test_a_charge_a_worker_holds_is_not_retried(finance_client, charge_of, django_capture_on_commit_callbacks):
    charge = charge_of(500)
    CardCharge.objects.filter(pk=charge.pk).update(work_lease_until=timezone.now() + timedelta(seconds=60))
    charge.refresh_from_db()
    before = money_state()

    with django_capture_on_commit_callbacks() as enqueued:
        response = finance_client.post(retry_url(charge), {"reason": "gateway outage is over"})

    assert shown_messages(response) == [
        f"Refused (WORK_IN_PROGRESS): #{charge.pk}: a worker is capturing this charge now; try again in a minute."
    ]
    assert money_state() == before
    assert enqueued == []
    assert CardCharge.objects.get(pk=charge.pk).work_enqueued_at == charge.work_enqueued_at
