"""`manage.py webhook_listen`: a local receiver that verifies each delivery's Standard Webhooks signature and prints it.

For development (`make run` starts one): with no `--secret` it registers (or reuses) an endpoint of `--partner` at its
own URL subscribed to every event type, and verifies with that endpoint's secrets. In eager mode (no worker, no beat)
it also runs the webhook sweeper every few seconds, so payments' events and retries go out without a beat.
"""

import base64
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from accounts.models import Partner, PartnerEventType
from webhooks import services, signing
from webhooks.models import WebhookEndpoint

TOLERANCE_SECONDS = 300  # the spec's recommended window for webhook-timestamp


def signature_valid(headers, body: bytes, secrets: list[str], *, now: float | None = None) -> str:
    """ "" when one of the header's `v1,` signatures is by one of `secrets` and the timestamp is recent, else why not."""
    msg_id, timestamp, header = (headers.get(name, "") for name in ("webhook-id", "webhook-timestamp", "webhook-signature"))
    if not (msg_id and timestamp.isdigit() and header):
        return "missing or malformed webhook headers"
    if abs((now or time.time()) - int(timestamp)) > TOLERANCE_SECONDS:
        return "timestamp outside the 5-minute window"
    expected = [signing.signature(s, msg_id=msg_id, timestamp=int(timestamp), body=body) for s in secrets]
    for given in header.split(" "):
        version, _, value = given.partition(",")
        if version != "v1":
            continue
        for candidate in expected:
            if hmac.compare_digest(base64.b64decode(candidate[3:]), base64.b64decode(value + "==")):
                return ""
    return "no signature matches"


class Listener:
    """The receiving server: 204 for a verified delivery, 400 otherwise; `write` gets one report per request."""

    def __init__(self, host: str, port: int, secrets, write):
        listener = self
        self.secrets = secrets  # a callable: the secrets in use now

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                problem = signature_valid(headers, body, listener.secrets())
                try:
                    payload = json.loads(body)
                except ValueError:
                    payload = {"type": "?", "data": body.decode(errors="replace")}
                verdict = "verified" if not problem else f"NOT VERIFIED ({problem})"
                write(
                    f"{headers.get('webhook-id', '-')} {payload.get('type')} {verdict}\n"
                    f"  {json.dumps(payload.get('data'), ensure_ascii=False)}"
                )
                self.send_response(400 if problem else 204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.url = f"http://{host}:{self.server.server_address[1]}/"


class Command(BaseCommand):
    help = "Receive webhook deliveries locally: verify each signature and print the event."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8098)
        parser.add_argument("--partner", default="PCS-001", help="Register (or reuse) an endpoint of this partner.")
        parser.add_argument("--secret", help="Verify with this whsec_ secret and register nothing.")
        parser.add_argument("--sweep-every", type=float, default=2.0, help="Seconds between sweeps in eager mode (0: none).")

    def handle(self, *args, host, port, partner, secret, sweep_every, **options):
        endpoint = None

        def secrets_now() -> list[str]:
            if endpoint is None:
                return [secret]
            endpoint.refresh_from_db()
            return services.secrets_in_use(endpoint, now=timezone.now())

        listener = Listener(host, port, secrets_now, self._print)
        if secret:
            self.stdout.write(f"Receiving at {listener.url}; Ctrl-C stops.")
        else:
            endpoint = self._endpoint(partner, listener.url)
            self.stdout.write(f"Receiving {partner}'s events at {listener.url} (endpoint #{endpoint.pk}); Ctrl-C stops.")
        if settings.CELERY_TASK_ALWAYS_EAGER and sweep_every > 0:
            threading.Thread(target=self._sweep, args=(sweep_every,), daemon=True).start()
        try:
            listener.server.serve_forever()
        except KeyboardInterrupt:
            pass
        finally:
            listener.server.server_close()

    def _print(self, text: str) -> None:
        self.stdout.write(text)
        self.stdout.flush()

    def _endpoint(self, code: str, url: str) -> WebhookEndpoint:
        if not settings.WEBHOOK_ALLOW_PRIVATE:
            raise CommandError("a local receiver needs WEBHOOK_ALLOW_PRIVATE=true (the default with DEBUG on)")
        partner = Partner.objects.filter(code=code).first()
        if partner is None:
            raise CommandError(f"no partner {code}")
        endpoint = WebhookEndpoint.objects.filter(partner=partner, url=url, enabled=True).order_by("-pk").first()
        if endpoint is None:
            endpoint, _ = services.endpoint_create(
                partner=partner, url=url, event_types=list(PartnerEventType.values), description="manage.py webhook_listen"
            )
        return endpoint

    def _sweep(self, every: float) -> None:
        while True:
            time.sleep(every)
            try:
                services.webhooks_sweep()
            except Exception as error:  # the database restarting under `make run`: try again next time
                self.stderr.write(f"sweep failed: {error}")
