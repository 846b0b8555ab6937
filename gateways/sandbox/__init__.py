"""gateway-sandbox: a BridgeComm look-alike for development and tests (DESIGN §5)."""

from gateways.sandbox.server import SandboxServer, run_sandbox

__all__ = ["SandboxServer", "run_sandbox"]
