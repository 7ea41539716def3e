"""One self-contained HTML page about a network: what ``convcalc report SPEC -o net.html`` writes.

The title and totals, the diagram (:func:`convcalc.render.draw.to_svg`, inline), every layer in a
table whose blocks expand and collapse (nested ``<details>``: native, so the page works without
JavaScript; a few lines of script add "expand all" and "collapse all"), the multiply-adds under
every convention, the lint warnings and the spec itself. No network access: the CSS and the
script are inline. Opened as ``page.html#test``, the script checks that the blocks collapse and
expand and writes the result into ``<body data-selftest>`` (the tests read it with Chromium).

The table is built with an explicit stack, so a spec nested 500 blocks deep costs no recursion.
Every text of the page goes through :func:`convcalc.escape.html` (the spec's lines one by one),
and the figures' through :func:`convcalc.escape.xml`: names cannot add markup or a script.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from convcalc.escape import html
from convcalc.records import Costing, Entry, Report

if TYPE_CHECKING:
    from convcalc.solve.inputs import Accepted

STYLE = """
:root { --ink: #1f2328; --muted: #59636e; --line: #d8dee4; --soft: #f6f8fa; --accent: #3a6ea5; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif;
  color: var(--ink); background: #fff; }
main { max-width: 1280px; margin: 0 auto; padding: 24px 28px 64px; }
h1 { font-size: 1.7rem; margin: 0 0 4px; }
h2 { font-size: 1.2rem; margin: 36px 0 10px; padding-bottom: 4px;
  border-bottom: 1px solid var(--line); }
.sub { color: var(--muted); margin: 0 0 16px; }
code, pre, .mono { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace;
  font-size: 0.86em; }
.totals { display: grid; grid-template-columns: repeat(auto-fill, minmax(210px, 1fr)); gap: 10px; }
.total { background: var(--soft); border: 1px solid var(--line); border-radius: 8px;
  padding: 8px 12px; }
.total b { display: block; font-size: 1.1rem; }
.total span { color: var(--muted); font-size: 0.85rem; }
.figure { overflow-x: auto; border: 1px solid var(--line); border-radius: 8px; padding: 8px; }
.figure svg { max-width: 100%; height: auto; }
.view > summary { cursor: pointer; color: var(--accent); margin: 6px 0; }
.tools { margin: 8px 0; display: flex; gap: 8px; }
.tools button { font: inherit; font-size: 0.85rem; padding: 3px 10px; border: 1px solid var(--line);
  border-radius: 6px; background: var(--soft); cursor: pointer; }
.table { border: 1px solid var(--line); border-radius: 8px; overflow-x: auto; font-size: 0.88rem; }
.row { display: grid; gap: 0 12px; padding: 3px 12px; border-top: 1px solid #eef1f4;
  grid-template-columns: minmax(280px, 2.4fr) 120px 100px 130px 64px 52px minmax(220px, 1.5fr);
  align-items: baseline; min-width: 1080px; }
.row.head { font-weight: 600; background: var(--soft); border-top: 0; }
.row > .n { text-align: right; font-variant-numeric: tabular-nums; }
.row .mono { font-size: inherit; }
.row .path { color: var(--muted); }
.row .path span { white-space: nowrap; }
.layer { padding-left: calc(var(--d, 0) * 18px); }
.layer::before { content: ""; display: inline-block; width: 14px; }
.kind { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 6px;
  border: 1px solid; vertical-align: baseline; }
details.block > summary { list-style: none; cursor: pointer; }
details.block > summary::-webkit-details-marker { display: none; }
details.block > summary .layer::before { content: "▸"; color: var(--muted); }
details.block[open] > summary .layer::before { content: "▾"; }
details.block > summary:hover { background: #f0f5fb; }
.list { color: var(--muted); font-style: italic; }
.findings { list-style: none; padding: 0; }
.findings li { border: 1px solid var(--line); border-left: 4px solid #d2782a; border-radius: 6px;
  padding: 8px 12px; margin: 8px 0; }
.findings .code { font-weight: 600; color: #a04c00; }
.findings .fix { color: #2d6a2d; }
table.costs { border-collapse: collapse; font-size: 0.9rem; }
table.costs th, table.costs td { border-bottom: 1px solid var(--line); padding: 4px 12px;
  text-align: right; }
table.costs th:first-child, table.costs td:first-child { text-align: left; }
table.inputs { border-collapse: collapse; font-size: 0.9rem; }
table.inputs th, table.inputs td { border-bottom: 1px solid var(--line); padding: 4px 12px;
  text-align: left; vertical-align: top; }
table.inputs ul { margin: 0; padding-left: 18px; }
pre.spec { background: var(--soft); border: 1px solid var(--line); border-radius: 8px;
  padding: 12px; overflow-x: auto; }
"""

SCRIPT = """
(function () {
  var body = document.body;
  window.addEventListener("error", function (e) {
    body.dataset.errors = String(e.message);
  });
  function blocks() {
    return Array.prototype.slice.call(document.querySelectorAll("details.block"));
  }
  function setAll(open) { blocks().forEach(function (d) { d.open = open; }); }
  var tools = document.getElementById("tools");
  tools.hidden = false;
  document.getElementById("expand").addEventListener("click", function () { setAll(true); });
  document.getElementById("collapse").addEventListener("click", function () { setAll(false); });
  if (location.hash !== "#test") { return; }
  var all = blocks();
  function shown(d) {
    var c = d.querySelector(":scope > .children");
    if (!c) { return false; }
    return c.checkVisibility ? c.checkVisibility() : c.getClientRects().length > 0;
  }
  document.getElementById("collapse").click();
  var collapsed = all.filter(shown).length === 0;
  document.getElementById("expand").click();
  var expanded = all.every(shown);
  var toggled = true;
  if (all.length) {
    all[0].querySelector(":scope > summary").click();
    toggled = !shown(all[0]);
    all[0].querySelector(":scope > summary").click();
    toggled = toggled && shown(all[0]);
  }
  body.dataset.blocks = String(all.length);
  body.dataset.selftest = collapsed && expanded && toggled ? "ok" :
    "failed: collapsed " + collapsed + ", expanded " + expanded + ", toggled " + toggled;
})();
"""

HEADER = ("Layer", "Output shape", "Params", "Mult-adds", "RF", "Jump", "Path")


def to_html(report: Report, spec_text: str, *, costing: Costing | None = None) -> str:
    """The report as one HTML page; ``spec_text`` is the spec file shown at the end."""
    from convcalc.render.draw import to_svg
    from convcalc.solve.accepted import accepted_inputs

    costing = costing or Costing()
    accepted = accepted_inputs(report)
    title = html(report.name)
    # the ids of an HTML page are one namespace: each figure's arrowhead gets its own
    blocks_svg = to_svg(report, style="blocks", costing=costing, arrow_id="convcalc-arrow-blocks")
    flow_svg = to_svg(report, style="flow", costing=costing, arrow_id="convcalc-arrow-flow")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{title} — convcalc report</title><style>{STYLE}</style></head>",
        "<body><main>",
        f"<h1>{title}</h1>",
        f'<p class="sub">input {report.shown(report.input_shape)} → output '
        f"{report.shown(report.output_shape)} · {_rules(report)}'s size rules · multiply-adds by "
        f"{html(costing.convention)}'s convention</p>",
        _totals(report, costing),
        "<h2>Diagram</h2>",
        f'<div class="figure">{blocks_svg}</div>',
        '<details class="view"><summary>Flow diagram (boxes and arrows)</summary>',
        f'<div class="figure">{flow_svg}</div></details>',
        "<h2>Layers</h2>",
        '<div class="tools" id="tools" hidden><button type="button" id="expand">Expand all'
        '</button><button type="button" id="collapse">Collapse all</button></div>',
        _table(report, costing),
        "<h2>Costs</h2>",
        _costs(report, costing),
        "<h2>Input sizes</h2>",
        _inputs(report, accepted),
        "<h2>Lint</h2>",
        _lint(report, accepted),
        "<h2>Spec</h2>",
        f'<pre class="spec">{_preformatted(spec_text)}</pre>',
        f"</main><script>{SCRIPT}</script></body></html>",
        "",
    ]
    return "\n".join(parts)


# what a <pre> block keeps as it is: line ends and tabs
_LAYOUT = re.compile(r"(\r\n|\r|\n|\t)")


def _rules(report: Report) -> str:
    """Whose size rules the report follows: PyTorch's, or the dialect's (Keras 3's)."""
    return "Keras 3" if report.dialect is not None else "PyTorch 2.13"


def _preformatted(text: str) -> str:
    """Text of many lines for ``<pre>``: each run between line ends and tabs through
    :func:`convcalc.escape.html` (which shows them as escapes), the line ends and tabs kept."""
    return "".join(p if _LAYOUT.fullmatch(p) else html(p) for p in _LAYOUT.split(text))


def _totals(report: Report, costing: Costing) -> str:
    from convcalc.views.memory import human, memory

    bytes_ = memory(report, costing.batch, costing.dtype)
    per = f" (batch {costing.batch})" if costing.batch != 1 else ""
    cells = [
        (f"{report.total_params:,}", "parameters"),
        (f"{report.trainable_params:,}", "trainable parameters"),
        (f"{report.total_mult_adds(costing.batch, costing.convention):,}", f"multiply-adds{per}"),
        (f"{report.output_size:,}", f"output values ({report.shown(report.output_shape)})"),
        (human(bytes_.params_bytes), f"parameters ({costing.dtype})"),
        (human(bytes_.input_bytes), f"input ({costing.dtype})"),
        (human(bytes_.forward_backward_bytes), "forward/backward (torchinfo's estimate)"),
        (human(bytes_.peak_activation_bytes), "peak activations (inference)"),
    ]
    items = "".join(
        f'<div class="total"><b>{html(v)}</b><span>{html(k)}</span></div>' for v, k in cells
    )
    return f'<div class="totals">{items}</div>'


def _table(report: Report, costing: Costing) -> str:
    """Every entry as a row; a block's row is the ``<summary>`` of a ``<details>`` holding its
    children, each of its lists headed by its name where it has several."""
    from convcalc.render.text import written_label
    from convcalc.views.costs import subtotals
    from convcalc.views.receptive import receptive_fields

    counts = subtotals(report.walk(), costing.batch, costing.convention)
    fields = receptive_fields(report)
    head = "".join(
        f'<div class="{"n" if 1 < i < 6 else ""}">{h}</div>' for i, h in enumerate(HEADER)
    )
    out = ['<div class="table" id="layers">', f'<div class="row head">{head}</div>']
    for kind, entry, depth, text in _rows(report):
        if entry is None:  # the end of a block, or the name of one of its lists
            out.append("</div></details>" if kind == "close" else _list_row(text, depth))
        else:
            field = fields[id(entry)]
            rf = "global" if field.size is None else _dims(field.size)
            jump = "" if field.size is None else _dims(field.jump)
            shape, label = report.shown(entry.output_shape), written_label(report, entry)
            row = _row(entry, depth, counts[id(entry)], rf, jump, shape, label)
            if kind == "open":
                out.append(
                    f'<details class="block" open data-path="{html(entry.path)}">'
                    f'<summary class="row">{row}</summary><div class="children">'
                )
            else:
                out.append(f'<div class="row" data-path="{html(entry.path)}">{row}</div>')
    out.append("</div>")
    return "\n".join(out)


Event = tuple[str, Entry | None, int, str]  # "open", "leaf", "list" or "close"


def _rows(report: Report) -> Iterator[Event]:
    """The table's rows in order, walking with an explicit stack: a block opens, its lists
    follow (each named where there are several, an empty one as identity), then it closes."""
    stack: list[Event] = [("leaf", entry, 0, "") for entry in reversed(report.layers)]
    while stack:
        event = stack.pop()
        kind, entry, depth, text = event
        if kind != "leaf" or entry is None or not entry.is_block:
            yield event
            continue
        yield "open", entry, depth, text
        stack.append(("close", None, depth, ""))
        named = len(entry.children) > 1
        for keys, children in reversed(entry.children):
            name = entry.layer.list_name(keys)  # type: ignore[attr-defined]
            stack.extend(("leaf", child, depth + 1, "") for child in reversed(children))
            if named or not children:
                label = f"{name}:" if children else f"{name}: identity"
                stack.append(("list", None, depth + 1, label))


def _row(
    entry: Entry, depth: int, mult_adds: int, rf: str, jump: str, shape: str, label: str
) -> str:
    """The cells of an entry's row, coloured as its boxes in the diagram; ``label`` names it
    (:func:`~convcalc.render.text.written_label`)."""
    from convcalc.render.draw import KIND_OF, PALETTE

    fill, stroke = PALETTE["block" if entry.is_block else KIND_OF.get(entry.type, "reshape")]
    swatch = f'<span class="kind" style="background:{fill};border-color:{stroke}"></span>'
    cells = [
        f'<div class="layer" style="--d:{depth}">{swatch}{html(label)}</div>',
        f'<div class="mono">{shape}</div>',
        f'<div class="n">{entry.params:,}</div>',
        f'<div class="n">{mult_adds:,}</div>',
        f'<div class="n">{html(rf)}</div>',
        f'<div class="n">{html(jump)}</div>',
        f'<div class="path mono">{_path(entry.path)}</div>',
    ]
    return "".join(cells)


def _path(path: str) -> str:
    """A path that breaks only after its dots: each step (``layers[3].``) a span that does
    not break, a ``<wbr>`` after each dot."""
    steps = path.split(".")
    parts = [step + "." for step in steps[:-1]] + steps[-1:]
    return "<wbr>".join(f"<span>{html(part)}</span>" for part in parts)


def _list_row(label: str, depth: int) -> str:
    return f'<div class="row"><div class="layer list" style="--d:{depth}">{html(label)}</div></div>'


def _dims(values: tuple[float, ...]) -> str:
    shown = [f"{v:g}" for v in values]
    return shown[0] if len(set(shown)) == 1 else "×".join(shown)


def _costs(report: Report, costing: Costing) -> str:
    """Multiply-adds per layer type under every convention, and the receptive field."""
    from convcalc.views.costs import compare
    from convcalc.views.receptive import receptive_fields

    comparison = compare(report, costing.batch)
    names = comparison.conventions
    head = "".join(f"<th>{html(n)}</th>" for n in names)
    rows = [
        f"<tr><td>{html(kind)}</td>" + "".join(f"<td>{counts[n]:,}</td>" for n in names) + "</tr>"
        for kind, counts in sorted(comparison.by_type.items())
        if any(counts.values())
    ]
    total = "".join(f"<td><b>{comparison.totals[n]:,}</b></td>" for n in names)
    notes = "".join(
        f"<li><b>{html(n)}</b>: {html(note)}</li>" for n in names for note in comparison.notes[n]
    )
    fields = receptive_fields(report)
    spatial = [e for e in report.walk() if fields[id(e)].size is not None]
    field = "the input has no spatial dimensions"
    if spatial:
        last = fields[id(spatial[-1])]
        size, jump = _dims(last.size or ()), _dims(last.jump)
        field = f"at {spatial[-1].path} ({spatial[-1].label}) {size} input positions, {jump} apart"
        if fields[id(report.layers[-1])].size is None:
            field += "; after it, every output value sees the whole input"
    return (
        '<table class="costs"><thead><tr><th>Layer type</th>'
        f"{head}</tr></thead><tbody>{''.join(rows)}<tr><td><b>Total</b></td>{total}</tr>"
        '</tbody></table><p class="sub">FLOPs = 2 × multiply-adds. Layer types every '
        'convention counts as 0 are left out.</p><details class="view"><summary>Why the '
        f"conventions differ</summary><ul>{notes}</ul></details>"
        f"<p>Receptive field: {html(field)}.</p>"
    )


def _inputs(report: Report, accepted: tuple[Accepted, ...]) -> str:
    """The input sizes each spatial dimension accepts, the others as declared, and the
    conditions that make them: each layer or join that refuses some sizes, and which."""
    from convcalc.views.lint import condition

    if not accepted:
        return (
            '<p class="sub">The accepted input sizes are not known in closed form for this '
            "network (a layer mixes the spatial dimensions while their sizes still depend on "
            "the input, or the search passed its budget).</p>"
        )
    rows = []
    for a in accepted:
        conditions = "".join(
            f"<li><code>{html(x.path)}</code> ({html(x.type)}): "
            f'<span class="condition">{html(condition(x.sizes, a.name))}</span>'
            + (f" · {html(x.note)}" if x.note else "")
            + "</li>"
            for x in a.limits
        )
        rows.append(
            f'<tr data-dim="{html(a.name)}"><td>{html(a.name)}</td>'
            f"<td>{report.input_shape[a.dim]:,}</td>"
            f'<td class="sizes">{html(a.describe())}</td>'
            f"<td>{f'<ul>{conditions}</ul>' if conditions else 'every layer accepts every size'}"
            "</td></tr>"
        )
    return (
        '<table class="inputs" id="input-sizes"><thead><tr><th>Dimension</th><th>Declared</th>'
        f"<th>Accepted sizes</th><th>Conditions</th></tr></thead><tbody>{''.join(rows)}"
        '</tbody></table><p class="sub">Each dimension with the others as declared; exact '
        "for every size, worked out from the layers' size rules.</p>"
    )


def _lint(report: Report, accepted: tuple[Accepted, ...] = ()) -> str:
    from convcalc.views.lint import lint

    findings = lint(report, accepted=accepted)
    if not findings:
        return '<p class="sub">No warnings.</p>'
    items = "".join(
        f'<li data-code="{html(f.code)}"><span class="code">{html(f.code)}</span> · '
        f"<code>{html(f.path)}</code> ({html(f.layer)})<br>{html(f.message)}<br>"
        f'<code>{html(f.formula)}</code><br><span class="fix">Fix: {html(f.fix)}</span></li>'
        for f in findings
    )
    return f'<ul class="findings">{items}</ul>'
