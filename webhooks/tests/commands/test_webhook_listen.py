"""`manage.py webhook_listen`'s receiver: a real delivery is verified and printed; a forged one is refused with 400
and printed as such (and so retried by us)."""

import threading
import time

import pytest

from accounts import services as accounts_services
from webhooks import signing
from webhooks.management.commands.webhook_listen import Listener, signature_valid
from webhooks.models import WebhookAttempt
from webhooks.tests.helpers import endpoint_for


@pytest.fixture
def listener(settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    settings.CELERY_TASK_ALWAYS_EAGER = True
    printed: list[str] = []
    secrets: list[str] = []
    server = Listener("127.0.0.1", 0, lambda: secrets, printed.append)
    threading.Thread(target=server.server.serve_forever, daemon=True).start()
    server.printed, server.secrets_list = printed, secrets
    yield server
    server.server.shutdown()
    server.server.server_close()


def test_a_delivery_is_verified_and_printed(partner, customer, listener, django_capture_on_commit_callbacks):
    _, secret = endpoint_for(partner, listener.url, ["link.linked"])
    listener.secrets_list.append(secret)

    with django_capture_on_commit_callbacks(execute=True):
        _, code = accounts_services.partner_link_start(partner=partner, external_user_id="gm-7")
        accounts_services.partner_link_confirm(partner=partner, external_user_id="gm-7", activation_code=code, customer=customer)

    [report] = listener.printed
    assert "link.linked verified" in report and '"userId": "gm-7"' in report
    assert WebhookAttempt.objects.get().status_code == 204


def test_a_forged_delivery_is_refused(partner, customer, listener, django_capture_on_commit_callbacks):
    endpoint_for(partner, listener.url, ["link.linked"])
    listener.secrets_list.append(signing.secret_new())  # not the endpoint's secret

    with django_capture_on_commit_callbacks(execute=True):
        _, code = accounts_services.partner_link_start(partner=partner, external_user_id="gm-8")
        accounts_services.partner_link_confirm(partner=partner, external_user_id="gm-8", activation_code=code, customer=customer)

    [report] = listener.printed
    assert "NOT VERIFIED (no signature matches)" in report
    assert WebhookAttempt.objects.get().status_code == 400


def test_an_old_timestamp_is_refused():
    secret = signing.secret_new()
    headers = signing.headers([secret], msg_id="msg_1", timestamp=int(time.time()) - 301, body=b"{}")
    assert signature_valid(headers, b"{}", [secret]) == "timestamp outside the 5-minute window"
    headers = signing.headers([secret], msg_id="msg_1", timestamp=int(time.time()), body=b"{}")
    assert signature_valid(headers, b"{}", [secret]) == ""
