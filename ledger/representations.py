"""The &Charge API's rendering of a kilometer transaction, in one place: the API answers with it, and a webhook
event (recorded by the services, in the change's own database transaction) carries the same object. Services and
the API both import it from here, so services never import the API."""

from datetime import UTC, datetime

from .models import Transaction


def format_created(moment: datetime) -> str:
    """&Charge timestamps: UTC, milliseconds, `+0000` (e.g. 2019-04-23T08:07:48.788+0000)."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def format_address(service_data: dict) -> str:
    """`<STREET> <HOUSE_NUMBER>, <CITY>` with empty parts and their separators left out."""
    street = " ".join(part for part in (service_data.get("STREET", ""), service_data.get("HOUSE_NUMBER", "")) if part)
    return ", ".join(part for part in (street, service_data.get("CITY", "")) if part)


def _text(value) -> str | None:
    return None if value is None else str(value)


def transaction_representation(txn: Transaction) -> dict:
    """The &Charge Transaction of `txn` (annotated with `wallet_amount`), built directly: a DRF serializer
    deep-copies its fields on every use, which costs more than the rest of rendering a payment."""
    return {
        "transactionId": _text(txn.external_id),
        "partner": _text(txn.partner.name),
        "kilometer": None if txn.wallet_amount is None else int(txn.wallet_amount),
        "status": _text(txn.status),
        "created": format_created(txn.created_at),
        "type": _text(txn.kind),
        "address": format_address(txn.service_data),
    }
