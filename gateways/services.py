"""Writes for cards and card charges. The gateway is called outside any database transaction."""

import logging
import re
import uuid
from datetime import date

from django.db import transaction
from django.utils import timezone

from accounts.models import Customer, User
from chargepay.errors import ChargeFailed, InvalidParameter, PaymentDetailsMissing
from ledger import services as ledger_services

from . import selectors
from .bridgecomm import client as bridgecomm
from .bridgecomm.types import GatewayResult, Outcome
from .models import CardCharge, ChargeStatus, GatewayAttempt, PaymentMethod, mask_token

logger = logging.getLogger("chargepay.gateways")

TOKEN_RE = re.compile(r"[0-9]{1,22}")


def payment_method_store(*, customer: Customer, token: str, expires_at: date) -> PaymentMethod:
    """Store (or touch) a card on record: a numeric gateway token of at most 22 digits and an unexpired date.

    Raises InvalidParameter("token"/"expires_at"). The most recently stored or used card is the one on record.
    """
    if not isinstance(token, str) or not TOKEN_RE.fullmatch(token):
        raise InvalidParameter("", "token")
    if expires_at < timezone.localdate().replace(day=1):
        raise InvalidParameter(expires_at.isoformat(), "expires_at")
    method, _ = PaymentMethod.objects.get_or_create(customer=customer, token=token, expires_at=expires_at)
    PaymentMethod.objects.filter(pk=method.pk).update(last_used_at=timezone.now())
    return method


def card_charge_create(
    *, requested_by: User, customer: Customer, amount_cents: int, payment_method: PaymentMethod | None = None
) -> CardCharge:
    """Charge the customer's card and, on approval, credit the authorized amount to the cents wallet.

    1. The charge is committed as PENDING with a fresh gateway TransactionID before the gateway is called,
       so a crash at any point leaves a row that the resolver (issue: settlement) finds and finishes by
       re-sending the same TransactionID.
    2. The gateway's sale-auth runs outside any transaction.
    3. card_charge_record_authorization applies the answer in one transaction.
    Returns the charge AUTHORIZED (credited) or PENDING (unknown outcome, nothing credited).
    Raises PaymentDetailsMissing; ChargeFailed (declined, or the gateway said nothing was charged).
    """
    method = payment_method or selectors.payment_method_on_record(customer=customer)
    if method is None:
        raise PaymentDetailsMissing()
    charge = CardCharge.objects.create(
        customer=customer,
        payment_method=method,
        requested_by=requested_by,
        partner=requested_by.partner,
        amount_requested=amount_cents,
        gateway_transaction_id=uuid.uuid4().hex,
    )
    result = bridgecomm.authorize(
        transaction_id=charge.gateway_transaction_id,
        token=method.token,
        expiration_mmyy=method.expiration_mmyy,
        amount_cents=amount_cents,
        invoice_num=str(charge.pk),
        customer_account_code=str(customer.pk),
    )
    charge = card_charge_record_authorization(charge_id=charge.pk, result=result)
    if charge.status in (ChargeStatus.DECLINED, ChargeStatus.FAILED):
        raise ChargeFailed(charge.response_description or "Charge failed")
    return charge


def card_charge_record_authorization(*, charge_id: int, result: GatewayResult) -> CardCharge:
    """Record an authorization answer for a charge and apply it, in one transaction.

    Locks the charge row. Only a PENDING charge moves (so a late or repeated answer never credits twice):
    approved → AUTHORIZED with the wallet credited the authorized amount; declined → DECLINED; the gateway
    said nothing was done → FAILED; unknown → stays PENDING. The attempt is recorded in every case.
    """
    with transaction.atomic():
        charge = CardCharge.objects.select_for_update().get(pk=charge_id)
        GatewayAttempt.objects.create(
            charge=charge,
            request_type=result.request_type,
            transaction_id=result.transaction_id,
            outcome=result.outcome,
            response_code=result.response_code,
            response_description=result.response_description[:255],
            response_message=result.response_message,
            error=result.error[:255],
        )
        if charge.status != ChargeStatus.PENDING or result.outcome == Outcome.UNKNOWN:
            return charge
        charge.response_code = result.response_code
        charge.response_description = result.response_description[:255]
        charge.gateway_trans_id = result.gateway_trans_id
        charge.metadata = result.response_message
        if result.outcome in (Outcome.APPROVED, Outcome.PARTIALLY_APPROVED) and (result.authorized_amount or 0) > 0:
            charge.amount_authorized = min(result.authorized_amount, charge.amount_requested)
            charge.ledger_transaction = ledger_services.card_topup_credit(
                customer_id=charge.customer_id, amount_cents=charge.amount_authorized
            )
            charge.status = ChargeStatus.AUTHORIZED
            charge.authorized_at = timezone.now()
        elif result.outcome == Outcome.TRANSIENT:
            charge.status = ChargeStatus.FAILED
        else:
            charge.status = ChargeStatus.DECLINED
        charge.save()
    logger.info(
        "card charge %s: %s (%s) card %s",
        charge.pk,
        charge.status,
        result.response_code or result.error,
        mask_token(charge.payment_method.token),
    )
    return charge
