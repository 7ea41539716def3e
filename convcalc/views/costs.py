"""Multiply-adds of a report under a tool's convention (:mod:`convcalc.views.conventions`).

Every counter answers "how expensive is it?" by its own rules; each convention is one small
module of per-layer-type rules over the report's records. The default is torchinfo 1.8.0's.
A block's count is the sum of its leaves'.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING, Any

from convcalc.errors import ConvcalcError
from convcalc.views.conventions import CONVENTIONS

if TYPE_CHECKING:
    from convcalc.records import Entry, Report

Rule = Callable[["Entry", int], int]


def rule(convention: str = "torchinfo") -> Rule:
    """The per-leaf counting function of a convention."""
    if convention not in CONVENTIONS:
        raise ConvcalcError(
            f"unknown convention {convention!r}: choose one of {', '.join(CONVENTIONS)}"
        )
    count: Rule = import_module(CONVENTIONS[convention]).mult_adds
    return count


def subtotals(
    entries: Iterable[Entry], batch: int = 1, convention: str = "torchinfo"
) -> dict[int, int]:
    """Every entry's multiply-adds by ``id(entry)``: a leaf's own, a block's the sum of its
    children's. ``entries`` in execution order (a report's ``walk()``), blocks first."""
    count = rule(convention)
    totals: dict[int, int] = {}
    for entry in reversed(list(entries)):
        own = count(entry, batch) if entry.step is not None else 0
        totals[id(entry)] = own + sum(
            totals[id(child)] for _, children in entry.children for child in children
        )
    return totals


@dataclass(frozen=True)
class Comparison:
    """One network counted under every convention: totals and per layer type, with each
    convention's notes on how it differs from torchinfo's."""

    name: str
    batch: int
    conventions: tuple[str, ...]
    totals: dict[str, int]
    by_type: dict[str, dict[str, int]]  # layer type -> convention -> multiply-adds
    notes: dict[str, tuple[str, ...]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "batch": self.batch,
            "unit": "multiply-adds (FLOPs = 2 × multiply-adds)",
            "totals": self.totals,
            "by_type": self.by_type,
            "notes": {name: list(lines) for name, lines in self.notes.items()},
        }


def compare(report: Report, batch: int = 1) -> Comparison:
    """``report`` counted under every convention of :mod:`convcalc.views.conventions`."""
    names = tuple(CONVENTIONS)
    by_type: dict[str, dict[str, int]] = {}
    totals = dict.fromkeys(names, 0)
    for name in names:
        count = rule(name)
        for entry in report.leaves():
            value = count(entry, batch)
            totals[name] += value
            by_type.setdefault(entry.type, dict.fromkeys(names, 0))[name] += value
    notes = {name: tuple(getattr(import_module(CONVENTIONS[name]), "NOTES", ())) for name in names}
    return Comparison(report.name, batch, names, totals, by_type, notes)
