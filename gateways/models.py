"""Cards on record, card charges and every call made to the card gateway for them."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from core.masking import last_four


class PaymentMethod(models.Model):
    """A card on record: only the gateway's token (numeric, ≤ 22 digits) and its expiry, never a card number.

    A card belongs to the partner that stored it: only that partner's service accounts see its token or charge
    it (DESIGN §4.1). No partner: stored before cards were scoped, by no partner anyone could tell; no partner
    uses it, staff still see it.
    """

    customer = models.ForeignKey("accounts.Customer", on_delete=models.PROTECT, related_name="payment_methods")
    partner = models.ForeignKey(
        "accounts.Partner",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="payment_methods",
        help_text="The partner that stored the card, the only one that may see its token or charge it.",
    )
    token = models.CharField(max_length=22)
    expires_at = models.DateField()
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            # Two partners that store the same card for a customer each have their own record.
            models.UniqueConstraint(
                fields=["customer", "partner", "token", "expires_at"],
                name="payment_method_unique_per_customer_partner",
                nulls_distinct=False,
            ),
            models.CheckConstraint(condition=Q(token__regex=r"^[0-9]{1,22}$"), name="payment_method_token_numeric"),
        ]

    def __str__(self) -> str:
        return f"card {last_four(self.token)} exp {self.expires_at:%m/%y}"

    @property
    def masked_token(self) -> str:
        return last_four(self.token)

    @property
    def expiration_mmyy(self) -> str:
        return self.expires_at.strftime("%m%y")


class ChargeStatus(models.TextChoices):
    PENDING = "pending", "Pending (gateway outcome unknown)"
    AUTHORIZED = "authorized", "Authorized and credited, awaiting capture"
    CAPTURED = "captured", "Captured, awaiting settlement"
    SETTLED = "settled", "Settled in a gateway batch"
    REVIEW = "review", "Needs staff review (capture or refund refused)"
    REFUNDING = "refunding", "Void/refund requested by staff, awaiting the gateway"
    VOIDED = "voided", "Voided"
    REFUNDED = "refunded", "Refunded"
    DECLINED = "declined", "Declined"
    FAILED = "failed", "Failed (gateway unavailable, nothing charged)"


# Statuses in which the wallet was credited (the credit may since have been reversed, see REVIEW).
CREDITED_STATUSES = (
    ChargeStatus.AUTHORIZED,
    ChargeStatus.CAPTURED,
    ChargeStatus.SETTLED,
    ChargeStatus.REVIEW,
    ChargeStatus.REFUNDING,
    ChargeStatus.VOIDED,
    ChargeStatus.REFUNDED,
)
# Work a worker must do, found by the sweeper from the status alone (the status is the outbox).
WORK_STATUSES = (ChargeStatus.PENDING, ChargeStatus.AUTHORIZED, ChargeStatus.REFUNDING)
# What staff may void (not yet settled) or refund (settled).
REFUNDABLE_STATUSES = (ChargeStatus.AUTHORIZED, ChargeStatus.CAPTURED, ChargeStatus.SETTLED)


class CardCharge(models.Model):
    """One top-up of a customer's cents wallet by charging the card on record.

    `gateway_transaction_id` is our BridgeComm TransactionID: the same on every retry of the
    authorization, which is how a pending (unknown outcome) charge is resolved without charging twice.
    """

    customer = models.ForeignKey("accounts.Customer", on_delete=models.PROTECT, related_name="card_charges")
    payment_method = models.ForeignKey(PaymentMethod, on_delete=models.PROTECT, related_name="charges")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    partner = models.ForeignKey("accounts.Partner", on_delete=models.PROTECT, related_name="card_charges")
    amount_requested = models.BigIntegerField()
    amount_authorized = models.BigIntegerField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=ChargeStatus.choices, default=ChargeStatus.PENDING)
    gateway_transaction_id = models.CharField(max_length=60, unique=True)
    gateway_trans_id = models.CharField(max_length=60, blank=True, help_text="The gateway's GatewayTransID.")
    response_code = models.CharField(max_length=5, blank=True)
    response_description = models.CharField(max_length=255, blank=True)
    metadata = models.JSONField(default=dict, blank=True, help_text="The gateway's authorization responseMessage.")
    ledger_transaction = models.OneToOneField(
        "ledger.Transaction", on_delete=models.PROTECT, null=True, blank=True, related_name="card_charge"
    )
    # Capture: our TransactionID for the 019 request, the same on every retry; the gateway's capture id.
    capture_transaction_id = models.CharField(max_length=60, blank=True)
    capture_gateway_trans_id = models.CharField(max_length=60, blank=True)
    capture_unconfirmed = models.BooleanField(
        default=False,
        help_text="Recorded as captured on a 30036 answer to a re-sent capture: only the batch confirms it.",
    )
    capture_ledger_transaction = models.OneToOneField(
        "ledger.Transaction", on_delete=models.PROTECT, null=True, blank=True, related_name="card_capture"
    )
    settlement_ledger_transaction = models.OneToOneField(
        "ledger.Transaction", on_delete=models.PROTECT, null=True, blank=True, related_name="card_settlement"
    )
    batch_id = models.CharField(max_length=60, blank=True, help_text="The gateway's CycleCode of the settled batch.")
    # Work claims (a conditional UPDATE sets them): who may work on the charge until when, and how often it was tried.
    work_lease_until = models.DateTimeField(null=True, blank=True)
    work_attempts = models.PositiveIntegerField(default=0)
    work_enqueued_at = models.DateTimeField(null=True, blank=True)
    review_reason = models.CharField(max_length=255, blank=True)
    # Staff void/refund: requested with a reason, the wallet debited at once, the gateway told by a worker.
    refund_from_status = models.CharField(max_length=20, choices=ChargeStatus.choices, blank=True)
    refund_transaction_id = models.CharField(max_length=60, blank=True)
    refund_reason = models.CharField(max_length=255, blank=True)
    refund_requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    refund_ledger_transaction = models.OneToOneField(
        "ledger.Transaction", on_delete=models.PROTECT, null=True, blank=True, related_name="card_refund"
    )
    refunded_at = models.DateTimeField(null=True, blank=True)
    debt_cents = models.BigIntegerField(
        default=0, help_text="Credited cents the wallet could not give back after a failed capture."
    )
    # The Idempotency-Key request that made the charge: a retry that takes the key over finishes this charge
    # (same TransactionID) instead of making another. Written in the charge's own INSERT, so no window.
    idempotency_record = models.OneToOneField(
        "core.IdempotencyRecord", on_delete=models.SET_NULL, null=True, blank=True, related_name="card_charge"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    authorized_at = models.DateTimeField(null=True, blank=True)
    captured_at = models.DateTimeField(null=True, blank=True)
    settled_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        permissions = [
            ("charge_card", "Can charge customers' cards through the HOP API"),
            ("refund_cardcharge", "Can void or refund a card charge"),
            ("retry_capture_cardcharge", "Can retry the capture of an authorized card charge"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(amount_requested__gt=0), name="charge_amount_positive"),
            models.CheckConstraint(
                condition=Q(amount_authorized__isnull=True)
                | Q(amount_authorized__gt=0, amount_authorized__lte=models.F("amount_requested")),
                name="charge_authorized_within_requested",
            ),
            # Never credited without an approved authorization, and never approved without the credit.
            models.CheckConstraint(
                condition=(
                    Q(status__in=CREDITED_STATUSES) & Q(ledger_transaction__isnull=False) & Q(amount_authorized__isnull=False)
                )
                | (~Q(status__in=CREDITED_STATUSES) & Q(ledger_transaction__isnull=True)),
                name="charge_credited_iff_authorized",
            ),
            # Captured (and settled) charges have their capture recorded in the ledger; settled ones their batch.
            models.CheckConstraint(
                condition=~Q(status__in=(ChargeStatus.CAPTURED, ChargeStatus.SETTLED))
                | Q(capture_ledger_transaction__isnull=False),
                name="charge_captured_has_ledger_move",
            ),
            models.CheckConstraint(
                condition=~Q(status=ChargeStatus.SETTLED) | (Q(settlement_ledger_transaction__isnull=False) & ~Q(batch_id="")),
                name="charge_settled_has_batch",
            ),
            models.CheckConstraint(condition=Q(debt_cents__gte=0), name="charge_debt_not_negative"),
            models.CheckConstraint(
                condition=~Q(status__in=(ChargeStatus.REFUNDING, ChargeStatus.VOIDED, ChargeStatus.REFUNDED))
                | (Q(refund_ledger_transaction__isnull=False) & ~Q(refund_transaction_id="") & ~Q(refund_reason="")),
                name="charge_refund_recorded",
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "-created_at"], name="charge_customer_created"),
            models.Index(fields=["status", "work_lease_until"], name="charge_work", condition=Q(status__in=WORK_STATUSES)),
        ]

    def __str__(self) -> str:
        return f"charge #{self.pk} {self.amount_requested}¢ {self.status}"


class CreditStatus(models.TextChoices):
    PENDING = "pending", "Pending (wallet debited, gateway outcome unknown)"
    POSTED = "posted", "Posted at the gateway, awaiting settlement"
    SETTLED = "settled", "Settled in a gateway batch"
    DECLINED = "declined", "Declined (cents given back to the wallet)"
    FAILED = "failed", "Failed (gateway unavailable, nothing refunded; cents given back)"


# Work a worker must do, found by the sweeper from the status alone (the status is the outbox).
CREDIT_WORK_STATUSES = (CreditStatus.PENDING,)
# Refused: the wallet debit was given back (its reversal).
CREDIT_REFUSED_STATUSES = (CreditStatus.DECLINED, CreditStatus.FAILED)


class CardCredit(models.Model):
    """One refund of cents from the customer's wallet to the card on record (HOP credit: BridgeComm 004 `credit`).

    The wallet is debited in the same INSERT's transaction, before the gateway is asked, and given back (the
    debit's reversal) only on a definite refusal, so the card is never refunded without the debit. The cents
    travel through the ledger's system accounts:

    - `debit_ledger_transaction` (CARD_CREDIT, at creation): customer's USD wallet -amount, `usd_card_credit_pending`
      +amount, i.e. sent to (or about to be sent to) the gateway, outcome not known yet;
    - `posted_ledger_transaction` (CARD_CREDIT_POSTED, on "A02 - Credit Posted"): `usd_card_credit_pending` →
      `usd_card_credit_payable`, owed to the card until the gateway's batch pays it out;
    - `settlement_ledger_transaction` (CARD_CREDIT_SETTLEMENT, at the batch close): `usd_card_credit_payable` →
      `usd_card_settled`, which so nets the batch (charges in, credits out) as the gateway's file does;
    - `giveback_ledger_transaction` (the debit's REVERSAL, on a decline or a definite "nothing done"): back to
      the wallet.

    A PENDING credit whose re-send was answered 30036, or that the gateway posted only in part, is parked for staff
    (`review_reason`, the "needs staff" filter in admin): the sweeper no longer re-sends it and the wallet stays
    debited until staff settle it with the gateway.

    Reconciliation matches `usd_card_credit_pending` to the PENDING credits, `usd_card_credit_payable`
    to the POSTED ones, and each SETTLED credit to its `credit` row in the gateway's batch. `gateway_transaction_id`
    is our TransactionID, the same on every re-send: a pending credit is resolved by re-sending it, never anew.
    """

    customer = models.ForeignKey("accounts.Customer", on_delete=models.PROTECT, related_name="card_credits")
    payment_method = models.ForeignKey(PaymentMethod, on_delete=models.PROTECT, related_name="credits")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    partner = models.ForeignKey("accounts.Partner", on_delete=models.PROTECT, related_name="card_credits")
    amount = models.BigIntegerField(help_text="Cents refunded to the card (debited from the wallet).")
    status = models.CharField(max_length=20, choices=CreditStatus.choices, default=CreditStatus.PENDING)
    gateway_transaction_id = models.CharField(max_length=60, unique=True)
    gateway_trans_id = models.CharField(max_length=60, blank=True, help_text="The gateway's GatewayTransID.")
    response_code = models.CharField(max_length=5, blank=True)
    response_description = models.CharField(max_length=255, blank=True)
    metadata = models.JSONField(default=dict, blank=True, help_text="The gateway's credit responseMessage.")
    debit_ledger_transaction = models.OneToOneField("ledger.Transaction", on_delete=models.PROTECT, related_name="card_credit")
    posted_ledger_transaction = models.OneToOneField(
        "ledger.Transaction", on_delete=models.PROTECT, null=True, blank=True, related_name="card_credit_posted"
    )
    settlement_ledger_transaction = models.OneToOneField(
        "ledger.Transaction", on_delete=models.PROTECT, null=True, blank=True, related_name="card_credit_settlement"
    )
    giveback_ledger_transaction = models.OneToOneField(
        "ledger.Transaction", on_delete=models.PROTECT, null=True, blank=True, related_name="card_credit_giveback"
    )
    batch_id = models.CharField(max_length=60, blank=True, help_text="The gateway's CycleCode of the settled batch.")
    work_lease_until = models.DateTimeField(null=True, blank=True)
    work_attempts = models.PositiveIntegerField(default=0)
    work_enqueued_at = models.DateTimeField(null=True, blank=True)
    review_reason = models.CharField(max_length=255, blank=True)
    idempotency_record = models.OneToOneField(
        "core.IdempotencyRecord", on_delete=models.SET_NULL, null=True, blank=True, related_name="card_credit"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    posted_at = models.DateTimeField(null=True, blank=True)
    settled_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount__gt=0), name="credit_amount_positive"),
            # Posted (and settled) credits moved to payable; only refused ones were given back, and always.
            models.CheckConstraint(
                condition=~Q(status__in=(CreditStatus.POSTED, CreditStatus.SETTLED)) | Q(posted_ledger_transaction__isnull=False),
                name="credit_posted_has_ledger_move",
            ),
            models.CheckConstraint(
                condition=(Q(status__in=CREDIT_REFUSED_STATUSES) & Q(giveback_ledger_transaction__isnull=False))
                | (~Q(status__in=CREDIT_REFUSED_STATUSES) & Q(giveback_ledger_transaction__isnull=True)),
                name="credit_given_back_iff_refused",
            ),
            models.CheckConstraint(
                condition=~Q(status=CreditStatus.SETTLED) | (Q(settlement_ledger_transaction__isnull=False) & ~Q(batch_id="")),
                name="credit_settled_has_batch",
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "-created_at"], name="credit_customer_created"),
            models.Index(fields=["status", "work_lease_until"], name="credit_work", condition=Q(status__in=CREDIT_WORK_STATUSES)),
        ]

    def __str__(self) -> str:
        return f"credit #{self.pk} {self.amount}¢ {self.status}"


class GatewayAttempt(models.Model):
    """One request to the gateway for a charge or a credit and what came back (or that nothing definite did)."""

    charge = models.ForeignKey(CardCharge, on_delete=models.PROTECT, null=True, blank=True, related_name="attempts")
    credit = models.ForeignKey(CardCredit, on_delete=models.PROTECT, null=True, blank=True, related_name="attempts")
    request_type = models.CharField(max_length=3)
    transaction_id = models.CharField(max_length=60)
    outcome = models.CharField(max_length=20)
    response_code = models.CharField(max_length=5, blank=True)
    response_description = models.CharField(max_length=255, blank=True)
    response_message = models.JSONField(default=dict, blank=True)
    error = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(charge__isnull=False, credit__isnull=True) | Q(charge__isnull=True, credit__isnull=False),
                name="attempt_for_charge_or_credit",
            )
        ]

    def __str__(self) -> str:
        return f"{self.request_type} {self.transaction_id}: {self.outcome}"


class BatchStatus(models.TextChoices):
    CLOSING = "closing", "Closing (settlement requested)"
    CLOSED = "closed", "Closed"


class SettlementBatch(models.Model):
    """One 020 settlement request and the batch the gateway closed. Written before the request (so a lost
    answer is re-sent with the same TransactionID, which returns the same CycleCode)."""

    transaction_id = models.CharField(max_length=60, unique=True)
    status = models.CharField(max_length=10, choices=BatchStatus.choices, default=BatchStatus.CLOSING)
    cycle_code = models.CharField(max_length=60, blank=True)
    charge_count = models.PositiveIntegerField(default=0)
    amount_cents = models.BigIntegerField(default=0)
    credit_count = models.PositiveIntegerField(default=0)
    credit_amount_cents = models.BigIntegerField(default=0, help_text="Cents refunded to cards in the batch.")
    created_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "settlement batches"
        constraints = [
            models.UniqueConstraint(fields=["status"], condition=Q(status="closing"), name="one_batch_closing_at_a_time"),
        ]

    def __str__(self) -> str:
        return f"batch {self.cycle_code or self.transaction_id} ({self.status})"


class GatewayBatchFile(models.Model):
    """A settled batch as the gateway reported it (CSV), uploaded by finance in admin; reconciliation prefers
    it to fetching the export. A wrong upload is replaced, never edited or deleted: the old file is kept with
    who replaced it and when (one current file per cycle)."""

    cycle_code = models.CharField(max_length=60)
    content = models.TextField(help_text="The gateway's CSV: GatewayTransID, TransactionID, Amount, Type, …")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(auto_now_add=True)
    replaced_at = models.DateTimeField(null=True, blank=True)
    replaced_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    replaced_with = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="replaces", help_text="The file in its place."
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["cycle_code"], condition=models.Q(replaced_at__isnull=True), name="one_current_batch_file_per_cycle"
            ),
            models.CheckConstraint(
                condition=models.Q(replaced_at__isnull=True, replaced_by__isnull=True)
                | models.Q(replaced_at__isnull=False, replaced_by__isnull=False),
                name="replaced_batch_file_says_by_whom",
            ),
        ]

    def __str__(self) -> str:
        return f"gateway batch {self.cycle_code}"
