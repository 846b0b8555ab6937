from django.apps import AppConfig


class BackofficeConfig(AppConfig):
    """What staff use across apps: the customer page and its timeline, the roles, the demo data."""

    name = "backoffice"
