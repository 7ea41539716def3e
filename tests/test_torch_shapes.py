"""Differential tests: random layer stacks, convcalc against real PyTorch modules.

Each stack is drawn layer by layer; torch builds the module for the shape it actually sees and
runs a batch of two. Every per-layer shape and parameter count must equal torch's, and wherever
torch refuses (or produces an empty dimension, which convcalc refuses by design) convcalc must
refuse at the same layer, with exit code 2 through the CLI.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convcalc.analysis import LayerRefusal, analyse
from convcalc.spec.validate import load_spec
from tests.budget import examples

torch = pytest.importorskip("torch")
nn = torch.nn

pytestmark = pytest.mark.torch


def _tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def torch_layer(layer: dict[str, Any], shape: tuple[int, ...]) -> Any:
    """The torch module for one spec layer, given the batch-less input shape torch produced."""
    kind = layer["type"]
    args = {k: _tuple(v) for k, v in layer.items() if k != "type"}
    rank = len(shape) - 1
    if kind == "conv":
        return getattr(nn, f"Conv{rank}d")(shape[0], **args)
    if kind == "conv_transpose":
        return getattr(nn, f"ConvTranspose{rank}d")(shape[0], **args)
    if kind == "maxpool":
        return getattr(nn, f"MaxPool{rank}d")(**args)
    if kind == "avgpool":
        return getattr(nn, f"AvgPool{rank}d")(**args)
    if kind == "adaptive_avgpool":
        return getattr(nn, f"AdaptiveAvgPool{rank}d")(**args)
    if kind == "adaptive_maxpool":
        return getattr(nn, f"AdaptiveMaxPool{rank}d")(**args)
    if kind == "batchnorm":
        return getattr(nn, f"BatchNorm{max(1, rank)}d")(shape[0], **args)
    if kind == "linear":
        return nn.Linear(shape[-1], **args)
    if kind == "flatten":  # spec dims exclude the batch; torch's include it
        start, end = args.get("start_dim", 0), args.get("end_dim", -1)
        return nn.Flatten(start + 1 if start >= 0 else start, end + 1 if end >= 0 else end)
    if kind == "dropout":
        return nn.Dropout(**args)
    simple = {
        "relu": nn.ReLU,
        "tanh": nn.Tanh,
        "sigmoid": nn.Sigmoid,
        "gelu": nn.GELU,
        "elu": nn.ELU,
        "identity": nn.Identity,
        "softplus": nn.Softplus,
        "leaky_relu": nn.LeakyReLU,
    }
    if kind == "softmax":
        return nn.Softmax(dim=1)
    return simple[kind](**args)


def torch_run(input_shape: list[int], layers: list[dict[str, Any]]) -> tuple[list[Any], int | None]:
    """[(output shape, params)] per layer, and the index torch refused at (or None)."""
    x = torch.zeros(2, *input_shape)  # two: batchnorm without running stats needs > 1 value
    results = []
    for index, layer in enumerate(layers):
        try:
            module = torch_layer(layer, tuple(x.shape[1:]))
            module.eval()
            with torch.no_grad():
                x = module(x)
        except (RuntimeError, ValueError, IndexError, TypeError):
            return results, index
        if x.numel() == 0 or 0 in x.shape:
            return results, index
        params = sum(p.numel() for p in module.parameters())
        results.append((list(x.shape[1:]), params))
    return results, None


def convcalc_run(
    input_shape: list[int], layers: list[dict[str, Any]]
) -> tuple[list[Any], int | None]:
    spec = load_spec({"input": input_shape, "layers": layers})
    try:
        summary = analyse(spec)
    except LayerRefusal as exc:
        index = int(str(exc.path).removeprefix("layers[").removesuffix("]"))
        # the layers before the refusal are still checked: analyse them alone
        before = analyse(load_spec({"input": input_shape, "layers": layers[:index]}))
        return [(list(r.output_shape), r.params) for r in before.layers], index
    return [(list(r.output_shape), r.params) for r in summary.layers], None


# --- strategies ---------------------------------------------------------------------------


def dims(draw: Any, rank: int, lo: int, hi: int) -> Any:
    """An int for every dimension, or a per-dimension list."""
    if rank > 1 and draw(st.booleans()):
        return [draw(st.integers(lo, hi)) for _ in range(rank)]
    return draw(st.integers(lo, hi))


@st.composite
def window_layer(draw: Any, rank: int, channels: int) -> dict[str, Any]:
    kind = draw(st.sampled_from(["conv", "conv", "conv_transpose", "maxpool", "avgpool"]))
    layer: dict[str, Any] = {"type": kind, "kernel_size": dims(draw, rank, 1, 7)}
    if draw(st.booleans()):
        layer["stride"] = dims(draw, rank, 1, 4)
    if kind in ("conv", "conv_transpose"):
        groups = draw(st.sampled_from([g for g in (1, 2, 3) if channels % g == 0 or g == 2]))
        layer["out_channels"] = groups * draw(st.integers(1, 4)) + draw(
            st.sampled_from([0, 0, 0, 1])
        )
        if groups > 1:
            layer["groups"] = groups
        if draw(st.booleans()):
            layer["dilation"] = dims(draw, rank, 1, 3)
        if draw(st.booleans()):
            layer["bias"] = draw(st.booleans())
    if kind == "conv":
        padding = draw(st.sampled_from(["int", "int", "same", "valid"]))
        layer["padding"] = dims(draw, rank, 0, 4) if padding == "int" else padding
    elif kind == "conv_transpose":
        layer["padding"] = dims(draw, rank, 0, 3)
        if draw(st.booleans()):
            layer["output_padding"] = dims(draw, rank, 0, 3)
    else:  # pooling padding up to and beyond half the kernel
        k = layer["kernel_size"]
        kmin = min(k) if isinstance(k, list) else k
        layer["padding"] = draw(st.integers(0, kmin // 2 + 1))
        layer["ceil_mode"] = draw(st.booleans())
        if kind == "maxpool" and draw(st.booleans()):
            layer["dilation"] = dims(draw, rank, 1, 3)
    return layer


@st.composite
def other_layer(draw: Any, rank: int) -> dict[str, Any]:
    kind = draw(
        st.sampled_from(
            [
                "adaptive_avgpool",
                "adaptive_maxpool",
                "batchnorm",
                "relu",
                "dropout",
                "gelu",
                "elu",
                "tanh",
                "leaky_relu",
                "identity",
            ]
        )
    )
    if kind.startswith("adaptive"):
        size = [draw(st.one_of(st.none(), st.integers(1, 6))) for _ in range(rank)]
        return {
            "type": kind,
            "output_size": size if draw(st.booleans()) else draw(st.integers(1, 6)),
        }
    if kind == "batchnorm":
        return {
            "type": kind,
            "affine": draw(st.booleans()),
            "track_running_stats": draw(st.booleans()),
        }
    if kind == "dropout":
        return {"type": kind, "p": draw(st.floats(0, 1))}
    return {"type": kind}


@st.composite
def stacks(draw: Any) -> tuple[list[int], list[dict[str, Any]]]:
    rank = draw(st.integers(1, 3))
    top = {1: 40, 2: 20, 3: 9}[rank]
    channels = draw(st.integers(1, 6))
    shape = [channels] + [draw(st.integers(1, top)) for _ in range(rank)]
    layers = []
    for _ in range(draw(st.integers(1, 5))):
        if draw(st.integers(0, 3)):
            layers.append(draw(window_layer(rank, channels)))
        else:
            layers.append(draw(other_layer(rank)))
    if draw(st.booleans()):  # a classifier head
        if draw(st.booleans()):
            layers.append({"type": "flatten"})
        else:
            layers.append(
                {
                    "type": "flatten",
                    "start_dim": draw(st.integers(-2, 1)),
                    "end_dim": draw(st.integers(-1, 1)),
                }
            )
        layers.append(
            {
                "type": "linear",
                "out_features": draw(st.integers(1, 10)),
                "bias": draw(st.booleans()),
            }
        )
    return shape, layers


@pytest.mark.full
@given(stacks())
def test_random_stacks_match_torch(stack: tuple[list[int], list[dict[str, Any]]]) -> None:
    input_shape, layers = stack
    expected, torch_refused_at = torch_run(input_shape, layers)
    got, refused_at = convcalc_run(input_shape, layers)
    assert refused_at == torch_refused_at, (got, expected)
    assert got == expected
    if refused_at is None:
        total = sum(params for _, params in expected)
        summary = analyse(load_spec({"input": input_shape, "layers": layers}))
        assert summary.total_params == total
        assert summary.output_size == math.prod(expected[-1][0] if expected else input_shape)


def test_transposed_output_padding_as_torch() -> None:
    """ConvTranspose{1,2,3}d with output_padding below the stride or the dilation, per
    dimension, and one torch refuses (not below either): torch's shapes and parameters, or its
    refusal at the layer (the random stacks above draw these in the full run)."""
    cases = [  # input, kernel_size, stride, dilation, output_padding (padding 1)
        ([2, 7], 3, 2, 1, 1),
        ([2, 5, 6], [3, 2], [3, 1], [1, 2], [2, 1]),
        ([1, 3, 4, 2], 2, 2, 3, [1, 2, 0]),
        ([2, 6], 3, 1, 1, 1),  # output_padding 1 not below stride 1 or dilation 1: refused
    ]
    for shape, k, s, d, op in cases:
        layer = {"type": "conv_transpose", "out_channels": 3, "kernel_size": k, "stride": s}
        layers = [layer | {"padding": 1, "dilation": d, "output_padding": op}]
        assert convcalc_run(shape, layers) == torch_run(shape, layers), layers


@settings(max_examples=examples(60))
@given(stack=stacks())
def test_refused_stacks_exit_2_through_the_cli(stack: Any, tmp_path_factory: Any) -> None:
    import json

    from click.testing import CliRunner

    from convcalc.cli import cli

    input_shape, layers = stack
    _, torch_refused_at = torch_run(input_shape, layers)
    path = tmp_path_factory.mktemp("spec") / "random.yaml"
    path.write_text(json.dumps({"input": input_shape, "layers": layers}), encoding="utf-8")
    result = CliRunner().invoke(cli, ["shape", str(path)])
    if torch_refused_at is None:
        assert result.exit_code == 0, result.output
    else:
        assert result.exit_code == 2
        assert f"layers[{torch_refused_at}] ({layers[torch_refused_at]['type']})" in result.stderr
        assert "Traceback" not in result.output


@pytest.mark.parametrize("rank", [2, 3])
@pytest.mark.parametrize(
    "layer",
    [
        {"type": "conv", "out_channels": 2, "kernel_size": [3]},  # torch refuses a 1-value kernel
        {"type": "conv", "out_channels": 2, "kernel_size": 3, "stride": [2]},
        {"type": "conv", "out_channels": 2, "kernel_size": 3, "padding": [1], "dilation": [2]},
        {"type": "conv_transpose", "out_channels": 2, "kernel_size": [3]},
        {
            "type": "conv_transpose",
            "out_channels": 2,
            "kernel_size": 3,
            "stride": [2],
            "output_padding": [1],
            "padding": [1],
        },
        {"type": "maxpool", "kernel_size": [3], "stride": [2], "padding": [1], "dilation": [2]},
        {"type": "avgpool", "kernel_size": [2], "padding": [1]},
        {"type": "adaptive_avgpool", "output_size": [3]},  # torch refuses: one size per dimension
    ],
)
def test_one_value_lists_as_pytorch_reads_them(rank: int, layer: dict[str, Any]) -> None:
    input_shape = [2, *([9] * rank)]
    assert convcalc_run(input_shape, [layer]) == torch_run(input_shape, [layer])
