"""Server-drawn SVG of a backtest's report for the admin: no JavaScript, no external assets."""

from __future__ import annotations

from collections.abc import Sequence

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

WIDTH = 640
HEIGHT = 220
PAD_LEFT = 48
PAD_RIGHT = 8
PAD_TOP = 24
PAD_BOTTOM = 40
BEFORE_COLOR = "#9aa5ad"
AFTER_COLOR = "#417690"


def number(value: float) -> str:
    """Return a count or a points value the way a label shows it: 12, 1.5k, 0.25."""
    if abs(value) >= 10_000:
        return f"{value / 1000:.0f}k"
    if abs(value) >= 1000:
        return f"{value / 1000:.1f}k"
    if value == int(value):
        return str(int(value))
    return f"{value:.3g}"


def _n(value: float) -> str:
    return f"{value:.1f}"


def paired_bars(rows: Sequence[tuple[str, float, float]], *, title: str) -> SafeString:
    """Return an SVG chart of (label, before, after) rows: two bars per label, side by side."""
    plot_w = WIDTH - PAD_LEFT - PAD_RIGHT
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    peak = max((max(before, after) for _, before, after in rows), default=0) or 1
    base = PAD_TOP + plot_h
    parts = [
        format_html(
            '<svg class="dsl-chart" role="img" aria-label="{}" viewBox="0 0 {} {}" '
            'width="{}" height="{}" xmlns="http://www.w3.org/2000/svg"><title>{}</title>',
            title,
            WIDTH,
            HEIGHT,
            WIDTH,
            HEIGHT,
            title,
        ),
        format_html(
            '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#999"/>'
            '<text x="{}" y="{}" font-size="10" text-anchor="end">{}</text>'
            '<text x="{}" y="{}" font-size="10" text-anchor="end">0</text>',
            PAD_LEFT,
            base,
            WIDTH - PAD_RIGHT,
            base,
            PAD_LEFT - 4,
            PAD_TOP + 4,
            number(peak),
            PAD_LEFT - 4,
            base,
        ),
        _legend(),
    ]
    if rows:
        slot = plot_w / len(rows)
        bar = slot * 0.38
        for index, (label, before, after) in enumerate(rows):
            left = PAD_LEFT + index * slot + slot * 0.1
            for offset, value, color, side in (
                (0.0, before, BEFORE_COLOR, "before"),
                (bar, after, AFTER_COLOR, "after"),
            ):
                height = plot_h * value / peak
                parts.append(
                    format_html(
                        '<rect class="dsl-bar dsl-bar-{}" x="{}" y="{}" width="{}" '
                        'height="{}" fill="{}"><title>{} {}: {}</title></rect>',
                        side,
                        _n(left + offset),
                        _n(base - height),
                        _n(bar),
                        _n(height),
                        color,
                        label,
                        side,
                        number(value),
                    )
                )
            if len(rows) <= 24 or index % (len(rows) // 12 + 1) == 0:
                parts.append(
                    format_html(
                        '<text x="{}" y="{}" font-size="10" text-anchor="middle">{}</text>',
                        _n(left + bar),
                        base + 14,
                        label[:14],
                    )
                )
    parts.append(SafeString("</svg>"))
    return SafeString("".join(parts))


def _legend() -> SafeString:
    return format_html_join(
        "",
        '<rect x="{}" y="6" width="10" height="10" fill="{}"/>'
        '<text x="{}" y="15" font-size="11">{}</text>',
        (
            (WIDTH - 170 + index * 85, color, WIDTH - 156 + index * 85, name)
            for index, (name, color) in enumerate(
                (("awarded", BEFORE_COLOR), ("this version", AFTER_COLOR))
            )
        ),
    )
