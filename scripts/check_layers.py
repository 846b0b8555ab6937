"""The import rule, checked: the product's packages form layers, and a package imports only those below it.

    chargepay        the project: settings, urls, wsgi, the Celery app
    monitoring       what operators watch: health checks and metrics
    backoffice       what staff use across apps: customer page and timeline, roles, demo data
    webhooks         partner webhooks: endpoints, delivery of the events the apps below record, replay
    reconciliation   runs, findings, ledger and gateway checks
    gateways         cards, BridgeComm client and sandbox, settlement, the HOP API
    statements       monthly partner statements of the CO2 offsets partners pay
    ledger           accounts, transactions, entries, the &Charge payment API
    accounts         partners, keys, customers, links, service accounts, both APIs' authentication
    core             the ground: errors, API envelopes, idempotency, request ids, logging, admin tools

Tests and migrations are not checked (a test may build what it needs from any app). Run: `make layers`, or
`python -m scripts.check_layers`; it prints every upward import and exits 1 when there is one.
"""

import ast
import sys
from pathlib import Path

LAYERS = [
    "core",
    "accounts",
    "ledger",
    "statements",
    "gateways",
    "wallet",
    "reconciliation",
    "webhooks",
    "backoffice",
    "monitoring",
    "chargepay",
]
ROOT = Path(__file__).resolve().parent.parent


def _imported_modules(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module


def upward_imports(root: Path = ROOT) -> list[str]:
    """Every import of a package at the same level or above the importing one, as "file: a -> b" lines."""
    rank = {name: level for level, name in enumerate(LAYERS)}
    found = []
    for package in LAYERS:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).parts
            if "tests" in parts or "migrations" in parts:
                continue
            for module in _imported_modules(ast.parse(path.read_text(encoding="utf-8"))):
                target = module.split(".")[0]
                if target in rank and target != package and rank[target] > rank[package]:
                    found.append(f"{path.relative_to(root)}: {package} -> {module}")
    return found


def main() -> int:
    found = upward_imports()
    for line in found:
        print(line)
    print(f"{len(found)} upward imports across {' < '.join(LAYERS)}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
