"""A convention's report rendered: a PDF (HTML laid out by WeasyPrint, in French, Arabic right to
left, or English, with its SVG charts) and its figures as CSV files in a zip, one file per table.

Both are drawn from ``domain.report.tables``: the PDF shows exactly the figures the CSV holds.
"""

from __future__ import annotations

import csv
import io
import zipfile
from decimal import Decimal
from html import escape

from convention.adapters.charts import COLOURS, monthly_bars, progress_bar
from convention.adapters.report_text import LABELS, label
from convention.domain.progress import PERIOD_KINDS
from convention.domain.report import ACTIVITIES, Cell, Report, Table, file_stem, tables

DIRECTION = {"ar": "rtl", "fr": "ltr", "en": "ltr"}

STYLE = """
@page { size: A4; margin: 18mm 16mm; @bottom-center { content: counter(page);
        font-size: 8pt; color: #718096; } }
body { font-family: "DejaVu Sans", "Noto Sans Arabic", sans-serif; font-size: 9.5pt; color: #1a202c; }
html[lang=ar] body { font-family: "Noto Sans Arabic", "DejaVu Sans", sans-serif; }
h1 { font-size: 17pt; margin: 0 0 1mm; color: #2c5282; }
p.title { font-size: 12.5pt; font-weight: bold; margin: 0 0 3mm; }
h2 { font-size: 11.5pt; margin: 6mm 0 2mm; color: #2c5282; border-bottom: 0.4pt solid #a0aec0; }
table { border-collapse: collapse; width: 100%; margin-bottom: 2mm; }
th, td { border-bottom: 0.3pt solid #cbd5e0; padding: 1.2mm 1.5mm; text-align: start; }
th { background: #edf2f7; font-weight: bold; }
td.n, th.n { text-align: end; font-variant-numeric: tabular-nums; }
dl { display: block; margin: 0; }
dt { font-weight: bold; display: inline; } dd { display: inline; margin: 0 4mm 0 1mm; }
.legend span.swatch { display: inline-block; width: 3mm; height: 3mm; margin: 0 1mm; }
.rule { font-size: 8.5pt; color: #4a5568; }
.chart td { border: none; padding: 0.8mm 1.5mm; }
svg { direction: ltr; }
"""


def _number(value: Cell, language: str) -> str:
    if value is None:
        return "–"
    if isinstance(value, Decimal):
        text = f"{value:,.2f}"
    elif isinstance(value, float):
        text = f"{value:,.1f}" if value != int(value) else f"{int(value):,}"
    elif isinstance(value, int):
        text = f"{value:,}"
    else:
        return escape(str(value))
    if language == "fr":  # 30 000,00
        text = text.replace(",", "\u202f").replace(".", ",")
    return text


def _table_html(t: Table, language: str) -> str:
    head = "".join(f'<th class="{"" if i == 0 else "n"}">{escape(label(language, c))}</th>'
                   for i, c in enumerate(t.columns))
    body = []
    for row in t.rows:
        first, rest = row[0], row[1:]
        name = escape(label(language, str(first))) if t.labelled else f"<bdi>{escape(str(first))}</bdi>"
        body.append(f"<tr><td>{name}</td>" + "".join(f'<td class="n"><bdi>{_number(v, language)}</bdi></td>' for v in rest)
                    + "</tr>")
    if not body:
        body.append(f'<tr><td colspan="{len(t.columns)}">{escape(label(language, "nothing"))}</td></tr>')
    return (f'<h2>{escape(label(language, t.key))}</h2><table id="{t.key}"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table>')


def html(r: Report, language: str) -> str:
    """The report as an HTML document in ``language`` (``dir="rtl"`` in Arabic)."""
    if language not in LABELS:
        raise ValueError(f"no report language {language!r}")
    L = lambda key: escape(label(language, key))  # noqa: E731
    c, terms = r.convention, r.convention.terms
    period = (L("all") if r.period.first is None and r.period.last is None else
              f"<bdi>{r.period.first or '…'}</bdi> {L('to')} <bdi>{r.period.last or '…'}</bdi> "
              f"(<bdi>{escape(r.period.name)}</bdi>)")
    parties = "".join(f"<tr><td>{L(p.role)}</td><td>{escape(p.name)}</td></tr>" for p in r.parties)
    # The charts: each activity against its objective, then the months.
    bars = "".join(
        f"<tr><td>{L(k)}</td><td>{progress_bar(getattr(r.to_date, k).done, getattr(r.to_date, k).target, COLOURS[i])}"
        f'</td><td class="n"><bdi>{getattr(r.to_date, k).done} / {getattr(r.to_date, k).target}</bdi></td></tr>'
        for i, k in enumerate(ACTIVITIES))
    months = [m.period for m in r.months]
    kinds = PERIOD_KINDS
    chart = monthly_bars(months, [[m.counts[k] for m in r.months] for k in kinds])
    legend = "".join(f'<span class="swatch" style="background:{COLOURS[i]}"></span>{L(k)} '
                     for i, k in enumerate(kinds))
    sections = "".join(_table_html(t, language) for t in tables(r))
    return f"""<!DOCTYPE html>
<html lang="{language}" dir="{DIRECTION[language]}"><head><meta charset="utf-8">
<title>{L("report")} {escape(c.reference)}</title><style>{STYLE}</style></head><body>
<h1>{L("report")}</h1><p class="title" dir="auto">{escape(terms.title)}</p>
<dl><dt>{L("reference")}</dt><dd>{escape(c.reference)}</dd><dt>{L("status")}</dt><dd>{L(c.status.value)}</dd>
<dt>{L("effective")}</dt><dd><bdi>{terms.effective_from}</bdi> {L("to")} <bdi>{terms.effective_until}</bdi></dd></dl>
<dl><dt>{L("period")}</dt><dd>{period}</dd><dt>{L("timezone")}</dt><dd>{escape(r.zone)}</dd>
<dt>{L("made_at")}</dt><dd><bdi>{r.made_at:%Y-%m-%d %H:%M} UTC</bdi></dd></dl>
<h2>{L("parties")}</h2><table>{parties}</table>
<h2>{L("chart_objectives")}</h2><table class="chart">{bars}</table>
<p class="legend"><span class="swatch" style="background:#cbd5e0"></span>{L("legend_target")}</p>
<h2>{L("chart_months")}</h2>{chart}<p class="legend">{legend}</p>
{sections}
<h2>{L("counting_rule_title")}</h2><p class="rule">{L("counting_rule")}</p>
</body></html>"""


def pdf(r: Report, language: str) -> bytes:
    """The report as a PDF (WeasyPrint: CPU work of a few tenths of a second; call it off the event loop)."""
    import weasyprint  # imported when a report is made: starting the service does not pay for it

    return weasyprint.HTML(string=html(r, language)).write_pdf()  # type: ignore[no-any-return]


def _cell(value: Cell) -> str:
    return "" if value is None else str(value)


def csv_files(r: Report) -> dict[str, str]:
    """One CSV text per table, by file name: a header of keys, then the rows (amounts as written, a
    point for decimals, no grouping)."""
    out = {}
    for t in tables(r):
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(t.columns)
        writer.writerows([_cell(v) for v in row] for row in t.rows)
        out[f"{t.key}.csv"] = buffer.getvalue()
    return out


def csv_zip(r: Report) -> bytes:
    buffer = io.BytesIO()
    stem = file_stem(r.convention.reference, r.period)
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in csv_files(r).items():
            z.writestr(f"{stem}/{name}", text)
    return buffer.getvalue()


class ReportRenderer:
    """What the report handler is handed (the bus dependency ``reports``)."""

    def pdf(self, r: Report, language: str) -> bytes:
        return pdf(r, language)

    def csv_zip(self, r: Report) -> bytes:
        return csv_zip(r)
