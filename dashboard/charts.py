"""Bar charts as inline SVG, drawn on the server: no chart library, no CDN, no script (the machine
may be offline, and the CSP allows no inline script)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal

from markupsafe import Markup, escape

WIDTH, HEIGHT, PAD_TOP, PAD_BOTTOM, PAD_LEFT = 600, 180, 16, 22, 44


def bar_chart(
    points: Sequence[tuple[date, int | Decimal]], title: str, fmt: Callable[[float], str] = lambda v: f"{v:,.0f}"
) -> Markup:
    values = [float(v) for _, v in points]
    top = max(values, default=0.0) or 1.0
    inner_w, inner_h = WIDTH - PAD_LEFT - 4, HEIGHT - PAD_TOP - PAD_BOTTOM
    step = inner_w / max(len(points), 1)
    bars = []
    for i, ((day, _), value) in enumerate(zip(points, values, strict=True)):
        h = inner_h * value / top
        x = PAD_LEFT + i * step + 1
        y = PAD_TOP + inner_h - h
        bars.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(step - 2, 1):.1f}" height="{h:.1f}" class="bar">'
            f"<title>{escape(day.isoformat())}: {escape(fmt(value))}</title></rect>"
        )
    labels = []
    for i, (day, _) in enumerate(points):
        if (len(points) - 1 - i) % 7 == 0:  # a label a week, counted back from today
            x = PAD_LEFT + i * step + step / 2
            labels.append(f'<text x="{x:.1f}" y="{HEIGHT - 6}" class="axis" text-anchor="middle">{day:%m-%d}</text>')
    base = PAD_TOP + inner_h
    return Markup(
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}" class="chart">'
        f"<title>{escape(title)}</title>"
        f'<line x1="{PAD_LEFT}" y1="{base}" x2="{WIDTH - 4}" y2="{base}" class="grid"/>'
        f'<line x1="{PAD_LEFT}" y1="{PAD_TOP}" x2="{WIDTH - 4}" y2="{PAD_TOP}" class="grid"/>'
        f'<text x="{PAD_LEFT - 4}" y="{PAD_TOP + 4}" class="axis" text-anchor="end">{escape(fmt(top))}</text>'
        f'<text x="{PAD_LEFT - 4}" y="{base}" class="axis" text-anchor="end">0</text>'
        + "".join(bars)
        + "".join(labels)
        + "</svg>"
    )
