"""The idempotency-key purge, scheduled by beat, and task outcomes counted through Celery's signals."""

from datetime import timedelta

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler

from chargepay.celery import app
from core import metrics
from core.models import IdempotencyRecord
from core.tasks import purge_idempotency_keys


def test_the_purge_deletes_expired_records_and_counts_its_run(service_account, settings):
    old = IdempotencyRecord.objects.create(client=service_account, key="old", request_fingerprint="0" * 64)
    IdempotencyRecord.objects.create(client=service_account, key="recent", request_fingerprint="1" * 64)
    IdempotencyRecord.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - timedelta(hours=settings.IDEMPOTENCY_RETENTION_HOURS, minutes=1)
    )
    runs = metrics.CELERY_TASKS.labels("core.purge_idempotency_keys", "success")
    before = runs._value.get()

    result = purge_idempotency_keys.apply()  # through Celery's tracer, so its signals fire

    assert result.get() == {"deleted": 1}
    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["recent"]
    assert runs._value.get() == before + 1


@pytest.mark.django_db(transaction=True)  # the scheduler closes the connection it used
def test_beat_runs_the_purge_every_night():
    DatabaseScheduler(app=app)

    task = PeriodicTask.objects.get(name="purge-idempotency-keys")
    assert task.task == "core.purge_idempotency_keys"
    assert (task.crontab.hour, task.crontab.minute) == ("3", "30")
    assert "core.purge_idempotency_keys" in app.tasks
