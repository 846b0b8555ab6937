"""gateway-sandbox's HTTP face: BridgeComm at /PaymentService/RequestHandler.svc, test controls under /_sandbox/.

Control API (JSON unless noted; no authentication: a development and test tool, bind it to loopback or a private network):
- GET  /_sandbox/health                     -> {"status": "ok"}
- GET  /_sandbox/requests[?transaction_id=&request_type=]
                                            -> every service request received, oldest first
- GET  /_sandbox/transactions[?transaction_id=]
                                            -> the books: every operation (authorizations, captures, voids, refunds)
- GET  /_sandbox/faults                     -> faults still queued
- POST /_sandbox/faults {"kind": "slow"|"drop"|"http500"|"garbage"|"unavailable"|"duplicate", "count": 1,
                         "transaction_id": null, "request_type": null, "seconds": 12, "record": false}
                                            -> 201 {"fault": {...}}
- POST /_sandbox/reset                      -> {"status": "reset"}
- GET  /_sandbox/batches                    -> settled batches with their rows
- GET  /_sandbox/batches/<cycle_code>       -> one batch
- GET  /_sandbox/batches/<cycle_code>.csv   -> text/csv: GatewayTransID,TransactionID,Amount,Type,CardLast4,SettledAt,
                                               AuthGatewayTransID,AuthTransactionID
"""

import contextlib
import json
import logging
import socket
import socketserver
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from gateways.bridgecomm import protocol
from gateways.sandbox.control import SandboxControl
from gateways.sandbox.gateway import Answer, SandboxGateway

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1_000_000
CONTROL_PREFIX = "/_sandbox/"


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # a handler asleep in a slow fault must not hold up stop()
    request_queue_size = 128
    gateway: SandboxGateway

    def server_bind(self) -> None:
        # HTTPServer.server_bind resolves the host's FQDN, which can stall for seconds without DNS.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = port


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "BridgeCommSandbox/1.0"
    server: _HTTPServer

    def log_message(self, format: str, *args: object) -> None:
        logger.debug("sandbox http: " + format, *args)

    # --- plumbing ----------------------------------------------------------------------------------------------

    def _read_body(self) -> bytes | None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if length < 0 or length > MAX_BODY_BYTES:
            self._send(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, b"", "text/plain")
            return None
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (timed out) first
            self.close_connection = True

    def _json(self, status: int, payload: object) -> None:
        self._send(status, json.dumps(payload).encode("utf-8"), "application/json")

    def _drop(self) -> None:
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    # --- routes ------------------------------------------------------------------------------------------------

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = {key: values[-1] for key, values in parse_qs(url.query).items()}
        gateway = self.server.gateway
        path = url.path
        if path == protocol.SERVICE_PATH:
            self._send(HTTPStatus.OK, b"BridgeComm sandbox: POST SOAP ProcessRequest here.\n", "text/plain")
        elif path == CONTROL_PREFIX + "health":
            self._json(HTTPStatus.OK, {"status": "ok"})
        elif path == CONTROL_PREFIX + "requests":
            records = gateway.requests(transaction_id=query.get("transaction_id"), request_type=query.get("request_type"))
            self._json(HTTPStatus.OK, records)
        elif path == CONTROL_PREFIX + "transactions":
            self._json(HTTPStatus.OK, gateway.transactions(transaction_id=query.get("transaction_id")))
        elif path == CONTROL_PREFIX + "faults":
            self._json(HTTPStatus.OK, gateway.faults())
        elif path == CONTROL_PREFIX + "batches":
            self._json(HTTPStatus.OK, gateway.batches())
        elif path.startswith(CONTROL_PREFIX + "batches/"):
            name = path.removeprefix(CONTROL_PREFIX + "batches/")
            if name.endswith(".csv"):
                exported = gateway.batch_csv(name.removesuffix(".csv"))
                if exported is None:
                    self._json(HTTPStatus.NOT_FOUND, {"error": "no such batch"})
                else:
                    self._send(HTTPStatus.OK, exported.encode("utf-8"), "text/csv; charset=utf-8")
            else:
                batch = gateway.batch(name)
                self._json(*((HTTPStatus.OK, batch) if batch else (HTTPStatus.NOT_FOUND, {"error": "no such batch"})))
        else:
            self._json(HTTPStatus.NOT_FOUND, {"error": "not found"})

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        body = self._read_body()
        if body is None:
            return
        if path == protocol.SERVICE_PATH:
            self._answer(self.server.gateway.handle(body, self.headers.get("SOAPAction")))
        elif path == CONTROL_PREFIX + "faults":
            self._add_fault(body)
        elif path == CONTROL_PREFIX + "reset":
            self.server.gateway.reset()
            self._json(HTTPStatus.OK, {"status": "reset"})
        else:
            self._json(HTTPStatus.NOT_FOUND, {"error": "not found"})

    def _answer(self, answer: Answer) -> None:
        if answer.delay_seconds:
            self.server.gateway.sleep(answer.delay_seconds)
        if answer.drop:
            self._drop()
        else:
            self._send(answer.status, answer.body, answer.content_type)

    def _add_fault(self, body: bytes) -> None:
        try:
            spec = json.loads(body or b"{}")
            if not isinstance(spec, dict):
                raise ValueError("the body must be a JSON object")
            unknown = set(spec) - {"kind", "count", "transaction_id", "request_type", "seconds", "record"}
            if unknown:
                raise ValueError(f"unknown fields: {', '.join(sorted(unknown))}")
            fault = self.server.gateway.add_fault(**spec)
        except (ValueError, TypeError) as exc:  # json.JSONDecodeError is a ValueError
            self._json(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
            return
        self._json(HTTPStatus.CREATED, {"fault": fault.as_json()})


class SandboxServer:
    """The sandbox on `host:port` (port 0: an ephemeral port, bound at construction).

    In tests: `server = SandboxServer().start()` ... `server.stop()`, or `with SandboxServer() as server:`;
    `server.url` is the GATEWAY_URL to use and `server.gateway` the in-memory gateway behind it.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        client_identifier: str = protocol.DEFAULT_CLIENT_IDENTIFIER,
        user: str = protocol.SANDBOX_USER,
        password: str = protocol.SANDBOX_PASSWORD,
    ):
        self.gateway = SandboxGateway(client_identifier=client_identifier, user=user, password=password)
        self._httpd = _HTTPServer((host, port), _Handler)
        self._httpd.gateway = self.gateway
        self._thread: threading.Thread | None = None
        self._serving = threading.Event()

    @property
    def host(self) -> str:
        return str(self._httpd.server_address[0])

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def control(self) -> SandboxControl:
        """A client of this server's /_sandbox/ control API."""
        return SandboxControl(self.base_url)

    @property
    def url(self) -> str:
        """The BridgeComm endpoint (what GATEWAY_URL points at)."""
        return self.base_url + protocol.SERVICE_PATH

    def start(self) -> "SandboxServer":
        """Serve in a background (daemon) thread."""
        if self._thread is None:
            self._serving.set()
            self._thread = threading.Thread(
                target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="gateway-sandbox", daemon=True
            )
            self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in this thread until `stop()` is called from another one (or KeyboardInterrupt)."""
        self._serving.set()
        try:
            self._httpd.serve_forever(poll_interval=0.2)
        finally:
            self._serving.clear()

    def stop(self) -> None:
        """Stop serving and release the port."""
        self.gateway.stop()  # wakes handlers asleep in slow faults
        if self._serving.is_set():
            self._httpd.shutdown()  # blocks until the serving loop has exited: only call it while one runs
            self._serving.clear()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> "SandboxServer":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def run_sandbox(
    host: str = "127.0.0.1",
    port: int = 8099,
    *,
    on_ready: Callable[[SandboxServer], None] | None = None,
    **credentials: str,
) -> None:
    """Serve the sandbox in the foreground until interrupted (`manage.py run_gateway_sandbox`).

    `credentials`: client_identifier, user, password. `on_ready` is called once the port is bound.
    """
    server = SandboxServer(host, port, **credentials)
    logger.info("gateway sandbox listening on %s", server.url)
    if on_ready is not None:
        on_ready(server)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
