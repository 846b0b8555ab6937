"""A small client for the sandbox's control API (/_sandbox/...), for tests and scripts."""

from typing import Any

import requests

TIMEOUT_SECONDS = 10


class SandboxControl:
    """`SandboxControl("http://127.0.0.1:8099")`: every method raises requests.HTTPError on an error status."""

    def __init__(self, base_url: str):
        self.base_url = base_url.rstrip("/")

    def _get(self, path: str, **params: str | None) -> requests.Response:
        response = requests.get(
            f"{self.base_url}/_sandbox/{path}",
            params={key: value for key, value in params.items() if value is not None},
            timeout=TIMEOUT_SECONDS,
        )
        response.raise_for_status()
        return response

    def _post(self, path: str, payload: dict[str, Any] | None = None) -> requests.Response:
        response = requests.post(f"{self.base_url}/_sandbox/{path}", json=payload or {}, timeout=TIMEOUT_SECONDS)
        response.raise_for_status()
        return response

    def health(self) -> dict[str, Any]:
        return self._get("health").json()

    def requests(self, *, transaction_id: str | None = None, request_type: str | None = None) -> list[dict[str, Any]]:
        """Every service request received (oldest first), optionally of one TransactionID / RequestType."""
        return self._get("requests", transaction_id=transaction_id, request_type=request_type).json()

    def transactions(self, *, transaction_id: str | None = None) -> list[dict[str, Any]]:
        """The sandbox's books: every operation it performed."""
        return self._get("transactions", transaction_id=transaction_id).json()

    def add_fault(self, kind: str, **options: Any) -> dict[str, Any]:
        """Queue a fault: kind slow|drop|http500|garbage|unavailable|duplicate; options count, transaction_id,
        request_type, seconds, record."""
        return self._post("faults", {"kind": kind, **options}).json()["fault"]

    def faults(self) -> list[dict[str, Any]]:
        return self._get("faults").json()

    def reset(self) -> None:
        self._post("reset")

    def batches(self) -> list[dict[str, Any]]:
        return self._get("batches").json()

    def batch(self, cycle_code: str) -> dict[str, Any]:
        return self._get(f"batches/{cycle_code}").json()

    def batch_csv(self, cycle_code: str) -> str:
        return self._get(f"batches/{cycle_code}.csv").text
