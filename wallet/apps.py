from django.apps import AppConfig


class WalletConfig(AppConfig):
    """Spending the cents wallet: purchases, comps, the Drink Command tap system's line items, and the wallet's
    HOP reads (the customer, the history)."""

    name = "wallet"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from . import tasks  # noqa: F401 (registers the Celery tasks in every process, for eager runs too)
