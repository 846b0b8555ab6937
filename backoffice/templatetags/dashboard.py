"""`{% dashboard %}` on the admin's front page (templates/admin/index.html): the figures of
backoffice.selectors.dashboard drawn as server-side SVG, for staff who may read the ledger."""

from django import template

from core import money

from .. import charts, selectors

register = template.Library()

REVIEW_AND_DEBT = frozenset({"review"})


@register.inclusion_tag("admin/dashboard.html", takes_context=True)
def dashboard(context):
    request = context.get("request")
    if request is None or not request.user.has_perm("ledger.view_transaction"):
        return {"shown": False}
    board = selectors.dashboard()
    return {
        "shown": True,
        "board": board,
        "km_by_day": charts.bar_chart(board.km_paid_by_day, label="Kilometers paid per day", value_text=money.kilometers),
        "km_by_partner": charts.bar_chart(
            board.km_paid_by_partner, label="Kilometers paid per partner", value_text=money.kilometers
        ),
        "topups_by_day": charts.bar_chart(board.topups_by_day, label="Card top-ups per day", value_text=money.dollars),
        "refusals": charts.bar_chart(board.refusals_by_code, label="Refused requests by error code"),
        "charges": charts.bar_chart(board.charges_by_status, label="Card charges by status", highlight=REVIEW_AND_DEBT),
        "findings": charts.bar_chart(board.open_findings, label="Open reconciliation findings", highlight=set()),
        "liability_km": money.kilometers(board.liability.get("KM", 0)),
        "liability_usd": money.dollars(board.liability.get("USD", 0)),
        "debt": money.dollars(board.debt_cents),
        "review_cents": money.dollars(board.charge_cents_by_status.get("review", 0)),
    }
