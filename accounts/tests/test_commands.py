"""The operations commands: named options, --json output, errors as CommandError, effects through services."""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.test import APIClient

from accounts.models import Partner, PartnerApiKey, PartnerLink
from accounts.tests.helpers import bearer, hop_login, login
from ledger.models import Transaction, TransactionKind
from ledger.tests.helpers import wallet_of


def run(*args) -> dict:
    out = StringIO()
    call_command(*args, "--json", stdout=out)
    return json.loads(out.getvalue())


def test_operator_builds_a_working_partner_from_the_command_line(db):
    partner = run("create_partner", "--code", "PCS-001", "--name", "MSP Partner")
    key = run("create_api_key", "--partner", "PCS-001")
    customer = run("create_customer", "--email", "driver@example.com")
    link = run("link_customer", "--partner", "PCS-001", "--user-id", "pcsUserId001", "--customer", str(customer["id"]))
    granted = run("grant_kilometers", "--customer", str(customer["id"]), "--km", "100", "--reason", "welcome")

    assert partner["code"] == "PCS-001" and partner["name"] == "MSP Partner"
    assert set(key) == {"partner", "accessKeyId", "secretAccessKey"}
    stored = PartnerApiKey.objects.get(access_key_id=key["accessKeyId"])
    assert key["secretAccessKey"] not in stored.secret_digest  # only a digest is stored
    assert link["status"] == "LINKED"
    assert granted["kmBalance"] == 100
    assert Transaction.objects.get(pk=granted["transaction"]).kind == TransactionKind.KM_GRANT
    assert login(APIClient(), key["accessKeyId"], key["secretAccessKey"]).status_code == 200


def test_revoked_key_cannot_log_in(db):
    run("create_partner", "--code", "PCS-001", "--name", "MSP Partner")
    key = run("create_api_key", "--partner", "PCS-001")

    revoked = run("revoke_api_key", "--access-key-id", key["accessKeyId"])

    assert revoked["revokedAt"]
    assert login(APIClient(), key["accessKeyId"], key["secretAccessKey"]).status_code == 401


@pytest.mark.parametrize(
    "args",
    [
        ["create_partner", "--code", "", "--name", "x"],
        ["create_api_key", "--partner", "NOPE"],
        ["link_customer", "--partner", "PCS-001", "--user-id", "u", "--customer", "999999"],
        ["grant_kilometers", "--customer", "999999", "--km", "5", "--reason", "x"],
        ["revoke_api_key", "--access-key-id", "AKNOPE"],
    ],
)
def test_bad_input_is_a_command_error(db, args):
    with pytest.raises(CommandError):
        call_command(*args, stdout=StringIO())


def test_grant_refuses_non_positive_kilometers(db):
    customer = run("create_customer", "--email", "driver@example.com")

    with pytest.raises(CommandError, match="INVALID_PARAMETER"):
        call_command("grant_kilometers", "--customer", str(customer["id"]), "--km", "0", "--reason", "x", stdout=StringIO())

    assert not Transaction.objects.exists()


def test_duplicate_partner_code_and_link_are_refused(db):
    run("create_partner", "--code", "PCS-001", "--name", "MSP Partner")
    customer = run("create_customer", "--email", "driver@example.com")
    run("link_customer", "--partner", "PCS-001", "--user-id", "u1", "--customer", str(customer["id"]))

    with pytest.raises(CommandError):
        call_command("create_partner", "--code", "PCS-001", "--name", "Again", stdout=StringIO())
    with pytest.raises(CommandError):
        call_command(
            "link_customer", "--partner", "PCS-001", "--user-id", "u1", "--customer", str(customer["id"]), stdout=StringIO()
        )
    with pytest.raises(CommandError):
        call_command("create_customer", "--email", "DRIVER@example.com", stdout=StringIO())
    assert PartnerLink.objects.count() == 1


def test_seed_demo_is_idempotent_and_gives_working_credentials(db, settings):
    settings.DEBUG = True

    first = run("seed_demo")
    second = run("seed_demo")

    assert first == second
    assert first["customer"]["kmBalance"] == 100
    assert first["partner"] == {"id": first["partner"]["id"], "code": "PCS-001", "name": "MSP Partner"}
    token = login(APIClient(), first["apiKey"]["accessKeyId"], first["apiKey"]["secretAccessKey"]).json()["accessToken"]
    client = bearer(token)
    assert client.get("/v1/partners/PCS-001/accounts/pcsUserId001").json()["kmAvailable"] == 100
    customer_wallet = wallet_of(PartnerLink.objects.get(external_user_id="pcsUserId001").customer)
    assert customer_wallet.balance == 100
    partner = Partner.objects.get(code="PCS-001")
    assert list(partner.callback_prefixes.values_list("prefix", flat=True)) == ["http://127.0.0.1:8000/"]


def test_seed_demo_refuses_without_debug(db, settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="DEBUG"):
        call_command("seed_demo", stdout=StringIO())

    assert not PartnerApiKey.objects.exists()


@pytest.mark.parametrize(
    "name",
    ["create_partner", "create_api_key", "revoke_api_key", "create_customer", "link_customer", "grant_kilometers", "seed_demo"],
)
def test_every_command_has_help_with_json(name, capsys):
    with pytest.raises(SystemExit):
        call_command(name, "--help")

    assert "--json" in capsys.readouterr().out


def test_hop_operations_commands(db):
    run("create_partner", "--code", "PCS-001", "--name", "MSP Partner")
    customer = run("create_customer", "--email", "driver@example.com")
    account = run(
        "create_service_account", "--partner", "PCS-001", "--email", "hop@pcs.example", "--password", "a-long-pass-2026"
    )
    card = run(
        "add_payment_method",
        *("--customer", str(customer["id"]), "--partner", "PCS-001", "--token", "1000000074340019"),
        *("--expires-at", "2030-12-31"),
    )
    rfid = run("add_rfid", "--customer", str(customer["id"]), "--token", "RFID-0001")

    assert (account["partner"], account["may_comp"]) == ("PCS-001", False)
    comper = run(
        "create_service_account",
        "--partner",
        "PCS-001",
        "--email",
        "tap@pcs.example",
        "--password",
        "a-long-pass-2026",
        "--may-comp",
    )
    assert comper["may_comp"] is True
    assert card == {
        "id": card["id"],
        "customer": customer["id"],
        "partner": "PCS-001",
        "token": "…0019",
        "expiresAt": "2030-12-31",
    }
    assert rfid["token"] == "…0001"
    assert run("purge_idempotency_keys") == {"deleted": 0}
    response = hop_login("hop@pcs.example", "a-long-pass-2026")
    assert response.status_code == 201


@pytest.mark.parametrize(
    "args",
    [
        ["add_payment_method", "--customer", "{c}", "--partner", "PCS-001", "--token", "4111-1111", "--expires-at", "2030-12-31"],
        ["add_payment_method", "--customer", "{c}", "--partner", "PCS-001", "--token", "1" * 23, "--expires-at", "2030-12-31"],
        ["add_payment_method", "--customer", "{c}", "--partner", "PCS-001", "--token", "123", "--expires-at", "2001-01-01"],
        ["add_payment_method", "--customer", "{c}", "--partner", "PCS-001", "--token", "123", "--expires-at", "tomorrow"],
        ["add_payment_method", "--customer", "{c}", "--partner", "PCS-404", "--token", "123", "--expires-at", "2030-12-31"],
        ["create_service_account", "--partner", "PCS-001", "--email", "x@y.z", "--password", "123"],
    ],
)
def test_hop_commands_refuse_bad_input(db, args):
    run("create_partner", "--code", "PCS-001", "--name", "MSP Partner")
    customer = run("create_customer", "--email", "driver@example.com")

    with pytest.raises(CommandError):
        call_command(*[a.format(c=customer["id"]) for a in args], stdout=StringIO())
