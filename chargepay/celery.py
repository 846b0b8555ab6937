"""Celery application. Tasks arrive with the settlement work (gateways.tasks); the app is configured here.

core.celery_signals makes the worker and beat log JSON lines, carries the request id into tasks and counts task
outcomes; importing it connects its receivers in every process that loads this app.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chargepay.settings")

import core.celery_signals  # noqa: F401 (connects the receivers)

app = Celery("chargepay")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
