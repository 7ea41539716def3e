"""The four tools' multiply-add conventions on every bundled spec that has a PyTorch model.

Each tool counts the model live, its own way: torchinfo 1.8 (``summary(...).total_mult_adds``),
fvcore 0.1.5 (``FlopCountAnalysis(...).total()``, eval mode), ptflops 0.7.5
(``get_model_complexity_info``, ``backend="pytorch"``) and thop 0.1.1 (``profile``); convcalc's
total of the same spec under that tool's convention (``Report.total_mult_adds(batch, tool)``)
must be the tool's figure, exactly. The models come from outside convcalc (tests/independent.py:
torchvision's constructors, the reference U-Net, the plain stacks made from the spec's YAML).

Where each tool runs. torchinfo and thop read shapes only and count on the ``meta`` device, at a
batch of two. fvcore cannot: its ``torch.jit`` trace hands torch's meta shape checks traced
sizes, which they refuse (``TypeError: cond must be a bool``). ptflops runs on meta but counts
more there than on the CPU, wherever one of torch's Python meta decompositions calls a function
it wraps: a biased ``nn.Linear`` twice (meta's ``addmm`` calls ``torch.mm``), a bilinear
``F.interpolate`` once per ``torch.mul`` of its decomposition (8.9 G more on fcn_resnet50). So
both run on the CPU, on a batch of one (ptflops builds its own), every weight and buffer zero
(``to_empty``: no initialisation; zeros keep the arithmetic fast). fvcore traces a model with an
``nn.MultiheadAttention`` with gradients on, as its own examples do: under ``torch.no_grad()``
the attention takes its fused fast path, one op (``aten::_native_multi_head_attention``) fvcore
has no handle for, and ViT's attention would count 0; the other models (the same count either
way) under ``no_grad``, which keeps no activations for a backward pass. Every model is built
once a session on ``meta`` and copied for each count (thop and ptflops leave buffers and
attributes behind).

What runs. By default one small network that no other default test counts whole
(:data:`REPRESENTATIVES`); in the full run (CI, ``pytest --full``), every bundled spec with a
model. Where a spec cannot write what the model computes, the known difference is pinned, with
its reason, in :data:`GAPS`; where a tool cannot run a model at all, the test is skipped with
the tool's own error (:data:`CRASHES`), never passed.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import gc
import io
import logging
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import convcalc
from tests.independent import EXTRA_TORCHVISION, PLAIN_SPECS
from tests.torchvision_oracle import TORCHVISION_MODELS

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.torch

SPECS = Path(__file__).resolve().parent.parent / "specs"
TOOLS = ("torchinfo", "fvcore", "ptflops", "thop")
# the batch each tool counts at: ptflops builds a batch of one itself; fvcore runs on the CPU
BATCH = {"torchinfo": 2, "fvcore": 1, "ptflops": 1, "thop": 2}

ZOO = sorted(
    name
    for name in {*TORCHVISION_MODELS, *EXTRA_TORCHVISION, *PLAIN_SPECS, "unet"}
    if (SPECS / f"{name}.yaml").exists()
)

# what the default ``pytest`` runs: one small network that no other default test counts whole
# with the four tools (squeeze-and-excitation, hardswish, depthwise convolutions); the full run
# takes every bundled spec with a model
REPRESENTATIVES = frozenset({"mobilenet_v3_small"})

# torchvision's ShuffleNetV2 and MNASNet end with ``x.mean([2, 3])``, which the spec writes as a
# functional adaptive average pool to 1×1 (the same values): fvcore has no handle for aten::mean
# and ptflops does not wrap Tensor.mean, so both count 0 where their rule for the pool, which
# convcalc applies, counts its input elements: the last conv's channels (torchvision's
# ``_stage_out_channels[-1]``: 1024, 2048 for x2_0; MNASNet's 1280 at every width) × 7×7
_MEAN = "x.mean([2, 3]) is no adaptive pool to fvcore and ptflops: they count it 0"
GAPS: dict[tuple[str, str], tuple[int, str]] = {
    (name, tool): (channels * 7 * 7, _MEAN)
    for name, channels in {
        "shufflenet_v2_x0_5": 1024,
        "shufflenet_v2_x1_0": 1024,
        "shufflenet_v2_x1_5": 1024,
        "shufflenet_v2_x2_0": 2048,
        **{f"mnasnet{width}": 1280 for width in ("0_5", "0_75", "1_0", "1_3")},
    }.items()
    for tool in ("fvcore", "ptflops")
}
"""(spec, tool) → what the tool counts below convcalc's count of the spec under its convention,
per sample, and why: where the spec cannot write what the model computes."""

# (spec, tool) → a piece of the error the tool raises on that model
CRASHES: dict[tuple[str, str], str] = {}


# --- the models --------------------------------------------------------------------------------


@functools.cache
def meta_model(name: str) -> tuple[Any, tuple[int, ...]]:
    """The spec's PyTorch model on the meta device, in eval mode, and its input shape; built once
    a session (copy it before a tool sees it)."""
    from tests.independent import zoo_model

    model, input_shape = zoo_model(name)
    return model.eval(), tuple(input_shape)


def fresh(name: str, device: str = "meta") -> Any:
    """A copy of the spec's model for one count: on ``meta``, or on the CPU with every
    parameter and buffer zero (the tools read shapes only; zeros keep the arithmetic fast)."""
    model = copy.deepcopy(meta_model(name)[0])
    if device == "meta":
        return model
    model = model.to_empty(device=device)
    with torch.no_grad():
        for tensor in [*model.parameters(), *model.buffers()]:
            tensor.zero_()
    return model.eval()


# --- the tools ---------------------------------------------------------------------------------


def _torchinfo(name: str, shape: tuple[int, ...], batch: int) -> int:
    torchinfo = pytest.importorskip("torchinfo")
    x = torch.empty((batch, *shape), device="meta")
    return int(
        torchinfo.summary(fresh(name), input_data=x, device="meta", verbose=0).total_mult_adds
    )


def _fvcore(name: str, shape: tuple[int, ...], batch: int) -> int:
    """Traced with gradients on where the model has an ``nn.MultiheadAttention``, as fvcore's
    own examples run (under ``torch.no_grad()`` the attention takes its fused fast path, one op
    fvcore has no handle for); elsewhere under ``no_grad``, the same count in less memory."""
    fvcore_nn = pytest.importorskip("fvcore.nn")
    logging.getLogger("fvcore").setLevel(logging.ERROR)
    model = fresh(name, "cpu")
    attention = any(isinstance(m, torch.nn.MultiheadAttention) for m in model.modules())
    with torch.set_grad_enabled(attention):
        analysis = fvcore_nn.FlopCountAnalysis(model, torch.zeros(batch, *shape))
        analysis.unsupported_ops_warnings(False)
        analysis.uncalled_modules_warnings(False)
        return int(analysis.total())


def _ptflops(name: str, shape: tuple[int, ...], batch: int) -> int:
    from tests.torchvision_oracle import import_torchvision

    assert batch == 1
    import_torchvision()  # ptflops imports torchvision.ops: the shim first
    ptflops = pytest.importorskip("ptflops")
    model = fresh(name, "cpu")
    printed = io.StringIO()
    with torch.no_grad(), contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed):
        macs, _ = ptflops.get_model_complexity_info(
            model, shape, as_strings=False, backend="pytorch", print_per_layer_stat=False
        )
    if macs is None:  # ptflops catches the model's exception and prints it
        raise RuntimeError(printed.getvalue().strip().splitlines()[-1])
    return int(macs)


def _thop(name: str, shape: tuple[int, ...], batch: int) -> int:
    thop = pytest.importorskip("thop")
    x = torch.empty((batch, *shape), device="meta")
    with contextlib.redirect_stdout(io.StringIO()):
        macs, _ = thop.profile(fresh(name), inputs=(x,), verbose=False)
    assert macs == int(macs), macs
    return int(macs)


COUNTERS: dict[str, Callable[[str, tuple[int, ...], int], int]] = {
    "torchinfo": _torchinfo,
    "fvcore": _fvcore,
    "ptflops": _ptflops,
    "thop": _thop,
}


def tool_total(tool: str, name: str) -> int:
    """``tool``'s own multiply-adds for the spec's model at :data:`BATCH`, its warnings
    silenced."""
    _, shape = meta_model(name)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return COUNTERS[tool](name, shape, BATCH[tool])
    finally:
        # the tools leave reference cycles around the model: free a CPU copy (up to 2.6 GB,
        # regnet_y_128gf) now, not whenever the collector next runs
        gc.collect()


# --- the tests ---------------------------------------------------------------------------------


def _zoo_params() -> list[Any]:
    return [
        pytest.param(name, marks=() if name in REPRESENTATIVES else pytest.mark.full, id=name)
        for name in ZOO
    ]


@pytest.mark.parametrize("tool", TOOLS)
@pytest.mark.parametrize("name", _zoo_params())
def test_tool_total_equals_its_convention(name: str, tool: str) -> None:
    report = convcalc.analyse(convcalc.load_spec(name))
    assert tuple(report.input_shape) == meta_model(name)[1]
    try:
        theirs = tool_total(tool, name)
    except Exception as error:
        known = CRASHES.get((name, tool))
        if known is None or known not in f"{type(error).__name__}: {error}":
            raise
        pytest.skip(f"{tool} fails on {name}: {type(error).__name__}: {error}")
    assert (name, tool) not in CRASHES, f"{tool} now runs {name}: drop it from CRASHES"
    gap, _why = GAPS.get((name, tool), (0, ""))
    batch = BATCH[tool]
    assert report.total_mult_adds(batch, tool) == theirs + batch * gap
