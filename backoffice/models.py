"""Refused API requests, kept for support (DESIGN §12). Not part of the ledger: nothing here moves money."""

from django.db import models

from accounts.models import Customer, Partner


class RefusalApi(models.TextChoices):
    ANDCHARGE = "andcharge", "&Charge (kilometers)"
    HOP = "hop", "HOP (cents)"


class RefusedAttempt(models.Model):
    """One &Charge or HOP request refused after authentication (never a 401), as the partner sent it and as it
    was answered. Written by one INSERT as the refusal leaves (backoffice.services.refused_attempt_keep); read by
    support in the admin and on the customer's timeline; deleted after ATTEMPT_RETENTION_DAYS
    (`manage.py purge_refused_attempts`, scheduled in beat).

    `customer` is who the request named, when that names a customer at all (a linked &Charge userId, a HOP
    customer id, an RFID token); `user_id` keeps what the partner sent either way, so an unlinked userId is
    still found."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    api = models.CharField(max_length=10, choices=RefusalApi.choices)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=300)
    status = models.PositiveSmallIntegerField(help_text="The HTTP status answered.")
    error_code = models.CharField(max_length=40, db_index=True, help_text="&Charge's error, or HOP's code.")
    error_args = models.JSONField(default=list, blank=True, help_text="&Charge's args, or HOP's message and errors.")
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    user_id = models.CharField(
        max_length=100, blank=True, db_index=True, help_text="As the partner sent it: a userId, a customer id or an RFID token."
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.PROTECT, null=True, blank=True, related_name="refused_attempts", db_index=False
    )
    transaction_id = models.CharField(max_length=100, blank=True, db_index=True, help_text="&Charge's transactionId.")
    idempotency_key = models.CharField(max_length=255, blank=True, help_text="HOP's Idempotency-Key header.")
    amount = models.BigIntegerField(null=True, blank=True, help_text="As asked: kilometers (&Charge) or cents (HOP).")
    request_id = models.CharField(max_length=100, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["customer", "-created_at"], name="refused_attempt_customer")]

    def __str__(self) -> str:
        return f"{self.error_code} ({self.status}) {self.request_id}"

    @property
    def unit(self) -> str:
        """The amount's unit: &Charge asks kilometers, HOP cents."""
        return "km" if self.api == RefusalApi.ANDCHARGE else "cents"
