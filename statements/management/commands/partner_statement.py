import json
from datetime import date

from django.core.management.base import CommandError

from accounts.models import Partner
from core.errors import ChargepayError, InvalidParameter, ObjectNotFound
from core.management.base import OperationsCommand
from statements import exports, selectors, services


class Command(OperationsCommand):
    help = (
        "A partner's monthly statement of the CO2 offsets it paid itself: each item and the totals. A closed month "
        "prints as it was closed; an open one what it holds now. --close closes an ended month (once)."
    )

    def add_options(self, parser):
        parser.add_argument("--partner", required=True, help="The partner's code (partnerId), e.g. PCS-001.")
        parser.add_argument("--month", required=True, help="YYYY-MM (UTC months).")
        parser.add_argument("--close", action="store_true", help="Close the month first (it must have ended).")
        parser.add_argument("--csv", action="store_true", help="Print the CSV the admin downloads.")

    def run(self, *, partner: str, month: str, close: bool = False, **options) -> selectors.Statement:
        try:
            first_day = date.fromisoformat(f"{month}-01")
        except ValueError:
            raise InvalidParameter(month, "month") from None
        found = Partner.objects.filter(code=partner).first()
        if found is None:
            raise ObjectNotFound("partner", partner)
        if close:
            services.statement_close(partner=found, month=first_day)
        return selectors.statement_get(partner=found, month=first_day)

    def handle(self, *args, **options):
        try:
            statement = self.run(**options)
        except ChargepayError as error:
            raise CommandError(f"{error.code}: {', '.join(str(value) for value in error.values)}") from error
        if options["json"]:
            self.stdout.write(json.dumps(exports.statement_json(statement), ensure_ascii=False))
        elif options["csv"]:
            self.stdout.write(exports.statement_csv(statement), ending="")
        else:
            self.stdout.write(f"partner: {statement.partner.code} ({statement.partner.name})")
            self.stdout.write(f"month: {statement.month:%Y-%m} ({statement.status})")
            for item in exports.statement_json(statement)["items"]:
                late = " (late)" if item["late"] else ""
                self.stdout.write(
                    f"  {item['created']}  {item['type']:<28} {item['transactionId'] or '-':<24} {item['kilometer']:>8} km{late}"
                )
            self.stdout.write(f"offsets: {statement.offsets}")
            self.stdout.write(f"kilometerTotal: {statement.kilometer_total}")
