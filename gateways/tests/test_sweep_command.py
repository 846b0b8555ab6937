"""`manage.py sweep_card_charges`: the sweeper by hand, and `make run`'s sweeper (--every, eager tasks, no beat)."""

import json
from datetime import timedelta
from io import StringIO

from django.core.management import call_command
from django.utils import timezone

from gateways.models import CardCharge, ChargeStatus
from gateways.tests.factories import CardChargeFactory


def sweep(*args) -> dict:
    out = StringIO()
    call_command("sweep_card_charges", "--json", *args, stdout=out)
    return json.loads(out.getvalue())


def test_make_runs_sweeper_captures_an_authorized_charge_whose_capture_never_started(
    gateway_settings, service_account, hop_customer
):
    # The request's capture was never sent (its after-commit enqueue is not run here): the charge waits.
    charge = CardChargeFactory(requested_by=service_account, customer=hop_customer)
    assert charge.status == ChargeStatus.AUTHORIZED
    CardCharge.objects.filter(pk=charge.pk).update(work_enqueued_at=timezone.now() - timedelta(minutes=5))
    gateway_settings.CELERY_TASK_ALWAYS_EAGER = True  # make run: no Redis, tasks run in the sweeper's process

    assert sweep("--every", "0.01", "--rounds", "2") == {
        "rounds": 2,
        "capture": 1,
        "resolve": 0,
        "refund": 0,
        "resolve_credit": 0,
    }

    charge.refresh_from_db()
    assert charge.status == ChargeStatus.CAPTURED
    assert sweep() == {"capture": 0, "resolve": 0, "refund": 0, "resolve_credit": 0}  # nothing left
