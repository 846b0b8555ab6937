"""What a partner's service accounts do to a customer's cents wallet besides charging the card: purchases, comps
and the tap system's line items. Each record names the partner that made it (only that partner sees it, DESIGN
§4.1) and the ledger transaction that moved the wallet."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from core import money


class _WalletRecord(models.Model):
    customer = models.ForeignKey("accounts.Customer", on_delete=models.PROTECT, related_name="+")
    partner = models.ForeignKey("accounts.Partner", on_delete=models.PROTECT, related_name="+")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    amount_cents = models.BigIntegerField()
    venue_id = models.CharField(max_length=100, blank=True)
    employee_id = models.CharField(max_length=100, blank=True)
    description = models.CharField(max_length=255, blank=True)
    # The Idempotency-Key request that made it: a retry that takes the key over answers this record, never a second.
    idempotency_record = models.OneToOneField(
        "core.IdempotencyRecord", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True


class Purchase(_WalletRecord):
    """Cents spent at a venue: the wallet debited, down to minus the customer's credit limit at most."""

    qty = models.PositiveIntegerField(null=True, blank=True)
    tap_id = models.CharField(max_length=100, blank=True)
    ledger_transaction = models.OneToOneField("ledger.Transaction", on_delete=models.PROTECT, related_name="purchase")

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(amount_cents__gt=0), name="purchase_amount_positive")]
        indexes = [models.Index(fields=["partner", "customer", "-id"], name="purchase_partner_customer")]

    def __str__(self) -> str:
        return f"purchase #{self.pk} {money.dollars(self.amount_cents)}"


class Comp(_WalletRecord):
    """Cents credited at the venue as goodwill, without the card gateway."""

    ledger_transaction = models.OneToOneField("ledger.Transaction", on_delete=models.PROTECT, related_name="comp")

    class Meta:
        permissions = [("comp_wallet", "Can comp customers' cents wallets through the HOP API")]
        constraints = [models.CheckConstraint(condition=Q(amount_cents__gt=0), name="comp_amount_positive")]
        indexes = [models.Index(fields=["partner", "customer", "-id"], name="comp_partner_customer")]

    def __str__(self) -> str:
        return f"comp #{self.pk} {money.dollars(self.amount_cents)}"


class LineItemStatus(models.TextChoices):
    PENDING = "pending", "Pending (a worker applies it)"
    PROCESSED = "processed", "Processed (applied to the wallet)"
    REJECTED = "rejected", "Rejected (past the credit limit; staff retry or write off)"
    WRITTEN_OFF = "written_off", "Written off by staff (never applied)"


class LineItem(models.Model):
    """One pour (or other line) the Drink Command tap system reported for a session token. Stored as sent, pending,
    and applied to the wallet by a worker: `money_units` < 0 spends -money_units cents, > 0 gives cents back.
    Idempotent by (partner, line_item_id): the same id again is the same line item, applied at most once.
    The status is the outbox: the sweeper re-enqueues pending ones whose message was lost."""

    partner = models.ForeignKey("accounts.Partner", on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey("accounts.Customer", on_delete=models.PROTECT, related_name="+")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    line_item_id = models.CharField(max_length=100)
    session_token = models.CharField(max_length=100)
    session_uuid = models.CharField(max_length=100, blank=True)
    reported_at = models.CharField(max_length=60, blank=True, help_text="The tap system's created_at, as sent.")
    account_type = models.CharField(max_length=60, blank=True)
    account_name = models.CharField(max_length=255, blank=True)
    product_code = models.CharField(max_length=100, blank=True)
    volume_units = models.BigIntegerField(null=True, blank=True)
    money_units = models.BigIntegerField(help_text="Cents; negative spends, positive gives back.")
    tap_id = models.CharField(max_length=100, blank=True)
    price_money_units = models.BigIntegerField(null=True, blank=True)
    price_volume_units = models.BigIntegerField(null=True, blank=True)
    note = models.TextField(blank=True)
    venue_id = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=20, choices=LineItemStatus.choices, default=LineItemStatus.PENDING)
    ledger_transaction = models.OneToOneField(
        "ledger.Transaction", on_delete=models.PROTECT, null=True, blank=True, related_name="line_item"
    )
    reject_reason = models.CharField(max_length=255, blank=True)
    topup_charge = models.ForeignKey(
        "gateways.CardCharge",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text="The automatic top-up of the card on record this line item triggered (AUTO_TOPUP_CENTS).",
    )
    # Work claims (a conditional UPDATE sets them), as for card charges: who may apply it until when.
    work_lease_until = models.DateTimeField(null=True, blank=True)
    work_attempts = models.PositiveIntegerField(default=0)
    work_enqueued_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    resolution_reason = models.CharField(max_length=255, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        permissions = [("resolve_lineitem", "Can retry or write off a rejected line item")]
        constraints = [
            models.UniqueConstraint(fields=["partner", "line_item_id"], name="line_item_unique_per_partner"),
            # Applied (with its ledger move, unless it moved nothing) iff processed.
            models.CheckConstraint(
                condition=Q(status=LineItemStatus.PROCESSED) | Q(ledger_transaction__isnull=True),
                name="line_item_ledger_only_when_processed",
            ),
            models.CheckConstraint(
                condition=~Q(status=LineItemStatus.PROCESSED) | Q(ledger_transaction__isnull=False) | Q(money_units=0),
                name="line_item_processed_has_ledger_move",
            ),
            models.CheckConstraint(
                condition=~Q(status=LineItemStatus.WRITTEN_OFF) | (Q(resolved_by__isnull=False) & ~Q(resolution_reason="")),
                name="line_item_write_off_has_reason",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "work_enqueued_at"], name="line_item_pending", condition=Q(status="pending")),
            models.Index(fields=["customer", "-received_at"], name="line_item_customer"),
        ]

    def __str__(self) -> str:
        return f"line item {self.line_item_id} ({money.dollars(self.money_units, signed=True)} {self.status})"


class RejectedLineItem(LineItem):
    """The back-office queue of line items past the credit limit, waiting for staff to retry or write them off."""

    class Meta:
        proxy = True
        verbose_name = "rejected line item"
