"""Shared API plumbing that needs a table: Idempotency-Key records (HOP API)."""

from django.conf import settings
from django.db import models


class IdempotencyStatus(models.TextChoices):
    IN_PROGRESS = "in_progress", "In progress"
    COMPLETED = "completed", "Completed"


class IdempotencyRecord(models.Model):
    """The first request made with an `Idempotency-Key` by one API client, and the answer it got.

    UNIQUE(client, key): of concurrent requests with one key exactly one inserts the row and runs;
    the others see it IN_PROGRESS (409) or, once COMPLETED, get the stored answer replayed. An IN_PROGRESS
    record whose lease ran out is taken over by the next identical request (see core.idempotency).
    Kept at least IDEMPOTENCY_RETENTION_HOURS (manage.py purge_idempotency_keys deletes older ones).
    """

    client = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    request_fingerprint = models.CharField(max_length=64, help_text="SHA-256 of method, path and canonical JSON body.")
    status = models.CharField(max_length=20, choices=IdempotencyStatus.choices, default=IdempotencyStatus.IN_PROGRESS)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    # The answer as JSON text: PostgreSQL's jsonb would not keep key order, and a replay must be the same answer.
    response_body = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    # While IN_PROGRESS: the request that holds the key may run until then (a little longer than the longest
    # request). Past it the holder is presumed dead and a retry with the same request takes the key over.
    lease_until = models.DateTimeField(null=True, blank=True)
    takeovers = models.PositiveIntegerField(default=0)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["client", "key"], name="idempotency_key_unique_per_client")]

    def __str__(self) -> str:
        return f"{self.key} ({self.status})"
