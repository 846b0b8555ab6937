"""Staff roles: the `support` and `finance` groups and what they may do, kept in code.

`roles_sync` makes the groups hold exactly these permissions. It runs after every `migrate` (post_migrate,
so a fresh or flushed database has the groups) and from `manage.py sync_roles`.

- support: read everything in the back-office, reverse transactions up to the support limit
  (settings.SUPPORT_REVERSAL_LIMIT), void/refund card charges, send a customer a password-reset link, replay
  webhook deliveries and enable or disable a partner's webhook endpoint.
- finance: everything support can, plus reversals of any amount, kilometer grants and adjustments, capture
  retries, reconciliation (resolve findings, upload gateway batch files), the beat schedules and the grid
  intensities that price CO2 offsets.
A staff user in neither group can log in to the admin and change nothing. Partner credentials (API keys)
are managed by superusers (or anyone explicitly given `accounts.add_partnerapikey`/`change_partnerapikey`).
"""

from django.apps import apps as global_apps
from django.contrib.auth.management import create_permissions
from django.db import transaction

SUPPORT = "support"
FINANCE = "finance"

# Read everything: the view permission of every model of these apps.
_READ_APPS = ("accounts", "ledger", "statements", "gateways", "wallet", "reconciliation", "webhooks", "backoffice")
SUPPORT_PERMISSIONS = (
    "ledger.reverse_transaction",
    "gateways.refund_cardcharge",
    "accounts.send_password_reset_customer",
    "webhooks.change_webhookendpoint",  # replay deliveries, enable or disable an endpoint
)
FINANCE_PERMISSIONS = (
    *SUPPORT_PERMISSIONS,
    "ledger.reverse_any_transaction",
    "ledger.adjust_kilometers",
    "ledger.set_credit_limit",
    "wallet.resolve_lineitem",
    "gateways.retry_capture_cardcharge",
    "reconciliation.change_reconciliationfinding",
    "gateways.add_gatewaybatchfile",
    "ledger.add_gridintensity",
    "ledger.change_gridintensity",
    "django_celery_beat.view_periodictask",
    "django_celery_beat.change_periodictask",
    "django_celery_beat.view_crontabschedule",
    "django_celery_beat.view_intervalschedule",
)


def _permissions(apps, names: tuple[str, ...]):
    Permission = apps.get_model("auth", "Permission")
    wanted = [name.split(".", 1) for name in names]
    found = {
        (p.content_type.app_label, p.codename): p
        for p in Permission.objects.select_related("content_type").filter(content_type__app_label__in={app for app, _ in wanted})
    }
    missing = [f"{app}.{code}" for app, code in wanted if (app, code) not in found]
    if missing:
        raise LookupError(f"permissions not found: {missing}")
    return [found[(app, code)] for app, code in wanted]


def roles_sync(apps=global_apps) -> dict[str, int]:
    """Create the groups and give each exactly its permissions. Idempotent. Returns permissions per group."""
    for app_config in global_apps.get_app_configs():  # the real configs: migration state has no models modules
        create_permissions(app_config, apps=apps, verbosity=0)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    read = list(Permission.objects.filter(content_type__app_label__in=_READ_APPS, codename__startswith="view_"))
    result = {}
    with transaction.atomic():
        for name, extra in ((SUPPORT, SUPPORT_PERMISSIONS), (FINANCE, FINANCE_PERMISSIONS)):
            group, _ = Group.objects.get_or_create(name=name)
            permissions = {p.pk: p for p in [*read, *_permissions(apps, extra)]}
            group.permissions.set(permissions.values())
            result[name] = len(permissions)
    return result


def roles_sync_after_migrate(sender, **kwargs) -> None:
    roles_sync(kwargs.get("apps") or global_apps)
