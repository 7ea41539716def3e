"""convcalc's memory footer against torchinfo 1.8 ``summary`` run live, on the meta device, on
one model of each family of the bundled zoo (in the full run, every bundled network with a
PyTorch model):

- *Forward/backward pass size*: equal to torchinfo's to the byte, and as it prints it. Swin's
  patch merging and MaxViT's attention are modules with children, whose children's outputs
  torchinfo keeps; Swin's window attention runs none of its children (it calls ``F.linear``
  with their weights); Swin v2's position-bias MLP runs once per forward, on no batch.
- *Input size*: torchinfo takes ``sys.getsizeof`` of the input's storage, the values' bytes
  and the storage object's own few bytes; convcalc the values' bytes, the same in MB.
- *Params size*: convcalc's is every parameter's bytes (torch's ``model.parameters()``);
  torchinfo's the parameters of the leaf modules that ran (forward hooks on the childless
  modules here), the same on the convolutional networks, less where parameters belong to a
  module with children (ViT's class token, position embedding and attention projections, Swin's
  and MaxViT's position bias tables, ConvNeXt's layer scale) or to a leaf that never runs
  (Swin's qkv and proj).
"""

from __future__ import annotations

import sys
import warnings
from functools import cache
from typing import Any

import pytest

import convcalc
from convcalc.views.memory import human, memory
from tests.budget import spec_params
from tests.independent import (
    EXTRA_TORCHVISION,
    PLAIN_SPECS,
    SPECS,
    torchinfo_megabytes,
    zoo_model,
)
from tests.torchvision_oracle import TORCHVISION_MODELS

pytestmark = pytest.mark.torch

FAMILIES = (
    *("resnet50", "densenet121", "mobilenet_v3_large", "efficientnet_b0", "regnet_y_400mf"),
    *("shufflenet_v2_x1_0", "convnext_tiny", "vit_b_32", "swin_t", "swin_v2_t", "maxvit_t"),
    *("fcn_resnet50", "unet", "lenet5_c3"),
)
# the default run's: the families quickest to build (the full run takes every bundled network)
QUICK = {"resnet50", "vit_b_32", "convnext_tiny", "swin_t", "fcn_resnet50", "unet", "lenet5_c3"}
MODELS = {*TORCHVISION_MODELS, *EXTRA_TORCHVISION, *PLAIN_SPECS, "unet", "lenet5_c3"}
ZOO = sorted(path.stem for path in SPECS.glob("*.yaml") if path.stem in MODELS)  # with a model

# the families with parameters outside the leaf modules that run: torchinfo's Params size is less
PARTLY_SEEN = ("convnext_", "vit_", "swin_", "maxvit_")


@cache
def torchinfo_run(name: str, batch: int) -> tuple[Any, int, int]:
    """torchinfo's statistics for a bundled network on ``batch`` samples (meta device), torch's
    parameter count, and the parameters of the leaf (childless) modules that ran."""
    torch = pytest.importorskip("torch")
    torchinfo = pytest.importorskip("torchinfo")
    model, input_shape = zoo_model(name)
    ran: dict[int, Any] = {}

    def record(module: Any, _inputs: Any, _output: Any) -> None:
        ran[id(module)] = module

    leaves = [module for module in model.modules() if not any(module.children())]
    handles = [module.register_forward_hook(record) for module in leaves]
    x = torch.empty((batch, *input_shape), device="meta")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        stats = torchinfo.summary(model, input_data=x, device="meta", verbose=0)
    for handle in handles:
        handle.remove()
    seen = {id(p): p for m in ran.values() for p in m.parameters()}
    every = sum(int(p.numel()) for p in model.parameters())
    return stats, every, sum(int(p.numel()) for p in seen.values())


def storage_overhead() -> int:
    """What ``sys.getsizeof`` adds to an (empty) storage's bytes: the Python object's size."""
    torch = pytest.importorskip("torch")
    return sys.getsizeof(torch.empty(0, device="meta").untyped_storage())


def megabytes(size: int) -> str:
    """convcalc's MB figure as torchinfo prints it (no thousands separator)."""
    return human(size).removesuffix(" MB").replace(",", "")


def check(name: str, batch: int) -> None:
    stats, every, seen = torchinfo_run(name, batch)
    printed = torchinfo_megabytes(str(stats))
    ours = memory(convcalc.analyse(convcalc.load_spec(name)), batch=batch)
    assert ours.forward_backward_bytes == stats.total_output_bytes
    assert megabytes(ours.forward_backward_bytes) == printed["Forward/backward pass size"]
    assert stats.total_input == ours.input_bytes + storage_overhead()
    assert megabytes(ours.input_bytes) == printed["Input size"]
    assert ours.params_bytes == 4 * every
    assert stats.total_param_bytes == 4 * seen
    if name.startswith(PARTLY_SEEN):
        assert seen < every
    else:
        assert seen == every
        assert megabytes(ours.params_bytes) == printed["Params size"]


@pytest.mark.parametrize("name", spec_params(ZOO, quick=QUICK))
def test_memory_equals_torchinfo(name: str) -> None:
    check(name, 1)


@pytest.mark.full
@pytest.mark.parametrize(("name", "batch"), [("swin_v2_t", 3), ("lenet5_c3", 5)])
def test_memory_equals_torchinfo_on_a_batch(name: str, batch: int) -> None:
    """Swin v2's position-bias MLP keeps its outputs once, whatever the batch; the rest × batch."""
    check(name, batch)
