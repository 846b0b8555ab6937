"""A worked example, step by step through the services and the API: grant, pay, reverse, pay again.

Balances of the wallet, the partner account and the issuance account, and every status the partner
sees, are checked after each step.
"""

import pytest

from core.errors import InsufficientBalance, TransactionAlreadyReversed, TransactionNotReversible
from ledger import selectors, services
from ledger.models import Account, SystemAccount, Transaction, TransactionKind, TransactionStatus, Unit
from ledger.tests.helpers import pay_url, wallet_of


def _balances(customer, partner):
    partner_account = Account.objects.get(pk=selectors.partner_account_id(partner=partner, unit=Unit.KM))
    issuance = Account.objects.get(pk=selectors.system_account_id(code=SystemAccount.KM_ISSUANCE))
    return (
        wallet_of(customer).balance,
        selectors.account_balance(account=partner_account),
        selectors.account_balance(account=issuance),
    )


def test_grant_pay_reverse_pay_again(api, link, seed_request, admin_user):
    customer, partner = link.customer, link.partner

    # 1. grant 100 km
    services.kilometers_grant(customer=customer, kilometer=100, reason="welcome")
    assert _balances(customer, partner) == (100, 0, -100)

    # 2. pay 38 km (the seed's sample)
    assert api.post(pay_url(), seed_request, format="json").status_code == 201
    assert _balances(customer, partner) == (62, 38, -100)
    assert api.get(pay_url() + "/348328463873").json()["status"] == "CONFIRMED"

    # 3. staff reverse the payment
    payment = Transaction.objects.get(external_id="348328463873")
    reversal = services.transaction_reverse(transaction_id=payment.pk, reversed_by=admin_user, reason="charger fault")
    assert _balances(customer, partner) == (100, 0, -100)
    assert (reversal.kind, reversal.reverses_id, reversal.created_by, reversal.reason) == (
        TransactionKind.REVERSAL,
        payment.pk,
        admin_user,
        "charger fault",
    )
    assert sorted(reversal.entries.values_list("amount", flat=True)) == [-38, 38]
    payment.refresh_from_db()
    assert payment.status == TransactionStatus.CANCELLED
    shown = api.get(pay_url() + "/348328463873").json()
    assert (shown["status"], shown["kilometer"]) == ("CANCELLED", -38)
    assert [t["status"] for t in api.get(pay_url()).json()] == ["CANCELLED"]
    assert api.get("/v1/partners/PCS-001/accounts/pcsUserId001").json() == {
        "userId": "pcsUserId001",
        "kmAvailable": 100,
        "kmPending": 0,
        "picturesPending": 0,
        "picturesAccepted": 0,
        "challengesSolved": 0,
        "role": "USER",
    }

    # the same id stays processed, even though it was reversed
    assert api.post(pay_url(), seed_request, format="json").status_code == 409

    # 4. pay again with a new id, 80 km
    again = {**seed_request, "transactionId": "348328463874", "kilometer": 80}
    assert api.post(pay_url(), again, format="json").status_code == 201
    assert _balances(customer, partner) == (20, 80, -100)
    assert [(t["transactionId"], t["status"]) for t in api.get(pay_url()).json()] == [
        ("348328463874", "CONFIRMED"),
        ("348328463873", "CANCELLED"),
    ]

    # 5. the grant cannot be reversed any more: the wallet has spent it
    grant = Transaction.objects.get(kind=TransactionKind.KM_GRANT)
    with pytest.raises(InsufficientBalance) as refused:
        services.transaction_reverse(transaction_id=grant.pk, reversed_by=admin_user, reason="oops")
    assert refused.value.args == (20, 100)
    grant.refresh_from_db()
    assert grant.status == TransactionStatus.CONFIRMED
    assert _balances(customer, partner) == (20, 80, -100)

    # 6. a reversal is never reversed, and nothing is reversed twice
    with pytest.raises(TransactionNotReversible):
        services.transaction_reverse(transaction_id=reversal.pk, reversed_by=admin_user, reason="undo")
    with pytest.raises(TransactionAlreadyReversed):
        services.transaction_reverse(transaction_id=payment.pk, reversed_by=admin_user, reason="again")
    assert Transaction.objects.filter(kind=TransactionKind.REVERSAL).count() == 1
