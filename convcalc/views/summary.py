"""The costed JSON form of a report: totals, memory, and every entry with its multiply-adds and
receptive field (what ``convcalc shape --json`` writes and :meth:`Report.to_dict` returns). A
report read from a Keras spec lists its shapes, and names and shapes its tensors, in Keras'
order (``layout``), as every other view shows them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from convcalc.records import Costing, Entry, Report, Shape, walk
from convcalc.views.costs import subtotals
from convcalc.views.memory import memory
from convcalc.views.receptive import receptive_fields


def report_dict(report: Report, costing: Costing) -> dict[str, Any]:
    """The JSON form of a report: totals and memory, then every entry with its multiply-adds
    and receptive field, counted as ``costing`` says."""
    layers = entry_dicts(report.layers, costing, report)
    shape = _shown(report)
    dialect = report.dialect
    return {
        "name": report.name,
        **({"framework": dialect.framework, "layout": _layout(report)} if dialect else {}),
        "input_shape": shape(report.input_shape),
        "output_shape": shape(report.output_shape),
        "output_size": report.output_size,
        "total_params": report.total_params,
        "trainable_params": report.trainable_params,
        "non_trainable_params": report.total_params - report.trainable_params,
        "total_mult_adds": sum(entry["mult_adds"] for entry in layers),
        "convention": costing.convention,
        **memory(report, costing.batch, costing.dtype).to_dict(),
        "layers": layers,
    }


def entry_dicts(
    entries: tuple[Entry, ...], costing: Costing | None = None, report: Report | None = None
) -> list[dict[str, Any]]:
    """Entries as JSON dicts, built children first without recursion; with a ``report`` and
    its ``costing``, each has its multiply-adds and receptive field too."""
    fields = receptive_fields(report) if report is not None else None
    shape = _shown(report)
    costing = costing or Costing()
    order = list(walk(entries))
    counts = subtotals(order, costing.batch, costing.convention) if fields is not None else {}
    made: dict[int, dict[str, Any]] = {}
    for entry in reversed(order):
        item: dict[str, Any] = {
            "index": entry.index,
            "path": entry.path,
            "type": entry.type,
            "description": entry.description,
            "input_shape": shape(entry.input_shape),
            "output_shape": shape(entry.output_shape),
            "params": entry.params,
            "tensors": {
                name: list(dims) for name, dims in entry.layer.shown_tensors(entry.tensors).items()
            },
        }
        if entry.name:
            item["name"] = entry.name
        for keys, children in entry.children:
            listed = [made.pop(id(child)) for child in children]
            if len(keys) == 1:
                item[str(keys[0])] = listed
            elif len(keys) == 2:  # ("branches", i)
                item.setdefault(str(keys[0]), []).append(listed)
            else:  # ("paths", i, "layers"): a graph's path, with its name and what it reads
                route = entry.layer.routes[int(keys[1])]  # type: ignore[attr-defined]
                named = {"name": route.name, **({"from": route.source} if route.source else {})}
                item.setdefault(str(keys[0]), []).append({**named, str(keys[2]): listed})
        if fields is not None:
            field = fields[id(entry)]
            item["mult_adds"] = counts[id(entry)]
            item["receptive_field"] = field.to_json()
            if entry.paths > 1:
                item["aligned"] = field.aligned
                if not field.aligned:
                    item["paths"] = [
                        {"path": path, "jump": list(jump), "start": list(start)}
                        for path, jump, start in field.misaligned
                    ]
        made[id(entry)] = item
    return [made[id(entry)] for entry in entries]


def _shown(report: Report | None) -> Callable[[Shape], list[int]]:
    """A shape as the JSON lists it: in the order of the report's framework (a channels-last
    Keras spec's (H, W, C) for the records' (C, H, W), :meth:`Dialect.shape`), else as
    recorded."""
    dialect = report.dialect if report is not None else None
    if dialect is None:
        return list
    return lambda shape: list(dialect.shape(shape))


def _layout(report: Report) -> str:
    """The order of the JSON's shapes: ``channels_last`` ((*spatial, C), Keras' default) or
    ``channels_first`` ((C, *spatial), PyTorch's)."""
    channels_last = report.dialect is not None and report.dialect.channels_last
    return "channels_last" if channels_last else "channels_first"
