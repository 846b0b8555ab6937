"""`.env.example` lists every setting the code reads: settings.py's django-environ reads, and the variables
gunicorn.conf.py, the embedded database's helper and the metrics module take from the environment."""

import re

from core.metrics import MULTIPROC_DIR_VARIABLE
from monitoring.tests.servers import ROOT

# env("X"...), env.int("X"...), env.db("X"...), across line breaks
SETTINGS_READ = re.compile(r"\benv(?:\.\w+)?\(\s*\"([A-Z][A-Z0-9_]*)\"")
ENVIRON_READ = re.compile(r"os\.environ(?:\.get\(|\[)\s*\"([A-Z][A-Z0-9_]*)\"")
# KEY=value, or "# KEY=value" for a setting that is off unless set
LISTED = re.compile(r"^(?:#\s*)?([A-Z][A-Z0-9_]*)=", re.MULTILINE)
SOURCES_OF_THE_ENVIRONMENT = ["gunicorn.conf.py", "chargepay/dev_database.py", "scripts/dev_postgres.py"]


def settings_read() -> set[str]:
    names = set(SETTINGS_READ.findall((ROOT / "chargepay" / "settings.py").read_text()))
    for path in SOURCES_OF_THE_ENVIRONMENT:
        names |= set(ENVIRON_READ.findall((ROOT / path).read_text()))
    return names | {MULTIPROC_DIR_VARIABLE}


def test_the_scan_finds_what_settings_reads():
    found = settings_read()
    # a sample across the kinds of reads: plain, typed, typed over two lines, gunicorn's, prometheus_client's
    assert {"DEBUG", "DATABASE_URL", "IDEMPOTENCY_LEASE_SECONDS", "WEB_CONCURRENCY", "PROMETHEUS_MULTIPROC_DIR"} <= found
    assert len(found) > 50


def test_env_example_lists_every_setting_the_code_reads_and_nothing_else():
    listed = set(LISTED.findall((ROOT / ".env.example").read_text()))

    assert sorted(settings_read() - listed) == [], "read by the code, missing from .env.example"
    assert sorted(listed - settings_read()) == [], "in .env.example, read by nothing"
