"""Where Keras' ``same`` and ``valid`` put their padding and crops, against Keras itself.

Keras' Conv{1,2,3}DTranspose output is a window of PyTorch's uncropped transposed convolution
(padding 0, the same kernel): the test copies Keras' kernel into ``conv_transpose{n}d`` and finds
by brute force every offset at which Keras' output sits in it (zeros appended where it is
longer). convcalc's window must crop exactly that: ``pad_left`` at the start, ``pad_right`` at the
end (negative: zeros appended). The receptive field (:mod:`convcalc.views.receptive`) of Keras'
transposed convolutions, convolutions and pools (``same`` at every stride, where the odd padding
goes at the end) is checked against the inputs each output of the live layer depends on: one-hot
inputs through the layer with a kernel of ones.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from convcalc.analysis import analyse
from convcalc.errors import ConvcalcError
from convcalc.records import Report
from convcalc.spec.validate import load_spec
from convcalc.views.receptive import receptive_fields
from tests.budget import examples
from tests.keras_oracle import KERAS_MARKS, keras

torch = pytest.importorskip("torch")

pytestmark = KERAS_MARKS


def _report(rank: int, n: tuple[int, ...], layer: dict[str, Any]) -> Report:
    """A Keras spec of the one layer on a one-channel input of spatial sizes ``n``."""
    return analyse(load_spec({"framework": "keras", "input": [*n, 1], "layers": [layer]}))


def _transposed(n: tuple[int, ...], k: Any, s: Any, d: Any, padding: str, op: Any) -> Any:
    """Keras' Conv{rank}DTranspose with one filter and no bias, built on inputs of sizes ``n``."""
    cls = getattr(keras.layers, f"Conv{len(n)}DTranspose")
    layer = cls(
        1, k, strides=s, padding=padding, output_padding=op, dilation_rate=d, use_bias=False
    )
    layer.build((None, *n, 1))
    return layer


def _offsets(layer: Any, n: tuple[int, ...]) -> tuple[list[tuple[tuple[int, int], ...]], Any]:
    """Every placement ((start, end) crop per dimension) of Keras' output in PyTorch's
    uncropped transposed convolution of a random input, with Keras' kernel; Keras' output."""
    rank = len(n)
    rng = np.random.default_rng(sum(n))
    x = (rng.random((1, *n, 1)) + 0.5).astype("float32")
    y = keras.ops.convert_to_numpy(layer(x))[0, ..., 0]
    kernel = torch.from_numpy(keras.ops.convert_to_numpy(layer.kernel))
    weight = kernel.permute(rank + 1, rank, *range(rank))  # (*k, out, in) → (in, out, *k)
    run = getattr(torch.nn.functional, f"conv_transpose{rank}d")
    stride, dilation = layer.strides, layer.dilation_rate
    full = run(torch.from_numpy(x).movedim(-1, 1), weight, stride=stride, dilation=dilation)
    u = full[0, 0].numpy()
    margin = max(y.shape) + max(u.shape)
    padded = np.pad(u, margin)
    found = []
    ranges = [range(-m, size + 1) for m, size in zip(y.shape, u.shape, strict=True)]
    for starts in itertools.product(*ranges):
        cut = tuple(slice(a + margin, a + margin + m) for a, m in zip(starts, y.shape, strict=True))
        if np.allclose(padded[cut], y, rtol=1e-4, atol=1e-5):
            ends = (size - a - m for a, m, size in zip(starts, y.shape, u.shape, strict=True))
            found.append(tuple(zip(starts, ends, strict=True)))
    return found, y


def _check_transposed(n: tuple[int, ...], k: Any, s: Any, d: Any, padding: str, op: Any) -> None:
    """convcalc's crops are a placement of Keras' output, its shape Keras' shape; where convcalc
    refuses, Keras' output is empty (convcalc refuses every empty tensor)."""
    rank = len(n)
    layer = _transposed(n, k, s, d, padding, op)
    args: dict[str, Any] = {"type": f"Conv{rank}DTranspose", "filters": 1, "kernel_size": k}
    args |= {"strides": s, "dilation_rate": d, "padding": padding, "use_bias": False}
    if op is not None:
        args["output_padding"] = op
    try:
        report = _report(rank, n, args)
    except ConvcalcError:
        shape = layer.compute_output_shape((1, *n, 1))
        assert 0 in shape[1:-1], (n, k, s, d, padding, op, shape)
        return
    found, y = _offsets(layer, n)
    step = report.layers[0].step
    assert step is not None and step.windows is not None
    assert step.output[1:] == y.shape
    crops = tuple((w.pad_left, w.pad_right) for w in step.windows)
    assert crops in found, (n, k, s, d, padding, op, crops, found)


def test_conv2d_transpose_same_crops_the_odd_one_at_the_end() -> None:
    """Keras' Conv2DTranspose(3, strides=2, padding="same") on 5×5 is the first 10×10 of the
    uncropped 11×11: crop 0 at the start, 1 at the end."""
    layer = _transposed((5, 5), 3, 2, 1, "same", None)
    found, _ = _offsets(layer, (5, 5))
    assert found == [((0, 1), (0, 1))]
    args = {"type": "Conv2DTranspose", "filters": 1, "kernel_size": 3, "strides": 2}
    report = _report(2, (5, 5), args | {"padding": "same", "use_bias": False})
    step = report.layers[0].step
    assert step is not None and step.windows is not None
    assert [(w.pad_left, w.pad_right) for w in step.windows] == [(0, 1), (0, 1)]


@pytest.mark.parametrize(
    ("n", "k", "s", "d", "padding", "op"),
    [
        ((4, 3), (4, 3), (2, 3), 1, "same", None),
        ((3, 4), (2, 5), (3, 2), 1, "same", (1, 0)),
        ((4, 3), (3, 2), 1, (2, 1), "valid", None),
        ((2, 3, 2), (3, 2, 4), (2, 1, 3), 1, "same", None),
        ((2, 2, 3), (1, 2, 3), (3, 2, 2), 1, "valid", (2, 1, 0)),
    ],
)
def test_transposed_crops_in_2d_and_3d(
    n: tuple[int, ...], k: Any, s: Any, d: Any, padding: str, op: Any
) -> None:
    """Per dimension, each its own kernel, stride and output_padding."""
    _check_transposed(n, k, s, d, padding, op)


@st.composite
def transposed_cases(draw: Any) -> tuple[Any, ...]:
    """A Conv1DTranspose on n positions: Keras takes strides > 1 or dilation > 1, not both, and
    an output_padding below the stride."""
    n, k, s = draw(st.integers(1, 9)), draw(st.integers(1, 7)), draw(st.integers(1, 4))
    d = draw(st.integers(1, 3)) if s == 1 else 1
    op = draw(st.none() | st.integers(0, s - 1))
    return (n,), k, s, d, draw(st.sampled_from(["valid", "same"])), op


@settings(max_examples=examples(300), deadline=None)
@given(transposed_cases())
def test_transposed_crops_match_keras(case: tuple[Any, ...]) -> None:
    """convcalc's crops of Conv1DTranspose are where Keras' output sits in the uncropped one."""
    _check_transposed(*case)


def _depends(kind: str, n: int, args: dict[str, Any]) -> np.ndarray:
    """``depends[i, j]``: output j of Keras' 1-D layer changes with input i (one-hot inputs, a
    kernel of ones, no bias: no cancellation, so nonzero exactly where i is in the window)."""
    layer = getattr(keras.layers, kind)(**args)
    layer.build((None, n, 1))
    if layer.weights:
        layer.set_weights([np.ones(w.shape, "float32") for w in layer.weights])
    y = keras.ops.convert_to_numpy(layer(np.eye(n, dtype="float32")[..., None]))
    return np.asarray(y[..., 0] != 0)


@st.composite
def layer_cases(draw: Any) -> tuple[str, int, dict[str, Any], int]:
    """A Keras 1-D transposed convolution, convolution or pool, as (class, n, arguments,
    dilation); ``same`` at every stride."""
    kind = draw(st.sampled_from(["Conv1DTranspose", "Conv1D", "MaxPooling1D", "AveragePooling1D"]))
    n, k, s = draw(st.integers(1, 9)), draw(st.integers(1, 6)), draw(st.integers(1, 4))
    paddings = ["valid", "same", "causal"] if kind == "Conv1D" else ["valid", "same"]
    args: dict[str, Any] = {"strides": s, "padding": draw(st.sampled_from(paddings))}
    if kind.startswith("Conv"):
        d = draw(st.integers(1, 3)) if s == 1 else 1
        args |= {"filters": 1, "kernel_size": k, "dilation_rate": d, "use_bias": False}
        if kind == "Conv1DTranspose" and args["padding"] != "causal":
            op = draw(st.none() | st.integers(0, s - 1))
            if op is not None:
                args["output_padding"] = op
        return kind, n, args, d
    return kind, n, args | {"pool_size": k}, 1


@settings(max_examples=examples(300), deadline=None)
@given(layer_cases())
def test_receptive_field_matches_keras(case: tuple[str, int, dict[str, Any], int]) -> None:
    """Output j of the layer depends on exactly the inputs i of [c_j − (r − 1)/2, c_j + (r −
    1)/2] (every d-th from its start), c_j = start + j·jump, r the field's size: convcalc's
    receptive field (its windows' padding and crops) against the live layer's dependences."""
    kind, n, args, d = case
    try:
        report = _report(1, (n,), {"type": kind, **args})
    except ConvcalcError:
        assume(False)
        return
    depends = _depends(kind, n, args)
    entry = report.layers[0]
    assert depends.shape[1] == entry.output_shape[1]
    field = receptive_fields(report)[id(entry)]
    assert field.size is not None
    r, jump, start = field.size[0], field.jump[0], field.start[0]
    for j in range(depends.shape[1]):
        lo, hi = start + j * jump - (r - 1) / 2, start + j * jump + (r - 1) / 2
        expected = [
            i
            for i in range(n)
            if lo - 1e-9 <= i <= hi + 1e-9 and (d == 1 or abs((i - lo) % d) < 1e-9)
        ]
        assert list(np.flatnonzero(depends[:, j])) == expected, (kind, n, args, j, field)


@pytest.mark.parametrize(
    ("kind", "k", "s"),
    [("Conv2D", 4, 2), ("Conv2D", 3, 3), ("MaxPooling2D", 2, 3), ("AveragePooling2D", 3, 2)],
)
def test_same_pads_the_odd_one_at_the_end(kind: str, k: int, s: int) -> None:
    """Keras' ``same`` at stride s > 1 on 8×8 pads T = (out − 1)·s + k − 8, ⌊T/2⌋ before and the
    odd one after: output (j, j) of the live 2-D layer depends on the one-hot input at (i, i)
    exactly where i is in [j·s − ⌊T/2⌋, j·s − ⌊T/2⌋ + k − 1], as the records' windows say."""
    args: dict[str, Any] = {"strides": s, "padding": "same"}
    if kind == "Conv2D":
        args |= {"filters": 1, "kernel_size": k, "use_bias": False}
    else:
        args["pool_size"] = k
    layer = getattr(keras.layers, kind)(**args)
    layer.build((None, 8, 8, 1))
    if layer.weights:
        layer.set_weights([np.ones(w.shape, "float32") for w in layer.weights])
    x = np.zeros((8, 8, 8, 1), "float32")
    x[range(8), range(8), range(8), 0] = 1.0
    y = keras.ops.convert_to_numpy(layer(x))[..., 0]
    out = y.shape[1]
    total = (out - 1) * s + k - 8
    step = _report(2, (8, 8), {"type": kind, **args}).layers[0].step
    assert step is not None and step.windows is not None
    sides = (total // 2, total - total // 2)
    assert [(w.pad_left, w.pad_right) for w in step.windows] == [sides, sides]
    for j in range(out):
        window = range(j * s - total // 2, j * s - total // 2 + k)
        assert list(np.flatnonzero(y[:, j, j])) == [i for i in window if 0 <= i < 8]


@pytest.mark.parametrize(
    ("n", "k", "s", "padding", "op"),
    [
        ((5, 5), (3, 4), (2, 3), "same", None),
        ((4, 3), (2, 5), (3, 2), "same", (1, 1)),
        ((4,), 1, 3, "same", None),
        ((3,), 4, 2, "valid", 1),
        ((2, 3, 2), (3, 2, 1), (2, 1, 2), "same", None),
    ],
)
def test_pytorch_export_computes_keras_values(
    n: tuple[int, ...], k: Any, s: Any, padding: str, op: Any
) -> None:
    """The PyTorch export of a Keras transposed layer, Keras' kernel and bias copied into its
    ConvTranspose, gives Keras' output value for value (the crops on Keras' sides)."""
    from convcalc.frameworks.torch.export import to_pytorch

    rank = len(n)
    args: dict[str, Any] = {"type": f"Conv{rank}DTranspose", "filters": 2, "kernel_size": k}
    args |= {"strides": s, "padding": padding} | ({} if op is None else {"output_padding": op})
    spec = load_spec({"framework": "keras", "input": [*n, 3], "layers": [args]})
    namespace: dict[str, Any] = {}
    exec(compile(to_pytorch(analyse(spec), "Net", spec), "<exported>", "exec"), namespace)
    module = namespace["Net"]().eval()
    keras_args = {key: v for key, v in args.items() if key not in ("type", "filters")}
    layer = getattr(keras.layers, args["type"])(2, **keras_args)
    layer.build((None, *n, 3))
    rng = np.random.default_rng(1)
    layer.bias.assign(rng.standard_normal(2).astype("float32"))  # Keras' starts at zero
    x = rng.standard_normal((1, *n, 3)).astype("float32")
    y = keras.ops.convert_to_numpy(layer(x))
    kernel, bias = (torch.from_numpy(keras.ops.convert_to_numpy(w)) for w in layer.weights)
    transposed = torch.nn.modules.conv._ConvTransposeNd
    conv = next(m for m in module.modules() if isinstance(m, transposed))
    with torch.no_grad():
        conv.weight.copy_(kernel.permute(rank + 1, rank, *range(rank)))  # (in, out, *k)
        conv.bias.copy_(bias)
        out = module(torch.from_numpy(x).movedim(-1, 1)).movedim(1, -1).numpy()
    assert out.shape == y.shape
    assert np.allclose(out, y, atol=1e-5)
