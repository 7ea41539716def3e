"""Differential tests for the layer types test_torch_shapes.py leaves out, against real PyTorch.

Each test draws an input shape and a layer (or a short stack); torch builds the module for the
shape it actually sees and runs a batch. A spec has no batch size, so torch runs each stack at
batch 2 and at batch 3, and a layer counts as accepted only where both runs accept it, keep the
batch dimension and agree on the per-sample shape (normalized_shape [2, C] on an input [C] fits
only a batch of 2). Every layer's output shape and parameter count must equal torch's, and
wherever torch refuses (or produces an empty dimension, which convcalc refuses by design)
convcalc must refuse at the same layer.

Dimensions in permute, reshape and unflatten are batch-less, so torch applies those to each
sample (``sample.permute(*dims)``), which also lets torch itself read negative dimensions.
softmax's ``dim`` is torch's own, batch included (convcalc accepts any dim valid with a batch).
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from convcalc.analysis import analyse
from convcalc.errors import SpecError
from convcalc.spec.validate import load_spec
from tests.torchvision_oracle import import_torchvision

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

pytestmark = pytest.mark.torch

Layer = dict[str, Any]
Results = list[tuple[list[int], int]]
Run = tuple[Results, int | None]
Fn = Callable[[Any], Any]
Draw = Callable[..., Any]  # st.DrawFn or DataObject.draw, for helpers of strategies

BATCHES = (2, 3)


class NoTorchModule(RuntimeError):
    """torch has no module for this layer at this rank (InstanceNorm0d, ConstantPad0d, ...)."""


# what torch raises for a layer it refuses (Embedding's padding_idx check is an assert)
TORCH_REFUSALS = (
    RuntimeError,
    ValueError,
    IndexError,
    TypeError,
    NotImplementedError,
    AssertionError,
)

ACTIVATIONS = {
    "relu6": nn.ReLU6,
    "silu": nn.SiLU,
    "hardswish": nn.Hardswish,
    "hardsigmoid": nn.Hardsigmoid,
    "mish": nn.Mish,
}
PAD_MODULES = {
    "constant": "ConstantPad",
    "reflect": "ReflectionPad",
    "replicate": "ReplicationPad",
    "circular": "CircularPad",
}
CHANNEL_DROPOUTS = ("dropout1d", "dropout2d", "dropout3d")


# --- torch's side -------------------------------------------------------------------------


def _tuple(value: Any) -> Any:
    return tuple(_tuple(v) for v in value) if isinstance(value, list) else value


def _by_rank(prefix: str, rank: int) -> Any:
    """torch's ``{prefix}{rank}d`` class; only 1-D to 3-D ones exist."""
    if rank not in (1, 2, 3):
        raise NoTorchModule(f"torch has no {prefix}{rank}d")
    return getattr(nn, f"{prefix}{rank}d")


def _per_sample(op: Fn) -> Fn:
    """An operation over the batch-less dimensions, applied to every sample of the batch."""
    return lambda x: torch.stack([op(sample) for sample in x])


def torch_pad(args: Layer, rank: int) -> tuple[Fn, Any]:
    """nn.ConstantPadNd / ReflectionPadNd / ReplicationPadNd / CircularPadNd for the rank.

    Where no module expresses the spec (mode 'zeros', a ``value`` with another mode than
    constant) the only torch form is F.pad itself, and it is what decides.
    """
    mode = args.get("mode", "constant")
    padding = args["padding"]
    value = args.get("value", 0.0)
    if mode not in PAD_MODULES or (mode != "constant" and value != 0):
        sides = padding if isinstance(padding, tuple) else (padding,) * (2 * max(rank, 1))
        return (lambda x: F.pad(x, sides, mode=mode, value=value)), None
    cls = _by_rank(PAD_MODULES[mode], rank)
    module = cls(padding, value) if mode == "constant" else cls(padding)
    return module, module


def torch_layer(layer: Layer, shape: tuple[int, ...]) -> tuple[Fn, Any]:
    """A callable for one spec layer on a batched tensor, and its module (for the parameters),
    given the batch-less input shape torch produced."""
    kind = layer["type"]
    args = {k: _tuple(v) for k, v in layer.items() if k != "type"}
    rank = len(shape) - 1
    module: Any
    if kind == "pad":
        return torch_pad(args, rank)
    if kind == "embedding":  # token positions: a LongTensor of the input's shape
        embedding = nn.Embedding(**args)
        return (lambda x: embedding(torch.zeros(x.shape, dtype=torch.long))), embedding
    if kind == "permute":
        dims = args["dims"]
        return _per_sample(lambda s: s.permute(*dims)), None
    if kind == "reshape":
        new = args["shape"]
        return (lambda x: x.reshape(x.shape[0], *new)), None
    if kind == "unflatten":
        dim, sizes = args["dim"], args["unflattened_size"]
        return _per_sample(lambda s: s.unflatten(dim, sizes)), None
    training = kind in CHANNEL_DROPOUTS or kind == "stochastic_depth"
    if kind in ACTIVATIONS:
        module = ACTIVATIONS[kind](**args)
    elif kind == "prelu":
        module = nn.PReLU(**args)
    elif kind == "softmax":
        module = nn.Softmax(**args)
    elif kind == "log_softmax":
        module = nn.LogSoftmax(**args)
    elif kind == "upsample":
        module = nn.Upsample(**args)
    elif kind == "groupnorm":
        module = nn.GroupNorm(num_channels=shape[0], **args)
    elif kind == "layernorm":
        module = nn.LayerNorm(**args)
    elif kind == "instancenorm":
        module = _by_rank("InstanceNorm", rank)(shape[0], **args)
    elif kind == "local_response_norm":
        module = nn.LocalResponseNorm(**args)
    elif kind == "channel_shuffle":
        module = nn.ChannelShuffle(**args)
    elif kind in CHANNEL_DROPOUTS:
        module = getattr(nn, kind.capitalize())(**args)
    elif kind == "stochastic_depth":
        module = import_torchvision().ops.StochasticDepth(**args)
    elif kind == "relu":
        module = nn.ReLU(**args)
    elif kind == "conv":
        module = _by_rank("Conv", rank)(shape[0], **args)
    else:
        raise KeyError(f"no torch builder for {kind}")
    # dropouts and stochastic depth check their input only where they act: in training
    module.train(training)
    return module, module


def _params(module: Any) -> int:
    return sum(int(p.numel()) for p in module.parameters()) if module is not None else 0


def _torch_batch(input_shape: list[int], layers: list[Layer], batch: int) -> Results:
    """(shape, params) per layer at one batch size, up to the first layer torch refuses."""
    x = torch.zeros(batch, *input_shape)
    results: Results = []
    for layer in layers:
        try:
            with warnings.catch_warnings():
                # dropout2d/3d on other ranks warn, softmax without dim too: tested below
                warnings.simplefilter("ignore")
                fn, module = torch_layer(layer, tuple(x.shape[1:]))
                with torch.no_grad():
                    y = fn(x)
        except TORCH_REFUSALS:
            break
        if y.dim() == 0 or y.shape[0] != batch or 0 in y.shape or _pads_the_batch(layer, x):
            break  # padding the batch is no per-sample layer; an empty dimension is refused
        x = y
        results.append((list(y.shape[1:]), _params(module)))
    return results


def _pads_the_batch(layer: Layer, x: Any) -> bool:
    """F.pad's pairs run from the last dimension back, so a list of 2·x.dim() values ends with
    the batch's pair: other than (0, 0) it moves samples (by (1, −1), sample i becomes the
    output's i + 1, with the batch size kept), which is no per-sample layer."""
    pads = layer.get("padding") if layer.get("type") == "pad" else None
    return isinstance(pads, list) and len(pads) == 2 * x.dim() and tuple(pads[-2:]) != (0, 0)


def torch_run(input_shape: list[int], layers: list[Layer]) -> Run:
    """[(output shape, params)] per layer, and the index torch refused at (or None): a layer is
    accepted where every batch size accepts it and gives the same per-sample shape."""
    runs = [_torch_batch(input_shape, layers, batch) for batch in BATCHES]
    results: Results = []
    for index in range(len(layers)):
        seen = [run[index] if index < len(run) else None for run in runs]
        if seen[0] is None or any(other != seen[0] for other in seen):
            return results, index
        results.append(seen[0])
    return results, None


# --- convcalc's side ----------------------------------------------------------------------

_TOP = re.compile(r"layers\[(\d+)\]")


def convcalc_run(input_shape: list[int], layers: list[Layer]) -> Run:
    """The same record from convcalc: a refusal (while validating or analysing) names its layer,
    and the layers before it are analysed alone."""
    try:
        report = analyse(load_spec({"input": input_shape, "layers": layers}))
    except SpecError as exc:
        refusal = exc
    else:
        return [(list(e.output_shape), e.params) for e in report.leaves()], None
    match = _TOP.fullmatch(refusal.path or "")
    assert match is not None, f"a refusal must name its layer: {refusal}"
    index = int(match.group(1))
    before = analyse(load_spec({"input": input_shape, "layers": layers[:index]}))
    return [(list(e.output_shape), e.params) for e in before.leaves()], index


def check(input_shape: list[int], layers: list[Layer]) -> Run:
    """convcalc must give torch's shapes and parameters and refuse at torch's layer."""
    expected = torch_run(input_shape, layers)
    got = convcalc_run(input_shape, layers)
    assert got == expected, (
        f"input {input_shape}, layers {layers}:\n  convcalc {got}\n  torch    {expected}"
    )
    return got


def accepts(input_shape: list[int], layers: list[Layer]) -> bool:
    return convcalc_run(input_shape, layers)[1] is None


# --- strategies ---------------------------------------------------------------------------

TOP = {0: 8, 1: 12, 2: 7, 3: 4}  # the largest spatial size drawn per rank: tensors stay tiny


@st.composite
def shapes(
    draw: st.DrawFn, ranks: tuple[int, ...] = (0, 1, 2, 3), channels: int = 6, top: int = 0
) -> list[int]:
    """[channels, *spatial] with 0 to 3 spatial dimensions (rank 0 is a feature vector)."""
    rank = draw(st.sampled_from(ranks))
    high = top or TOP[rank]
    return [draw(st.integers(1, channels))] + [draw(st.integers(1, high)) for _ in range(rank)]


def maybe(draw: Draw, layer: Layer, key: str, values: st.SearchStrategy[Any]) -> None:
    """Write ``key`` (half the time): a field left out must mean torch's default."""
    if draw(st.booleans()):
        layer[key] = draw(values)


# --- activations, softmax, prelu ----------------------------------------------------------


@given(shape=shapes(), kind=st.sampled_from(sorted(ACTIVATIONS)), data=st.data())
def test_activations(shape: list[int], kind: str, data: st.DataObject) -> None:
    layer: Layer = {"type": kind}
    maybe(data.draw, layer, "inplace", st.booleans())
    assert check(shape, [layer]) == ([(shape, 0)], None)


@given(shape=shapes(), kind=st.sampled_from(["softmax", "log_softmax"]), data=st.data())
def test_softmax_dim(shape: list[int], kind: str, data: st.DataObject) -> None:
    """dim counts the batch: any dim valid for [N, *shape] is accepted, the others refused."""
    layer: Layer = {"type": kind}
    maybe(data.draw, layer, "dim", st.integers(-len(shape) - 3, len(shape) + 2))
    check(shape, [layer])


@given(shape=shapes(), data=st.data())
def test_prelu(shape: list[int], data: st.DataObject) -> None:
    """num_parameters must be 1 or the channels; anything else is refused."""
    layer: Layer = {"type": "prelu"}
    counts = st.one_of(st.just(1), st.just(shape[0]), st.integers(1, 9))
    maybe(data.draw, layer, "num_parameters", counts)
    maybe(data.draw, layer, "init", st.floats(-1, 1))
    check(shape, [layer])


# --- upsample -----------------------------------------------------------------------------

MODES = ["nearest", "linear", "bilinear", "bicubic", "trilinear", "nearest-exact"]
FACTORS = st.one_of(
    st.sampled_from([0.29, 1.5, 2.7, 0.5, 1 / 3, 2 / 3, 1.25, 0.1, 0.75, 3.3]),
    st.integers(1, 4),
    st.floats(0.05, 4.0),
)


@st.composite
def upsample_layers(draw: st.DrawFn, rank: int) -> Layer:
    layer: Layer = {"type": "upsample"}
    which = draw(st.sampled_from(["size", "scale", "scale", "both", "neither"]))
    lengths = st.sampled_from([rank, rank, rank, 1, 2, 3]) if rank else st.integers(1, 3)
    if which in ("size", "both"):
        sizes = st.integers(1, 9) if draw(st.integers(0, 9)) else st.sampled_from([None, 0])
        if draw(st.booleans()):
            layer["size"] = draw(st.integers(0, 9) if draw(st.integers(0, 9)) else sizes)
        else:
            layer["size"] = [draw(sizes) for _ in range(draw(lengths))]
    if which in ("scale", "both"):
        factor = FACTORS if draw(st.integers(0, 19)) else st.sampled_from([0, -1.5, 1e-9])
        if draw(st.booleans()):
            layer["scale_factor"] = draw(factor)
        else:
            layer["scale_factor"] = [draw(factor) for _ in range(draw(lengths))]
    maybe(draw, layer, "mode", st.sampled_from(MODES))
    if draw(st.integers(0, 2)) == 0:
        layer["align_corners"] = draw(st.booleans())
    return layer


@given(shape=shapes(channels=3), data=st.data())
def test_upsample(shape: list[int], data: st.DataObject) -> None:
    """size or scale_factor (floor(L·scale) in double precision), each mode on its own rank,
    align_corners only with the interpolating modes."""
    check(shape, [data.draw(upsample_layers(len(shape) - 1))])


@pytest.mark.every_case
@pytest.mark.parametrize(
    ("shape", "layer", "out"),
    [
        ([1, 100], {"scale_factor": 0.29}, [1, 28]),  # 100 × 0.29 = 28.999999999999996
        ([2, 7, 5], {"scale_factor": 1.5, "mode": "bilinear"}, [2, 10, 7]),
        ([2, 7, 5, 3], {"scale_factor": 2.7, "mode": "trilinear"}, [2, 18, 13, 8]),
        ([2, 9], {"scale_factor": 2.7, "mode": "linear", "align_corners": True}, [2, 24]),
        ([3, 5, 4], {"scale_factor": [0.29, 1.5], "mode": "nearest-exact"}, [3, 1, 6]),
        ([3, 5, 4], {"size": [3, 11], "mode": "bicubic", "align_corners": False}, [3, 3, 11]),
        ([3, 3], {"scale_factor": 0.29}, None),  # floor(0.87) = 0
        ([3, 5, 4], {"scale_factor": 2, "mode": "linear"}, None),
        ([3, 5, 4, 2], {"scale_factor": 2, "mode": "bicubic"}, None),
        ([3, 5, 4], {"scale_factor": 2, "align_corners": False}, None),
        ([3, 5, 4], {"size": 4, "scale_factor": 2}, None),
        ([3, 5, 4], {"mode": "bilinear"}, None),
        ([3], {"scale_factor": 2}, None),
        ([3, 5], {"scale_factor": 2.7, "recompute_scale_factor": True}, [3, 13]),
        ([3, 5], {"size": 4, "recompute_scale_factor": False}, [3, 4]),
        ([3, 5], {"size": 4, "recompute_scale_factor": True}, None),  # 'not meaningful'
    ],
)
def test_upsample_examples(shape: list[int], layer: Layer, out: list[int] | None) -> None:
    results, refused = check(shape, [{"type": "upsample", **layer}])
    assert results == ([(out, 0)] if out else []) and (refused is None) == (out is not None)


@given(shape=shapes(ranks=(1, 2, 3), channels=2), data=st.data())
def test_upsample_recompute_scale_factor(shape: list[int], data: st.DataObject) -> None:
    """torch refuses recompute_scale_factor=True next to an explicit size."""
    layer = data.draw(upsample_layers(len(shape) - 1))
    layer["recompute_scale_factor"] = data.draw(st.booleans())
    check(shape, [layer])


# --- pad ----------------------------------------------------------------------------------


@st.composite
def pad_layers(draw: st.DrawFn, rank: int, mode: str | None, lengths: bool = False) -> Layer:
    """Padding as one int or 2 per spatial dimension (``lengths``: a list of any length), from
    cropping past the whole input to padding past it."""
    side = st.integers(-9, 9)
    layer: Layer = {"type": "pad"}
    if lengths:
        count = draw(st.integers(1, 10).filter(lambda n: n != 2 * rank))
        layer["padding"] = [draw(side) for _ in range(count)]
    elif draw(st.integers(0, 3)) == 0:
        layer["padding"] = draw(side)
    else:
        layer["padding"] = [draw(side) for _ in range(2 * max(rank, 1))]
    if mode is not None:
        layer["mode"] = mode
    if mode in (None, "constant"):
        maybe(draw, layer, "value", st.floats(-3, 3))
    return layer


@pytest.mark.parametrize("mode", [None, "constant", "reflect", "replicate", "circular"])
@given(shape=shapes(top=6), data=st.data())
def test_pad(mode: str | None, shape: list[int], data: st.DataObject) -> None:
    """Negative values crop. Per mode, torch's limits on a dimension of size L padded (a, b):
    constant crops at most L in all (L + min(a, 0) + min(b, 0) ≥ 0, whatever the other side adds
    back); reflect needs a < L and b < L; circular a ≤ L and b ≤ L, and where one side crops
    more than L its slicing may fail; replicate only a non-empty output."""
    check(shape, [data.draw(pad_layers(len(shape) - 1, mode))])


@pytest.mark.parametrize("mode", [None, "reflect", "replicate", "circular"])
@given(shape=shapes(top=6), data=st.data())
def test_pad_lists_of_other_lengths(
    mode: str | None, shape: list[int], data: st.DataObject
) -> None:
    """A padding list that is not two values per spatial dimension: torch's modules pass it to
    F.pad as given (constant mode pads the last len/2 dimensions, other modes also accept two
    more values, for the channels, at 1-D and 2-D)."""
    check(shape, [data.draw(pad_layers(len(shape) - 1, mode, lengths=True))])


@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
def test_pad_value_outside_constant_mode(mode: str) -> None:
    """Only constant padding has a fill value: F.pad refuses any other, the modules take none."""
    check([2, 6, 6], [{"type": "pad", "padding": 1, "mode": mode, "value": 0.0}])
    check([2, 6, 6], [{"type": "pad", "padding": 1, "mode": mode, "value": 2.5}])


def test_pad_mode_zeros() -> None:
    """'zeros' is a padding_mode of conv, not a mode of F.pad, which refuses it."""
    check([2, 6, 6], [{"type": "pad", "padding": 1, "mode": "zeros"}])


@pytest.mark.every_case
@pytest.mark.parametrize(
    ("shape", "padding", "mode", "out"),
    [
        ([1, 5], [-2, -3], "constant", None),  # 0 left
        ([1, 5], [-5, 1], "constant", [1, 1]),
        ([1, 5], [5, -5], "constant", [1, 5]),  # crops everything, pads it back
        ([1, 5], [10, -9], "constant", None),  # torch: narrow() of length −4
        ([1, 5], [4, -3], "reflect", [1, 6]),
        ([1, 5], [5, -5], "reflect", None),
        ([1, 5], [-3, -3], "replicate", None),
        ([1, 5], [10, -9], "replicate", [1, 6]),
        ([1, 5], [5, -1], "circular", [1, 9]),
        ([1, 5], [6, -5], "circular", None),  # wraps around more than once
        ([1, 5], [-6, 7], "circular", None),
        ([1, 3], [2, -4], "circular", None),  # crops past the input: torch's copy_ fails ...
        ([1, 2], [-3, 2], "circular", [1, 1]),  # ... or not
        ([1, 4, 5], [1, 2, 3, 3], "reflect", [1, 10, 8]),  # last dimension first
        ([1, 4, 5, 3], [0, 1, 2, 3, -1, -2], "replicate", [1, 1, 10, 4]),
        ([3], 1, "constant", None),  # no ConstantPad0d
    ],
)
def test_pad_examples(shape: list[int], padding: Any, mode: str, out: list[int] | None) -> None:
    results, refused = check(shape, [{"type": "pad", "padding": padding, "mode": mode}])
    assert results == ([(out, 0)] if out else []) and (refused is None) == (out is not None)


# --- normalisation ------------------------------------------------------------------------


@pytest.mark.full
@given(shape=shapes(), data=st.data())
def test_groupnorm(shape: list[int], data: st.DataObject) -> None:
    groups = st.one_of(st.sampled_from([1, shape[0]]), st.integers(1, 8))
    layer: Layer = {"type": "groupnorm", "num_groups": data.draw(groups)}
    maybe(data.draw, layer, "affine", st.booleans())
    maybe(data.draw, layer, "eps", st.sampled_from([1e-5, 1e-3]))
    check(shape, [layer])


@pytest.mark.full
@given(shape=shapes(), data=st.data())
def test_layernorm(shape: list[int], data: st.DataObject) -> None:
    """normalized_shape must be the input's trailing dimensions (never the batch's)."""
    draw = data.draw
    k = draw(st.integers(1, len(shape) + 1))
    if draw(st.integers(0, 3)):  # mostly trailing dimensions, sometimes with the batch size too
        dims = shape[len(shape) - min(k, len(shape)) :]
        if k > len(shape):
            dims = [draw(st.sampled_from(BATCHES)), *dims]
    else:
        dims = [draw(st.integers(1, 6)) for _ in range(k)]
    layer: Layer = {
        "type": "layernorm",
        "normalized_shape": dims[0] if len(dims) == 1 and draw(st.booleans()) else dims,
    }
    maybe(draw, layer, "elementwise_affine", st.booleans())
    maybe(draw, layer, "bias", st.booleans())
    check(shape, [layer])


@pytest.mark.full
@given(shape=shapes(top=3), data=st.data())
def test_instancenorm(shape: list[int], data: st.DataObject) -> None:
    """InstanceNorm{n}d for n spatial dimensions; it normalises each sample's channel over its
    spatial positions, and refuses a single position unless it uses running statistics (eval
    mode with track_running_stats)."""
    layer: Layer = {"type": "instancenorm"}
    maybe(data.draw, layer, "affine", st.booleans())
    maybe(data.draw, layer, "track_running_stats", st.booleans())
    check(shape, [layer])


@pytest.mark.every_case
@pytest.mark.parametrize(
    ("shape", "track_running_stats", "accepted"),
    [
        ([3, 2], False, True),
        ([3, 1], False, False),  # 'Expected more than 1 spatial element when training'
        ([3, 1, 1], False, False),
        ([3, 1, 1, 1], False, False),
        ([3, 1, 1], True, True),  # eval mode with running statistics: no statistics taken
    ],
)
def test_instancenorm_examples(shape: list[int], track_running_stats: bool, accepted: bool) -> None:
    layer = {"type": "instancenorm", "track_running_stats": track_running_stats}
    assert (check(shape, [layer])[1] is None) == accepted


@pytest.mark.full
@given(shape=shapes(), data=st.data())
def test_local_response_norm(shape: list[int], data: st.DataObject) -> None:
    layer: Layer = {"type": "local_response_norm", "size": data.draw(st.integers(1, 9))}
    maybe(data.draw, layer, "alpha", st.floats(1e-5, 1e-2))
    maybe(data.draw, layer, "beta", st.floats(0.5, 1))
    maybe(data.draw, layer, "k", st.floats(1, 2))
    check(shape, [layer])


# --- channel_shuffle, stochastic_depth, channel dropout ------------------------------------


@pytest.mark.full
@given(shape=shapes(channels=8), data=st.data())
def test_channel_shuffle(shape: list[int], data: st.DataObject) -> None:
    groups = st.one_of(st.sampled_from([1, shape[0]]), st.integers(1, 9))
    check(shape, [{"type": "channel_shuffle", "groups": data.draw(groups)}])


@given(shape=shapes(), p=st.floats(0, 1), mode=st.sampled_from(["row", "batch"]))
def test_stochastic_depth(shape: list[int], p: float, mode: str) -> None:
    """torchvision.ops.StochasticDepth, in training (where it draws its noise): any shape."""
    assert check(shape, [{"type": "stochastic_depth", "p": p, "mode": mode}]) == (
        [(shape, 0)],
        None,
    )


@given(kind=st.sampled_from(CHANNEL_DROPOUTS), data=st.data())
def test_channel_dropout_on_its_rank(kind: str, data: st.DataObject) -> None:
    """dropout{n}d on an input with n spatial dimensions, where torch is silent."""
    rank = int(kind[-2])
    layer: Layer = {"type": kind}
    maybe(data.draw, layer, "p", st.floats(0, 1))
    maybe(data.draw, layer, "inplace", st.booleans())
    shape = data.draw(shapes(ranks=(rank,)))
    assert check(shape, [layer]) == ([(shape, 0)], None)


# torch 2.13, batch included: dropout1d takes 2-D and 3-D tensors and refuses others;
# dropout2d/3d take any rank but warn that some are deprecated. Silent on a rank it was not made
# for, torch reads the batch as channels: [N, C] as one sample [C=N, L=C] (dropout1d), and
# [N, C, H, W] as one sample [C=N, D=C, H, W] (dropout3d).
CHANNEL_DROPOUT_TORCH = {
    ("dropout1d", 0): "silent",
    ("dropout1d", 1): "silent",
    ("dropout1d", 2): "refuses",
    ("dropout1d", 3): "refuses",
    ("dropout2d", 0): "warns",
    ("dropout2d", 1): "warns",
    ("dropout2d", 2): "silent",
    ("dropout2d", 3): "warns",
    ("dropout3d", 0): "warns",
    ("dropout3d", 1): "warns",
    ("dropout3d", 2): "silent",
    ("dropout3d", 3): "silent",
}


def _torch_dropout(kind: str, shape: list[int]) -> str:
    outcomes = set()
    for batch in BATCHES:
        module = getattr(nn, kind.capitalize())().train()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                module(torch.zeros(batch, *shape))
            except TORCH_REFUSALS:
                outcomes.add("refuses")
                continue
        outcomes.add("warns" if caught else "silent")
    (outcome,) = outcomes
    return outcome


@pytest.mark.parametrize(("kind", "rank"), sorted(CHANNEL_DROPOUT_TORCH))
def test_channel_dropout_on_every_rank(kind: str, rank: int) -> None:
    """What torch does with each rank (the table above), and that convcalc accepts wherever
    torch runs, silently or with a warning, and refuses where torch refuses."""
    shape = [3, 4, 5, 6][: rank + 1]
    torch_does = _torch_dropout(kind, shape)
    assert torch_does == CHANNEL_DROPOUT_TORCH[kind, rank]
    assert accepts(shape, [{"type": kind}]) == (torch_does != "refuses")


# --- embedding, permute, reshape, unflatten ------------------------------------------------


@given(shape=shapes(top=5), data=st.data())
def test_embedding(shape: list[int], data: st.DataObject) -> None:
    """Token positions of any shape in, one vector each out: [L] → [L, embedding_dim]."""
    draw = data.draw
    n = draw(st.integers(1, 12))
    layer: Layer = {
        "type": "embedding",
        "num_embeddings": n,
        "embedding_dim": draw(st.integers(1, 8)),
    }
    maybe(draw, layer, "padding_idx", st.integers(-n - 2, n + 1))
    maybe(draw, layer, "max_norm", st.floats(0.5, 3))
    maybe(draw, layer, "scale_grad_by_freq", st.booleans())
    maybe(draw, layer, "sparse", st.booleans())
    layers = [layer]
    if draw(st.booleans()):  # what comes next sees [*shape, dim]
        layers.append({"type": "layernorm", "normalized_shape": layer["embedding_dim"]})
    check(shape, layers)


def _orders(rank: int) -> st.SearchStrategy[list[int]]:
    """A permutation of range(rank), each dimension written positive or negative."""
    return st.permutations(range(rank)).flatmap(
        lambda order: st.tuples(*[st.sampled_from([d, d - rank]) for d in order]).map(list)
    )


@given(shape=shapes(), data=st.data())
def test_permute(shape: list[int], data: st.DataObject) -> None:
    rank = len(shape)
    if data.draw(st.integers(0, 2)):
        dims = data.draw(_orders(rank))
    else:  # anything: repeats, out of range, too few or too many
        dims = data.draw(st.lists(st.integers(-rank - 2, rank + 1), min_size=0, max_size=5))
    layers: list[Layer] = [{"type": "permute", "dims": dims}]
    if data.draw(st.booleans()):  # and back, or elsewhere
        layers.append({"type": "permute", "dims": data.draw(_orders(rank))})
    check(shape, layers)


def _factors(draw: Draw, total: int, pieces: int) -> list[int]:
    """``total`` split into ``pieces`` factors (1s allowed)."""
    out = []
    for _ in range(pieces - 1):
        divisors = [d for d in range(1, total + 1) if total % d == 0]
        d = draw(st.sampled_from(divisors))
        out.append(d)
        total //= d
    return [*out, total]


def _new_sizes(draw: Draw, total: int) -> list[int]:
    """Sizes that hold ``total`` values (one maybe -1), or, a quarter of the time, anything."""
    if draw(st.integers(0, 3)) == 0:  # (no sizes at all: see test_reshape_to_no_dimensions)
        anything: list[int] = draw(st.lists(st.integers(-2, 8), min_size=1, max_size=4))
        return anything
    sizes = _factors(draw, total, draw(st.integers(1, 4)))
    if draw(st.booleans()):
        sizes[draw(st.integers(0, len(sizes) - 1))] = -1
    return sizes


@given(shape=shapes(), data=st.data())
def test_reshape(shape: list[int], data: st.DataObject) -> None:
    """shape over the batch-less dimensions, at most one -1: torch x.reshape(N, *shape)."""
    new = _new_sizes(data.draw, math.prod(shape))
    check(shape, [{"type": "reshape", "shape": new}, {"type": "relu"}])


SCALAR = pytest.mark.xfail(
    strict=True,
    reason="convcalc refuses a reshape to no dimensions: its shapes keep at least one",
)


@pytest.mark.every_case
@pytest.mark.parametrize(
    ("shape", "layer"),
    [
        pytest.param([1], "reshape", marks=SCALAR),
        pytest.param([1, 1, 1, 1], "reshape", marks=SCALAR),
        ([2], "reshape"),
        ([3, 1], "reshape"),
        *[(shape, "unflatten") for shape in ([1], [1, 1, 1, 1], [2], [3, 1])],
    ],
)
def test_reshape_to_no_dimensions(shape: list[int], layer: str) -> None:
    """No sizes at all: torch's reshape(N) gives each sample no dimensions when it holds one
    value (and refuses otherwise); unflatten refuses empty sizes."""
    if layer == "reshape":
        check(shape, [{"type": "reshape", "shape": []}])
    else:
        check(shape, [{"type": "unflatten", "dim": 0, "unflattened_size": []}])


@given(shape=shapes(), data=st.data())
def test_unflatten(shape: list[int], data: st.DataObject) -> None:
    rank = len(shape)
    dim = data.draw(st.integers(-rank - 1, rank))
    total = shape[dim] if -rank <= dim < rank else data.draw(st.integers(1, 8))
    sizes = _new_sizes(data.draw, total)
    check(shape, [{"type": "unflatten", "dim": dim, "unflattened_size": sizes}])


@pytest.mark.full
@pytest.mark.parametrize("mode", ["reflect", "replicate", "circular"])
@given(shape=shapes(ranks=(1, 2)), data=st.data())
def test_conv_padding_modes(mode: str, shape: list[int], data: st.DataObject) -> None:
    """A conv with a padding_mode other than zeros pads with F.pad first: its limits apply."""
    rank = len(shape) - 1
    layer: Layer = {
        "type": "conv",
        "out_channels": 2,
        "kernel_size": data.draw(st.integers(1, 4)),
        "padding_mode": mode,
        "padding": data.draw(st.one_of(st.integers(0, 6), st.just("same"))),
    }
    if rank == 2 and data.draw(st.booleans()):
        layer["padding"] = [data.draw(st.integers(0, 6)) for _ in range(rank)]
    check(shape, [layer])


@pytest.mark.parametrize("eps", [-1.0, -1e-9, 0.0, 1e-3])
def test_batchnorm_eps_as_torch(eps: float) -> None:
    """PyTorch refuses a negative eps ("batch_norm eps must be non-negative") when it runs."""
    module = nn.BatchNorm2d(2, eps=eps).eval()
    try:
        module(torch.zeros(2, 2, 3, 3))
        torch_accepts = True
    except (RuntimeError, ValueError):
        torch_accepts = False
    assert accepts([2, 3, 3], [{"type": "batchnorm", "eps": eps}]) == torch_accepts


@pytest.mark.parametrize("batch_pair", [[0, 0], [1, 0], [0, -1]])
def test_constant_padding_that_reaches_the_batch(batch_pair: list[int]) -> None:
    """F.pad takes a pair for every dimension, the batch's too: (0, 0) leaves each sample as it
    is, any other pair is no per-sample layer (the exploring CI drew the first)."""
    layer: Layer = {"type": "pad", "padding": [1, 0, 0, 2, 0, 0, *batch_pair]}
    check([1, 3, 3], [layer])
