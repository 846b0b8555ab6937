"""The import rule (scripts/check_layers.py): no package of the product imports one above it."""

from scripts.check_layers import LAYERS, upward_imports


def test_no_package_imports_one_above_it():
    assert upward_imports() == []


def test_an_upward_import_is_reported(tmp_path):
    for package in LAYERS:
        (tmp_path / package).mkdir()
    (tmp_path / "core" / "plumbing.py").write_text("from ledger.models import Account\nimport django\n")
    (tmp_path / "ledger" / "services.py").write_text("from core import errors\nfrom accounts.models import Customer\n")
    (tmp_path / "ledger" / "tests").mkdir()
    (tmp_path / "ledger" / "tests" / "test_x.py").write_text("from backoffice import admin\n")

    assert upward_imports(tmp_path) == ["core/plumbing.py: core -> ledger.models"]
