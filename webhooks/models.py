"""Partner webhook endpoints, the deliveries of events to them, and every attempt (DESIGN §11)."""

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q


class WebhookEndpoint(models.Model):
    """A partner's URL and the event types it wants.

    The signing secrets (`whsec_<base64>`) are kept in the clear: signing needs them. After a rotation the previous
    secret signs too until `previous_secret_expires_at` (two signatures in the header). An endpoint the partner
    deleted stays as the history of its deliveries (`deleted_at`), disabled.
    """

    partner = models.ForeignKey("accounts.Partner", on_delete=models.PROTECT, related_name="webhook_endpoints")
    url = models.CharField(max_length=500)
    event_types = ArrayField(models.CharField(max_length=40))
    description = models.CharField(max_length=200, blank=True)
    contact_email = models.EmailField(blank=True, help_text="Told when the endpoint is disabled for failing.")
    secret = models.CharField(max_length=100)
    previous_secret = models.CharField(max_length=100, blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    enabled = models.BooleanField(default=True)
    disabled_reason = models.CharField(max_length=255, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    failing_since = models.DateTimeField(null=True, blank=True, help_text="First failure since the last success.")
    created_at = models.DateTimeField(auto_now_add=True)
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "webhook endpoint"
        indexes = [models.Index(fields=["partner"], condition=Q(enabled=True), name="webhook_endpoint_enabled")]

    def __str__(self) -> str:
        return f"{self.url} ({'enabled' if self.enabled else 'disabled'})"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed (retries exhausted, or the endpoint answered 410)"
    CANCELLED = "cancelled", "Cancelled (endpoint disabled or deleted)"


class WebhookDelivery(models.Model):
    """One event to one endpoint: the work row (the outbox of the delivery task). PENDING with `next_attempt_at`
    is due work; a worker claims it with a lease (`lease_until`), so a worker killed mid-attempt leaves a lease that
    expires and the sweeper sends it again (at least once; the `webhook-id` lets the receiver drop the duplicate).
    A staff replay is a new delivery of the same event (same `webhook-id`) naming who asked."""

    event = models.ForeignKey("accounts.PartnerEvent", on_delete=models.PROTECT, related_name="webhook_deliveries")
    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.PROTECT, related_name="deliveries")
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempt_count = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    replayed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    class Meta:
        verbose_name_plural = "webhook deliveries"
        constraints = [
            models.UniqueConstraint(
                fields=["event", "endpoint"], condition=Q(replayed_by__isnull=True), name="webhook_delivery_once"
            ),
        ]
        indexes = [models.Index(fields=["next_attempt_at"], condition=Q(status="pending"), name="webhook_delivery_due")]

    def __str__(self) -> str:
        return f"{self.event_id} → {self.endpoint_id} ({self.status})"


class WebhookAttempt(models.Model):
    """One HTTP request of a delivery and what came back (or why none did)."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempts")
    attempted_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    response_excerpt = models.TextField(blank=True)
    error = models.CharField(max_length=255, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True, help_text="When the next try was scheduled.")

    class Meta:
        ordering = ["attempted_at", "pk"]

    def __str__(self) -> str:
        return f"{self.attempted_at:%Y-%m-%d %H:%M:%S} {self.status_code or self.error}"
