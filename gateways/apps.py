from django.apps import AppConfig


class GatewaysConfig(AppConfig):
    """Cards, the BridgeComm client and sandbox, settlement and the HOP API."""

    name = "gateways"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import tasks  # noqa: F401 (registers the Celery tasks in every process, for eager runs too)
