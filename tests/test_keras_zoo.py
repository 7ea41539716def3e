"""The bundled Keras applications (specs/keras_*.yaml, written by zoo/keras_apps.py) against
Keras 3.15.1 itself, on its torch backend.

Each application is built once (on the meta device: no weight is drawn) with
``keras.applications.X(weights=None)``; every operation of the Keras model (its layers and the
``x + 3.0``-style ops between them) must be a layer of the bundled spec with the same output
shape, trainable and non-trainable parameter counts, and the other way round; the model's totals
must be the published ones in zoo/keras_apps.py's table; and ``model.to_json()`` must import
(``convcalc import``) to exactly the shipped file. The default run checks one application, the
full run (CI, ``pytest --full``) all eleven.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Any

import pytest

from convcalc.analysis import analyse
from convcalc.records import Report
from convcalc.spec.validate import load_spec
from tests.keras_oracle import (  # Keras on torch, or the module is skipped
    KERAS_MARKS,
    Row,
    keras_rows,
)
from tests.zoo_scripts import load

pytestmark = KERAS_MARKS

SPECS = Path(__file__).resolve().parent.parent / "specs"
apps = load("keras_apps")
QUICK = {"keras_mobilenet_v3_small"}  # ops, Rescaling, squeeze-and-excitation
NAMES = [pytest.param(name, marks=() if name in QUICK else pytest.mark.full) for name in apps.APPS]
MERGES = ("Add", "Concatenate", "Multiply", "Subtract", "Average", "Maximum", "Minimum")


@functools.cache
def built(name: str) -> Any:
    return apps.build(name)


def convcalc_rows(report: Report) -> dict[str, Row]:
    """convcalc's rows, one per Keras layer written in the spec (by its name): a merge's own
    row holds no parameters (its paths' layers have theirs); any other block (a nested model,
    a layer with an ``activation=``) counts what it holds."""
    dialect = report.dialect
    assert dialect is not None
    rows: dict[str, Row] = {}
    stack = list(report.layers)
    while stack:
        entry = stack.pop()
        name = dialect.names.get(entry.source)
        merge = dialect.classes.get(entry.source) in MERGES and bool(entry.children)
        if name is not None:
            frozen = sum(e.step.untrained_params for e in entry.walk() if e.step is not None)
            total = 0 if merge else entry.params
            frozen = 0 if merge else frozen
            rows[name] = (dialect.shape(entry.output_shape), total - frozen, frozen)
        if entry.children and (name is None or merge):
            stack.extend(child for _, children in entry.children for child in children)
    return rows


@pytest.mark.full
@pytest.mark.parametrize("name", NAMES)
def test_layer_for_layer(name: str) -> None:
    model = built(name)
    _, _, total, frozen = apps.APPS[name]
    assert model.count_params() == total
    assert sum(math.prod(w.shape) for w in model.non_trainable_weights) == frozen
    report = analyse(load_spec(name))
    assert convcalc_rows(report) == keras_rows(model)
    assert (report.total_params, report.total_params - report.trainable_params) == (total, frozen)


@pytest.mark.full
@pytest.mark.parametrize("name", NAMES)
def test_to_json_imports_to_the_bundled_spec(name: str) -> None:
    """``model.to_json()`` through the importer is the shipped file, byte for byte (what
    ``python zoo/keras_apps.py --check`` checks)."""
    text = apps.render(name, built(name).to_json())
    assert text == (SPECS / f"{name}.yaml").read_text(encoding="utf-8")
