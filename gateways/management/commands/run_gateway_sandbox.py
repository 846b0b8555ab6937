"""`manage.py run_gateway_sandbox --host 127.0.0.1 --port 8099`: the BridgeComm gateway sandbox in the foreground."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from gateways.bridgecomm.protocol import DEFAULT_CLIENT_IDENTIFIER
from gateways.sandbox.server import SandboxServer, run_sandbox


class Command(BaseCommand):
    help = "Run the BridgeComm card-gateway sandbox (answers by amount, DESIGN §5) until interrupted."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; 0.0.0.0 in a container)")
        parser.add_argument("--port", type=int, default=8099, help="port to bind (default 8099; 0 picks a free one)")
        parser.add_argument("--user", default=None, help="accepted User (default: settings.GATEWAY_USER)")
        parser.add_argument("--password", default=None, help="accepted Password (default: settings.GATEWAY_PASSWORD)")
        parser.add_argument(
            "--client-identifier",
            default=None,
            help=f"accepted ClientIdentifier (default: settings.GATEWAY_CLIENT_IDENTIFIER or {DEFAULT_CLIENT_IDENTIFIER!r})",
        )

    def handle(self, *args: object, **options: object) -> None:
        user = options["user"] or settings.GATEWAY_USER
        password = options["password"] or settings.GATEWAY_PASSWORD
        client_identifier = options["client_identifier"] or getattr(
            settings, "GATEWAY_CLIENT_IDENTIFIER", DEFAULT_CLIENT_IDENTIFIER
        )

        def announce(server: SandboxServer) -> None:
            self.stdout.write(f"Gateway sandbox listening on {server.url}")
            self.stdout.write(f"Controls under {server.base_url}/_sandbox/ (requests, faults, reset, batches). Ctrl-C stops it.")
            self.stdout.flush()

        run_sandbox(
            options["host"],
            options["port"],
            on_ready=announce,
            client_identifier=str(client_identifier),
            user=str(user),
            password=str(password),
        )
