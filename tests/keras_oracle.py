"""Test-side oracle: Keras 3 itself, on its PyTorch backend, for the tests of the Keras dialect.

Nothing here is a test. A test module writes, at its top::

    from tests.keras_oracle import KERAS_MARKS, keras

    pytestmark = KERAS_MARKS

``keras`` (and ``layers``, ``keras.layers``) is Keras, imported at its first use, on the torch
backend unless ``KERAS_BACKEND`` says otherwise: a test that reaches for it is skipped where
Keras is not installed, and in the quick default run, which leaves the Keras oracle to the full
run (tests/conftest.py: there, importing Keras skips the test). The tests of a Keras module
that do not ask Keras still run in the quick run.
"""

from __future__ import annotations

import math
import os
from typing import Any

import pytest

__all__ = ["KERAS_MARKS", "Row", "keras", "keras_rows", "layers"]


class _Keras:
    """The ``keras`` module (or its ``keras.<path>`` submodule), imported when a test first
    takes one of its attributes."""

    def __init__(self, path: str = "") -> None:
        self._path = path

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_") and name != "__version__":  # pytest inspecting the module
            raise AttributeError(name)
        module = pytest.importorskip("keras")  # the quick run skips here (tests/conftest.py)
        for part in filter(None, self._path.split(".")):
            module = getattr(module, part)
        return getattr(module, name)


os.environ.setdefault("KERAS_BACKEND", "torch")  # before Keras is first imported, anywhere
keras: Any = _Keras()
layers: Any = _Keras("layers")  # keras.layers

# Keras runs on torch; its warnings (deprecations, input-shape hints) are not the tests' business
KERAS_MARKS = [
    pytest.mark.torch,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning"),
]

# one operation of a Keras model: its output shape (batch left out), trainable and non-trainable
# parameters
Row = tuple[tuple[int | None, ...], int, int]


def keras_rows(model: Any) -> dict[str, Row]:
    """Keras' own rows, by operation name: each operation's output shape (batch left out) and
    its trainable and non-trainable parameters (the input layer has none)."""
    rows: dict[str, Row] = {}
    for op in getattr(model, "operations", model.layers):
        if type(op).__name__ == "InputLayer":
            continue
        trainable = sum(math.prod(w.shape) for w in getattr(op, "trainable_weights", []))
        frozen = sum(math.prod(w.shape) for w in getattr(op, "non_trainable_weights", []))
        rows[op.name] = (tuple(op.output.shape[1:]), trainable, frozen)
    return rows
