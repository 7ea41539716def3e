"""Test-side oracle: Keras 3 itself, on its PyTorch backend, for the tests of the Keras dialect.

Nothing here is a test. Importing this module sets ``KERAS_BACKEND=torch`` (unless already set)
before Keras is first imported, and skips the importing test module where Keras is not
installed; a test module then writes, at its top::

    from tests.keras_oracle import KERAS_MARKS, keras

    pytestmark = KERAS_MARKS
"""

from __future__ import annotations

import math
import os
from typing import Any

import pytest

__all__ = ["KERAS_MARKS", "Row", "keras", "keras_rows"]

os.environ.setdefault("KERAS_BACKEND", "torch")  # before Keras is first imported
keras = pytest.importorskip("keras")

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
