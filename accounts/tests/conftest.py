"""Fixtures of the accounts tests: back-office staff (accounts.tests.backoffice) and the gateway sandbox (a customer's
timeline shows card charges)."""

from accounts.tests.backoffice import (  # noqa: F401 (fixtures of the back-office tests)
    finance_client,
    finance_user,
    nogroup_client,
    nogroup_user,
    superuser,
    superuser_client,
    support_client,
    support_user,
)
from gateways.tests.conftest import gateway_settings, sandbox  # noqa: F401 (fixtures)
