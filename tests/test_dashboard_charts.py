"""The dashboard's SVG charts: well-formed, escaped, true to the counts, and drawn without data."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from cpa_bandit.api.charts import (
    OTHER_COLOUR,
    PALETTE,
    PLOT_H,
    TOP,
    Window,
    offer_series,
    revenue_chart,
    share_chart,
)
from cpa_bandit.store.base import HourCounts

SVG = "{http://www.w3.org/2000/svg}"
H = 3_600
NOW = 1_767_225_600.0 + 13.5 * H  # 2026-01-01 13:30 UTC
WINDOW = Window.ending_at(NOW, 24)
CURRENT = int(NOW // H) * H


def parse(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    return root


def marks(root: ET.Element, tag: str) -> list[ET.Element]:
    """Data marks: shapes that carry a tooltip (frame, grid and legend swatches carry none)."""
    return [el for el in root.iter(f"{SVG}{tag}") if el.find(f"{SVG}title") is not None]


def test_the_window_ends_with_the_current_hour() -> None:
    assert WINDOW.first_hour == CURRENT - 23 * H
    assert WINDOW.index(CURRENT) == 23
    assert WINDOW.index(WINDOW.first_hour) == 0
    assert WINDOW.index(WINDOW.first_hour - H) is None
    assert WINDOW.index(CURRENT + H) is None


def test_each_hour_is_a_column_of_the_offers_shares() -> None:
    counts = [
        HourCounts(CURRENT - H, 1, 30, 12, 1, 25_000_000),
        HourCounts(CURRENT - H, 2, 10, 4, 0, 0),
        HourCounts(CURRENT, 2, 5, 1, 1, 40_000_000),
        HourCounts(CURRENT - 30 * H, 1, 99, 9, 9, 0),  # before the window
    ]
    series = offer_series(counts, WINDOW, {1: "#1 Casino"})
    assert [(s.label, s.colour) for s in series] == [("#1 Casino", PALETTE[0]), ("#2", PALETTE[1])]
    root = parse(share_chart(series, WINDOW))
    rects = marks(root, "rect")
    heights = [float(r.get("height")) for r in rects]
    assert heights == pytest.approx([PLOT_H * 0.75, PLOT_H * 0.25, PLOT_H], abs=0.1)  # hour by hour, bottom up
    assert [r.get("fill") for r in rects] == [PALETTE[0], PALETTE[1], PALETTE[1]]
    assert all(float(r.get("width")) > 0 for r in rects)
    assert float(rects[0].get("y")) + heights[0] == pytest.approx(TOP + PLOT_H, abs=0.1)  # from the baseline
    assert "75.0% of 40 clicks" in rects[0].find(f"{SVG}title").text


def test_revenue_is_one_line_per_offer_with_a_dot_per_hour_with_clicks() -> None:
    counts = [HourCounts(CURRENT - 2 * H, 7, 4, 2, 1, 37_500_000), HourCounts(CURRENT, 7, 3, 0, 0, 0)]
    root = parse(revenue_chart(offer_series(counts, WINDOW, {}), WINDOW))
    assert len(root.findall(f"{SVG}path")) == 1
    dots = marks(root, "circle")
    assert len(dots) == 2
    labels = [t.text for t in root.iter(f"{SVG}text")]
    assert {"0", "10", "20", "30", "40"} <= set(labels)  # a round axis above the highest hour
    high, zero = (float(dot.get("cy")) for dot in dots)
    assert zero == pytest.approx(TOP + PLOT_H, abs=0.1)  # coordinates are written to 0.1
    assert high == pytest.approx(TOP + PLOT_H * (1 - 37.5 / 40), abs=0.1)
    assert "37.50 from 4 clicks" in dots[0].find(f"{SVG}title").text


def test_revenue_axis_of_clicks_that_earned_nothing_yet() -> None:
    root = parse(revenue_chart(offer_series([HourCounts(CURRENT, 7, 3, 0, 0, 0)], WINDOW, {}), WINDOW))
    labels = [t.text for t in root.iter(f"{SVG}text")]
    assert {"0.00", "1.00"} <= set(labels)


def test_offers_beyond_the_palette_are_drawn_together_in_grey() -> None:
    counts = [HourCounts(CURRENT, offer_id, 100 - offer_id, 1, 0, offer_id * 1_000_000) for offer_id in range(12)]
    series = offer_series(counts, WINDOW, {})
    assert len(series) == len(PALETTE)
    assert [s.label for s in series[:-1]] == [f"#{i}" for i in range(len(PALETTE) - 1)]  # the most clicked
    other = series[-1]
    assert (other.label, other.colour) == ("4 other offers", OTHER_COLOUR)
    assert other.clicks[-1] == sum(100 - i for i in range(8, 12))
    assert other.revenue[-1] == pytest.approx(sum(range(8, 12)))
    assert len({s.colour for s in series}) == len(series)


@pytest.mark.parametrize("chart", [share_chart, revenue_chart])
def test_offer_names_are_escaped(chart) -> None:
    name = "#5 <script>alert(\"x\")</script> & 'co'"
    svg = chart(offer_series([HourCounts(CURRENT, 5, 10, 1, 1, 1_000_000)], WINDOW, {5: name}), WINDOW)
    assert "<script" not in svg
    root = parse(svg)
    assert not list(root.iter(f"{SVG}script")) and not list(root.iter("script"))
    legend_titles = [g.find(f"{SVG}title").text for g in root.iter(f"{SVG}g")]
    assert legend_titles == [name]  # the full name, as text


@pytest.mark.parametrize("chart", [share_chart, revenue_chart])
def test_without_clicks_a_chart_keeps_its_axes_and_says_so(chart) -> None:
    root = parse(chart(offer_series([], WINDOW, {}), WINDOW))
    assert not marks(root, "rect") and not marks(root, "circle") and not root.findall(f"{SVG}path")
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "No clicks in the last 24 hours" in texts
    assert "12:00" in texts  # the hour axis is there


@pytest.mark.parametrize(("hours", "labelled"), [(6, 6), (24, 8), (168, 7)])
def test_hour_labels_stay_few_and_round(hours: int, labelled: int) -> None:
    window = Window.ending_at(NOW, hours)
    root = parse(share_chart([], window))
    ticks = [line for line in root.iter(f"{SVG}line") if line.get("y2") != line.get("y1")]
    assert len(ticks) == labelled
    texts = {t.text for t in root.iter(f"{SVG}text")}
    assert ("Jan 01" in texts) and (("00:00" in texts) == (hours == 24))
