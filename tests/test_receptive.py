"""Receptive fields against published values and against autograd.

The oracle: the network built in torch with every weight 1 and no activations (pools become
convolutions of ones with the same window, which see the same inputs), then the gradient of one
output position with respect to the input. The input positions with a non-zero gradient span
within the interval that convcalc's size, jump and start give, and reach each of its ends that
falls inside the input (dilated kernels leave holes inside it: the span is what is compared).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

import convcalc
from convcalc.views.receptive import receptive_fields


def fields_of(name: str) -> tuple[Any, dict[int, Any]]:
    report = convcalc.analyse(convcalc.load_spec(name))
    return report, receptive_fields(report)


def test_published_values() -> None:
    # VGG16: conv5_3 196, pool5 212; AlexNet (torchvision): last pool 195; torchvision's
    # ResNet-50 (stride on the 3×3 conv) at the end of layer4: 427
    report, fields = fields_of("vgg16")
    convs = [e for e in report.leaves() if e.type == "conv"]
    pools = [e for e in report.leaves() if e.type == "maxpool"]
    assert fields[id(convs[-1])].size == (196, 196)
    assert fields[id(pools[-1])].size == (212, 212)
    report, fields = fields_of("alexnet")
    pools = [e for e in report.leaves() if e.type == "maxpool"]
    assert fields[id(pools[-1])].size == (195, 195)
    report, fields = fields_of("resnet50")
    layer4 = next(e for e in report.layers if e.name == "layer4")
    assert fields[id(layer4)].size == (427, 427)
    assert fields[id(report.layers[-1])].is_global  # after the global pool and the linear


def test_misaligned_paths_are_reported() -> None:
    spec = {
        "input": [1, 32],
        "layers": [
            {
                "type": "concat",
                "branches": [
                    [{"type": "conv", "out_channels": 1, "kernel_size": 3, "padding": 1}],
                    [{"type": "conv", "out_channels": 1, "kernel_size": 2, "padding": "same"}],
                ],
            }
        ],
    }
    report = convcalc.analyse(convcalc.load_spec(spec))
    field = receptive_fields(report)[id(report.layers[0])]
    # k 3 p 1 is centred on its output (start 0); k 2 'same' pads 0 left, 1 right: start 0.5
    assert not field.aligned
    assert [(path, start) for path, _, start in field.misaligned] == [
        ("layers[0].branches[0]", (0.0,)),
        ("layers[0].branches[1]", (0.5,)),
    ]
    assert field.size == (3,)


# --- the autograd oracle ---------------------------------------------------------------------


@st.composite
def window(draw: Any, rank: int, same: bool = False) -> dict[str, Any]:
    """A conv or pool whose window is drawn; with ``same`` it keeps the size (odd kernel,
    padding d·(k − 1)/2, stride 1)."""
    k = draw(st.sampled_from([1, 3, 5])) if same else draw(st.integers(1, 4))
    d = draw(st.integers(1, 2))
    if same:
        return {
            "type": "conv",
            "out_channels": 2,
            "kernel_size": k,
            "dilation": d,
            "padding": d * (k - 1) // 2,
        }
    kind = draw(st.sampled_from(["conv", "conv", "maxpool", "avgpool"]))
    layer: dict[str, Any] = {"type": kind, "kernel_size": k, "stride": draw(st.integers(1, 3))}
    layer["padding"] = draw(st.integers(0, k // 2))
    if kind == "conv":
        layer["out_channels"] = 2
    if kind != "avgpool":
        layer["dilation"] = d
    return layer


@st.composite
def stacks(draw: Any) -> tuple[list[int], list[dict[str, Any]]]:
    rank = draw(st.integers(1, 2))
    layers: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(1, 4))):
        shape = draw(st.sampled_from(["plain", "plain", "residual", "concat"]))
        if shape == "plain":
            layers.append(draw(window(rank)))
        elif shape == "residual":  # 'same' body: the identity shortcut matches, aligned
            layers.append({"type": "residual", "body": [draw(window(rank, same=True))]})
        else:
            layers.append(
                {
                    "type": "concat",
                    "branches": [[], [draw(window(rank, same=True))], [draw(window(rank, True))]],
                }
            )
    size = draw(st.integers(12, 40))
    return [2, *([size] * rank)], layers


def torch_forward(torch: Any, x: Any, layers: list[dict[str, Any]]) -> Any:
    """The spec in torch with weights of ones and no activations; a pool is a convolution of
    ones with its window (it sees the same inputs)."""
    F = torch.nn.functional
    rank = x.dim() - 2
    conv = {1: F.conv1d, 2: F.conv2d}[rank]
    for layer in layers:
        if layer["type"] == "residual":
            x = torch_forward(torch, x, layer["body"]) + x
        elif layer["type"] == "concat":
            x = torch.cat([torch_forward(torch, x, branch) for branch in layer["branches"]], 1)
        else:
            k = layer["kernel_size"]
            stride = layer.get("stride", k if layer["type"] != "conv" else 1)
            channels = x.shape[1]
            out = layer.get("out_channels", channels)
            groups = 1 if layer["type"] == "conv" else channels
            weight = torch.ones(out, channels // groups, *([k] * rank), dtype=x.dtype)
            x = conv(
                x,
                weight,
                stride=stride,
                padding=layer.get("padding", 0),
                dilation=layer.get("dilation", 1),
                groups=groups,
            )
    return x


@pytest.mark.full
@pytest.mark.torch
@given(stack=stacks(), data=st.data())
def test_receptive_fields_match_autograd(stack: Any, data: st.DataObject) -> None:
    torch = pytest.importorskip("torch")
    input_shape, layers = stack
    report = analysed(input_shape, layers)
    assume(report is not None)  # stacks PyTorch refuses have no field to check
    assert report is not None
    field = receptive_fields(report)[id(report.layers[-1])]
    assume(field.aligned)
    x = torch.ones(1, *input_shape, dtype=torch.float64, requires_grad=True)
    y = torch_forward(torch, x, layers)
    assert list(y.shape[1:]) == list(report.output_shape)
    position = [data.draw(st.integers(0, n - 1)) for n in report.output_shape[1:]]
    y[(0, slice(None), *position)].sum().backward()
    assert x.grad is not None
    seen = (x.grad[0].abs().sum(0) > 0).nonzero().tolist()
    ends = []
    for dim, i in enumerate(position):
        centre = field.start[dim] + i * field.jump[dim]
        half = (field.size[dim] - 1) / 2
        ends.append((centre - half, centre + half, input_shape[1 + dim]))
    if not seen:  # the window lies in the padding: in some dimension neither end is inside
        assert any(not (0 <= lo < n) and not (0 <= hi < n) for lo, hi, n in ends), ends
        return
    for dim, (lo, hi, _) in enumerate(ends):
        hits = [p[dim] for p in seen]
        # inside the field; and its ends are hit wherever they fall inside the input (a
        # dilated kernel's holes may leave the first input position unseen where it clips)
        assert lo <= min(hits) and max(hits) <= hi, (dim, field, position)
        if lo >= 0:
            assert min(hits) == lo, (dim, field, position)
        if hi <= input_shape[1 + dim] - 1:
            assert max(hits) == hi, (dim, field, position)


def autograd_hull(torch: Any, input_shape: list[int], layers: list[Any], i: int) -> list[int]:
    """The first and last input positions that output position ``i`` (1-D) reads."""
    x = torch.ones(1, *input_shape, dtype=torch.float64, requires_grad=True)
    torch_forward(torch, x, layers)[0, :, i].sum().backward()
    seen = (x.grad[0].abs().sum(0) > 0).nonzero().flatten().tolist()
    return [min(seen), max(seen)]


@pytest.mark.torch
@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel")
@pytest.mark.parametrize("widest_first", [False, True])
def test_a_misaligned_block_follows_its_widest_path(widest_first: bool) -> None:
    # an identity branch (size 1, start 0) and a 4-tap 'same' conv (pads 1 left, 2 right: size
    # 4, start 0.5): output i of the block reads i − 1 … i + 2, the wide branch's interval,
    # which holds the identity's; a 3-tap conv after it reads i − 2 … i + 3
    torch = pytest.importorskip("torch")
    wide = [{"type": "conv", "out_channels": 1, "kernel_size": 4, "padding": "same"}]
    branches = [wide, []] if widest_first else [[], wide]
    layers = [
        {"type": "concat", "branches": branches},
        {"type": "conv", "out_channels": 1, "kernel_size": 3},
    ]
    report = analysed([1, 24], layers)
    fields = receptive_fields(report)
    for entry in report.layers:
        field = fields[id(entry)]
        assert not fields[id(report.layers[0])].aligned
        size, jump, start = field.size[0], field.jump[0], field.start[0]
        prefix = layers[: report.layers.index(entry) + 1]
        for i in range(2, entry.output_shape[1] - 2):
            centre = start + i * jump
            hull = autograd_hull(torch, [1, 24], prefix, i)
            assert hull == [centre - (size - 1) / 2, centre + (size - 1) / 2], (entry.path, i)


@pytest.mark.full
@pytest.mark.torch
@pytest.mark.parametrize(
    ("kernel", "stride", "padding"),
    [
        (3, 2, 1),
        pytest.param(4, 2, 1, marks=pytest.mark.full),
        pytest.param(2, 2, 0, marks=pytest.mark.full),
        pytest.param(5, 3, 2, marks=pytest.mark.full),
        (3, 1, 1),
    ],
)
def test_transposed_fields_hold_what_autograd_reads(kernel: int, stride: int, padding: int) -> None:
    # a transposed conv's output position reads the inputs i with o = i·s − p + t (t < k): one
    # or two of them, alternately; its field (a fraction of an input position) must hold them
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    layers = [
        {
            "type": "conv_transpose",
            "out_channels": 1,
            "kernel_size": kernel,
            "stride": stride,
            "padding": padding,
        },
        {"type": "conv", "out_channels": 1, "kernel_size": 3},
    ]
    report = analysed([1, 12], layers)
    fields = receptive_fields(report)
    weight = torch.ones(1, 1, kernel, dtype=torch.float64)
    for depth, entry in enumerate(report.layers, 1):
        field = fields[id(entry)]
        size, jump, start = field.size[0], field.jump[0], field.start[0]
        for i in range(entry.output_shape[1]):
            x = torch.ones(1, 1, 12, dtype=torch.float64, requires_grad=True)
            y = F.conv_transpose1d(x, weight, stride=stride, padding=padding)
            if depth == 2:
                y = F.conv1d(y, torch.ones(1, 1, 3, dtype=torch.float64))
            y[0, 0, i].backward()
            seen = (x.grad[0, 0] != 0).nonzero().flatten().tolist()
            centre, half = start + i * jump, (size - 1) / 2
            # (thirds in binary floating point: a tolerance far below one position)
            lo, hi = centre - half - 1e-9, centre + half + 1e-9
            assert all(lo <= p <= hi for p in seen), (depth, i, seen)


def analysed(input_shape: list[int], layers: list[dict[str, Any]]) -> Any:
    from convcalc.errors import ConvcalcError

    try:
        return convcalc.analyse(convcalc.load_spec({"input": input_shape, "layers": layers}))
    except ConvcalcError:
        return None


def test_json_shape_of_a_field() -> None:
    report, fields = fields_of("hw3-q3")
    # conv 8 /2: r 8, j 2, start 3.5; maxpool 5 /5: r 8 + 4·2 = 16, j 10, start 3.5 + 2·2 = 7.5
    assert json.loads(json.dumps(fields[id(report.layers[1])].to_json())) == {
        "size": [16, 16],
        "jump": [10, 10],
        "start": [7.5, 7.5],
    }


def test_a_scale_block_joins_its_input() -> None:
    # x · body(x): the input is one path of the merge. A 2-tap 'same' conv pads 0 left, 1 right,
    # so the body is centred half a position right of x: not aligned
    spec = {
        "input": [1, 16],
        "layers": [
            {
                "type": "scale",
                "body": [
                    {"type": "conv", "out_channels": 1, "kernel_size": 2, "padding": "same"},
                    {"type": "sigmoid"},
                ],
            }
        ],
    }
    report = convcalc.analyse(convcalc.load_spec(spec))
    field = receptive_fields(report)[id(report.layers[0])]
    assert [(path, start) for path, _, start in field.misaligned] == [
        ("layers[0].body", (0.5,)),
        ("layers[0] input", (0.0,)),
    ]
    assert report.to_dict()["layers"][0]["aligned"] is False
