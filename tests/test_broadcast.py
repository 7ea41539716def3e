"""Element-wise merges broadcast as PyTorch and Keras broadcast, through one function.

The residual and the graph share :meth:`convcalc.layers.blocks.Block.broadcast` (itself on
:func:`convcalc.layers.blocks.broadcast`). The oracles: torch's ``+`` on every pair of small
shapes; torch's ``+``, ``*`` and ``maximum`` on the outputs of hand-built modules (a batch of
two), for residuals and graphs of PyTorch specs, valid and refused; Keras 3 itself (torch
backend) building ``Add()([a, b])`` and friends on channels-last (and channels-first) tensors,
for Keras specs and for ``model.to_json()`` imported; torch run per input size for the solver's
accepted sizes of a residual that broadcasts. Lint warns of a residual that broadcasts.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from convcalc.analysis import LayerRefusal, analyse
from convcalc.errors import SpecError
from convcalc.layers.blocks import broadcast
from convcalc.spec.validate import load_spec
from convcalc.views.lint import lint

torch = pytest.importorskip("torch")
nn = torch.nn

pytestmark = pytest.mark.torch

Layer = dict[str, Any]


def test_the_rule_is_torchs_on_every_small_pair() -> None:
    """Every pair of shapes of rank 0 to 2, sizes 1 to 3, and of rank 3, sizes 1 and 3:
    the shape of torch's ``+`` of two such tensors, or refused where it refuses."""
    shapes = {s for r in range(3) for s in itertools.product((1, 2, 3), repeat=r)}
    shapes |= set(itertools.product((1, 3), repeat=3))
    for a, b in itertools.product(shapes, repeat=2):
        try:
            expected: tuple[int, ...] | None = tuple((torch.zeros(a) + torch.zeros(b)).shape)
        except RuntimeError:
            expected = None
        assert broadcast(a, b) == expected, (a, b)


# --- PyTorch specs: a residual (and a graph of the same two paths) against torch's + ----------

C = 8
POOL1: Layer = {"type": "adaptive_avgpool", "output_size": 1}


def conv(out: int, stride: int = 1) -> Layer:
    return {"type": "conv", "out_channels": out, "kernel_size": 1, "stride": stride}


def module(layer: Layer, channels: int) -> tuple[Any, int]:
    """The torch module a spec layer is, built by hand, and its output channels."""
    if layer["type"] == "conv":
        out = layer["out_channels"]
        return nn.Conv2d(channels, out, 1, stride=layer["stride"]), out
    if layer["type"] == "adaptive_avgpool":
        return nn.AdaptiveAvgPool2d(layer["output_size"]), channels
    if layer["type"] == "flatten":
        return nn.Flatten(), channels
    assert layer["type"] == "linear"
    return nn.Linear(channels, layer["out_features"]), layer["out_features"]


def torch_path(layers: list[Layer]) -> Any:
    built, channels = [], C
    for layer in layers:
        m, channels = module(layer, channels)
        built.append(m)
    return nn.Sequential(*built)


# (body, shortcut): torch's + broadcasts them, or refuses
PAIRS: dict[str, tuple[list[Layer], list[Layer]]] = {
    "per-channel shortcut": ([conv(C)], [POOL1]),  # 8×4×4 + 8×1×1
    "one-channel shortcut": ([conv(C)], [conv(1)]),  # 8×4×4 + 1×4×4
    "both grow": ([POOL1], [conv(1)]),  # 8×1×1 + 1×4×4 → 8×4×4
    "identity and a pooled body": ([POOL1, conv(3)], []),  # 3×1×1 + 8×4×4: refused
    "strided body": ([conv(C, 2)], []),  # 8×2×2 + 8×4×4: refused
    "stride to 1": ([conv(C, 4)], [conv(1)]),  # 8×1×1 + 1×4×4 → 8×4×4
}


def torch_merge(body: list[Layer], shortcut: list[Layer], join: Any) -> tuple[Any, int]:
    """torch's output shape (batch left out; None where it refuses) and the parameters."""
    b, s = torch_path(body), torch_path(shortcut)
    x = torch.zeros(2, C, 4, 4)
    params = sum(p.numel() for p in (*b.parameters(), *s.parameters()))
    try:
        return tuple(join(b(x), s(x)).shape[1:]), params
    except RuntimeError:
        return None, params


def convcalc_merge(layers: list[Layer]) -> tuple[Any, int | None]:
    """convcalc's output shape and parameters; None where it refuses (at the block)."""
    try:
        report = analyse(load_spec({"input": [C, 4, 4], "layers": layers}))
    except LayerRefusal as exc:
        refused = exc
    else:
        return report.output_shape, report.total_params
    assert refused.path == "layers[0]"
    return None, None


@pytest.mark.parametrize("case", list(PAIRS))
def test_residual_and_graph_broadcast_as_torch(case: str) -> None:
    body, shortcut = PAIRS[case]
    for join, op in (("add", torch.add), ("multiply", torch.mul), ("maximum", torch.maximum)):
        expected, params = torch_merge(body, shortcut, op)
        residual = {"type": "residual", "join": join, "body": body, "shortcut": shortcut}
        paths = [{"name": "body", "layers": body}, {"name": "shortcut", "layers": shortcut}]
        graph = {"type": "graph", "join": join, "paths": paths}
        for block in (residual, graph):
            shape, count = convcalc_merge([block])
            assert shape == expected, (join, block["type"])
            assert count in (None, params)


def test_ranks_that_differ_depend_on_the_batch_so_are_refused() -> None:
    """body 8×1×4 (pooled), shortcut 4 (pooled, flattened, a linear): torch's + lines the batch
    up with the body's H, so the output is 2×8×2×4 for a batch of 2 and 3×8×3×4 for 3 — no
    shape without the batch; convcalc refuses, saying why."""
    body: list[Layer] = [{"type": "adaptive_avgpool", "output_size": [1, 4]}]
    shortcut: list[Layer] = [POOL1, {"type": "flatten"}, {"type": "linear", "out_features": 4}]
    b, s = torch_path(body), torch_path(shortcut)
    shapes = {n: tuple((b(x) + s(x)).shape) for n in (2, 3) for x in [torch.zeros(n, C, 4, 4)]}
    assert shapes == {2: (2, 8, 2, 4), 3: (3, 8, 3, 4)}
    with pytest.raises(LayerRefusal, match="the batch among them"):
        analyse(
            load_spec(
                {
                    "input": [C, 4, 4],
                    "layers": [{"type": "residual", "body": body, "shortcut": shortcut}],
                }
            )
        )


def test_a_refused_residual_says_torchs_rule_and_the_fix() -> None:
    with pytest.raises(LayerRefusal) as refused:
        analyse(
            load_spec({"input": [C, 4, 4], "layers": [{"type": "residual", "body": [conv(C, 2)]}]})
        )
    assert refused.value.message == (
        "body gives 8×2×2 but shortcut gives 8×4×4: to be added, each dimension must be equal "
        "or 1 in one of them — a 1×1 conv with out_channels 8 (stride 2) in the shortcut would "
        "match"
    )


def test_lint_warns_of_a_residual_that_broadcasts() -> None:
    """The output is torch's (8×4×4); the warning says which path is repeated; equal shapes
    are not warned of."""
    spec = {
        "input": [C, 4, 4],
        "layers": [{"type": "residual", "body": [conv(C)], "shortcut": [POOL1]}],
    }
    report = analyse(load_spec(spec))
    assert report.output_shape == torch_merge([conv(C)], [POOL1], torch.add)[0]
    (found,) = [f for f in lint(report) if f.code == "residual-broadcasts"]
    assert found.path == "layers[0]"
    assert "broadcast to 8×4×4, the values of shortcut repeated" in found.message
    assert found.formula == "8×4×4 + 8×1×1 → 8×4×4"
    spec["layers"][0]["shortcut"] = [conv(C)]
    assert not [f for f in lint(analyse(load_spec(spec))) if f.code == "residual-broadcasts"]


def test_the_solver_takes_a_residual_that_broadcasts() -> None:
    """body ⌊H/2⌋×⌊W/2⌋ (a 2×2 max-pool), identity shortcut H×W: they broadcast where
    ⌊H/2⌋ = 1 (H ∈ {2, 3}), as torch's + does at each size (H, W ≤ 12)
    and the solver's closed form says for every size up to 1,000."""
    from convcalc.solve.inputs import solve_input

    layers = [{"type": "residual", "body": [{"type": "maxpool", "kernel_size": 2}]}]
    answer = solve_input(load_spec({"input": [C, 3, 3], "layers": layers}))
    pool = nn.MaxPool2d(2)

    def accepts(h: int, w: int) -> bool:
        x = torch.zeros(1, 1, h, w)
        try:
            _ = pool(x) + x
        except RuntimeError:
            return False
        return True

    sizes = range(1, 13)
    brute = {(h, w) for h in sizes for w in sizes if accepts(h, w)}
    assert brute == {(h, w) for h in (2, 3) for w in (2, 3)}
    assert {(h, w) for h in sizes for w in sizes if (h, w) in answer} == brute
    assert [h for h in range(1, 1001) if h in answer.per_dim[0].sizes] == [2, 3]


# --- Keras: the merges on channels-last tensors, Keras' order --------------------------------


def keras_branch(keras: Any, name: str) -> Any:
    """A Keras layer stack on (4, 4, 8) by name, and its spec items."""
    layers = keras.layers
    return {
        "conv8": ([layers.Conv2D(8, 1)], [{"type": "Conv2D", "filters": 8, "kernel_size": 1}]),
        "conv1": ([layers.Conv2D(1, 1)], [{"type": "Conv2D", "filters": 1, "kernel_size": 1}]),
        "conv8/2": (
            [layers.Conv2D(8, 1, strides=2)],
            [{"type": "Conv2D", "filters": 8, "kernel_size": 1, "strides": 2}],
        ),
        "gap-keep": (
            [layers.GlobalAveragePooling2D(keepdims=True)],
            [{"type": "GlobalAveragePooling2D", "keepdims": True}],
        ),
        "gap": ([layers.GlobalAveragePooling2D()], [{"type": "GlobalAveragePooling2D"}]),
        "dense4": (
            [layers.GlobalAveragePooling2D(), layers.Dense(4)],
            [{"type": "GlobalAveragePooling2D"}, {"type": "Dense", "units": 4}],
        ),
        "identity": ([], []),
    }[name]


KERAS_CASES = [
    ("Add", "conv8", "gap-keep"),  # (4, 4, 8) + (1, 1, 8)
    ("Multiply", "conv8", "conv1"),  # (4, 4, 8) · (4, 4, 1)
    ("Add", "conv8", "gap"),  # (4, 4, 8) + (8,): aligned from the last axis
    ("Subtract", "gap", "identity"),  # (8,) − (4, 4, 8)
    ("Maximum", "gap-keep", "conv1"),  # (1, 1, 8), (4, 4, 1): both grow
    ("Add", "conv8/2", "identity"),  # (2, 2, 8) + (4, 4, 8): refused
    ("Add", "dense4", "identity"),  # (4,) + (4, 4, 8): refused (4 against C = 8, not W = 4)
]


def keras_model(keras: Any, merge: str, body: str, shortcut: str, shape: tuple[int, ...]) -> Any:
    keras.backend.clear_session()
    x = keras.Input(shape)
    outs = []
    for name in (body, shortcut):
        y = x
        for layer in keras_branch(keras, name)[0]:
            y = layer(y)
        outs.append(y)
    return keras.Model(x, getattr(keras.layers, merge)()(outs))


@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")
@pytest.mark.parametrize(("merge", "body", "shortcut"), KERAS_CASES)
def test_keras_merges_broadcast_as_keras(merge: str, body: str, shortcut: str) -> None:
    """The Keras spec's merge: Keras' output shape and parameters, or refused where Keras
    refuses to build it; the model's JSON imported gives the same."""
    from convcalc.frameworks.keras.importer import from_json
    from tests.keras_oracle import keras

    item = {
        "type": merge,
        "body": keras_branch(keras, body)[1],
        "shortcut": keras_branch(keras, shortcut)[1],
    }
    spec = {"framework": "keras", "input": [4, 4, 8], "layers": [item]}
    try:
        model = keras_model(keras, merge, body, shortcut, (4, 4, 8))
    except ValueError as exc:
        why = str(exc)
    else:
        why = ""
    if why:
        assert "incompatible shapes" in why
        with pytest.raises(SpecError) as refused:
            analyse(load_spec(spec))
        message = str(refused.value)
        assert f"layers[0] ({merge}): body gives " in message
        assert "each axis, aligned from the last, must be equal or 1" in message
        assert "torch" not in message
        return
    report = analyse(load_spec(spec))
    assert report.dialect is not None
    assert report.dialect.shape(report.output_shape) == tuple(model.output.shape[1:])
    assert report.total_params == model.count_params()
    imported = analyse(load_spec(from_json(model.to_json(), "net")))
    assert imported.output_shape == report.output_shape
    assert imported.total_params == model.count_params()


@pytest.mark.full
@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::UserWarning")
def test_keras_channels_first_aligns_its_own_last_axis() -> None:
    """Channels-first, Keras lines (8, 4, 4) up against (8,) from W: refused; against (4,)
    (a Dense of 4): (8, 4, 4)."""
    from tests.keras_oracle import keras

    gap = {"type": "GlobalAveragePooling2D", "data_format": "channels_first"}
    for units, refused in ((None, True), (4, False)):
        keras.backend.clear_session()
        x = keras.Input((8, 4, 4))
        y = keras.layers.GlobalAveragePooling2D(data_format="channels_first")(x)
        shortcut: list[Layer] = [gap]
        if units:
            y = keras.layers.Dense(units)(y)
            shortcut.append({"type": "Dense", "units": units})
        spec = {
            "framework": "keras",
            "data_format": "channels_first",
            "input": [8, 4, 4],
            "layers": [{"type": "Add", "body": [], "shortcut": shortcut}],
        }
        try:
            out = keras.layers.Add()([x, y])
        except ValueError:
            assert refused
            with pytest.raises(SpecError, match="aligned from the last"):
                analyse(load_spec(spec))
            continue
        assert not refused
        report = analyse(load_spec(spec))
        assert report.dialect is not None
        assert report.dialect.shape(report.output_shape) == tuple(out.shape[1:])


@pytest.mark.full
def test_pytorch_round_trip_of_residuals_that_broadcast(tmp_path: Any) -> None:
    """The export writes ``body(x) + shortcut(x)``; torch runs it (a batch of two) and gives
    every leaf's shape, the output and the parameters convcalc gives."""
    from tests.test_export import round_trip

    layers = [
        {"type": "residual", "body": body, "shortcut": shortcut, "join": join}
        for (body, shortcut), join in zip(
            (PAIRS["per-channel shortcut"], PAIRS["both grow"], PAIRS["stride to 1"]),
            ("add", "multiply", "subtract"),
            strict=True,
        )
    ]
    report = analyse(load_spec({"input": [C, 4, 4], "layers": layers}))
    assert report.output_shape == (C, 4, 4)
    round_trip(report, tmp_path, batch=2, layers=layers)
