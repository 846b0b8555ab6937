"""Charts of the back-office dashboard, drawn on the server as inline SVG: no script, nothing fetched from
elsewhere, readable with the page's own CSS switched off (every bar carries its value as text)."""

from collections.abc import Callable

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

WIDTH = 480
LABEL_WIDTH = 250
VALUE_WIDTH = 70
ROW_HEIGHT = 20
BAR = "#417690"  # the admin's own blue
HIGHLIGHT = "#ba2121"  # the admin's error red: review and debt


def bar_chart(
    rows: list[tuple[str, int]],
    *,
    label: str,
    value_text: Callable[[int], str] = str,
    highlight: frozenset[str] | set[str] = frozenset(),
) -> SafeString:
    """Horizontal bars, one per (label, value), scaled to the largest value; labels in `highlight` are drawn red."""
    if not rows:
        return format_html('<p class="dashboard-empty">{}: nothing yet.</p>', label)
    top = max((abs(value) for _, value in rows), default=0) or 1
    span = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    bars = format_html_join(
        "",
        '<g transform="translate(0,{})"><text x="{}" y="14" text-anchor="end">{}</text>'
        '<rect x="{}" y="3" width="{}" height="14" fill="{}"><title>{}: {}</title></rect>'
        '<text x="{}" y="14">{}</text></g>',
        (
            (
                index * ROW_HEIGHT,
                LABEL_WIDTH - 6,
                name,
                LABEL_WIDTH,
                max(1, round(abs(value) / top * span)) if value else 0,
                HIGHLIGHT if name in highlight else BAR,
                name,
                value_text(value),
                LABEL_WIDTH + (round(abs(value) / top * span) if value else 0) + 6,
                value_text(value),
            )
            for index, (name, value) in enumerate(rows)
        ),
    )
    return format_html(
        '<svg class="dashboard-chart" role="img" aria-label="{}" width="{}" height="{}" viewBox="0 0 {} {}"'
        ' xmlns="http://www.w3.org/2000/svg" font-size="12" font-family="sans-serif">{}</svg>',
        label,
        WIDTH,
        len(rows) * ROW_HEIGHT + 4,
        WIDTH,
        len(rows) * ROW_HEIGHT + 4,
        bars,
    )
