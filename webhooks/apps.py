from django.apps import AppConfig


class WebhooksConfig(AppConfig):
    """Partner webhooks (Standard Webhooks 1.0): endpoints, the delivery of the outbox's events, attempts, replay.

    Above the apps whose changes it reports: they write accounts.PartnerEvent rows (accounts.events) and ask, through
    the check registered here, whether anyone wants them."""

    name = "webhooks"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from accounts import events

        from . import selectors, tasks  # noqa: F401 (tasks: registered in every process, for eager runs too)

        events.subscription_check_register(selectors.partner_subscribed)
