from django.apps import AppConfig


class CoreConfig(AppConfig):
    """The ground every app stands on: errors, the two API envelopes, idempotency, request ids and logging.
    It imports no app of the product."""

    name = "core"
