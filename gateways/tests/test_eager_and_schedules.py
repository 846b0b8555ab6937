"""`make run` mode (eager Celery, no Redis) and the schedules defined in code."""

import pytest
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import DatabaseScheduler

from chargepay.celery import app
from gateways import services
from gateways.models import ChargeStatus


def test_eager_mode_captures_right_after_commit(
    gateway_settings, service_account, hop_customer, django_capture_on_commit_callbacks
):
    gateway_settings.CELERY_TASK_ALWAYS_EAGER = True

    with django_capture_on_commit_callbacks(execute=True):
        charge = services.card_charge_create(requested_by=service_account, customer=hop_customer, amount_cents=500)

    charge.refresh_from_db()
    assert charge.status == ChargeStatus.CAPTURED


@pytest.mark.django_db(transaction=True)  # the scheduler closes the connection it used
def test_beat_schedules_from_code_land_in_the_staff_editable_tables():
    DatabaseScheduler(app=app)

    tasks = {t.name: t for t in PeriodicTask.objects.all()}
    assert tasks["sweep-card-charges"].task == "gateways.sweep_card_charges"
    assert tasks["sweep-card-charges"].interval.every == 60
    assert tasks["close-settlement-batch"].task == "gateways.close_settlement_batch"
    assert (tasks["close-settlement-batch"].crontab.hour, tasks["close-settlement-batch"].crontab.minute) == ("2", "0")
