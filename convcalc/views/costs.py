"""Multiply-adds of a report under a tool's convention (:mod:`convcalc.views.conventions`).

Every counter answers "how expensive is it?" by its own rules; each convention is one small
module of per-layer-type rules over the report's records. The default is convcalc's own: every
multiply-add of every matrix product, PyTorch's ``FlopCounterMode`` ÷ 2.
A block's count is the sum of its leaves'.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING, Any

from convcalc.errors import ConvcalcError
from convcalc.views.conventions import CONVENTIONS

if TYPE_CHECKING:
    from convcalc.records import Entry, Report

Rule = Callable[["Entry", int], int]


def rule(convention: str = "convcalc") -> Rule:
    """The per-leaf counting function of a convention."""
    if convention not in CONVENTIONS:
        raise ConvcalcError(
            f"unknown convention {convention!r}: choose one of {', '.join(CONVENTIONS)}"
        )
    count: Rule = import_module(CONVENTIONS[convention]).mult_adds
    return count


def subtotals(
    entries: Iterable[Entry], batch: int = 1, convention: str = "convcalc"
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
    shown = {kind for kind, counts in by_type.items() if any(counts.values())}
    notes = {
        name: tuple(
            note
            for note in getattr(import_module(CONVENTIONS[name]), "NOTES", ())
            if _concerns(note, shown)
        )
        for name in names
    }
    return Comparison(report.name, batch, names, totals, by_type, notes)


def _concerns(note: str, shown: set[str]) -> bool:
    """Whether a convention's note bears on a table of the ``shown`` layer types: a note whose
    head (the text before its first colon) names layer types is about those types alone; a
    note without a head is about every table."""
    from convcalc.layers.registry import KINDS

    head, colon, _ = note.partition(":")
    named = set(re.findall(r"[a-z_0-9]+", head)) & set(KINDS) if colon else set()
    return not named or bool(named & shown)


REFERENCE = "convcalc"
"""The convention the others are compared with: every multiply-add of every matrix product."""

DIVERGES = 0.10
"""How far a total may stray from convcalc's, as a fraction of it, before ``shape`` says why."""


@dataclass(frozen=True)
class Divergence:
    """How far a convention's total is from convcalc's, and the layer types that make most of
    the gap: ``types`` holds (type, convcalc's count, the convention's, why or ""), the
    largest gap first."""

    convention: str
    ours: int
    theirs: int
    types: tuple[tuple[str, int, int, str], ...]


def divergence(
    report: Report, batch: int = 1, convention: str = REFERENCE, threshold: float = DIVERGES
) -> Divergence | None:
    """``convention``'s total against convcalc's, when |theirs − ours| > threshold · ours
    (None otherwise). The types named are the fewest, largest |difference| first, whose gaps
    make 90 % of Σ |difference| (three at most); each with its convention's ``REASONS`` line."""
    if convention == REFERENCE:
        return None
    ours_rule, theirs_rule = rule(REFERENCE), rule(convention)
    by_type: dict[str, list[int]] = {}
    for entry in report.leaves():
        counts = by_type.setdefault(entry.type, [0, 0])
        counts[0] += ours_rule(entry, batch)
        counts[1] += theirs_rule(entry, batch)
    ours = sum(counts[0] for counts in by_type.values())
    theirs = sum(counts[1] for counts in by_type.values())
    if abs(theirs - ours) <= threshold * ours:
        return None
    gaps = sorted(by_type.items(), key=lambda item: -abs(item[1][1] - item[1][0]))
    spread = sum(abs(b - a) for a, b in by_type.values())
    reasons: dict[str, str] = getattr(import_module(CONVENTIONS[convention]), "REASONS", {})
    named: list[tuple[str, int, int, str]] = []
    covered = 0
    for kind, (a, b) in gaps:
        if a == b or len(named) == 3 or covered >= 0.9 * spread:
            break
        named.append((kind, a, b, reasons.get(kind, "")))
        covered += abs(b - a)
    return Divergence(convention, ours, theirs, tuple(named))
