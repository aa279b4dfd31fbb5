"""Self-contained HTML reports: inline SVG drawn here (no JavaScript, no fonts or images fetched), one file.

The day's SVG has the same parts as the PNG: a band of states (one rectangle per run of timeline bins), credited
breaks above it and prompts below it, then the seated forward tilt per minute (mean line, 10-90 % band) with the
detector's thresholds as dashed lines, breaks shaded, hours on the x axis and degrees on the y axis.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from posturebuddy.report.layout import (
    BREAK_COLOUR,
    FLEXION_COLOUR,
    NOT_MEDICAL,
    NOT_RECORDED,
    PROMPT_COLOUR,
    STATES,
    STYLE,
    DayPlan,
    duration_text,
    headline,
    share_text,
)
from posturebuddy.session.history import OUTCOME_NAMES, DayFigures, Figures

SVG_NS = "http://www.w3.org/2000/svg"
WIDTH = 960.0
LEFT = 70.0
RIGHT = 150.0

_CSS = """
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; color: #222; max-width: 1000px;
       margin: 2em auto; padding: 0 1em; line-height: 1.45; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; } .headline { color: #444; margin-top: 0; }
table { border-collapse: collapse; margin: 1em 0; } th, td { padding: 0.3em 0.8em; text-align: right; }
th:first-child, td:first-child { text-align: left; } tr:nth-child(even) td { background: #f6f7f9; }
thead th { border-bottom: 2px solid #ccc; } tfoot td { border-top: 2px solid #ccc; font-weight: bold; }
.note { color: #666; font-size: 0.85em; } svg { max-width: 100%; height: auto; }
"""


def _f(v: float) -> str:
    return f"{v:.1f}"


def _run_rects(plan: DayPlan, x0: float, width: float, y: float, height: float) -> list[str]:
    """One rectangle per run of equal timeline bins."""
    out: list[str] = []
    n = len(plan.bins)
    i = 0
    while i < n:
        j = i
        while j + 1 < n and plan.bins[j + 1] == plan.bins[i]:
            j += 1
        state = plan.bins[i]
        if state != NOT_RECORDED:
            style = STYLE[state]
            out.append(
                f'<rect x="{_f(x0 + width * i / n)}" y="{_f(y)}" width="{_f(width * (j + 1 - i) / n)}" '
                f'height="{_f(height)}" fill="{style.colour}"><title>{escape(style.label)} '
                f"{plan.clock(plan.start_s + i * plan.bin_min * 60.0)}-"
                f"{plan.clock(plan.start_s + (j + 1) * plan.bin_min * 60.0)}</title></rect>"
            )
        i = j + 1
    return out


def day_svg(plan: DayPlan, *, forward_head_deg: float, slouch_deg: float, lean_back_deg: float) -> str:
    """The day's picture as an SVG element (text)."""
    plot_w = WIDTH - LEFT - RIGHT
    span = plan.end_s - plan.start_s

    def x(t_s: float) -> float:
        return LEFT + plot_w * (t_s - plan.start_s) / span

    parts: list[str] = []
    # Band of states.
    band_y, band_h = 40.0, 34.0
    parts.append(f'<text x="{LEFT - 8}" y="{band_y + 22}" text-anchor="end" class="lab">posture</text>')
    parts += _run_rects(plan, LEFT, plot_w, band_y, band_h)
    parts.append(f'<text x="{LEFT - 8}" y="{band_y - 8}" text-anchor="end" class="lab">breaks</text>')
    for b0, b1 in plan.breaks:
        parts.append(
            f'<rect x="{_f(x(b0))}" y="{band_y - 16}" width="{_f(max(2.0, x(max(b1, b0 + 60.0)) - x(b0)))}" '
            f'height="7" fill="{BREAK_COLOUR}"><title>break {plan.clock(b0)}-{plan.clock(b1)}</title></rect>'
        )
    for t in plan.prompt_t_s:
        cx, cy = x(t + 30.0), band_y + band_h + 6.0
        parts.append(
            f'<path d="M{_f(cx)},{_f(cy)} l5,9 h-10 z" fill="{PROMPT_COLOUR}"><title>prompt at about '
            f"{plan.clock(t)}</title></path>"
        )
    # Legend, wrapped to the width.
    lx, ly = LEFT, band_y + band_h + 34.0
    present = set(plan.bins)
    items = [
        (s.label, f'<rect x="{{x}}" y="{{y10}}" width="12" height="12" fill="{s.colour}" stroke="#999"/>')
        for s in STATES
        if s.key in present
    ]
    items.append(("break taken", f'<rect x="{{x}}" y="{{y8}}" width="14" height="7" fill="{BREAK_COLOUR}"/>'))
    if plan.prompt_t_s:
        items.append(("prompt", f'<path d="M{{x6}},{{y10}} l5,9 h-10 z" fill="{PROMPT_COLOUR}"/>'))
    for label, mark in items:
        item_w = 30.0 + 7.0 * len(label)
        if lx + item_w > WIDTH - 10.0:
            lx, ly = LEFT, ly + 20.0
        parts.append(
            mark.format(x=_f(lx), x6=_f(lx + 6), y10=_f(ly - 10), y8=_f(ly - 8))
            + f'<text x="{_f(lx + 19)}" y="{_f(ly)}" class="lab">{escape(label)}</text>'
        )
        lx += item_w
    # Forward tilt.
    top, height = ly + 30.0, 260.0
    finite_lo = sorted(v for v in plan.flexion_p10_deg if math.isfinite(v))
    finite_hi = sorted(v for v in plan.flexion_p90_deg if math.isfinite(v))
    lo = min(-lean_back_deg - 5.0, finite_lo[len(finite_lo) // 50] if finite_lo else 0.0)
    hi = max(slouch_deg + 8.0, finite_hi[-1 - len(finite_hi) // 50] if finite_hi else 0.0)
    lo, hi = max(lo, -45.0), min(hi, 60.0)

    def y(deg: float) -> float:
        return top + height * (hi - min(max(deg, lo), hi)) / (hi - lo)

    parts.append(
        f'<clipPath id="plot"><rect x="{LEFT}" y="{_f(top)}" width="{_f(plot_w)}" height="{height}"/></clipPath>'
    )
    for b0, b1 in plan.breaks:
        parts.append(
            f'<rect x="{_f(x(b0))}" y="{_f(top)}" width="{_f(max(1.0, x(max(b1, b0 + 60.0)) - x(b0)))}" '
            f'height="{height}" fill="{BREAK_COLOUR}" fill-opacity="0.12"/>'
        )
    for t in plan.hours():
        parts.append(
            f'<line x1="{_f(x(t))}" x2="{_f(x(t))}" y1="{_f(top)}" y2="{_f(top + height)}" stroke="#e6e6e6"/>'
            f'<text x="{_f(x(t))}" y="{_f(top + height + 16)}" text-anchor="middle" class="lab">{plan.clock(t)}</text>'
        )
    step = 10.0 if hi - lo > 30.0 else 5.0
    deg = math.ceil(lo / step) * step
    while deg <= hi:
        parts.append(
            f'<text x="{LEFT - 6}" y="{_f(y(deg) + 4)}" text-anchor="end" class="lab">{deg:g}</text>'
            f'<line x1="{LEFT - 3}" x2="{LEFT}" y1="{_f(y(deg))}" y2="{_f(y(deg))}" stroke="#666"/>'
        )
        deg += step
    # Band and mean line, split where minutes are missing.
    segments: list[list[int]] = []
    for i, t in enumerate(plan.minute_t_s):
        ok = math.isfinite(plan.flexion_mean_deg[i])
        if ok and segments and segments[-1] and plan.minute_t_s[segments[-1][-1]] == t - 60.0:
            segments[-1].append(i)
        elif ok:
            segments.append([i])
    for seg in segments:
        xs = [x(plan.minute_t_s[i] + 30.0) for i in seg]
        upper = " ".join(f"{_f(a)},{_f(y(plan.flexion_p90_deg[i]))}" for a, i in zip(xs, seg, strict=True))
        lower = " ".join(
            f"{_f(a)},{_f(y(plan.flexion_p10_deg[i]))}" for a, i in reversed(list(zip(xs, seg, strict=True)))
        )
        mean = " ".join(f"{_f(a)},{_f(y(plan.flexion_mean_deg[i]))}" for a, i in zip(xs, seg, strict=True))
        parts.append(
            f'<g clip-path="url(#plot)"><polygon points="{upper} {lower}" fill="{FLEXION_COLOUR}" '
            f'fill-opacity="0.18"/><polyline points="{mean}" fill="none" stroke="{FLEXION_COLOUR}" '
            f'stroke-width="1.4"/></g>'
        )
    for value, style, words in (
        (slouch_deg, STYLE["slouch"], f"slouching ({slouch_deg:g}°)"),
        (forward_head_deg, STYLE["forward_head"], f"forward head ({forward_head_deg:g}°)"),
        (-lean_back_deg, STYLE["leaning_back"], f"leaning back (-{lean_back_deg:g}°)"),
    ):
        parts.append(
            f'<line x1="{LEFT}" x2="{_f(LEFT + plot_w)}" y1="{_f(y(value))}" y2="{_f(y(value))}" '
            f'stroke="{style.colour}" stroke-dasharray="6 4" stroke-width="1.3"/>'
            f'<text x="{_f(LEFT + plot_w + 6)}" y="{_f(y(value) + 4)}" fill="{style.colour}" class="lab">'
            f"{escape(words)}</text>"
        )
    parts.append(
        f'<line x1="{LEFT}" x2="{_f(LEFT + plot_w)}" y1="{_f(y(0.0))}" y2="{_f(y(0.0))}" stroke="#999"/>'
        f'<line x1="{LEFT}" x2="{LEFT}" y1="{_f(top)}" y2="{_f(top + height)}" stroke="#666"/>'
        f'<line x1="{LEFT}" x2="{_f(LEFT + plot_w)}" y1="{_f(top + height)}" y2="{_f(top + height)}" stroke="#666"/>'
        f'<text x="{_f(LEFT + plot_w / 2)}" y="{_f(top + height + 36)}" text-anchor="middle" class="lab">'
        f"local time ({escape(plan.clock(plan.start_s, '%Z') or 'local')})</text>"
        f'<text transform="translate(18,{_f(top + height / 2)}) rotate(-90)" text-anchor="middle" class="lab">'
        "forward tilt while seated (°)</text>"
    )
    total_h = top + height + 50.0
    title = f"PostureBuddy, {plan.day.isoformat()}: {headline(plan.figures)}"
    return (
        f'<svg xmlns="{SVG_NS}" viewBox="0 0 {WIDTH:g} {total_h:g}" width="{WIDTH:g}" height="{total_h:g}" '
        f'role="img" aria-label="{escape(title)}"><title>{escape(title)}</title>'
        "<style>.lab { font: 12px system-ui, sans-serif; fill: #333; }</style>"
        f'<rect width="100%" height="100%" fill="white"/>{"".join(parts)}</svg>'
    )


def figures_rows(f: Figures) -> list[tuple[str, str]]:
    """The figures as (what, value) rows, as the terminal table shows them."""
    episodes = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in sorted(f.episodes.items())) or "none"
    outcomes = ", ".join(f"{f.outcomes.get(k, 0)} {k.replace('_', ' ')}" for k in OUTCOME_NAMES if f.outcomes.get(k))
    return [
        ("upright (of judged sitting time)", share_text(f.upright_share)),
        ("judged posture time", duration_text(f.judged_s)),
        ("episodes", f"{f.episode_count} ({episodes})"),
        ("prompts raised", f"{f.prompt_count}" + (f" ({outcomes})" if outcomes else "")),
        ("breaks taken", str(f.breaks)),
        ("longest unbroken sitting", duration_text(f.longest_sitting_s)),
        (
            "sitting / standing / walking",
            " / ".join(duration_text(s) for s in (f.sitting_s, f.standing_s, f.walking_s)),
        ),
        ("recorded time", f"{duration_text(f.recorded_s)} (no data {duration_text(f.no_data_s)})"),
    ]


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"/>'
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>{body}"
        f'<p class="note">{escape(NOT_MEDICAL)}</p></body></html>\n'
    )


def day_html(plan: DayPlan, *, forward_head_deg: float, slouch_deg: float, lean_back_deg: float) -> str:
    """A whole HTML page for one day."""
    rows = "".join(f"<tr><td>{escape(k)}</td><td>{escape(v)}</td></tr>" for k, v in figures_rows(plan.figures))
    svg = day_svg(plan, forward_head_deg=forward_head_deg, slouch_deg=slouch_deg, lean_back_deg=lean_back_deg)
    title = f"PostureBuddy: {plan.day:%A} {plan.day.day} {plan.day:%B %Y}"
    body = (
        f'<h1>{escape(title)}</h1><p class="headline">{escape(headline(plan.figures))}</p>{svg}'
        f"<table><tbody>{rows}</tbody></table>"
    )
    return _page(title, body)


def week_html(title: str, days: Sequence[DayFigures], plans: Sequence[DayPlan | None], totals: Figures) -> str:
    """A whole HTML page for a week: one row per day and totals, and each day's band of states."""
    head = (
        "<tr><th>day</th><th>upright</th><th>episodes</th><th>prompts</th><th>done</th><th>breaks</th>"
        "<th>longest sitting</th><th>recorded</th></tr>"
    )

    def cells(label: str, f: Figures) -> str:
        values = (
            [label, "no recordings", "", "", "", "", "", ""]
            if f.empty
            else [
                label,
                share_text(f.upright_share),
                str(f.episode_count),
                str(f.prompt_count),
                str(f.prompts_completed),
                str(f.breaks),
                duration_text(f.longest_sitting_s),
                duration_text(f.recorded_s),
            ]
        )
        return "".join(f"<td>{escape(v)}</td>" for v in values)

    body_rows = "".join(f"<tr>{cells(f'{d.day:%a %d %b}', d.figures)}</tr>" for d in days)
    strips = []
    for d, plan in zip(days, plans, strict=True):
        if plan is None:
            continue
        rects = "".join(_run_rects(plan, 0.0, 800.0, 0.0, 20.0))
        strips.append(
            f"<p>{escape(f'{d.day:%A %d %b}')} ({plan.clock(plan.start_s)}-{plan.clock(plan.end_s)})<br/>"
            f'<svg xmlns="{SVG_NS}" viewBox="0 0 800 20" width="800" height="20">{rects}</svg></p>'
        )
    legend = " ".join(
        f'<span style="display:inline-block;width:0.9em;height:0.9em;background:{s.colour};border:1px solid #999">'
        f"</span> {escape(s.label)}"
        for s in STATES
        if s.key != NOT_RECORDED
    )
    body = (
        f'<h1>{escape(title)}</h1><p class="headline">{escape(headline(totals))}</p>'
        f"<table><thead>{head}</thead><tbody>{body_rows}</tbody><tfoot><tr>{cells('total', totals)}</tr></tfoot>"
        f"</table><h2>Each day</h2><p>{legend}</p>{''.join(strips)}"
    )
    return _page(title, body)
