"""Server-rendered SVG charts for the admin dashboard: no JavaScript, no external assets."""

from __future__ import annotations

from collections.abc import Sequence

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

WIDTH = 520
HEIGHT = 180
PAD_LEFT = 44
PAD_BOTTOM = 34
PAD_TOP = 12


def _n(value: float) -> str:
    return f"{value:.1f}"


def _fmt(value: float) -> str:
    if value >= 1000:
        return f"{value / 1000:.1f}k"
    if value == int(value):
        return str(int(value))
    return f"{value:.2g}" if value < 1 else f"{value:.1f}"


def _frame(*, title: str, plot_h: float, peak: float) -> list[SafeString]:
    """Return the opening of a chart: the svg element, its title, the x axis and the peak."""
    return [
        format_html(
            '<svg class="chart" role="img" aria-label="{}" viewBox="0 0 {} {}" '
            'width="{}" height="{}" xmlns="http://www.w3.org/2000/svg">',
            title,
            WIDTH,
            HEIGHT,
            WIDTH,
            HEIGHT,
        ),
        format_html("<title>{}</title>", title),
        format_html(
            '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#999"/>',
            PAD_LEFT,
            PAD_TOP + plot_h,
            WIDTH - 8,
            PAD_TOP + plot_h,
        ),
        format_html(
            '<text x="{}" y="{}" font-size="10" text-anchor="end">{}</text>',
            PAD_LEFT - 4,
            PAD_TOP + 8,
            _fmt(peak),
        ),
    ]


def bar_chart(
    bars: Sequence[tuple[str, float]], *, title: str, color: str = "#417690"
) -> SafeString:
    """Return an SVG bar chart of ``(label, value)`` pairs."""
    plot_w = WIDTH - PAD_LEFT - 8
    plot_h = HEIGHT - PAD_BOTTOM - PAD_TOP
    peak = max((value for _, value in bars), default=0) or 1
    parts = _frame(title=title, plot_h=plot_h, peak=peak)
    if bars:
        slot = plot_w / len(bars)
        for index, (label, value) in enumerate(bars):
            height = plot_h * value / peak
            x = PAD_LEFT + index * slot + slot * 0.1
            parts.append(
                format_html(
                    '<rect class="bar" x="{}" y="{}" width="{}" height="{}" '
                    'fill="{}"><title>{}: {}</title></rect>',
                    _n(x),
                    _n(PAD_TOP + plot_h - height),
                    _n(slot * 0.8),
                    _n(height),
                    color,
                    label,
                    _fmt(value),
                )
            )
            parts.append(
                format_html(
                    '<text x="{}" y="{}" font-size="9" text-anchor="middle">{}</text>',
                    _n(x + slot * 0.4),
                    HEIGHT - PAD_BOTTOM + 14,
                    label,
                )
            )
    else:
        parts.append(_empty())
    parts.append(mark_safe("</svg>"))
    return mark_safe("".join(parts))


def line_chart(
    points: Sequence[tuple[float, str, float | None]],
    *,
    title: str,
    ticks: Sequence[tuple[float, str]] = (),
    markers: Sequence[tuple[float, str, str]] = (),
    color: str = "#417690",
) -> SafeString:
    """Return an SVG line chart over a time axis.

    ``points`` are ``(x, label, value)`` with ``x`` from 0 (the axis' start) to 1 (its end);
    None values leave gaps. ``ticks`` are ``(x, label)`` under the axis, ``markers``
    ``(x, label, tooltip)`` drawn as dashed vertical lines (a version change).
    """
    plot_w = WIDTH - PAD_LEFT - 8
    plot_h = HEIGHT - PAD_BOTTOM - PAD_TOP
    values = [value for _, _, value in points if value is not None]
    peak = max(values, default=0) or 1
    parts = _frame(title=title, plot_h=plot_h, peak=peak)
    if not values:
        parts.append(_empty())
        parts.append(mark_safe("</svg>"))
        return mark_safe("".join(parts))

    def at(x: float) -> float:
        return PAD_LEFT + min(max(x, 0.0), 1.0) * plot_w

    segments: list[list[tuple[float, float, str, float]]] = [[]]
    for x, label, value in points:
        if value is None:
            if segments[-1]:
                segments.append([])
            continue
        segments[-1].append((at(x), PAD_TOP + plot_h - plot_h * value / peak, label, value))
    for segment in segments:
        if len(segment) > 1:
            parts.append(
                format_html(
                    '<polyline class="line" fill="none" stroke="{}" stroke-width="2" points="{}"/>',
                    color,
                    " ".join(f"{x:.1f},{y:.1f}" for x, y, _, _ in segment),
                )
            )
        for x, y, label, value in segment:
            parts.append(
                format_html(
                    '<circle cx="{}" cy="{}" r="2.5" fill="{}"><title>{}: {}</title></circle>',
                    _n(x),
                    _n(y),
                    color,
                    label,
                    _fmt(value),
                )
            )
    for x, label, tooltip in markers:
        parts.append(
            format_html(
                '<g class="marker"><title>{}</title>'
                '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#777" stroke-dasharray="3,3"/>'
                '<text x="{}" y="{}" font-size="9" fill="#555">{}</text></g>',
                tooltip,
                _n(at(x)),
                PAD_TOP,
                _n(at(x)),
                PAD_TOP + plot_h,
                _n(at(x) + 2),
                PAD_TOP + 8,
                label,
            )
        )
    last = len(ticks) - 1
    for index, (x, label) in enumerate(ticks):
        anchor = "start" if index == 0 else "end" if index == last else "middle"
        parts.append(
            format_html(
                '<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="#999"/>'
                '<text class="tick" x="{}" y="{}" font-size="9" text-anchor="{}">{}</text>',
                _n(at(x)),
                PAD_TOP + plot_h,
                _n(at(x)),
                PAD_TOP + plot_h + 4,
                _n(at(x)),
                HEIGHT - PAD_BOTTOM + 14,
                anchor,
                label,
            )
        )
    parts.append(mark_safe("</svg>"))
    return mark_safe("".join(parts))


def _empty() -> SafeString:
    return format_html(
        '<text x="{}" y="{}" font-size="12" text-anchor="middle" fill="#666">{}</text>',
        WIDTH / 2,
        HEIGHT / 2,
        escape("No data in this window"),
    )
