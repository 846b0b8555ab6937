"""Schemathesis over both served OpenAPI documents, every check on (response-schema conformance included), with
valid credentials, against a real HTTP server with the real gateway sandox behind it: zero failures.

Run with `st run` in a subprocess (its own report, its exit status); the settings are in the generated
schemathesis.toml below. Positive data may still be refused where a rule spans fields or needs the database
(SESSION_END before SESSION_START, a real calendar date, an unlinked user, a decline), so those statuses count as
answers to valid data; schema-violating data must be refused with a 4xx.
"""

import subprocess
import sys
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from accounts import services as accounts_services
from accounts.tests.factories import ServiceAccountFactory
from accounts.tests.helpers import login
from ledger.tests.helpers import grant
from wallet.tests.helpers import allow_comps

DEMO_HOP_PASSWORD = "demo-hop-password-2026"
MAX_EXAMPLES = 25  # per operation and phase: enough to reach every rule, about a minute for both documents

CONFIG = """
max-failures = 20
continue-on-failure = true
request-timeout = 20
seed = 20261130

[generation]
max-examples = {max_examples}
allow-x00 = true

[phases.stateful]
enabled = false

[checks.positive_data_acceptance]
expected-statuses = {positive}

[checks.negative_data_rejection]
expected-statuses = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "429"]

[parameters]
{parameters}

{auth}
"""


def run_schemathesis(tmp_path: Path, base_url: str, document: str, *, positive: list[str], parameters: str, auth: str):
    config = tmp_path / f"{document}.toml"
    config.write_text(
        CONFIG.format(max_examples=MAX_EXAMPLES, positive=positive, parameters=parameters, auth=auth), encoding="utf-8"
    )
    command = [
        str(Path(sys.executable).with_name("st")),
        "--no-color",
        "--config-file",
        str(config),
        "run",
        f"{base_url}/api/schema/{document}/?format=json",
        "--url",
        base_url,
        "--checks",
        "all",
    ]
    # In the temporary folder: schemathesis keeps its crash cache in the working directory.
    finished = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False, cwd=tmp_path)
    report = finished.stdout + finished.stderr
    print(report)  # the run's summary, shown by pytest on a failure or with -s
    return finished.returncode, report


@pytest.fixture
def live(http_server, gateway_settings):
    gateway_settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return http_server


@pytest.mark.django_db(transaction=True)
def test_andcharge_schema_fuzzed_finds_nothing(live, tmp_path, api_key, funded_link):
    grant(funded_link.customer, 1_000_000)  # payments generated as valid find kilometers to pay with
    key, secret = api_key
    tokens = login(APIClient(), key.access_key_id, secret).json()
    auth = f"""
[auth.openapi.partnerAccessToken]
bearer = "{tokens["accessToken"]}"

[auth.openapi.partnerRefreshToken]
bearer = "{tokens["refreshToken"]}"

[auth.openapi.partnerApiKey]
username = "{key.access_key_id}"
password = "{secret}"
"""
    status, report = run_schemathesis(
        tmp_path,
        live,
        "andcharge",
        positive=["2xx", "400", "401", "403", "404", "409", "422", "429"],
        parameters='"path.partner_id" = "PCS-001"\n"path.user_id" = "pcsUserId001"',
        auth=auth,
    )

    assert status == 0, report


@pytest.mark.django_db(transaction=True)
def test_hop_schema_fuzzed_finds_nothing(live, tmp_path, partner, hop_customer):
    # The log-in example's credentials (make run's demo service account), so the examples phase logs in.
    account = ServiceAccountFactory(partner=partner, email="hop.service@chargepay.example", password=DEMO_HOP_PASSWORD)
    allow_comps(account)  # so the comps route is exercised, not only its 401
    accounts_services.rfid_token_add(customer=hop_customer, token="DEMO-RFID-0001")
    _, jwt = accounts_services.service_account_token(email=account.email, password=DEMO_HOP_PASSWORD)
    auth = f"""
[auth.openapi.hopServiceToken]
bearer = "{jwt}"
"""
    status, report = run_schemathesis(
        tmp_path,
        live,
        "hop",
        # 429: the fuzzer's wrong passwords lock its own log-in out, as they should. 400: a schema-valid purchase past
        # the customer's credit limit (10008).
        positive=["2xx", "400", "401", "404", "406", "409", "422", "429"],
        parameters=f'"path.user_id" = "{hop_customer.pk}"\n"path.session_token" = "DEMO-RFID-0001"',
        auth=auth,
    )

    assert status == 0, report
