from django.apps import AppConfig


class StatementsConfig(AppConfig):
    """Monthly partner statements: the CO2 offsets a partner paid itself, billed and closed month by month."""

    name = "statements"
