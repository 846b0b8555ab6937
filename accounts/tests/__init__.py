import pytest

# The helpers assert on the tests' behalf: pytest rewrites their asserts (for readable failures) only if told
# before they are imported.
pytest.register_assert_rewrite("accounts.tests.helpers")
