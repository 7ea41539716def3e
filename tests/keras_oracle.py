"""Test-side oracle: Keras 3 itself, on its PyTorch backend, for the tests of the Keras dialect.

Nothing here is a test. Importing this module sets ``KERAS_BACKEND=torch`` (unless already set)
before Keras is first imported, and skips the importing test module where Keras is not
installed; a test module then writes, at its top::

    from tests.keras_oracle import KERAS_MARKS, keras

    pytestmark = KERAS_MARKS
"""

from __future__ import annotations

import os

import pytest

__all__ = ["KERAS_MARKS", "keras"]

os.environ.setdefault("KERAS_BACKEND", "torch")  # before Keras is first imported
keras = pytest.importorskip("keras")

# Keras runs on torch; its warnings (deprecations, input-shape hints) are not the tests' business
KERAS_MARKS = [
    pytest.mark.torch,
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::UserWarning"),
]
