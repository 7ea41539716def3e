"""The multiply-adds of the rearranging layers and the channel split, against every tool live.

pixel_shuffle, pixel_unshuffle, unfold, fold, max_unpool, select_channels and the split block
(``x.split`` / ``x.chunk`` along the channels, one branch per slice) are written here in
PyTorch by hand, and each tool counts the module: torchinfo 1.8 (``summary``), fvcore 0.1.5
(``FlopCountAnalysis``), ptflops 0.7.5 (``get_model_complexity_info``, which builds a batch of
one itself), thop 0.1.1 (``profile``) and PyTorch's ``FlopCounterMode`` ÷ 2 (convcalc's own
convention). convcalc's count of the same spec, under the tool's convention, must be the tool's.
A max-unpool needs the indices of a max-pool run with ``return_indices=True``: the unpool's own
count is the tool's count of the pair less its count of the pool alone. The whole networks that
use these types, ShuffleNetV2 (torchvision's, 16 split blocks) and LeNet-5 with its C3
connection table (channel selections), are counted too.
"""

from __future__ import annotations

import contextlib
import io
import logging
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import convcalc
from convcalc.analysis import Report
from convcalc.views.costs import rule
from tests.budget import spec_params

torch = pytest.importorskip("torch")
nn = torch.nn
F = torch.nn.functional

pytestmark = pytest.mark.torch

SPECS = Path(__file__).resolve().parent.parent / "specs"
TOOLS = ("convcalc", "torchinfo", "fvcore", "ptflops", "thop")
BATCH = 2  # ptflops runs a batch of one whatever it is asked: its count is compared at 1
Layer = dict[str, Any]


# --- the tools ------------------------------------------------------------------------------


def _quiet(count: Callable[[], Any]) -> int:
    """A tool's count, its printing and warnings silenced; an integer, as every count here."""
    logging.getLogger("fvcore").setLevel(logging.ERROR)
    with (
        warnings.catch_warnings(),
        contextlib.redirect_stdout(io.StringIO()),
        contextlib.redirect_stderr(io.StringIO()),
    ):
        warnings.simplefilter("ignore")
        value = count()
    assert value is not None and value == int(value), value
    return int(value)


def _flop_counter(model: Any, x: Any) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter, torch.no_grad():
        model(x)
    flops = int(counter.get_total_flops())
    assert flops % 2 == 0
    return flops // 2


def _torchinfo(model: Any, x: Any) -> int:
    torchinfo = pytest.importorskip("torchinfo")
    return int(torchinfo.summary(model, input_data=x, verbose=0).total_mult_adds)


def _fvcore(model: Any, x: Any) -> int:
    fvcore = pytest.importorskip("fvcore.nn")
    analysis = fvcore.FlopCountAnalysis(model, x)
    analysis.unsupported_ops_warnings(False)
    analysis.uncalled_modules_warnings(False)
    return int(analysis.total())


def _ptflops(model: Any, x: Any) -> int:
    from tests.torchvision_oracle import import_torchvision

    import_torchvision()  # ptflops imports torchvision.ops: the shim first
    ptflops = pytest.importorskip("ptflops")
    with torch.no_grad():
        macs, _ = ptflops.get_model_complexity_info(
            model,
            tuple(x.shape[1:]),
            as_strings=False,
            backend="pytorch",
            print_per_layer_stat=False,
        )
    return macs  # type: ignore[no-any-return]


def _thop(model: Any, x: Any) -> int:
    thop = pytest.importorskip("thop")
    return thop.profile(model, inputs=(x,), verbose=False)[0]  # type: ignore[no-any-return]


COUNTERS: dict[str, Callable[[Any, Any], int]] = {
    "convcalc": _flop_counter,
    "torchinfo": _torchinfo,
    "fvcore": _fvcore,
    "ptflops": _ptflops,
    "thop": _thop,
}


def batch_of(tool: str) -> int:
    return 1 if tool == "ptflops" else BATCH


def tool_count(tool: str, make: Callable[[], Any], input_shape: tuple[int, ...]) -> int:
    """``tool``'s multiply-adds for a fresh ``make()`` in eval mode on zeros (thop and ptflops
    leave their buffers and hooks behind: every count builds its own model)."""
    x = torch.zeros(batch_of(tool), *input_shape)
    return _quiet(lambda: COUNTERS[tool](make().eval(), x))


def ours(report: Report, tool: str, leaf_type: str | None = None) -> int:
    """convcalc's count of ``report`` (or of its leaves of ``leaf_type``) under ``tool``'s
    convention, at the batch the tool runs."""
    count = rule(tool)
    leaves = [e for e in report.leaves() if leaf_type is None or e.type == leaf_type]
    return sum(count(entry, batch_of(tool)) for entry in leaves)


def analyse(input_shape: list[int], layers: list[Layer]) -> Report:
    return convcalc.analyse(convcalc.load_spec({"input": input_shape, "layers": layers}))


# --- the modules ----------------------------------------------------------------------------


class Unpool(nn.Module):
    """A max-pool with its indices, then the max-unpool that puts the maxima back; or the pool
    alone (``unpool=False``)."""

    def __init__(self, rank: int, unpool: bool = True, output_size: Any = None) -> None:
        super().__init__()
        self.pool = getattr(nn, f"MaxPool{rank}d")(2, return_indices=True)
        self.unpool = getattr(nn, f"MaxUnpool{rank}d")(2) if unpool else None
        self.output_size = output_size

    def forward(self, x: Any) -> Any:
        y, indices = self.pool(x)
        if self.unpool is None:
            return y
        if self.output_size is None:
            return self.unpool(y, indices)
        return self.unpool(y, indices, output_size=self.output_size)


class Split(nn.Module):
    """``torch.cat([branch_i(x_i)], 1)`` over ``x.split(sizes, 1)`` or ``x.chunk(chunks, 1)``."""

    def __init__(self, cut: int | list[int], branches: list[nn.Module]) -> None:
        super().__init__()
        self.cut = cut
        self.branches = nn.ModuleList(branches)

    def forward(self, x: Any) -> Any:
        slices = x.chunk(self.cut, 1) if isinstance(self.cut, int) else x.split(self.cut, 1)
        return torch.cat([b(s) for b, s in zip(self.branches, slices, strict=True)], 1)


class Select(nn.Module):
    """``x[:, channels]``, then a 3×3 convolution (bias) over the selection."""

    def __init__(self, channels: list[int]) -> None:
        super().__init__()
        self.channels = channels
        self.conv = nn.Conv2d(len(channels), 5, 3, padding=1)

    def forward(self, x: Any) -> Any:
        return self.conv(x[:, self.channels])


CONV = {"type": "conv", "kernel_size": 3, "padding": 1}

# (name, spec input, spec layers, the same network in torch)
CASES: list[tuple[str, list[int], list[Layer], Callable[[], Any]]] = [
    ("pixel_shuffle", [8, 4, 5], [{"type": "pixel_shuffle", "upscale_factor": 2}],
     lambda: nn.PixelShuffle(2)),
    ("pixel_shuffle_5d", [3, 9, 2, 3], [{"type": "pixel_shuffle", "upscale_factor": 3}],
     lambda: nn.PixelShuffle(3)),
    ("pixel_unshuffle", [2, 4, 6], [{"type": "pixel_unshuffle", "downscale_factor": 2}],
     lambda: nn.PixelUnshuffle(2)),
    ("unfold", [3, 5, 5], [{"type": "unfold", "kernel_size": 3, "padding": 1}],
     lambda: nn.Unfold(3, padding=1)),
    ("unfold_strided", [2, 9, 8],
     [{"type": "unfold", "kernel_size": [3, 2], "dilation": 2, "stride": [2, 3]}],
     lambda: nn.Unfold((3, 2), dilation=2, stride=(2, 3))),
    ("fold", [12, 12], [{"type": "fold", "output_size": [4, 5], "kernel_size": 2}],
     lambda: nn.Fold((4, 5), 2)),
    # unfold, a linear over each block's values (every block a position), fold back
    ("unfold_linear_fold", [3, 4, 4],
     [{"type": "unfold", "kernel_size": 2, "stride": 2}, {"type": "permute", "dims": [1, 0]},
      {"type": "linear", "out_features": 12}, {"type": "permute", "dims": [1, 0]},
      {"type": "fold", "output_size": 4, "kernel_size": 2, "stride": 2}],
     lambda: _UnfoldLinearFold()),
    ("max_unpool", [3, 6, 6],
     [{"type": "maxpool", "kernel_size": 2}, {"type": "max_unpool", "kernel_size": 2}],
     lambda: Unpool(2)),
    ("max_unpool_1d", [3, 9],
     [{"type": "maxpool", "kernel_size": 2}, {"type": "max_unpool", "kernel_size": 2}],
     lambda: Unpool(1)),
    ("max_unpool_output_size", [3, 7, 7],
     [{"type": "maxpool", "kernel_size": 2},
      {"type": "max_unpool", "kernel_size": 2, "output_size": [7, 7]}],
     lambda: Unpool(2, output_size=(7, 7))),
    ("split_sizes", [8, 6, 6],
     [{"type": "split", "sizes": [3, 5], "branches": [
         [{**CONV, "out_channels": 4}],
         [{"type": "conv", "out_channels": 2, "kernel_size": 1}, {"type": "relu"}]]}],
     lambda: Split([3, 5], [nn.Conv2d(3, 4, 3, padding=1),
                            nn.Sequential(nn.Conv2d(5, 2, 1), nn.ReLU())])),
    # x.chunk(3) of 7 channels: 3 + 3 + 1; the first passed on
    ("split_chunks", [7, 5, 5],
     [{"type": "split", "chunks": 3, "branches": [
         [], [{**CONV, "out_channels": 6, "bias": False}, {"type": "batchnorm"}],
         [{"type": "conv", "out_channels": 2, "kernel_size": 1}]]}],
     lambda: Split(3, [nn.Identity(),
                       nn.Sequential(nn.Conv2d(3, 6, 3, padding=1, bias=False),
                                     nn.BatchNorm2d(6)),
                       nn.Conv2d(1, 2, 1)])),
    ("select_channels", [3, 6, 6],
     [{"type": "select_channels", "channels": [2, 0, 1, 1]}, {**CONV, "out_channels": 5}],
     lambda: Select([2, 0, 1, 1])),
]  # fmt: skip


class _UnfoldLinearFold(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.unfold, self.fold = nn.Unfold(2, stride=2), nn.Fold(4, 2, stride=2)
        self.linear = nn.Linear(12, 12)

    def forward(self, x: Any) -> Any:
        return self.fold(self.linear(self.unfold(x).transpose(1, 2)).transpose(1, 2))


def _case(name: str) -> tuple[list[int], list[Layer], Callable[[], Any]]:
    (found,) = [case[1:] for case in CASES if case[0] == name]
    return found


@pytest.mark.parametrize("tool", TOOLS)
@pytest.mark.parametrize("name", [case[0] for case in CASES])
def test_each_tool_counts_what_its_convention_says(name: str, tool: str) -> None:
    shape, layers, make = _case(name)
    report = analyse(shape, layers)
    if tool == "fvcore" and name in ("max_unpool", "max_unpool_1d"):
        pytest.skip("fvcore fails on an unpool without output_size: the next test")
    with torch.no_grad():
        torch_shape = tuple(make().eval()(torch.zeros(BATCH, *shape)).shape[1:])
    assert report.output_shape == torch_shape
    assert ours(report, tool) == tool_count(tool, make, tuple(shape))


# what convcalc's leaves count, at a batch of two (one for ptflops), for the record: each the
# tool's own figure above
PINNED = {
    # conv 3→4 3×3 on 6×6 (108·36) and 5→2 1×1 (10·36), × 2; torchinfo adds the biases at
    # every position (4·36 + 2·36) × 2; ptflops too, at a batch of one, and 2 per element of
    # the ReLU's 2·36 (its hook and F.relu): 4_464 + 144
    "split_sizes": {"convcalc": 8_496, "torchinfo": 8_928, "fvcore": 8_496, "ptflops": 4_608,
                    "thop": 8_496},
}  # fmt: skip


@pytest.mark.parametrize("name", sorted(PINNED))
def test_pinned(name: str) -> None:
    shape, layers, _ = _case(name)
    report = analyse(shape, layers)
    assert {tool: ours(report, tool) for tool in TOOLS} == PINNED[name]


@pytest.mark.parametrize("tool", TOOLS)
@pytest.mark.parametrize(("rank", "shape"), [(1, [3, 9]), (2, [3, 6, 6]), (3, [2, 4, 4, 6])])
def test_max_unpool_alone(tool: str, rank: int, shape: list[int]) -> None:
    """The unpool's own count: the tool's count of pool + unpool less that of the pool."""
    size = [n + 1 for n in shape[1:]] if tool == "fvcore" else None  # fvcore: next test
    extra = {"output_size": size} if size else {}
    full = shape[:1] + size if size else shape
    layers = [{"type": "maxpool", "kernel_size": 2}, {"type": "max_unpool", "kernel_size": 2}]
    layers[1].update(extra)
    report = analyse(full, layers)
    pair = tool_count(tool, lambda: Unpool(rank, output_size=size and tuple(size)), tuple(full))
    pool = tool_count(tool, lambda: Unpool(rank, unpool=False), tuple(full))
    assert ours(report, tool, "max_unpool") == pair - pool == 0
    assert ours(report, tool, "maxpool") == pool


def test_fvcore_fails_on_an_unpool_without_output_size() -> None:
    """fvcore's trace hands ``F.max_unpool2d``'s output-size check traced tensors, which torch
    2.13 refuses: no count at all; convcalc's fvcore convention counts the unpool 0, as fvcore
    does once ``output_size`` is given (the cases above)."""
    pytest.importorskip("fvcore")
    with pytest.raises((TypeError, RuntimeError)):
        tool_count("fvcore", lambda: Unpool(2), (3, 6, 6))


def test_every_rearranging_type_counts_zero_everywhere() -> None:
    """No tool counts anything for a layer that only moves values (the cases above, run)."""
    for name in ("pixel_shuffle", "pixel_unshuffle", "unfold", "fold", "max_unpool"):
        shape, layers, _ = _case(name)
        report = analyse(shape, layers)
        for tool in TOOLS:
            assert ours(report, tool, layers[-1]["type"]) == 0, (name, tool)


# --- whole networks ----------------------------------------------------------------------------


class LeNet5C3(nn.Module):
    """LeNet-5 with C3's connection table (LeCun et al. 1998, Table I), as specs/lenet5_c3.yaml."""

    def __init__(self) -> None:
        super().__init__()
        from tests.test_split import C3

        self.head = nn.Sequential(nn.Conv2d(1, 6, 5), nn.Tanh(), nn.AvgPool2d(2))
        self.c3 = C3()
        self.tail = nn.Sequential(
            nn.Tanh(), nn.AvgPool2d(2), nn.Flatten(),
            nn.Linear(400, 120), nn.Tanh(), nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, 10),
        )  # fmt: skip

    def forward(self, x: Any) -> Any:
        return self.tail(self.c3(self.head(x)))


def _shufflenet() -> Any:
    from tests.torchvision_oracle import import_torchvision

    return import_torchvision().models.shufflenet_v2_x0_5(weights=None)


# torchvision's ShuffleNetV2 ends with ``x.mean([2, 3])``, which the spec writes as a functional
# adaptive average pool to 1×1 (the same values): fvcore has no handle for aten::mean and
# ptflops does not wrap Tensor.mean, so both count 0 where their rule for the adaptive pool,
# which convcalc applies, counts the input's 1024·7·7 elements (per sample)
MEAN_GAP = {"fvcore": 1024 * 7 * 7, "ptflops": 1024 * 7 * 7}

NETWORKS: dict[str, tuple[Callable[[], Any], dict[str, int]]] = {
    "lenet5_c3": (LeNet5C3, {}),
    "shufflenet_v2_x0_5": (_shufflenet, MEAN_GAP),
}


@pytest.mark.full
@pytest.mark.parametrize("tool", TOOLS)
@pytest.mark.parametrize("name", spec_params(sorted(NETWORKS), quick={"lenet5_c3"}))
def test_networks(name: str, tool: str) -> None:
    make, gaps = NETWORKS[name]
    report = convcalc.analyse(convcalc.load_spec(str(SPECS / f"{name}.yaml")))
    theirs = tool_count(tool, make, report.input_shape)
    assert ours(report, tool) == theirs + batch_of(tool) * gaps.get(tool, 0)
