"""multihead_attention, class_token, position_embedding, select, layer_scale and layernorm2d
against PyTorch 2.13 and torchvision 0.28: each layer is built and run in torch as torchvision's
ViT and ConvNeXt run it, at batch 2 and 3, and convcalc must give torch's output shape and
parameter count, and refuse exactly where torch refuses (construction or forward). Then a spec
holding every type, variants included, goes through the PyTorch export and back on the CPU.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from convcalc.analysis import analyse
from convcalc.errors import SpecError
from convcalc.spec.validate import load_spec

torch = pytest.importorskip("torch")
nn = torch.nn

pytestmark = pytest.mark.torch

Layer = dict[str, Any]
Result = tuple[list[int], int] | None  # (output shape, parameters), None where refused
REFUSALS = (RuntimeError, ValueError, IndexError, TypeError, AssertionError)


def torch_result(
    build: Callable[[], Any], run: Callable[[Any, Any], Any], shape: list[int]
) -> Result:
    """(per-sample output shape, parameters) at batches 2 and 3, None where torch refuses or
    the batches disagree."""
    seen = []
    for batch in (2, 3):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                module = build()
                with torch.no_grad():
                    y = run(module, torch.zeros(batch, *shape))
        except REFUSALS:
            return None
        params = sum(int(p.numel()) for p in module.parameters())
        if y.dim() == 0 or y.shape[0] != batch:
            return None
        seen.append((list(y.shape[1:]), params))
    return seen[0] if seen[0] == seen[1] else None


def convcalc_result(shape: list[int], layer: Layer) -> Result:
    try:
        report = analyse(load_spec({"input": shape, "layers": [layer]}))
    except SpecError:
        return None
    return list(report.output_shape), report.total_params


class Holder(nn.Module):
    """A module holding parameters, as torchvision's VisionTransformer, Encoder and CNBlock."""


# --- multihead attention ---------------------------------------------------------------------

ATTENTION = [
    # (input shape, heads, the other arguments)
    ([5, 8], 2, {}),
    ([5, 8], 3, {}),  # 3 does not divide 8
    ([5, 8], 8, {}),
    ([5, 8], 16, {}),
    ([1, 6], 1, {"bias": False}),
    ([4, 6], 2, {"add_bias_kv": True}),
    ([4, 6], 2, {"add_bias_kv": True, "bias": False, "add_zero_attn": True}),
    ([4, 6], 3, {"dropout": 0.5}),
    ([4, 6], 2, {"kdim": 6, "vdim": 6}),  # as the defaults
    ([4, 6], 2, {"kdim": 4}),  # a key of another width: no self-attention
    ([4, 6], 2, {"vdim": 5}),
    ([4, 6], 2, {"kdim": 3, "vdim": 3}),
    ([3, 4, 6], 2, {}),  # (N, A, L, E): torch takes 2-D or 3-D only
]


@pytest.mark.every_case
@pytest.mark.parametrize(("shape", "heads", "kwargs"), ATTENTION)
def test_multihead_attention_as_torch(shape: list[int], heads: int, kwargs: dict[str, Any]) -> None:
    def build() -> Any:
        return nn.MultiheadAttention(shape[-1], heads, batch_first=True, **kwargs)

    def run(module: Any, x: Any) -> Any:
        return module(x, x, x, need_weights=False)[0]

    expected = torch_result(build, run, shape)
    layer = {"type": "multihead_attention", "num_heads": heads, "batch_first": True, **kwargs}
    assert convcalc_result(shape, layer) == expected


def test_multihead_attention_parameters_by_name() -> None:
    report = analyse(load_spec({"input": [5, 8], "layers": [
        {"type": "multihead_attention", "num_heads": 2, "add_bias_kv": True}]}))  # fmt: skip
    (entry,) = report.leaves()
    module = nn.MultiheadAttention(8, 2, add_bias_kv=True)
    assert entry.tensors == {name: tuple(p.shape) for name, p in module.named_parameters()}
    assert entry.params == 4 * 8 * 8 + 4 * 8 + 2 * 8


def test_multihead_attention_refuses_a_feature_vector() -> None:
    """Not torch's answer: a batch of [E] vectors would be read by torch as one unbatched
    sequence (the batch as its length), attention across samples, no per-sample layer."""
    assert convcalc_result([8], {"type": "multihead_attention", "num_heads": 2}) is None


# --- the ViT and ConvNeXt parameters -----------------------------------------------------------

SEQUENCES = [[5, 8], [1, 3], [8], [2, 5, 8]]


def _class_token(shape: list[int]) -> Result:
    def build() -> Any:
        holder = Holder()
        holder.class_token = nn.Parameter(torch.zeros(1, 1, shape[-1]))
        return holder

    def run(module: Any, x: Any) -> Any:  # VisionTransformer.forward
        return torch.cat([module.class_token.expand(x.shape[0], -1, -1), x], dim=1)

    return torch_result(build, run, shape)


@pytest.mark.every_case
@pytest.mark.parametrize("shape", SEQUENCES)
def test_class_token_as_torchvision(shape: list[int]) -> None:
    assert convcalc_result(shape, {"type": "class_token"}) == _class_token(shape)


@pytest.mark.every_case
@pytest.mark.parametrize("shape", SEQUENCES[:2])
def test_position_embedding_as_torchvision(shape: list[int]) -> None:
    def build() -> Any:
        holder = Holder()
        holder.pos_embedding = nn.Parameter(torch.zeros(1, *shape))
        return holder

    expected = torch_result(build, lambda module, x: x + module.pos_embedding, shape)
    assert convcalc_result(shape, {"type": "position_embedding"}) == expected


@pytest.mark.parametrize("shape", [[8], [2, 5, 8]])
def test_position_embedding_needs_a_sequence(shape: list[int]) -> None:
    """torchvision sizes it (1, L, E) for a sequence [L, E]; nothing else has an L."""
    assert convcalc_result(shape, {"type": "position_embedding"}) is None


SELECTS = [
    (shape, dim, index)
    for shape in ([5, 8], [3, 4, 2], [2, 1])
    for dim, index in itertools.product((0, 1, 2, -1, -3), (0, 1, 4, -1, -5))
]


@pytest.mark.every_case
@pytest.mark.parametrize(("shape", "dim", "index"), SELECTS)
def test_select_as_torch(shape: list[int], dim: int, index: int) -> None:
    batched = dim + 1 if dim >= 0 else dim
    expected = torch_result(Holder, lambda _, x: x.select(batched, index), shape)
    assert convcalc_result(shape, {"type": "select", "dim": dim, "index": index}) == expected


def test_select_keeps_a_dimension() -> None:
    """Not torch's answer (x[:, 0] of (N, E) is (N,)): a layer's output keeps one dimension."""
    assert convcalc_result([8], {"type": "select"}) is None


@pytest.mark.every_case
@pytest.mark.parametrize("shape", [[4], [4, 3], [4, 3, 3], [4, 2, 3, 2]])
def test_layer_scale_as_torchvision(shape: list[int]) -> None:
    def build() -> Any:
        holder = Holder()
        holder.layer_scale = nn.Parameter(torch.ones(shape[0], *[1] * (len(shape) - 1)))
        return holder

    expected = torch_result(build, lambda module, x: module.layer_scale * x, shape)
    assert convcalc_result(shape, {"type": "layer_scale"}) == expected


LAYERNORM2D = [
    ([4, 3, 3], 4, {}),
    ([4, 3, 3], 3, {}),
    ([4, 3, 2], [2, 4], {}),  # the trailing (W, C) after the permute
    ([4, 3, 3], 4, {"elementwise_affine": False}),
    ([4, 3, 3], 4, {"bias": False}),
    ([4, 3], 4, {}),
    ([4, 2, 3, 3], 4, {}),
]


@pytest.mark.parametrize(("shape", "normalized", "kwargs"), LAYERNORM2D)
def test_layernorm2d_as_torchvision(shape: list[int], normalized: Any, kwargs: Any) -> None:
    from tests.torchvision_oracle import import_torchvision

    convnext = import_torchvision().models.convnext
    expected = torch_result(
        lambda: convnext.LayerNorm2d(normalized, **kwargs), lambda m, x: m(x), shape
    )
    layer = {"type": "layernorm2d", "normalized_shape": normalized, **kwargs}
    assert convcalc_result(shape, layer) == expected


# --- located errors ------------------------------------------------------------------------


def test_errors_name_file_line_layer_and_field(tmp_path: Path) -> None:
    path = tmp_path / "net.yaml"
    path.write_text(
        "input: [197, 768]\n"
        "layers:\n"
        "  - {type: class_token}\n"
        "  - {type: multihead_attention, num_heads: 5}\n",
        encoding="utf-8",
    )
    with pytest.raises(SpecError) as caught:
        analyse(load_spec(str(path)))
    text = str(caught.value)
    assert "net.yaml:4" in text and "multihead_attention" in text and "num_heads" in text
    assert "5 heads do not divide embed_dim 768" in text
    path.write_text(
        "input: [5, 8]\nlayers:\n  - {type: multihead_attention, num_heads: 2, kdim: 4}\n",
        encoding="utf-8",
    )
    with pytest.raises(SpecError, match="kdim") as caught:
        analyse(load_spec(str(path)))
    assert "net.yaml:3" in str(caught.value) and "self-attention" in str(caught.value)


# --- the PyTorch export ---------------------------------------------------------------------

ROUND_TRIP = {
    "input": [3, 8, 8],
    "layers": [
        {"type": "conv", "out_channels": 12, "kernel_size": 4, "stride": 4},
        {"type": "layernorm2d", "normalized_shape": 12, "eps": 1e-6},
        {"type": "layer_scale", "layer_scale": 0.5},
        {"type": "reshape", "shape": [12, 4], "functional": True},
        {"type": "permute", "dims": [1, 0]},
        {"type": "class_token"},
        {"type": "position_embedding"},
        {"type": "multihead_attention", "num_heads": 3, "batch_first": True},
        {
            "type": "multihead_attention",
            "num_heads": 2,
            "bias": False,
            "add_bias_kv": True,
            "add_zero_attn": True,
            "dropout": 0.25,
            "kdim": 12,
        },
        {"type": "layer_scale"},
        {"type": "select", "dim": 0, "index": -1},
        {"type": "linear", "out_features": 3},
    ],
}


def test_export_round_trip(tmp_path: Path) -> None:
    from tests.test_export import round_trip

    report = analyse(load_spec(ROUND_TRIP))
    assert report.output_shape == (3,)
    generated = round_trip(report, tmp_path, ("cpu", "meta"), batch=2, layers=ROUND_TRIP["layers"])
    model = generated.build("cpu")
    assert model[2].layer_scale.flatten().tolist() == [0.5] * 12
    assert model[10].dim == 1 and model[10].index == -1


# --- the importer ---------------------------------------------------------------------------


def test_import_refuses_multihead_attention_at_its_line() -> None:
    """print(model) shows neither num_heads nor how forward calls the attention."""
    from convcalc.frameworks.torch.importer import ImportRefusal, from_print

    text = str(nn.Sequential(nn.LayerNorm(8), nn.MultiheadAttention(8, 2)))
    with pytest.raises(ImportRefusal) as caught:
        from_print(text, (5, 8))
    assert caught.value.line == 3 and "num_heads" in caught.value.reason
    assert "{type: multihead_attention, num_heads: N}" in caught.value.reason


def test_import_reads_layernorm2d() -> None:
    from convcalc.frameworks.torch.importer import from_print
    from tests.torchvision_oracle import import_torchvision

    convnext = import_torchvision().models.convnext
    model = nn.Sequential(
        nn.Conv2d(3, 16, 4, 4), convnext.LayerNorm2d(16, eps=1e-6), nn.Conv2d(16, 8, 2, 2)
    )
    spec = from_print(str(model), (3, 16, 16))
    assert spec["layers"][1] == {"type": "layernorm2d", "normalized_shape": [16], "eps": 1e-6}
    report = analyse(load_spec(spec))
    assert report.total_params == sum(int(p.numel()) for p in model.parameters())
    assert report.output_shape == tuple(model(torch.zeros(1, 3, 16, 16)).shape[1:])
