from django.apps import AppConfig


class GatewaysConfig(AppConfig):
    """Cards, the BridgeComm client and sandbox, settlement and the HOP API (built by the HOP issue)."""

    name = "gateways"
    default_auto_field = "django.db.models.BigAutoField"
