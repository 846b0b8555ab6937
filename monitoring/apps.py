from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    """What operators watch: `/health/live`, `/health/ready` and `/metrics` (DESIGN §12). It reads every app's
    state (charges, findings, the broker) and writes nothing."""

    name = "monitoring"
