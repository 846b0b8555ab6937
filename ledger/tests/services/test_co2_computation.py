"""Worked examples of the CO2 offset's kilometers, one per branch of the formula (README "CO2 offsets"), through the
services and the database: the figures each transaction stores, and that a factor edited later changes no old one."""

import copy
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse

from accounts.models import AuditAction
from accounts.tests.helpers import assert_audited
from core.errors import InvalidParameter
from ledger import services
from ledger.models import Co2Computation, GridIntensity
from ledger.tests.helpers import CO2_REQUEST, grid_intensities_seed, wallet_of

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _grid_intensities(db):
    grid_intensities_seed()


def offset(link, external_id: str, kilometer=None, **service_data) -> Co2Computation:
    data = copy.deepcopy(CO2_REQUEST["serviceSpecificData"])
    data.update(service_data)
    txn = services.co2_offset_pay(
        partner_code=link.partner.code,
        access_key_id=None,
        external_user_id=link.external_user_id,
        external_id=external_id,
        kilometer=kilometer,
        service_data=data,
    )
    return Co2Computation.objects.get(transaction_id=txn.pk)


def figures(computation: Co2Computation) -> dict:
    return {
        "energy_kwh": computation.energy_kwh,
        "energy_estimated": computation.energy_estimated,
        "factor_country": computation.factor_country,
        "grams_per_kwh": computation.grams_per_kwh,
        "factor_version": computation.factor_version,
        "co2_grams": computation.co2_grams,
        "kilometer_computed": computation.kilometer_computed,
    }


def test_energy_sent(funded_link):
    # 12.234 kWh x 380.95 g/kWh (DE) = 4660.5423 g = 4.66 kg -> ceil -> 5 km
    computation = offset(funded_link, "sent", CONSUMED_ENERGY_KWH="12.234")

    assert figures(computation) == {
        "energy_kwh": Decimal("12.234"),
        "energy_estimated": False,
        "factor_country": "DE",
        "grams_per_kwh": Decimal("380.95"),
        "factor_version": 1,
        "co2_grams": Decimal("4660.5423"),
        "kilometer_computed": 5,
    }
    assert wallet_of(funded_link.customer).balance == 95


def test_energy_estimated_from_power_and_duration(funded_link):
    # 12:12:12.123 -> 15:48:12.888 = 12960.765 s = 3.600213 h; 22 kW x 3.600213 h x 0.6 = 47.522812 kWh;
    # x 380.95 g/kWh = 18103.815231 g -> 19 km
    computation = offset(funded_link, "estimated")

    assert figures(computation) == {
        "energy_kwh": Decimal("47.522812"),
        "energy_estimated": True,
        "factor_country": "DE",
        "grams_per_kwh": Decimal("380.95"),
        "factor_version": 1,
        "co2_grams": Decimal("18103.815231"),
        "kilometer_computed": 19,
    }
    assert (computation.max_charging_power_kw, computation.session_hours, computation.load_factor) == (
        22,
        Decimal("3.600213"),
        Decimal("0.6"),
    )


def test_unknown_country_takes_the_default(funded_link):
    # The US has no row: 12.234 kWh x 485.99 g/kWh (the world default) = 5945.60166 g -> 6 km
    computation = offset(funded_link, "us", CONSUMED_ENERGY_KWH="12.234", COUNTRY="USA")

    assert (computation.country, computation.factor_country, computation.co2_grams, computation.kilometer_computed) == (
        "USA",
        "*",
        Decimal("5945.60166"),
        6,
    )


def test_an_alpha_3_country_finds_its_row(funded_link):
    computation = offset(funded_link, "deu", CONSUMED_ENERGY_KWH="12.234", COUNTRY="DEU")

    assert (computation.factor_country, computation.kilometer_computed) == ("DE", 5)


def test_at_least_one_kilometer(funded_link):
    # 0.001 kWh x 40.70 g/kWh (SE) = 0.0407 g
    computation = offset(funded_link, "tiny", CONSUMED_ENERGY_KWH="0.001", COUNTRY="SE")

    assert (computation.co2_grams, computation.kilometer_computed) == (Decimal("0.0407"), 1)


def test_kilometers_per_kg_is_a_setting(funded_link, settings):
    settings.CO2_KM_PER_KG = Decimal("2.5")

    computation = offset(funded_link, "rate", CONSUMED_ENERGY_KWH="12.234")  # 4.6605423 kg x 2.5 = 11.65 -> 12

    assert (computation.km_per_kg, computation.kilometer_computed) == (Decimal("2.5"), 12)


def test_a_computed_figure_over_the_maximum_is_refused(funded_link, settings):
    settings.KM_MAX_PER_TRANSACTION = 4

    with pytest.raises(InvalidParameter) as refused:
        offset(funded_link, "big", CONSUMED_ENERGY_KWH="12.234")

    assert refused.value.values == [5, "kilometer"]
    assert not Co2Computation.objects.exists()


def test_a_factor_edited_later_does_not_change_old_transactions(funded_link, finance_client):
    before = offset(funded_link, "before", CONSUMED_ENERGY_KWH="12.234")
    germany = GridIntensity.objects.get(country="DE")

    response = finance_client.post(
        reverse("admin:ledger_gridintensity_change", args=[germany.pk]),
        {"grams_per_kwh": "500.00", "source": "finance's own figure", "year": "2025"},
    )

    assert response.status_code == 302, response.content
    germany.refresh_from_db()
    assert (germany.grams_per_kwh, germany.version) == (Decimal("500.00"), 2)
    assert_audited(action=AuditAction.ADMIN_EDIT, object_type="ledger.gridintensity", object_id=str(germany.pk))
    after = offset(funded_link, "after", CONSUMED_ENERGY_KWH="12.234")
    before.refresh_from_db()
    assert (before.grams_per_kwh, before.factor_version, before.factor_source, before.kilometer_computed) == (
        Decimal("380.95"),
        1,
        "Ember, Yearly Electricity Data (life-cycle gCO2e/kWh)",
        5,
    )
    # 12.234 kWh x 500 g/kWh = 6117 g -> 7 km
    assert (after.grams_per_kwh, after.factor_version, after.factor_source, after.kilometer_computed) == (
        Decimal("500.00"),
        2,
        "finance's own figure",
        7,
    )


def test_saving_an_unchanged_factor_keeps_its_version(finance_client):
    germany = GridIntensity.objects.get(country="DE")

    finance_client.post(
        reverse("admin:ledger_gridintensity_change", args=[germany.pk]),
        {"grams_per_kwh": str(germany.grams_per_kwh), "source": germany.source, "year": str(germany.year)},
    )

    germany.refresh_from_db()
    assert germany.version == 1


def test_support_may_not_edit_factors(support_client):
    germany = GridIntensity.objects.get(country="DE")

    response = support_client.post(
        reverse("admin:ledger_gridintensity_change", args=[germany.pk]),
        {"grams_per_kwh": "1.00", "source": "x", "year": "2025"},
    )

    assert response.status_code == 403
    germany.refresh_from_db()
    assert (germany.grams_per_kwh, germany.version) == (Decimal("380.95"), 1)


def test_the_computation_is_shown_on_the_transaction(funded_link, support_client):
    computation = offset(funded_link, "shown")

    response = support_client.get(reverse("admin:ledger_transaction_change", args=[computation.transaction_id]))

    assert response.status_code == 200
    page = response.content.decode()
    assert "CO2 computation" in page and "47.522812" in page and "18103.815231" in page and "380.95" in page


def test_every_eu_country_is_seeded_with_its_source_and_year():
    eu27 = {
        "AT",
        "BE",
        "BG",
        "CY",
        "CZ",
        "DE",
        "DK",
        "EE",
        "ES",
        "FI",
        "FR",
        "GR",
        "HR",
        "HU",
        "IE",
        "IT",
        "LT",
        "LU",
        "LV",
        "MT",
        "NL",
        "PL",
        "PT",
        "RO",
        "SE",
        "SI",
        "SK",
    }
    rows = GridIntensity.objects.exclude(country="*")

    assert set(rows.values_list("country", flat=True)) == eu27
    assert all(row.year == 2023 and row.source.startswith("Ember") for row in rows)
    assert GridIntensity.objects.get(country="*").grams_per_kwh == Decimal("485.99")


def test_a_computation_is_never_changed_or_deleted(funded_link):
    computation = offset(funded_link, "kept")

    with pytest.raises(IntegrityError), transaction.atomic():
        Co2Computation.objects.filter(pk=computation.pk).update(kilometer_computed=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        Co2Computation.objects.filter(pk=computation.pk).delete()

    computation.refresh_from_db()
    assert computation.kilometer_computed == 19
