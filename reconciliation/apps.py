from django.apps import AppConfig


class ReconciliationConfig(AppConfig):
    """Runs and findings: the ledger checked against itself and against the card gateway's settled batches."""

    name = "reconciliation"
