"""Base of the operations commands: named options, `--json` output, domain errors as CommandError."""

import json

from django.core.management.base import BaseCommand, CommandError

from core.errors import ChargepayError


class OperationsCommand(BaseCommand):
    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print what was created as one JSON object.")
        self.add_options(parser)

    def add_options(self, parser):
        """Subclasses declare their named options here."""

    def handle(self, *args, **options):
        try:
            result = self.run(**options)
        except ChargepayError as error:
            raise CommandError(f"{error.code}: {', '.join(str(value) for value in error.values)}") from error
        if options["json"]:
            self.stdout.write(json.dumps(result, ensure_ascii=False))
        else:
            for key, value in result.items():
                self.stdout.write(f"{key}: {value}")

    def run(self, **options) -> dict:
        raise NotImplementedError
