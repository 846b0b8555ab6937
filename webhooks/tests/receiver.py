"""A real webhook receiver on loopback HTTP for the tests: it answers each request as scripted (2xx, an error
status with optional Retry-After, slowly, 410, or by closing the connection) and records what it received."""

import queue
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # a client gone while we answered slowly (a killed worker, a timeout): expected in these tests


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Behaviour:
    status: int = 204
    delay: float = 0.0
    close: bool = False
    retry_after: str = ""
    body: bytes = b""


class Receiver:
    """`script(Behaviour(...), ...)` queues answers for the next requests; after them every request gets 204."""

    def __init__(self):
        self.received: list[Received] = []
        self._script: queue.Queue[Behaviour] = queue.Queue()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.received.append(Received({k.lower(): v for k, v in self.headers.items()}, body, time.time()))
                try:
                    behaviour = receiver._script.get_nowait()
                except queue.Empty:
                    behaviour = Behaviour()
                if behaviour.delay:
                    time.sleep(behaviour.delay)
                if behaviour.close:
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                self.send_response(behaviour.status)
                if behaviour.retry_after:
                    self.send_header("Retry-After", behaviour.retry_after)
                self.send_header("Content-Length", str(len(behaviour.body)))
                self.end_headers()
                self.wfile.write(behaviour.body)

            def log_message(self, *args):
                pass

        self.server = _QuietServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def script(self, *behaviours: Behaviour) -> None:
        for behaviour in behaviours:
            self._script.put(behaviour)

    def start(self) -> "Receiver":
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
