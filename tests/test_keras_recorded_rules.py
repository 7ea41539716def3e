"""Two Keras rules in the quick run, without Keras: the merges' broadcasting (Add, Subtract,
Multiply, Maximum of channels-last tensors, aligned from the last axis in Keras' order) and
where Conv{n}DTranspose's ``same`` crops PyTorch's uncropped output (the odd one at the end).

The values are Keras 3.15.1's, written here: each merge's output shape and parameters, or its
refusal; each transposed convolution's output size and its crop, read as
tests/test_keras_transposed.py reads it (PyTorch's uncropped ``conv_transpose1d`` with Keras'
kernel, and where in it Keras' output lies). The full run builds every case with Keras and
checks that the recording is still what Keras gives, so it cannot drift from Keras.
"""

from __future__ import annotations

from typing import Any

import pytest

from convcalc.analysis import analyse
from convcalc.errors import SpecError
from convcalc.spec.validate import load_spec
from tests.keras_oracle import KERAS_MARKS

pytestmark = KERAS_MARKS

Layer = dict[str, Any]

# the branches of tests/test_broadcast.py's Keras merges, on a (4, 4, 8) input, as spec items
BRANCHES: dict[str, list[Layer]] = {
    "conv8": [{"type": "Conv2D", "filters": 8, "kernel_size": 1}],
    "conv1": [{"type": "Conv2D", "filters": 1, "kernel_size": 1}],
    "conv8/2": [{"type": "Conv2D", "filters": 8, "kernel_size": 1, "strides": 2}],
    "gap-keep": [{"type": "GlobalAveragePooling2D", "keepdims": True}],
    "gap": [{"type": "GlobalAveragePooling2D"}],
    "dense4": [{"type": "GlobalAveragePooling2D"}, {"type": "Dense", "units": 4}],
    "identity": [],
}

# (merge, body, shortcut): Keras' output shape (batch left out) and parameters, None: refused
MERGES: dict[tuple[str, str, str], tuple[tuple[int, ...], int] | None] = {
    ("Add", "conv8", "gap-keep"): ((4, 4, 8), 72),  # (4, 4, 8) + (1, 1, 8)
    ("Multiply", "conv8", "conv1"): ((4, 4, 8), 81),  # (4, 4, 8) · (4, 4, 1)
    ("Add", "conv8", "gap"): ((4, 4, 8), 72),  # (4, 4, 8) + (8,): aligned from the last axis
    ("Subtract", "gap", "identity"): ((4, 4, 8), 0),  # (8,) − (4, 4, 8)
    ("Maximum", "gap-keep", "conv1"): ((4, 4, 8), 9),  # (1, 1, 8), (4, 4, 1): both grow
    ("Add", "conv8/2", "identity"): None,  # (2, 2, 8) + (4, 4, 8)
    ("Add", "dense4", "identity"): None,  # (4,) + (4, 4, 8): 4 against C = 8, not W = 4
}

# Conv1DTranspose(1, k, strides=s, dilation_rate=d, padding="same", output_padding=op) on n
# positions: (n, k, s, d, op) → Keras' output length, and its (start, end) crop of PyTorch's
# uncropped output, (n − 1)·s + d·(k − 1) + 1 long (a negative end: zeros appended)
TRANSPOSED: dict[tuple[int, int, int, int, int | None], tuple[int, tuple[int, int]]] = {
    (5, 3, 2, 1, None): (10, (0, 1)),
    (5, 7, 2, 1, None): (10, (2, 3)),
    (6, 4, 3, 1, 2): (17, (1, 1)),
    (6, 5, 3, 1, 1): (17, (1, 2)),
    (4, 5, 1, 2, None): (4, (4, 4)),
    (4, 2, 3, 1, None): (12, (0, -1)),
}


def merge_spec(merge: str, body: str, shortcut: str) -> dict[str, Any]:
    item = {"type": merge, "body": BRANCHES[body], "shortcut": BRANCHES[shortcut]}
    return {"framework": "keras", "input": [4, 4, 8], "layers": [item]}


def transposed_layer(k: int, s: int, d: int, op: int | None) -> Layer:
    layer: Layer = {"type": "Conv1DTranspose", "filters": 1, "kernel_size": k, "strides": s}
    layer |= {"dilation_rate": d, "padding": "same", "use_bias": False}
    return layer if op is None else layer | {"output_padding": op}


def test_keras_merges_broadcast_as_recorded() -> None:
    """Each merge's output shape in Keras' order and its parameters, or the refusal that names
    Keras' rule (each axis aligned from the last)."""
    for (merge, body, shortcut), expected in MERGES.items():
        spec = merge_spec(merge, body, shortcut)
        if expected is None:
            with pytest.raises(SpecError, match="each axis, aligned from the last, must be equal"):
                analyse(load_spec(spec))
            continue
        report = analyse(load_spec(spec))
        assert report.dialect is not None
        shown = report.dialect.shape(report.output_shape)
        assert (shown, report.total_params) == expected, (merge, body, shortcut)


def test_keras_transposed_same_crops_as_recorded() -> None:
    """Each Conv1DTranspose's output length and its window's crop (pad_left, pad_right)."""
    for (n, k, s, d, op), (length, crop) in TRANSPOSED.items():
        spec = {"framework": "keras", "input": [n, 1], "layers": [transposed_layer(k, s, d, op)]}
        step = analyse(load_spec(spec)).layers[0].step
        assert step is not None and step.windows is not None
        assert step.output == (1, length), (n, k, s, d, op)
        assert [(w.pad_left, w.pad_right) for w in step.windows] == [crop], (n, k, s, d, op)


@pytest.mark.full
def test_the_recording_is_what_keras_gives() -> None:
    """Keras, built live: every merge's shape and parameters (or its refusal), every transposed
    convolution's output and crop (tests/test_keras_transposed.py's placement)."""
    pytest.importorskip("torch")
    from tests.keras_oracle import keras
    from tests.test_broadcast import keras_model
    from tests.test_keras_transposed import _offsets, _transposed

    for (merge, body, shortcut), expected in MERGES.items():
        try:
            model = keras_model(keras, merge, body, shortcut, (4, 4, 8))
        except ValueError as exc:
            why = str(exc)
        else:
            why = ""
        if why:
            assert "incompatible shapes" in why
            assert expected is None, (merge, body, shortcut)
            continue
        got = (tuple(model.output.shape[1:]), model.count_params())
        assert got == expected, (merge, body, shortcut)
    for (n, k, s, d, op), (length, crop) in TRANSPOSED.items():
        keras.backend.clear_session()
        found, y = _offsets(_transposed((n,), k, s, d, "same", op), (n,))
        assert (y.shape, found) == ((length,), [(crop,)]), (n, k, s, d, op)
