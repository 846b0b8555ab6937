"""Celery application. Tasks arrive with the settlement work (gateways.tasks); the app is configured here."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chargepay.settings")

app = Celery("chargepay")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
