"""The four tools' conventions on attention and the vision-transformer pieces, against the tools
themselves: torchinfo 1.8 ``summary``, fvcore ``FlopCountAnalysis``, ptflops
``get_model_complexity_info`` (pytorch backend) and thop ``profile``, run live on
``nn.MultiheadAttention`` used as torchvision's ViT uses it, on the class token, position
embedding, ``x[:, 0]``, layer scale and LayerNorm2d as torchvision writes them, and on whole
torchvision models (ViT-B/32, ConvNeXt-T) against the bundled specs. Each tool is skipped where it
is not installed.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections.abc import Callable
from typing import Any

import pytest

import convcalc
from convcalc.views.costs import rule
from convcalc.views.memory import memory

torch = pytest.importorskip("torch")

from tests.torchvision_oracle import import_torchvision  # noqa: E402

pytestmark = pytest.mark.torch
nn = torch.nn
TOOLS = ("torchinfo", "fvcore", "ptflops", "thop")


def count(tool: str, model: Any, shape: tuple[int, ...]) -> int:
    """The tool's multiply-adds for ``model`` on a batch of the given shape (batch included;
    ptflops builds a batch of one itself)."""
    import_torchvision()  # ptflops imports torchvision.ops: the shim must come first
    x = torch.zeros(shape)
    model.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if tool == "torchinfo":
            torchinfo = pytest.importorskip("torchinfo")
            return int(torchinfo.summary(model, input_data=[x], verbose=0).total_mult_adds)
        if tool == "fvcore":
            fvcore_nn = pytest.importorskip("fvcore.nn")
            analysis = fvcore_nn.FlopCountAnalysis(model, (x,))
            analysis.unsupported_ops_warnings(False)
            analysis.uncalled_modules_warnings(False)
            return int(analysis.total())
        if tool == "ptflops":
            ptflops = pytest.importorskip("ptflops")
            assert shape[0] == 1
            with torch.no_grad():
                macs, _ = ptflops.get_model_complexity_info(
                    model, shape[1:], as_strings=False, print_per_layer_stat=False,
                    backend="pytorch",
                )  # fmt: skip
            return int(macs)
        thop = pytest.importorskip("thop")
        with contextlib.redirect_stdout(io.StringIO()):
            macs, _ = thop.profile(model, inputs=(x,), verbose=False)
        return int(macs)


class SelfAttention(nn.Module):
    """``attention(x, x, x, need_weights=False)``, as torchvision's EncoderBlock calls it."""

    def __init__(self, embed: int, heads: int, **kwargs: Any) -> None:
        super().__init__()
        self.attention = nn.MultiheadAttention(embed, heads, batch_first=True, **kwargs)

    def forward(self, x: Any) -> Any:
        return self.attention(x, x, x, need_weights=False)[0]


class Tokens(nn.Module):
    """ViT's class token, position embedding and ``x[:, 0]`` on a sequence [L, E]."""

    def __init__(self, length: int, embed: int) -> None:
        super().__init__()
        self.class_token = nn.Parameter(torch.zeros(1, 1, embed))
        self.pos_embedding = nn.Parameter(torch.zeros(1, length + 1, embed))
        self.head = nn.Linear(embed, 3)

    def forward(self, x: Any) -> Any:
        x = torch.cat([self.class_token.expand(x.shape[0], -1, -1), x], dim=1)
        return self.head((x + self.pos_embedding)[:, 0])


def tv_block(name: str) -> Callable[[], Any]:
    def build() -> Any:
        convnext = import_torchvision().models.convnext
        if name == "layernorm2d":
            return convnext.LayerNorm2d(8, eps=1e-6)
        return convnext.CNBlock(8, 1e-6, 0.0)  # layer scale inside, with its block

    return build


TOKENS = [
    {"type": "class_token"},
    {"type": "position_embedding"},
    {"type": "select", "dim": 0, "index": 0, "functional": True},
    {"type": "linear", "out_features": 3},
]
CNBLOCK = [
    {
        "type": "residual",
        "body": [
            {"type": "conv", "out_channels": 8, "kernel_size": 7, "padding": 3, "groups": 8},
            {"type": "permute", "dims": [1, 2, 0]},
            {"type": "layernorm", "normalized_shape": 8, "eps": 1e-6},
            {"type": "linear", "out_features": 32},
            {"type": "gelu"},
            {"type": "linear", "out_features": 8},
            {"type": "permute", "dims": [2, 0, 1]},
            {"type": "layer_scale"},
            {"type": "stochastic_depth", "p": 0.0, "mode": "row"},
        ],
    }
]

# (case, the torch module, the spec's input and layers)
CASES: list[tuple[str, Callable[[], Any], list[int], list[dict[str, Any]]]] = [
    (
        "attention",
        lambda: SelfAttention(8, 2),
        [5, 8],
        [{"type": "multihead_attention", "num_heads": 2, "batch_first": True}],
    ),
    (
        "attention without bias, bias_kv",
        lambda: SelfAttention(8, 2, bias=False, add_bias_kv=True),
        [5, 8],
        [{"type": "multihead_attention", "num_heads": 2, "bias": False, "add_bias_kv": True}],
    ),
    (
        "attention, zero attn, 4 heads",
        lambda: SelfAttention(16, 4, add_zero_attn=True),
        [7, 16],
        [{"type": "multihead_attention", "num_heads": 4, "add_zero_attn": True}],
    ),
    ("tokens", lambda: Tokens(5, 8), [5, 8], TOKENS),
    (
        "layernorm2d",
        tv_block("layernorm2d"),
        [8, 3, 3],
        [{"type": "layernorm2d", "normalized_shape": 8}],
    ),
    ("cnblock", tv_block("cnblock"), [8, 5, 5], CNBLOCK),
]


@pytest.mark.parametrize("tool", TOOLS)
@pytest.mark.parametrize(("case", "build", "shape", "layers"), CASES, ids=[c[0] for c in CASES])
def test_pieces_count_as_the_tool_counts(
    tool: str, case: str, build: Callable[[], Any], shape: list[int], layers: list[Any]
) -> None:
    batch = 1 if tool == "ptflops" else 2
    report = convcalc.analyse(convcalc.load_spec({"input": shape, "layers": layers}))
    with torch.device("cpu"):
        model = build()
    assert report.total_params == sum(p.numel() for p in model.parameters())
    assert report.total_mult_adds(batch, tool) == count(tool, model, (batch, *shape))


def test_attention_counts_by_hand() -> None:
    """The rules' formulas on L = 5, E = 8, 2 heads, with bias (the tools' figures above)."""
    report = convcalc.analyse(
        convcalc.load_spec({"input": [5, 8], "layers": [{"type": "multihead_attention",
                            "num_heads": 2}]})
    )  # fmt: skip
    (entry,) = report.leaves()
    assert rule("torchinfo")(entry, 1) == 0  # no leaf module: out_proj is its child
    assert rule("fvcore")(entry, 1) == 5 * 8 * 4 * 8  # the two projections' aten::linear
    # ptflops: q scaling 40 + projections 3·5·64 + biases 3·5·8 + 2 heads × (25·4 + 25 + 25·4)
    # + out projection 5·8·9
    assert rule("ptflops")(entry, 1) == 40 + 960 + 120 + 450 + 360
    assert rule("thop")(entry, 1) == 0


MODELS = {"vit_b_32": (3, 224, 224), "convnext_tiny": (3, 224, 224)}


@pytest.fixture(scope="module")
def models() -> dict[str, Any]:
    torchvision = import_torchvision()
    torch.manual_seed(0)
    return {name: getattr(torchvision.models, name)(weights=None) for name in MODELS}


@pytest.mark.full  # builds both models on the CPU (seconds)
@pytest.mark.parametrize("tool", TOOLS)
@pytest.mark.parametrize("name", MODELS)
def test_zoo_totals_equal_the_tools(models: dict[str, Any], name: str, tool: str) -> None:
    report = convcalc.analyse(convcalc.load_spec(name))
    assert report.total_mult_adds(1, tool) == count(tool, models[name], (1, *MODELS[name]))


@pytest.mark.full
@pytest.mark.parametrize("name", MODELS)
def test_forward_backward_size_equals_torchinfo(models: dict[str, Any], name: str) -> None:
    """torchinfo keeps the outputs of leaf modules with parameters only: not the attention's,
    nor those of the class token, position embedding and layer scale."""
    torchinfo = pytest.importorskip("torchinfo")
    x = torch.zeros((1, *MODELS[name]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        summary = torchinfo.summary(models[name], input_data=[x], verbose=0)
    report = convcalc.analyse(convcalc.load_spec(name))
    assert memory(report).forward_backward_bytes == summary.total_output_bytes
