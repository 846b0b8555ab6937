"""How money reads in the back-office: one helper for every list, page, timeline, export and chart.

Amounts are integers in minor units (cents, kilometers); they become text only here. Cents read as dollars
(`$140.00`, `-$3.05`), kilometers as `1,250 km`. `signed=True` shows a plus on a credit (timelines).
"""

CENT_UNITS = frozenset({"USD", "USD_CENTS", "cents", "¢"})
KM_UNITS = frozenset({"KM", "km"})


def _sign(value: int, signed: bool) -> str:
    if value < 0:
        return "-"
    return "+" if signed and value > 0 else ""


def dollars(cents: int | None, *, signed: bool = False) -> str:
    """`14000` → `$140.00`; None → "" (no amount)."""
    if cents is None:
        return ""
    whole, part = divmod(abs(int(cents)), 100)
    return f"{_sign(int(cents), signed)}${whole:,}.{part:02d}"


def kilometers(km: int | None, *, signed: bool = False) -> str:
    """`1250` → `1,250 km`; None → ""."""
    if km is None:
        return ""
    return f"{_sign(int(km), signed)}{abs(int(km)):,} km"


def amount(value: int | None, unit: str, *, signed: bool = False) -> str:
    """An amount in its unit (the ledger's `KM` / `USD`, or `km` / `cents`); an unknown unit is shown after the number."""
    if unit in CENT_UNITS:
        return dollars(value, signed=signed)
    if unit in KM_UNITS:
        return kilometers(value, signed=signed)
    return "" if value is None else f"{value} {unit}".strip()
