"""Charts as inline SVG rendered on the server (no script, no chart library, works offline)."""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup, escape


@dataclass(frozen=True)
class Series:
    label: str
    values: list[int]
    css_class: str


def line_chart(labels: list[str], series: list[Series], *, title: str, width: int = 720, height: int = 220,
               max_ticks: int = 8, ticks: list[int] | None = None, dots: bool = True,
               mark: tuple[int, str] | None = None) -> Markup:
    """A line chart of `series` over `labels` (x axis), with a title for screen readers.
    `ticks`: the indexes whose labels the axis shows (default: evenly spaced); `dots=False`
    draws lines only (each point keeps its value as a hover title); `mark` draws a dashed
    vertical line before the point at that index, labelled at its foot (a cumulative line
    is high by then, the foot is free)."""
    pad_left, pad_right, pad_top, pad_bottom = 44, 12, 12, 34
    inner_w, inner_h = width - pad_left - pad_right, height - pad_top - pad_bottom
    top = max([1, *[v for s in series for v in s.values]])
    count = max(len(labels), 1)

    def x(i: int) -> float:
        return pad_left + (inner_w * i / (count - 1) if count > 1 else inner_w / 2)

    def y(v: int) -> float:
        return pad_top + inner_h - inner_h * v / top

    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
             f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>']
    for frac in (0, 0.5, 1):
        value = round(top * frac)
        parts.append(f'<line class="grid" x1="{pad_left}" x2="{width - pad_right}" y1="{y(value):.1f}" '
                     f'y2="{y(value):.1f}"/><text class="axis" x="{pad_left - 6}" y="{y(value) + 4:.1f}" '
                     f'text-anchor="end">{value}</text>')
    step = max(1, -(-count // max_ticks))
    for i in (ticks if ticks is not None else range(0, len(labels), step)):
        parts.append(f'<text class="axis" x="{x(i):.1f}" y="{height - 12}" text-anchor="middle">'
                     f'{escape(labels[i])}</text>')
    if mark is not None and 0 < mark[0] < count:
        at = (x(mark[0] - 1) + x(mark[0])) / 2
        parts.append(f'<line class="mark" x1="{at:.1f}" x2="{at:.1f}" y1="{pad_top}" y2="{pad_top + inner_h}"/>'
                     f'<text class="axis mark-label" x="{at - 4:.1f}" y="{pad_top + inner_h - 6}" text-anchor="end">'
                     f'{escape(mark[1])}</text>')
    for s in series:
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(s.values))
        parts.append(f'<polyline class="line {escape(s.css_class)}" fill="none" points="{points}">'
                     f'<title>{escape(s.label)}</title></polyline>')
        for i, v in enumerate(s.values):
            if v and dots:
                parts.append(f'<circle class="dot {escape(s.css_class)}" cx="{x(i):.1f}" cy="{y(v):.1f}" r="2.5">'
                             f'<title>{escape(labels[i])}: {v} {escape(s.label)}</title></circle>')
            elif not dots and (i == len(s.values) - 1 or v != s.values[i + 1]):
                # An invisible target where the line changes: the value on hover or focus.
                parts.append(f'<circle class="hover-dot" cx="{x(i):.1f}" cy="{y(v):.1f}" r="5">'
                             f'<title>{escape(labels[i])}: {v} {escape(s.label)}</title></circle>')
    parts.append("</svg>")
    legend = "".join(f'<span class="legend-item {escape(s.css_class)}">{escape(s.label)}</span>' for s in series)
    return Markup(f'<figure class="chart-figure">{"".join(parts)}<figcaption class="legend">{legend}'
                  f'</figcaption></figure>')
