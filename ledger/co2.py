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

# The grid intensities the table starts with (migration 0014): the life-cycle greenhouse-gas intensity of electricity
# generation, gCO2e/kWh, in 2023, from Ember's Yearly Electricity Data (https://ember-energy.org/data/
# yearly-electricity-data/, CC BY 4.0): each EU-27 country, and Ember's world average as the default ("*") for
# every other country (higher than the EU's, so an unknown grid is not under-offset).
_EMBER = "Ember, Yearly Electricity Data (life-cycle gCO2e/kWh)"
_EU27_2023 = {
    "AT": "110.81",
    "BE": "138.11",
    "BG": "335.33",
    "CY": "534.32",
    "CZ": "449.72",
    "DE": "380.95",
    "DK": "151.65",
    "EE": "416.67",
    "ES": "174.05",
    "FI": "79.16",
    "FR": "56.04",
    "GR": "336.57",
    "HR": "204.96",
    "HU": "204.19",
    "IE": "290.81",
    "IT": "330.72",
    "LT": "160.07",
    "LU": "105.26",
    "LV": "123.20",
    "MT": "459.14",
    "NL": "267.62",
    "PL": "661.93",
    "PT": "165.55",
    "RO": "240.58",
    "SE": "40.70",
    "SI": "231.28",
    "SK": "116.77",
}
GRID_INTENSITY_SEED = {
    **{country: {"grams_per_kwh": Decimal(grams), "source": _EMBER, "year": 2023} for country, grams in _EU27_2023.items()},
    "*": {"grams_per_kwh": Decimal("485.99"), "source": f"{_EMBER}, world average", "year": 2023},
}
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
