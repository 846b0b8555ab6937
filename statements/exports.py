"""A statement as CSV (the admin's download and `partner_statement --csv`) and as JSON (`--json`)."""

import csv
import io

from ledger.representations import format_created

from .selectors import Statement

CSV_HEADER = ["transactionId", "transactionReference", "type", "created", "EVSE_ID", "COUNTRY", "kilometer", "late"]


def statement_csv(statement: Statement) -> str:
    """One row per item, oldest first, then a TOTAL row (the number of items and the kilometers billed)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([f"# partner {statement.partner.code}", f"month {statement.month:%Y-%m}", statement.status])
    writer.writerow(CSV_HEADER)
    for item in statement.items:
        writer.writerow(
            [
                item.transaction_id_external,
                item.reference,
                item.kind,
                format_created(item.created_at),
                item.evse_id,
                item.country,
                item.kilometer,
                "yes" if item.late else "no",
            ]
        )
    writer.writerow(["TOTAL", statement.offsets, "", "", "", "", statement.kilometer_total, ""])
    return out.getvalue()


def statement_json(statement: Statement) -> dict:
    return {
        "partner": statement.partner.code,
        "month": f"{statement.month:%Y-%m}",
        "status": statement.status,
        "closedAt": format_created(statement.closed_at) if statement.closed_at else None,
        "offsets": statement.offsets,
        "kilometerTotal": statement.kilometer_total,
        "items": [
            {
                "transactionId": item.transaction_id_external,
                "transactionReference": item.reference,
                "type": item.kind,
                "created": format_created(item.created_at),
                "EVSE_ID": item.evse_id,
                "COUNTRY": item.country,
                "kilometer": item.kilometer,
                "late": item.late,
            }
            for item in statement.items
        ],
    }
