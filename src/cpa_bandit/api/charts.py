"""The dashboard's charts as SVG, rendered here rather than in the browser.

A charting library would have to come from a CDN or an npm build; a few hundred lines of
SVG need neither, render the same in every browser and in a screenshot, and put every label
that clients chose (offer names) through one escaping function. The functions are pure: hourly
counters in, markup out.

Both charts read click *cohorts*: an hour's clicks are the clicks decided in it, and its
revenue is what those clicks earned so far, whenever the conversions were reported. Offers
keep their colour across both charts; beyond the palette, the offers with the fewest clicks
are drawn together as "other offers", so that no two offers share a colour.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ..money import from_micros

if TYPE_CHECKING:
    from ..store.base import HourCounts

HOUR = 3_600

PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f")
"""Tableau 10 without its grey, which marks the other offers."""
OTHER_COLOUR = "#bab0ac"

WIDTH, HEIGHT = 680, 270
LEFT, RIGHT, TOP, BOTTOM = 58, 180, 14, 44
"""Margins around the plot area: y labels on the left, the legend on the right."""
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
MAX_X_LABELS = 8
LEGEND_CHARS = 18
INK, MUTED, GRID = "#1f2933", "#66707c", "#e3e7ec"


@dataclass(frozen=True, slots=True)
class Window:
    """The hours a chart covers: ``hours`` whole hours from ``first_hour`` (Unix seconds)."""

    first_hour: int
    hours: int

    @classmethod
    def ending_at(cls, now: float, hours: int) -> Window:
        """The last ``hours`` hours, the current (unfinished) one included."""
        return cls(int(now // HOUR) * HOUR - (hours - 1) * HOUR, hours)

    def index(self, hour: int) -> int | None:
        i = (hour - self.first_hour) // HOUR
        return i if 0 <= i < self.hours else None


@dataclass(frozen=True, slots=True)
class Series:
    """One offer (or the other offers together) per hour of a window."""

    label: str
    colour: str
    clicks: tuple[int, ...]
    revenue: tuple[float, ...]


def offer_series(counts: Iterable[HourCounts], window: Window, labels: Mapping[int, str]) -> list[Series]:
    """The offers with clicks in the window, in offer id order, coloured from the palette;
    when they outnumber it, the ones with the fewest clicks merged into one grey series."""
    clicks: dict[int, list[int]] = {}
    revenue: dict[int, list[float]] = {}
    for row in counts:
        i = window.index(row.hour)
        if i is None:
            continue
        clicks.setdefault(row.offer_id, [0] * window.hours)[i] += row.clicks
        revenue.setdefault(row.offer_id, [0.0] * window.hours)[i] += from_micros(row.reward_micros)
    ranked = sorted(clicks, key=lambda offer_id: (-sum(clicks[offer_id]), offer_id))
    own = sorted(ranked if len(ranked) <= len(PALETTE) else ranked[: len(PALETTE) - 1])
    series = [
        Series(labels.get(offer_id, f"#{offer_id}"), colour, tuple(clicks[offer_id]), tuple(revenue[offer_id]))
        for offer_id, colour in zip(own, PALETTE)
    ]
    if rest := ranked[len(own) :]:
        series.append(
            Series(
                f"{len(rest)} other offers",
                OTHER_COLOUR,
                tuple(map(sum, zip(*(clicks[offer_id] for offer_id in rest)))),
                tuple(map(sum, zip(*(revenue[offer_id] for offer_id in rest)))),
            )
        )
    return series


def share_chart(series: Sequence[Series], window: Window) -> str:
    """Each hour as a column of 100 %, split by the offers' shares of its clicks."""
    title = "Share of clicks per hour, by offer"
    if not series:
        return _empty(title, window)
    totals = [sum(column) for column in zip(*(s.clicks for s in series))]
    width = PLOT_W / window.hours
    pad = min(2.0, width * 0.15)
    marks = []
    for i, total in enumerate(totals):
        if not total:
            continue
        bottom = 0.0
        for s in series:
            if not s.clicks[i]:
                continue
            share = s.clicks[i] / total
            tip = f"{s.label}, {_hour_label(window, i)}: {share:.1%} of {total:,} clicks ({s.clicks[i]:,})"
            marks.append(
                _rect(LEFT + i * width + pad, _y(bottom + share, 1.0), width - 2 * pad, share * PLOT_H, s.colour, tip)
            )
            bottom += share
    axis = _y_axis([0.0, 0.25, 0.5, 0.75, 1.0], 1.0, lambda v: f"{v:.0%}")
    return _svg(title, [axis, _x_axis(window), *marks, _legend(series)])


def revenue_chart(series: Sequence[Series], window: Window) -> str:
    """One line per offer: the revenue of the clicks decided in each hour."""
    title = "Revenue of each hour's clicks, by offer"
    if not series:
        return _empty(title, window)
    step = _nice_step(max(max(s.revenue) for s in series))
    top = 4 * step
    decimals = 0 if step >= 1 else min(6, math.ceil(-math.log10(step)) + 1)
    axis = _y_axis([k * step for k in range(5)], top, lambda v: f"{v:,.{decimals}f}")
    width = PLOT_W / window.hours
    marks = []
    for s in series:
        points = [(LEFT + (i + 0.5) * width, _y(value, top)) for i, value in enumerate(s.revenue)]
        path = " ".join(f"{'M' if i == 0 else 'L'}{x:.1f},{y:.1f}" for i, (x, y) in enumerate(points))
        marks.append(f'<path d="{path}" fill="none" stroke="{s.colour}" stroke-width="2" stroke-linejoin="round"/>')
        marks.extend(
            _dot(
                x, y, s.colour, f"{s.label}, {_hour_label(window, i)}: {s.revenue[i]:,.2f} from {s.clicks[i]:,} clicks"
            )
            for i, (x, y) in enumerate(points)
            if s.clicks[i]
        )
    return _svg(title, [axis, _x_axis(window), *marks, _legend(series)])


# --- pieces -----------------------------------------------------------------------------


def _esc(text: object) -> str:
    return html.escape(str(text), quote=True)


def _svg(title: str, parts: Iterable[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{_esc(title)}" font-family="system-ui, sans-serif" font-size="12">'
        f"<title>{_esc(title)}</title>{''.join(parts)}</svg>"
    )


def _empty(title: str, window: Window) -> str:
    """The axes and a note, so that the page keeps its layout before the first click."""
    note = (
        f'<text x="{LEFT + PLOT_W / 2:.1f}" y="{TOP + PLOT_H / 2:.1f}" text-anchor="middle" fill="{MUTED}" '
        f'font-size="13">No clicks in the last {window.hours} hours</text>'
    )
    return _svg(title, [_y_axis([], 1.0, str), _x_axis(window), note])


def _y(value: float, top: float) -> float:
    return TOP + PLOT_H * (1 - value / top)


def _rect(x: float, y: float, w: float, h: float, colour: str, tip: str) -> str:
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" fill="{colour}">'
        f"<title>{_esc(tip)}</title></rect>"
    )


def _dot(x: float, y: float, colour: str, tip: str) -> str:
    return (
        f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}" stroke="#fff" stroke-width="1">'
        f"<title>{_esc(tip)}</title></circle>"
    )


def _nice_step(top: float, ticks: int = 4) -> float:
    """A round step (1, 2, 2.5 or 5 times a power of ten) with ``ticks`` steps reaching ``top``
    (reaching 1 when ``top`` is 0: clicks that earned nothing yet)."""
    raw = (top if top > 0 else 1.0) / ticks
    magnitude = 10.0 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw * (1 - 1e-9))


def _y_axis(ticks: Sequence[float], top: float, label: Callable[[float], str]) -> str:
    """Grid lines with their labels, and the frame of the plot area."""
    parts = [f'<rect x="{LEFT}" y="{TOP}" width="{PLOT_W}" height="{PLOT_H}" fill="none" stroke="{GRID}"/>']
    for value in ticks:
        y = _y(value, top)
        parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + PLOT_W}" y2="{y:.1f}" stroke="{GRID}"/>')
        parts.append(
            f'<text x="{LEFT - 8}" y="{y + 4:.1f}" text-anchor="end" fill="{MUTED}">{_esc(label(value))}</text>'
        )
    return "".join(parts)


def _x_axis(window: Window) -> str:
    """Hour labels at round hours (UTC), at most MAX_X_LABELS of them, with the date under
    the first one and under each midnight."""
    every = next(k for k in (1, 2, 3, 4, 6, 12, 24, 48, 72) if math.ceil(window.hours / k) <= MAX_X_LABELS)
    width = PLOT_W / window.hours
    parts = [f'<text x="{LEFT - 8}" y="{TOP + PLOT_H + 16}" text-anchor="end" fill="{MUTED}">UTC</text>']
    first = True
    for i in range(window.hours):
        if (window.first_hour // HOUR + i) % every:
            continue
        moment = datetime.fromtimestamp(window.first_hour + i * HOUR, UTC)
        x = LEFT + (i + 0.5) * width
        hour_text = moment.strftime("%H:00") if every < 24 else ""
        date_text = moment.strftime("%b %d") if first or moment.hour == 0 or every >= 24 else ""
        parts.append(f'<line x1="{x:.1f}" y1="{TOP + PLOT_H}" x2="{x:.1f}" y2="{TOP + PLOT_H + 4}" stroke="{MUTED}"/>')
        for line, text in enumerate(t for t in (hour_text, date_text) if t):
            parts.append(
                f'<text x="{x:.1f}" y="{TOP + PLOT_H + 16 + 13 * line}" text-anchor="middle" fill="{MUTED}">'
                f"{_esc(text)}</text>"
            )
        first = False
    return "".join(parts)


def _hour_label(window: Window, i: int) -> str:
    return datetime.fromtimestamp(window.first_hour + i * HOUR, UTC).strftime("%b %d %H:00 UTC")


def _legend(series: Sequence[Series]) -> str:
    """A swatch and a name per series, right of the plot; long names are cut (the full name
    is the entry's tooltip)."""
    x = LEFT + PLOT_W + 16
    parts = []
    for n, s in enumerate(series):
        y = TOP + 4 + 20 * n
        name = s.label if len(s.label) <= LEGEND_CHARS else s.label[: LEGEND_CHARS - 1] + "…"
        parts.append(
            f'<g><title>{_esc(s.label)}</title><rect x="{x}" y="{y}" width="12" height="12" rx="2" fill="{s.colour}"/>'
            f'<text x="{x + 18}" y="{y + 10}" fill="{INK}">{_esc(name)}</text></g>'
        )
    return "".join(parts)
