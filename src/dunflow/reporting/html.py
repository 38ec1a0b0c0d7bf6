"""`dunflow report --html`: one self-contained page with charts, for a laptop screen and for paper.

The charts are SVG drawn by pygal and written into the page itself (no script or font from the network;
pygal's optional tooltip script is left out), so the file can be mailed or archived and still shows
everything. Charts: open amounts by aging bucket, cash in per week, messages delivered per day and channel,
and, given a `dunflow simulate --format json` output, the simulated policies side by side.
A small inline script marks the page with how many charts were drawn (`data-charts-drawn`), which the
browser test reads.
"""
from __future__ import annotations

import html
import json
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from dunflow.errors import DunflowError
from dunflow.reporting import credit
from dunflow.store.uow import UnitOfWork

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 2rem auto; max-width: 72rem;
       padding: 0 1rem; color: #1f2937; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { font-size: 1.2rem; margin-top: 2rem; }
.meta { color: #6b7280; } figure { margin: 1rem 0; } figure svg { width: 100%; height: auto; }
table { border-collapse: collapse; margin: .5rem 0; } td, th { border: 1px solid #d1d5db; padding: .25rem .6rem; }
th { background: #f3f4f6; text-align: left; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
@media print { body { margin: 0; max-width: none; } figure, table { break-inside: avoid; }
               h2 { break-after: avoid; } .noprint { display: none; } }
"""
CHECK = """
window.addEventListener("load", function () {
  var figures = document.querySelectorAll("figure.chart"), drawn = 0;
  figures.forEach(function (figure) {
    var svg = figure.querySelector("svg"), box = svg && svg.getBoundingClientRect();
    var marks = svg ? svg.querySelectorAll(".plot .rect, .plot .line, .plot .bar, .plot path").length : 0;
    if (box && box.width > 0 && box.height > 0 && marks > 0) { drawn += 1; }
  });
  document.body.setAttribute("data-charts", String(figures.length));
  document.body.setAttribute("data-charts-drawn", String(drawn));
});
"""


def _chart(kind: str, title: str, labels: list[str], series: dict[str, Any], **options: Any) -> str:
    import pygal
    from pygal.style import Style

    style = Style(background="white", plot_background="white", font_family="system-ui, sans-serif",
                  colors=("#2563eb", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#6b7280"))
    chart = getattr(pygal, kind)(js=[], style=style, width=900, height=360, explicit_size=False,
                                 disable_xml_declaration=True, title=title, x_label_rotation=30 if len(labels) > 8
                                 else 0, show_minor_x_labels=len(labels) <= 20, truncate_label=-1,
                                 print_values=False, **options)
    chart.x_labels = labels
    chart.x_labels_major_every = max(1, len(labels) // 12)
    for name, values in series.items():
        chart.add(name, values)
    svg = chart.render()
    return f'<figure class="chart">{svg.decode() if isinstance(svg, bytes) else svg}</figure>'


def _aging(uow: UnitOfWork, as_of: date) -> str:
    data = credit.aging(uow, as_of)
    if not data["rows"]:
        return "<p>No open invoices.</p>"
    series = {row["currency"]: [float(Decimal(row[b])) for b in data["buckets"]] for row in data["rows"]}
    return _chart("Bar", "Open amounts by days past due", data["buckets"], series)


def _cash_in(uow: UnitOfWork, as_of: date, weeks: int = 26) -> str:
    """Money received per week (payments and credit notes allocated to invoices) in the last `weeks` weeks."""
    first = as_of - timedelta(days=as_of.weekday()) - timedelta(weeks=weeks - 1)
    sums: dict[str, dict[date, float]] = defaultdict(lambda: defaultdict(float))
    currencies = {r.number: r.currency for r in credit.portfolio(uow)}
    numbers = {r.id: r.number for r in uow.reports.receivables()}
    for invoice, on, amount in uow.reports.allocations():
        if first <= on <= as_of:
            sums[currencies[numbers[invoice]]][on - timedelta(days=on.weekday())] += float(amount)
    labels = [first + timedelta(weeks=n) for n in range(weeks)]
    if not sums:
        return "<p>No money received in the last 26 weeks.</p>"
    return _chart("Line", "Cash in per week", [str(w) for w in labels],
                  {c: [per.get(w, 0.0) for w in labels] for c, per in sorted(sums.items())}, fill=False)


def _activity(uow: UnitOfWork, as_of: date, days: int = 90) -> str:
    rows = credit.activity(uow, as_of, days)["rows"]
    if not rows:
        return "<p>No messages delivered in the last 90 days.</p>"
    labels = [str(as_of - timedelta(days=n)) for n in range(days - 1, -1, -1)]
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for row in rows:
        counts[row["channel"]][row["date"]] = row["messages"]
    return _chart("StackedBar", "Messages delivered per day", labels,
                  {ch: [per.get(d, 0) for d in labels] for ch, per in sorted(counts.items())})


def _simulation(path: Path) -> str:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        parts = [data, *([data["compare"]] if "compare" in data else [])]
        steps = sorted({s for p in parts for s in p["totals"]["messages_by_step"]})
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DunflowError(f"{path}: not the JSON of `dunflow simulate` ({exc})",
                           "write it with `dunflow simulate ... --format json > sim.json`") from exc
    bars = _chart("Bar", f"Simulated messages per step, {data['from']} .. {data['to']}", steps,
                  {p["policies"]: [p["totals"]["messages_by_step"].get(s, 0) for s in steps] for p in parts})
    weeks = sorted({w["week"] for p in parts for w in p["cash_in_per_week"]})
    cash = ""
    if weeks:
        cash = _chart("Line", "Simulated cash in per week (all currencies)", weeks,
                      {p["policies"]: [sum(float(a) for w in p["cash_in_per_week"] if w["week"] == week
                                           for a in w["cash_in"].values()) for week in weeks] for p in parts},
                      fill=False)
    table = "".join(f"<tr><th>{html.escape(p['policies'])}</th><td class='n'>{p['totals']['messages']}</td>"
                    f"<td class='n'>{p['totals']['paid']}</td><td class='n'>{p['totals']['escalated']}</td></tr>"
                    for p in parts)
    return (f"<h2>Simulation (payments: {html.escape(str(data.get('payments')))}, seed {data.get('seed')})</h2>"
            f"<table><tr><th>policies</th><th>messages</th><th>paid</th><th>escalated</th></tr>{table}</table>"
            f"{bars}{cash}")


def _kpis(uow: UnitOfWork, as_of: date) -> str:
    dso = {r["currency"]: r for r in credit.dso(uow, as_of)["rows"]}
    cei = {r["currency"]: r for r in credit.collection_effectiveness(uow, as_of)["rows"]}
    rows = "".join(f"<tr><th>{c}</th><td class='n'>{r['receivables']}</td><td class='n'>{r['dso_standard'] or '-'}"
                   f"</td><td class='n'>{r['dso_countback'] or '-'}</td><td class='n'>{r['add'] or '-'}</td>"
                   f"<td class='n'>{cei[c]['cei'] or '-'}</td></tr>" for c, r in dso.items())
    return ("<table><tr><th>currency</th><th>receivables</th><th>DSO</th><th>DSO countback</th><th>ADD</th>"
            f"<th>CEI</th></tr>{rows}</table>")


def render_page(uow: UnitOfWork, as_of: date, simulation: Path | None = None) -> str:
    """The whole page as one string."""
    parts = [f"<h1>Receivables as of {as_of}</h1><p class='meta'>dunflow report; 90-day period for DSO and CEI"
             "</p>", _kpis(uow, as_of), "<h2>Aging</h2>", _aging(uow, as_of), "<h2>Cash in</h2>",
             _cash_in(uow, as_of), "<h2>Messages</h2>", _activity(uow, as_of)]
    if simulation is not None:
        parts.append(_simulation(simulation))
    return (f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
            f"<meta name='viewport' content='width=device-width, initial-scale=1'><title>dunflow report {as_of}"
            f"</title><style>{CSS}</style></head><body>{''.join(parts)}<script>{CHECK}</script></body></html>")


def write_page(uow: UnitOfWork, as_of: date, path: Path, simulation: Path | None = None) -> Path:
    """Write the page to `path`; the path written."""
    path.write_text(render_page(uow, as_of, simulation), encoding="utf-8")
    return path
