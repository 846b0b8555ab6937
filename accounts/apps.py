from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.contrib.admin.models import LogEntry
        from django.db.models.signals import post_save

        # Standard admin edits (users, groups, beat schedules) are staff actions too: each gets an audit record.
        post_save.connect(_audit_admin_edit, sender=LogEntry, dispatch_uid="accounts.audit_admin_edit")


def _audit_admin_edit(sender, instance, created, **kwargs):
    from .audit import audit_admin_edit

    if created:
        audit_admin_edit(log_entry=instance)
