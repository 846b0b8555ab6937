from django.apps import AppConfig
from django.db.models.signals import post_migrate


class BackofficeConfig(AppConfig):
    """What staff use across apps: the customer page and its timeline, the roles, the demo data."""

    name = "backoffice"

    def ready(self):
        from core.api.refusals import refusal_keeper_register

        from .roles import roles_sync_after_migrate
        from .services import refused_attempt_keep

        # After every migrate (and every flush, which tests do): the support and finance groups exist.
        post_migrate.connect(roles_sync_after_migrate, sender=self, dispatch_uid="backoffice.roles_sync")
        # Both APIs hand every refusal after authentication to this keeper (core.api.refusals).
        refusal_keeper_register(refused_attempt_keep)
