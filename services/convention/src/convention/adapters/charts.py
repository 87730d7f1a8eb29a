"""The report's charts, as SVG drawn from the figures on the server (no script, no library).

They hold only shapes, numbers and months (YYYY-MM): every word is in the page around them
(a legend, a row label), where the page's language and direction apply.
"""

from __future__ import annotations

from collections.abc import Sequence
from xml.sax.saxutils import escape

COLOURS = ("#2b6cb0", "#dd6b20", "#38a169", "#805ad5")  # one per series, the legend's too
TARGET = "#cbd5e0"


def _num(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def progress_bar(done: int, target: int, colour: str = COLOURS[0], width: int = 260, height: int = 18) -> str:
    """One activity against its objective: the target as a grey bar, what was done over it.
    Without a target, the bar is what was done alone, at full width."""
    scale = max(done, target, 1)
    done_w = width * done / scale
    target_w = width * target / scale if target else 0
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img">'
            f'<rect x="0" y="0" width="{_num(target_w)}" height="{height}" fill="{TARGET}"/>'
            f'<rect class="done" x="0" y="3" width="{_num(done_w)}" height="{height - 6}" fill="{colour}"/>'
            "</svg>")


def monthly_bars(months: Sequence[str], series: Sequence[Sequence[int]], width: int = 640,
                 height: int = 220) -> str:
    """Grouped bars, one group per month (oldest on the left), one bar per series, with the
    count above each bar and a few ticks on the axis."""
    left, bottom, top = 34, 26, 14
    plot_w, plot_h = width - left - 8, height - bottom - top
    peak = max((v for s in series for v in s), default=0) or 1
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" font-family="DejaVu Sans, sans-serif" font-size="9">']
    for i in range(5):  # the axis: 0, a quarter, half, three quarters, the peak
        value = peak * i / 4
        y = top + plot_h - plot_h * i / 4
        parts.append(f'<line x1="{left}" y1="{_num(y)}" x2="{width - 8}" y2="{_num(y)}" stroke="#e2e8f0"/>'
                     f'<text x="{left - 4}" y="{_num(y + 3)}" text-anchor="end">{_num(value)}</text>')
    if months:
        group = plot_w / len(months)
        bar = max(1.0, group * 0.8 / max(len(series), 1))
        for m, month in enumerate(months):
            x0 = left + m * group + group * 0.1
            for s, values in enumerate(series):
                v = values[m]
                h = plot_h * v / peak
                x = x0 + s * bar
                parts.append(f'<rect x="{_num(x)}" y="{_num(top + plot_h - h)}" width="{_num(bar)}" '
                             f'height="{_num(h)}" fill="{COLOURS[s % len(COLOURS)]}"/>')
                if v:
                    parts.append(f'<text x="{_num(x + bar / 2)}" y="{_num(top + plot_h - h - 2)}" '
                                 f'text-anchor="middle">{v}</text>')
            parts.append(f'<text x="{_num(left + m * group + group / 2)}" y="{height - 10}" '
                         f'text-anchor="middle">{escape(month)}</text>')
    parts.append(f'<line x1="{left}" y1="{top + plot_h}" x2="{width - 8}" y2="{top + plot_h}" stroke="#4a5568"/>')
    parts.append("</svg>")
    return "".join(parts)
