"""How many kilometers offset the CO2 of a charging session (DESIGN §3.6). Pure arithmetic on Decimals: no floats,
no database (the caller reads the grid intensity, ledger.selectors.grid_intensity_for).

    energy (kWh)  = CONSUMED_ENERGY_KWH, or when it is empty
                    MAX_CHARGING_POWER (kW) * session hours * CO2_ESTIMATE_LOAD_FACTOR
    CO2 (g)       = energy * the country's grid intensity (gCO2e/kWh)
    kilometers    = ceil(CO2 / 1000 * CO2_KM_PER_KG), at least 1

Energy and CO2 are rounded half-up to 6 decimals (what Co2Computation stores), so the stored figures give the
stored kilometers again; the session's hours are exact to the microsecond.
"""

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

SIX_PLACES = Decimal("0.000001")
MICROSECONDS_PER_HOUR = Decimal(3_600_000_000)


@dataclass(frozen=True)
class GridFactor:
    """The grid intensity row an offset used (frozen into its Co2Computation)."""

    country: str
    grams_per_kwh: Decimal
    version: int
    source: str
    year: int


@dataclass(frozen=True)
class Co2Estimate:
    energy_kwh: Decimal
    energy_estimated: bool
    max_charging_power_kw: int
    session_hours: Decimal
    load_factor: Decimal
    km_per_kg: Decimal
    factor: GridFactor
    co2_grams: Decimal
    kilometer: int


def session_hours(start, end) -> Decimal:
    """The session's length in hours (datetimes, end ≥ start), rounded to 6 decimals."""
    delta = end - start
    microseconds = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return (Decimal(microseconds) / MICROSECONDS_PER_HOUR).quantize(SIX_PLACES, ROUND_HALF_UP)


def offset_estimate(
    *,
    consumed_energy_kwh: str,
    max_charging_power_kw: int,
    hours: Decimal,
    factor: GridFactor,
    load_factor: Decimal,
    km_per_kg: Decimal,
) -> Co2Estimate:
    """The kilometers that offset a session; `consumed_energy_kwh` is the request's string (may be empty)."""
    estimated = consumed_energy_kwh == ""
    energy = Decimal(max_charging_power_kw) * hours * load_factor if estimated else Decimal(consumed_energy_kwh)
    energy = energy.quantize(SIX_PLACES, ROUND_HALF_UP)
    co2_grams = (energy * factor.grams_per_kwh).quantize(SIX_PLACES, ROUND_HALF_UP)
    kilometer = max(1, math.ceil(co2_grams * km_per_kg / 1000))
    return Co2Estimate(
        energy_kwh=energy,
        energy_estimated=estimated,
        max_charging_power_kw=max_charging_power_kw,
        session_hours=hours,
        load_factor=load_factor,
        km_per_kg=km_per_kg,
        factor=factor,
        co2_grams=co2_grams,
        kilometer=kilometer,
    )
