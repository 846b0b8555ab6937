from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from .roles import roles_sync_after_migrate

        # After every migrate (and every flush, which tests do): the support and finance groups exist.
        post_migrate.connect(roles_sync_after_migrate, sender=self, dispatch_uid="accounts.roles_sync")
