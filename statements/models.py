"""A partner's monthly statement of the CO2 offsets it paid itself (DESIGN §3.6).

Only closed months are rows: closing a month (statements.services.statement_close) freezes, as lines, every
transaction on the partner's CO2 billing account that no earlier statement holds and that was created before the
month's end. A month still open is what its statement would hold now (statements.selectors.statement_get). An
item that commits after its month closed (a late item) falls into the next month closed. Closed statements and
their lines are never changed or deleted (statements/sql/statement_immutable.sql).
"""

from django.db import models


class PartnerStatement(models.Model):
    partner = models.ForeignKey("accounts.Partner", on_delete=models.PROTECT, related_name="statements")
    month = models.DateField(help_text="The first day of the month (UTC).")
    closed_at = models.DateTimeField()
    offsets = models.PositiveIntegerField(help_text="How many lines (offsets and their reversals).")
    kilometer_total = models.BigIntegerField(help_text="Kilometers billed: offsets less reversals.")

    class Meta:
        ordering = ["-month", "partner_id"]
        constraints = [
            models.UniqueConstraint(fields=["partner", "month"], name="one_statement_per_partner_month"),
            models.CheckConstraint(condition=models.Q(month__day=1), name="statement_month_first_day"),
        ]

    def __str__(self) -> str:
        return f"{self.partner_id} {self.month:%Y-%m}"


class StatementLine(models.Model):
    statement = models.ForeignKey(PartnerStatement, on_delete=models.PROTECT, related_name="lines")
    # An item is billed once: in the first statement closed after it committed.
    transaction = models.OneToOneField("ledger.Transaction", on_delete=models.PROTECT, related_name="statement_line")
    kilometer = models.BigIntegerField(help_text="Billed: positive for an offset, negative for its reversal.")

    class Meta:
        ordering = ["transaction_id"]

    def __str__(self) -> str:
        return f"{self.transaction_id}: {self.kilometer:+d} km"
