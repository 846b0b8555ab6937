"""Double-entry ledger: accounts, transactions and their entries.

Amounts are integers in minor units (whole kilometers, US cents). Every transaction has at least two
entries whose amounts sum to zero per unit. Wallet balances are cached on the wallet account and move
in the same database transaction as the entries; shared (partner, system) accounts keep no cached
balance at all: their balance is the sum of their entries, so no payment ever locks or updates them.

On PostgreSQL the database enforces (migration 0002): balanced transactions (deferred constraint
trigger), immutable entries, immutable transactions except CONFIRMED → CANCELLED once reversed.
Django constraints below enforce: non-negative wallets, one wallet per customer and unit,
UNIQUE(partner, external transaction id), at most one reversal per transaction.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone


class Unit(models.TextChoices):
    KM = "KM", "Kilometers"
    USD_CENTS = "USD", "US cents"


class AccountKind(models.TextChoices):
    WALLET = "WALLET", "Customer wallet"
    PARTNER = "PARTNER", "Partner"
    # What a partner owes for the CO2 offsets it pays itself (goes negative; statements bill it).
    BILLING = "BILLING", "Partner CO2 billing"
    SYSTEM = "SYSTEM", "System"


class SystemAccount(models.TextChoices):
    """Codes of the system accounts created by migration."""

    KM_ISSUANCE = "km_issuance", "Kilometers issued (source of grants)"
    KM_ADJUSTMENT = "km_adjustment", "Kilometer corrections by staff"
    KM_CO2_OFFSET = "km_co2_offset", "Kilometers spent on CO2 offsets"
    # A card top-up's cents travel authorized → receivable (captured) → settled (paid out in a batch).
    USD_CARD_AUTHORIZED = "usd_card_authorized", "Card charges authorized, not yet captured"
    USD_CARD_RECEIVABLE = "usd_card_receivable", "Card charges captured, owed by the gateway until settlement"
    USD_CARD_SETTLED = "usd_card_settled", "Card charges settled by the gateway"
    # A refund to the card (HOP credit) travels the other way: wallet → credit pending (sent, outcome unknown) →
    # credit payable (posted, owed to the card until settlement) → settled (paid out in the gateway's batch).
    USD_CARD_CREDIT_PENDING = "usd_card_credit_pending", "Card credits sent to the gateway, outcome not yet known"
    USD_CARD_CREDIT_PAYABLE = "usd_card_credit_payable", "Card credits posted, owed to the cards until settlement"
    # Cents leave the wallets for what customers buy at venues (purchases, tap line items) and enter them as comps.
    USD_VENUE_SALES = "usd_venue_sales", "Cents spent at venues (purchases and tap line items)"
    USD_COMPS = "usd_comps", "Cents comped at venues (goodwill, no card)"


class Account(models.Model):
    kind = models.CharField(max_length=10, choices=AccountKind.choices)
    unit = models.CharField(max_length=3, choices=Unit.choices)
    customer = models.ForeignKey("accounts.Customer", on_delete=models.PROTECT, null=True, blank=True, related_name="accounts")
    partner = models.ForeignKey("accounts.Partner", on_delete=models.PROTECT, null=True, blank=True, related_name="accounts")
    code = models.CharField(max_length=50, null=True, blank=True, unique=True, choices=SystemAccount.choices)
    # Cached balance, wallets only (NULL elsewhere: a shared account's balance is the sum of its entries).
    balance = models.BigIntegerField(null=True, blank=True)
    # How far below zero a cents wallet may go for spending at venues (set by finance; 0 = no credit). Kilometer
    # wallets never get credit. The database floor is `balance >= -credit_limit` (CHECK below).
    credit_limit = models.BigIntegerField(default=0, db_default=0)  # db_default: raw-SQL seeds (bench) insert wallets too
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        permissions = [("set_credit_limit", "Can set a customer's cents credit limit")]
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(
                        kind=AccountKind.WALLET,
                        customer__isnull=False,
                        partner__isnull=True,
                        code__isnull=True,
                        balance__isnull=False,
                    )
                    | Q(
                        kind=AccountKind.PARTNER,
                        customer__isnull=True,
                        partner__isnull=False,
                        code__isnull=True,
                        balance__isnull=True,
                    )
                    | Q(
                        kind=AccountKind.BILLING,
                        customer__isnull=True,
                        partner__isnull=False,
                        code__isnull=True,
                        balance__isnull=True,
                    )
                    | Q(
                        kind=AccountKind.SYSTEM,
                        customer__isnull=True,
                        partner__isnull=True,
                        code__isnull=False,
                        balance__isnull=True,
                    )
                ),
                name="account_kind_shape",
            ),
            # The wallet's floor: zero, or minus the credit limit for a cents wallet. The limit is a column of the same
            # row, so a plain CHECK holds it under every writer (the conditional UPDATE in lock_objects.wallet_move
            # decides first, for a clear refusal).
            models.CheckConstraint(
                condition=Q(balance__isnull=True) | Q(balance__gte=-F("credit_limit")), name="wallet_balance_within_credit_limit"
            ),
            models.CheckConstraint(
                condition=Q(credit_limit__gte=0) & (Q(credit_limit=0) | Q(unit="USD", kind=AccountKind.WALLET)),
                name="credit_limit_cents_wallets_only",
            ),
            models.UniqueConstraint(
                fields=["customer", "unit"], condition=Q(customer__isnull=False), name="one_wallet_per_customer_unit"
            ),
            models.UniqueConstraint(
                fields=["partner", "kind", "unit"], condition=Q(partner__isnull=False), name="one_partner_account_per_unit"
            ),
        ]

    def __str__(self) -> str:
        owner = self.code or (f"customer {self.customer_id}" if self.customer_id else f"partner {self.partner_id}")
        return f"{self.get_kind_display()} {owner} [{self.unit}]"


class TransactionKind(models.TextChoices):
    PAY_FOR_CHARGING_SESSION = "PAY_FOR_CHARGING_SESSION", "Pay for a charging session"
    # The &Charge CO2 services: an offset paid by the customer (or by the partner: no customer), a donation.
    CO2_OFFSET_CHARGING_SESSION = "CO2_OFFSET_CHARGING_SESSION", "CO2 offset of a charging session"
    CO2_DONATION = "CO2_DONATION", "Donation for CO2 offsets"
    KM_GRANT = "KM_GRANT", "Kilometers granted"
    KM_ADJUSTMENT = "KM_ADJUSTMENT", "Kilometers adjusted by staff"
    CARD_TOPUP = "CARD_TOPUP", "Cents topped up by card"
    CARD_CAPTURE = "CARD_CAPTURE", "Card charge captured"
    CARD_SETTLEMENT = "CARD_SETTLEMENT", "Card charge settled"
    CARD_REFUND = "CARD_REFUND", "Card charge voided or refunded"
    CARD_CREDIT = "CARD_CREDIT", "Cents refunded to the card"
    CARD_CREDIT_POSTED = "CARD_CREDIT_POSTED", "Card credit posted by the gateway"
    CARD_CREDIT_SETTLEMENT = "CARD_CREDIT_SETTLEMENT", "Card credit settled"
    PURCHASE = "PURCHASE", "Cents spent on a purchase"
    COMP = "COMP", "Cents comped at the venue"
    LINE_ITEM_PURCHASE = "LINE_ITEM_PURCHASE", "Cents spent at a tap (line item)"
    LINE_ITEM_CREDIT = "LINE_ITEM_CREDIT", "Cents given back at a tap (line item)"
    REVERSAL = "REVERSAL", "Reversal"


class TransactionStatus(models.TextChoices):
    OPEN = "OPEN", "Open"
    CONFIRMED = "CONFIRMED", "Confirmed"
    CANCELLED = "CANCELLED", "Cancelled (reversed)"


class Transaction(models.Model):
    kind = models.CharField(max_length=40, choices=TransactionKind.choices)
    status = models.CharField(max_length=10, choices=TransactionStatus.choices, default=TransactionStatus.CONFIRMED)
    # The customer whose wallet the transaction concerns (for listings); entries are the truth.
    customer = models.ForeignKey(
        "accounts.Customer", on_delete=models.PROTECT, null=True, blank=True, related_name="transactions"
    )
    # No index of its own: (partner, external_id) UNIQUE and txn_partner_customer_created both lead with partner. A
    # partner-only index let the planner, on stale statistics, answer the payment's duplicate check by scanning
    # every transaction of the partner instead of probing the unique index.
    partner = models.ForeignKey(
        "accounts.Partner", on_delete=models.PROTECT, null=True, blank=True, related_name="transactions", db_index=False
    )
    external_id = models.CharField(max_length=100, null=True, blank=True, help_text="The partner's transactionId.")
    reference = models.CharField(max_length=100, blank=True, help_text="The partner's transactionReference.")
    evse_id = models.CharField(max_length=100, blank=True, db_index=True)
    service_data = models.JSONField(default=dict, blank=True)
    reverses = models.OneToOneField(
        "self",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="reversal",
        help_text="The transaction this one reverses.",
    )
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    reason = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        permissions = [
            ("reverse_transaction", "Can reverse a transaction up to the support limit"),
            ("reverse_any_transaction", "Can reverse a transaction of any amount"),
            ("adjust_kilometers", "Can grant or adjust a customer's kilometers"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "external_id"],
                condition=Q(external_id__isnull=False),
                name="transaction_partner_external_id_unique",
            ),
            models.CheckConstraint(
                condition=Q(external_id__isnull=True) | Q(partner__isnull=False), name="external_id_needs_partner"
            ),
            models.CheckConstraint(
                condition=(Q(kind="REVERSAL") & Q(reverses__isnull=False) & Q(created_by__isnull=False) & ~Q(reason=""))
                | (~Q(kind="REVERSAL") & Q(reverses__isnull=True)),
                name="reversal_links_original_with_reason",
            ),
        ]
        indexes = [
            models.Index(fields=["customer", "-created_at", "-id"], name="txn_customer_created"),
            models.Index(fields=["partner", "customer", "-created_at", "-id"], name="txn_partner_customer_created"),
            # Back-office lookups: search by the partner's transactionId or reference, filter by date.
            models.Index(fields=["external_id"], name="txn_external_id"),
            models.Index(fields=["reference"], name="txn_reference"),
            models.Index(fields=["created_at"], name="txn_created"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk}" + (f" ({self.external_id})" if self.external_id else "")


class Entry(models.Model):
    transaction = models.ForeignKey(Transaction, on_delete=models.PROTECT, related_name="entries")
    account = models.ForeignKey(Account, on_delete=models.PROTECT, related_name="entries")
    amount = models.BigIntegerField(help_text="Signed, in the account's minor unit.")

    class Meta:
        verbose_name_plural = "entries"
        constraints = [models.CheckConstraint(condition=~Q(amount=0), name="entry_amount_not_zero")]
        # A wallet's history in the order its balance moved (the HOP history's running balance sums along it).
        indexes = [models.Index(fields=["account", "id"], name="entry_account_id")]

    def __str__(self) -> str:
        return f"{self.amount:+d} → account {self.account_id}"


# The country code of the grid intensity used for every country without its own row.
DEFAULT_GRID_COUNTRY = "*"


class GridIntensity(models.Model):
    """The greenhouse-gas intensity of a country's electricity (gCO2e per kWh), which prices a CO2 offset.

    Finance edits it in the admin; every change raises `version` (ledger.services.grid_intensity_update). An offset
    stores the factor, version, source and year it used (Co2Computation), so a later edit changes no old offset.
    """

    country = models.CharField(
        max_length=2, unique=True, help_text='ISO 3166 alpha-2 code, or "*" for every country without its own row.'
    )
    grams_per_kwh = models.DecimalField(max_digits=7, decimal_places=2, help_text="gCO2e per kWh generated.")
    source = models.CharField(max_length=200)
    year = models.PositiveSmallIntegerField(help_text="The year the figure describes.")
    version = models.PositiveIntegerField(default=1, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "grid intensities"
        ordering = ["country"]
        constraints = [models.CheckConstraint(condition=Q(grams_per_kwh__gte=0), name="grid_intensity_not_negative")]

    def __str__(self) -> str:
        return f"{self.country} {self.grams_per_kwh} g/kWh (v{self.version})"


class Co2Computation(models.Model):
    """How the kilometers of a CO2 offset were found: the inputs, the factor (with its version) and the result.

    Written with its transaction, never changed. `kilometer_sent` is the partner's own figure, used as sent; the
    computed figure is stored beside it either way.
    """

    transaction = models.OneToOneField(Transaction, on_delete=models.PROTECT, primary_key=True, related_name="co2_computation")
    country = models.CharField(max_length=3, help_text="COUNTRY as sent.")
    factor_country = models.CharField(max_length=2, help_text='The grid intensity row used ("*": the default).')
    grams_per_kwh = models.DecimalField(max_digits=7, decimal_places=2)
    factor_version = models.PositiveIntegerField()
    factor_source = models.CharField(max_length=200)
    factor_year = models.PositiveSmallIntegerField()
    energy_kwh = models.DecimalField(max_digits=18, decimal_places=6)
    energy_estimated = models.BooleanField(help_text="CONSUMED_ENERGY_KWH was empty: power × hours × load factor.")
    max_charging_power_kw = models.PositiveIntegerField()
    session_hours = models.DecimalField(max_digits=18, decimal_places=6)
    load_factor = models.DecimalField(max_digits=5, decimal_places=3)
    km_per_kg = models.DecimalField(max_digits=9, decimal_places=3)
    co2_grams = models.DecimalField(max_digits=20, decimal_places=6)
    kilometer_computed = models.PositiveIntegerField()
    kilometer_sent = models.PositiveIntegerField(null=True, blank=True)

    def __str__(self) -> str:
        return f"CO2 of transaction {self.transaction_id}: {self.co2_grams} g"
