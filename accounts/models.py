"""People and partners: staff users, partners with their API keys, customers and partner links."""

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models.functions import Lower

from core.masking import last_four


class User(AbstractUser):
    """Someone who logs in: staff in the admin, or a HOP service account (a user with a partner).

    A service account may charge cards only with the `gateways.charge_card` permission, and only for
    customers linked to its partner.
    """

    email = models.EmailField(blank=True)
    partner = models.ForeignKey(
        "Partner",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="service_accounts",
        help_text="Set for HOP service accounts.",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("email"), condition=~models.Q(email=""), name="user_email_unique_ci"),
        ]


class PartnerStatus(models.TextChoices):
    INITIAL = "INITIAL", "Initial (registered, awaiting activation by staff)"
    ACTIVE = "ACTIVE", "Active"


class PartnerType(models.TextChoices):
    MSP = "MSP", "E-mobility service provider"
    ONLINE_SHOP = "ONLINE_SHOP", "Online shop"
    OFFLINE_SHOP = "OFFLINE_SHOP", "Offline shop"


class Partner(models.Model):
    """A charge-point operator or e-mobility provider calling the &Charge API.

    A partner that registered itself (POST /public/v1/partners) is INITIAL: it can log in, and every other call is
    refused with 403 until staff activate it. `is_active` False stops its keys altogether (401).
    """

    code = models.CharField(max_length=100, unique=True, help_text="The partnerId in API paths, e.g. PCS-001.")
    name = models.CharField(max_length=200, help_text="Display name shown in transactions, e.g. MSP Partner.")
    is_active = models.BooleanField(default=True)
    status = models.CharField(max_length=10, choices=PartnerStatus.choices, default=PartnerStatus.ACTIVE)
    type = models.CharField(max_length=20, choices=PartnerType.choices, default=PartnerType.MSP)
    logo = models.CharField(max_length=500, blank=True)
    web = models.CharField(max_length=500, blank=True)
    descriptions = models.JSONField(default=list, blank=True, help_text='[{"lang": "en", "text": "…"}]')
    created_at = models.DateTimeField(auto_now_add=True)
    activated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} ({self.name})"


class PartnerApiKey(models.Model):
    """An access key id with a secret. Only a SHA-256 digest of the secret is stored.

    The secret is 256 random bits, so a fast digest is as safe as a slow password hash here and keeps
    login cheap; comparison is constant-time.
    """

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="api_keys")
    access_key_id = models.CharField(max_length=40, unique=True)
    secret_digest = models.CharField(max_length=64)
    label = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "partner API key"

    def __str__(self) -> str:
        return self.access_key_id

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class Customer(models.Model):
    """The wallet holder. Balances live in ledger accounts, one per unit."""

    email = models.EmailField(blank=True)
    name = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # The customer's credentials: a User that is neither staff nor a service account, so its password opens the
    # hosted link page and nothing else (the admin wants is_staff, HOP login a partner).
    user = models.OneToOneField(
        User,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="customer",
        help_text="Set once the customer has a password.",
    )

    class Meta:
        permissions = [("send_password_reset_customer", "Can send a customer a password-reset link")]
        constraints = [
            models.UniqueConstraint(Lower("email"), condition=~models.Q(email=""), name="customer_email_unique_ci"),
        ]

    def __str__(self) -> str:
        return f"Customer {self.pk}" + (f" <{self.email}>" if self.email else "")


class LinkStatus(models.TextChoices):
    INITIAL = "INITIAL", "Initial (awaiting the customer's confirmation)"
    LINKED = "LINKED", "Linked"
    REMOVED = "REMOVED", "Removed by the partner"


class PartnerLink(models.Model):
    """Partner + the partner's own user id → our customer. Only a LINKED link lets the partner act.

    A partner's POST opens an INITIAL link (no customer yet) with an activation code; the customer confirms it on
    the hosted page, which makes it LINKED to them. Only a SHA-256 digest of the code is kept (256 random bits, so
    a fast digest is enough). A removed link stays as history; the userId (and the customer) may be linked again.
    """

    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="links")
    external_user_id = models.CharField(max_length=100, help_text="The partner's userId.")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, null=True, blank=True, related_name="links")
    status = models.CharField(max_length=10, choices=LinkStatus.choices, default=LinkStatus.INITIAL)
    created_at = models.DateTimeField(auto_now_add=True)
    linked_at = models.DateTimeField(null=True, blank=True)
    removed_at = models.DateTimeField(null=True, blank=True)
    activation_code_digest = models.CharField(max_length=64, blank=True)
    activation_code_issued_at = models.DateTimeField(null=True, blank=True)
    activation_code_expires_at = models.DateTimeField(null=True, blank=True)
    activation_code_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "external_user_id"],
                condition=~models.Q(status="REMOVED"),
                name="link_partner_user_unique",
            ),
            models.UniqueConstraint(
                fields=["partner", "customer"], condition=~models.Q(status="REMOVED"), name="link_partner_customer_unique"
            ),
            models.CheckConstraint(
                condition=~models.Q(status="LINKED") | models.Q(customer__isnull=False, linked_at__isnull=False),
                name="link_linked_has_customer",
            ),
        ]
        indexes = [
            # Support finds a customer by a partner's userId without knowing the partner.
            models.Index(fields=["external_user_id"], name="link_external_user_id"),
            # The hosted page finds a link by its activation code.
            models.Index(
                fields=["activation_code_digest"], condition=~models.Q(activation_code_digest=""), name="link_activation_code"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.partner.code}/{self.external_user_id} → {self.customer_id or '?'} ({self.status})"


class PartnerCallbackPrefix(models.Model):
    """Where the hosted link page may send the customer's browser back to: scheme + host + path prefix
    (e.g. https://app.partner.example/link-done or an app deep link such as myapp://and-charge)."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="callback_prefixes")
    prefix = models.CharField(max_length=500)

    class Meta:
        verbose_name = "callback prefix"
        verbose_name_plural = "callback prefixes"
        constraints = [models.UniqueConstraint(fields=["partner", "prefix"], name="callback_prefix_unique")]

    def __str__(self) -> str:
        return self.prefix


class RfidToken(models.Model):
    """An RFID card's session token, naming a customer (HOP's `POST /api/v1/rfid/{session_token}/charges`)."""

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="rfid_tokens")
    token = models.CharField(max_length=100, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "RFID token"

    def __str__(self) -> str:
        return f"RFID {last_four(self.token)} → customer {self.customer_id}"


class AuditAction(models.TextChoices):
    TRANSACTION_REVERSE = "transaction_reverse", "Transaction reversed"
    KILOMETERS_GRANT = "kilometers_grant", "Kilometers granted"
    KILOMETERS_ADJUST = "kilometers_adjust", "Kilometers adjusted"
    CARD_CHARGE_REFUND = "card_charge_refund", "Card charge void/refund requested"
    CARD_CHARGE_CAPTURE_RETRY = "card_charge_capture_retry", "Card charge capture retried"
    API_KEY_CREATE = "api_key_create", "API key created"
    API_KEY_REVOKE = "api_key_revoke", "API key revoked"
    API_KEY_ROTATE = "api_key_rotate", "API key rotated by the partner"
    PARTNER_ACTIVATE = "partner_activate", "Partner activated"
    CUSTOMER_PASSWORD_RESET = "customer_password_reset", "Password-reset link sent to the customer"
    FINDING_RESOLVE = "finding_resolve", "Reconciliation finding resolved"
    BATCH_FILE_UPLOAD = "batch_file_upload", "Gateway batch file uploaded"
    ADMIN_EDIT = "admin_edit", "Edited in the admin (users, groups, schedules)"
    WEBHOOK_ENDPOINT_CHANGE = "webhook_endpoint_change", "Webhook endpoint changed"
    WEBHOOK_REPLAY = "webhook_replay", "Webhook events replayed"
    CSV_EXPORT = "csv_export", "List exported as CSV"
    CREDIT_LIMIT_SET = "credit_limit_set", "Cents credit limit set"
    LINE_ITEM_RETRY = "line_item_retry", "Rejected line item retried"
    LINE_ITEM_WRITE_OFF = "line_item_write_off", "Rejected line item written off"


class AuditLog(models.Model):
    """One staff action: who, when, what (on which object, for which customer or partner), why, and the
    customer's balances before and after. Written in the same database transaction as the action it
    records, so an action without its record cannot exist. Rows are never changed or deleted (the admin
    offers neither; on PostgreSQL a trigger refuses it, migration 0003)."""

    # Empty when a partner acted for itself through the API (a key rotation): `partner` and `detail` say who.
    actor = models.ForeignKey(User, on_delete=models.PROTECT, null=True, blank=True, related_name="audit_records")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    action = models.CharField(max_length=40, choices=AuditAction.choices)
    reason = models.TextField()
    object_type = models.CharField(max_length=60, help_text="app_label.model of the object acted on.")
    object_id = models.CharField(max_length=60)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, null=True, blank=True, related_name="audit_records")
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, null=True, blank=True, related_name="audit_records")
    balances_before = models.JSONField(default=dict, blank=True, help_text="The customer's balances by unit, before.")
    balances_after = models.JSONField(default=dict, blank=True, help_text="The customer's balances by unit, after.")
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = "audit record"
        constraints = [models.CheckConstraint(condition=~models.Q(reason=""), name="audit_has_reason")]
        indexes = [
            models.Index(fields=["customer", "-created_at"], name="audit_customer_created"),
            models.Index(fields=["object_type", "object_id"], name="audit_object"),
        ]

    def __str__(self) -> str:
        return f"{self.get_action_display()} {self.object_type}:{self.object_id} by {self.actor or self.partner}"


class PartnerEventType(models.TextChoices):
    """What a partner's webhook endpoint may subscribe to (DESIGN §11)."""

    TRANSACTION_CONFIRMED = "transaction.confirmed", "A partner's transaction confirmed"
    TRANSACTION_CANCELLED = "transaction.cancelled", "A partner's transaction reversed by staff"
    LINK_LINKED = "link.linked", "A userId linked to a customer"
    LINK_REMOVED = "link.removed", "A link removed"
    CHARGE_AUTHORIZED = "charge.authorized", "Card charge authorized"
    CHARGE_DECLINED = "charge.declined", "Card charge declined"
    CHARGE_CAPTURED = "charge.captured", "Card charge captured"
    CHARGE_REFUNDED = "charge.refunded", "Card charge voided or refunded"
    CHARGE_REVIEW = "charge.review", "Card charge needs staff review"


class PartnerEvent(models.Model):
    """The webhook outbox: one thing that happened to a partner's object, written in the same database transaction
    as the change (so a rolled-back change leaves no event, and a committed one always has its row).

    `event_id` is Standard Webhooks' `webhook-id`, the same on every delivery and replay. `data` is the object as
    the API shows it, as JSON text (jsonb would not keep the API's key order); empty when the database wrote the
    row itself (a payment, see webhooks/sql/), in which case the dispatcher renders it. `dispatched_at` is set once
    the webhooks app has fanned the event out to the partner's endpoints; the sweeper finds the rest.
    """

    event_id = models.CharField(max_length=40, unique=True)
    partner = models.ForeignKey(Partner, on_delete=models.PROTECT, related_name="events")
    type = models.CharField(max_length=40, choices=PartnerEventType.choices)
    data = models.TextField(blank=True, default="")
    subject = models.CharField(max_length=60, help_text="app_label.model:pk of the object the event is about.")
    created_at = models.DateTimeField(db_index=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["created_at"], condition=models.Q(dispatched_at__isnull=True), name="event_undispatched"),
            models.Index(fields=["partner", "-created_at"], name="event_partner_created"),
        ]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"
