"""Gateway fixtures, shared by every test package (root conftest's pytest_plugins): the real sandbox over loopback
HTTP, and settings pointing the client at it."""

import pytest

from gateways.bridgecomm import protocol
from gateways.sandbox import SandboxServer


@pytest.fixture
def sandbox():
    """A fresh gateway sandbox on an ephemeral loopback port, served from a background thread."""
    server = SandboxServer("127.0.0.1", 0).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def gateway_settings(settings, sandbox):
    """Django settings aimed at the `sandbox` fixture (pytest-django restores them afterwards)."""
    settings.GATEWAY_URL = sandbox.url
    settings.GATEWAY_USER = protocol.SANDBOX_USER
    settings.GATEWAY_PASSWORD = protocol.SANDBOX_PASSWORD
    settings.GATEWAY_MERCHANT_CODE = "100"
    settings.GATEWAY_MERCHANT_ACCOUNT_CODE = "1000"
    settings.GATEWAY_TIMEOUT_SECONDS = 5.0
    settings.GATEWAY_CONNECT_TIMEOUT_SECONDS = 2.0
    return settings
