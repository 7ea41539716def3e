"""Test-side oracles that share no code with convcalc, for the numbers convcalc shows.

Nothing here is a test. The bundled networks become PyTorch models without convcalc's help:
the torchvision ones by their constructors, the U-Net by tests/unet_reference.py, and the plain
stacks (hw3-q3, lenet5, hw3-mlp) straight from their spec files: the YAML read with
``yaml.safe_load``, each layer dict made into the torch module of that name, its input channels
or features read off the tensor torch produced before it, every field it does not name left at
PyTorch's default (a field the builder does not know is refused, never passed over). torchinfo
then runs each model once on the meta device and gives, leaf module by leaf module in the order
they ran, the kind, input and output shapes, parameter count and multiply-adds
(:func:`torch_numbers`).

The parsers read what convcalc prints: shapes such as ``32×61×61``, counts such as ``6,176``,
and the figures' three-significant-digit counts such as ``6.18k`` (:func:`assert_three_digits`
checks one against the exact value).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

SPECS = Path(__file__).parent.parent / "specs"
# the plain stacks, built from their spec files by plain_model
PLAIN_SPECS = ("hw3-q3", "lenet5", "hw3-mlp")
# torchvision models outside tests/torchvision_oracle.py's table: constructor defaults
EXTRA_TORCHVISION = {"alexnet": (3, 224, 224), "vgg16": (3, 224, 224)}

# The homework's own answer for hw3-q3 (Question 3.1), worked on paper: conv 8×8 /2 on
# 3×128×128 gives 32×(⌊(128 − 8)/2⌋ + 1 = 61)² and 32·(3·8·8) + 32 = 6,176 parameters; the
# 5×5 /5 max pool gives 32×(⌊(61 − 5)/5⌋ + 1 = 12)²; conv 4×4 p1 gives 128×(12 + 2 − 4 + 1 = 11)²
# and 128·(32·4·4) + 128 = 65,664 parameters; 71,840 in all; 128·11·11 = 15,488 outputs.
HW3_Q3_SHAPES = ((32, 61, 61), (32, 12, 12), (128, 11, 11))
HW3_Q3_PARAMS = (6_176, 0, 65_664)
HW3_Q3_TOTAL = 71_840
HW3_Q3_OUTPUTS = 15_488
# torchinfo's rule, by hand: each parameter used once per output position (a pool has none)
HW3_Q3_MACS = (6_176 * 61 * 61, 0, 65_664 * 11 * 11)
# every multiply-add (convcalc's default, PyTorch's FlopCounterMode ÷ 2), by hand: each weight
# (no bias) once per output position, 32·3·8·8 = 6,144 and 128·32·4·4 = 65,536 weights
HW3_Q3_MULT_ADDS = (6_144 * 61 * 61, 0, 65_536 * 11 * 11)


# LeNet-5's C3 connection table (LeCun et al. 1998, Table I): the S2 maps each C3 map sees
C3_TABLE = [[0, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 5], [4, 5, 0], [5, 0, 1],
            [0, 1, 2, 3], [1, 2, 3, 4], [2, 3, 4, 5], [3, 4, 5, 0], [4, 5, 0, 1], [5, 0, 1, 2],
            [0, 1, 3, 4], [1, 2, 4, 5], [0, 2, 3, 5], [0, 1, 2, 3, 4, 5]]  # fmt: skip
C3_PUBLISHED = 1_516  # its parameters: 60 connections of 25 weights, and 16 biases


def lenet5_c3_model() -> Any:
    """LeNet-5 with C3 wired by :data:`C3_TABLE` (one 5×5 conv per C3 map over the S2 maps it
    lists, selected by indexing: no module), the rest as the usual PyTorch LeNet-5."""
    import torch
    from torch import nn

    class C3(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.maps = nn.ModuleList(nn.Conv2d(len(m), 1, 5) for m in C3_TABLE)

        def forward(self, x: Any) -> Any:
            pairs = zip(self.maps, C3_TABLE, strict=True)
            return torch.cat([conv(x[:, m]) for conv, m in pairs], 1)

    return nn.Sequential(
        nn.Conv2d(1, 6, 5), nn.Tanh(), nn.AvgPool2d(2), C3(), nn.Tanh(), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(400, 120), nn.Tanh(), nn.Linear(120, 84), nn.Tanh(),
        nn.Linear(84, 10),
    )  # fmt: skip


def spec_data(name: str) -> dict[str, Any]:
    """A bundled spec file as YAML reads it."""
    data = yaml.safe_load((SPECS / f"{name}.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


# --- the plain stacks as torch modules --------------------------------------------------------

# per spec type: the torch class (by spatial dimensions where it has them) and the spec fields
# it takes, as the constructor's keyword arguments of the same name
_PLAIN: dict[str, tuple[str, frozenset[str]]] = {
    "conv": (
        "Conv{n}d",
        frozenset({"kernel_size", "stride", "padding", "dilation", "groups", "bias"}),
    ),
    "maxpool": ("MaxPool{n}d", frozenset({"kernel_size", "stride", "padding", "dilation"})),
    "avgpool": ("AvgPool{n}d", frozenset({"kernel_size", "stride", "padding"})),
    "linear": ("Linear", frozenset({"bias"})),
    "flatten": ("Flatten", frozenset()),
    "tanh": ("Tanh", frozenset()),
    "relu": ("ReLU", frozenset({"inplace"})),
    "elu": ("ELU", frozenset({"alpha", "inplace"})),
    "softmax": ("Softmax", frozenset({"dim"})),
}


def _module(layer: dict[str, Any], shape: tuple[int, ...]) -> Any:
    """The torch module for one plain layer dict, given the batched input shape."""
    from torch import nn

    kind = layer["type"]
    assert kind in _PLAIN, f"no plain torch module for a {kind} layer"
    template, fields = _PLAIN[kind]
    rest = set(layer) - fields - {"type", "name", "out_channels", "out_features"}
    assert not rest, f"{kind}: fields the builder does not know: {sorted(rest)}"
    kwargs = {key: value for key, value in layer.items() if key in fields}
    cls = getattr(nn, template.format(n=len(shape) - 2))
    if kind == "conv":
        return cls(shape[1], layer["out_channels"], **kwargs)
    if kind == "linear":
        return cls(shape[-1], layer["out_features"], **kwargs)
    # the spec's flatten defaults (0, −1) without the batch are nn.Flatten()'s (1, −1) with it
    return cls(**kwargs)


def plain_model(spec: str | dict[str, Any]) -> tuple[Any, tuple[int, ...]]:
    """A plain spec (a bundled name or its data) as an ``nn.Sequential`` on the meta device,
    and its input shape; each module is sized by running the modules before it."""
    import torch
    from torch import nn

    data = spec_data(spec) if isinstance(spec, str) else spec
    input_shape = tuple(int(n) for n in data["input"])
    x = torch.empty((1, *input_shape), device="meta")
    modules = []
    with torch.device("meta"):
        for layer in data["layers"]:
            module = _module(layer, tuple(x.shape))
            x = module(x)
            modules.append(module)
        return nn.Sequential(*modules), input_shape


def zoo_model(name: str) -> tuple[Any, tuple[int, ...]]:
    """The PyTorch model of a bundled spec on the meta device (a pytest skip without torch or,
    for the torchvision ones, torchvision), and its input shape."""
    torch = pytest.importorskip("torch")
    if name in PLAIN_SPECS:
        return plain_model(name)
    if name == "lenet5_c3":
        with torch.device("meta"):
            return lenet5_c3_model(), (1, 32, 32)
    if name == "unet":
        from tests.unet_reference import INPUT_SHAPE, build_unet

        with torch.device("meta"):
            return build_unet(), INPUT_SHAPE
    from tests.torchvision_oracle import build_torchvision, import_torchvision

    if name in EXTRA_TORCHVISION:
        torchvision = import_torchvision()
        with torch.device("meta"):
            return getattr(torchvision.models, name)(weights=None), EXTRA_TORCHVISION[name]
    return build_torchvision(name)


# --- what torchinfo reports -------------------------------------------------------------------


@dataclass(frozen=True)
class TorchLeaf:
    """One call of a leaf module, as torchinfo recorded it (shapes without the batch)."""

    kind: str  # the spec type of the module's class (tests/torchvision_oracle.py's table)
    torch_class: str
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    params: int  # the module's own parameters
    macs: int  # torchinfo's multiply-adds for this call
    flops: int = 0  # PyTorch's FlopCounterMode for this call ÷ 2: every multiply-add


@dataclass(frozen=True)
class TorchNumbers:
    """What torch and torchinfo say of a whole model, batch of one."""

    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]
    leaves: tuple[TorchLeaf, ...]
    params: int
    trainable: int
    macs: int
    summary: str  # torchinfo's printed summary (its memory lines in MB among them)
    flops: int = 0  # PyTorch's FlopCounterMode ÷ 2 for the whole forward pass


@cache
def torch_numbers(name: str) -> TorchNumbers:
    """torchinfo's account of a bundled spec's PyTorch model (a pytest skip without torch,
    torchinfo or, where needed, torchvision)."""
    torch = pytest.importorskip("torch")
    torchinfo = pytest.importorskip("torchinfo")
    from tests.torchvision_oracle import kind_of, leaf_modules, torch_leaves

    model, input_shape = zoo_model(name)
    x = torch.empty((1, *input_shape), device="meta")
    stats = torchinfo.summary(model, input_data=x, device="meta", verbose=0)
    recorded = {id(module) for module in leaf_modules(model)}  # ATOMIC ones too
    layers = [layer for layer in stats.summary_list if id(layer.module) in recorded]
    calls, total, output = flop_calls(model, x, [layer.module for layer in layers])
    leaves = tuple(
        TorchLeaf(
            kind=kind_of(layer.module),
            torch_class=layer.class_name,
            input_shape=tuple(layer.input_size[1:]),
            output_shape=tuple(layer.output_size[1:]),
            params=sum(int(p.numel()) for p in layer.module.parameters()),
            macs=int(layer.macs) if layer.is_leaf_layer else 0,  # torchinfo sums leaves only
            flops=flops,
        )
        for layer, flops in zip(layers, calls, strict=True)
    )
    leaves = _with_owned(leaves, torch_leaves(model, input_shape))
    return TorchNumbers(
        input_shape=tuple(input_shape),
        output_shape=tuple(int(n) for n in output.shape[1:]),
        leaves=leaves,
        params=sum(int(p.numel()) for p in model.parameters()),
        trainable=sum(int(p.numel()) for p in model.parameters() if p.requires_grad),
        macs=int(stats.total_mult_adds),
        summary=str(stats),
        flops=total,
    )


def _with_owned(leaves: tuple[TorchLeaf, ...], order: list[Any]) -> tuple[TorchLeaf, ...]:
    """The module calls, with a leaf inserted for each parameter a module with children applies
    in its forward (ViT's class token and position embedding, ConvNeXt's layer scale), where
    the oracle's run (``order``, tests/torchvision_oracle.py) records it: no module, so no
    multiply-adds in torchinfo or FlopCounterMode (a cat, an add, a product)."""
    if len(order) == len(leaves):
        return leaves
    calls = iter(leaves)
    merged = []
    for leaf in order:
        if "." not in leaf.torch_class:  # a module: the next call torchinfo saw
            merged.append(next(calls))
            assert merged[-1].kind == leaf.kind, (merged[-1], leaf)
            continue
        out = leaf.output_shape  # the class token adds one token; the others keep the shape
        shape = (out[0] - 1, *out[1:]) if leaf.kind == "class_token" else out
        merged.append(TorchLeaf(leaf.kind, leaf.torch_class, shape, out, leaf.params, 0, 0))
    assert next(calls, None) is None
    return tuple(merged)


def flop_calls(model: Any, x: Any, modules: list[Any]) -> tuple[list[int], int, Any]:
    """PyTorch's FlopCounterMode over one forward pass in eval mode, halved: each call of the
    given ``modules`` in order (the counter's running total before and after the call), the
    whole pass, and the output."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    calls: list[int] = []
    starts: list[int] = []
    wanted = {id(module) for module in modules}

    def before(module: Any, _inputs: Any) -> None:
        starts.append(counter.get_total_flops())

    def after(module: Any, _inputs: Any, _output: Any) -> None:
        calls.append((counter.get_total_flops() - starts.pop()) // 2)

    handles = []
    for module in model.modules():
        if id(module) in wanted:
            handles.append(module.register_forward_pre_hook(before))
            handles.append(module.register_forward_hook(after))
    try:
        with counter, torch.no_grad():
            output = model.eval()(x)
    finally:
        for handle in handles:
            handle.remove()
    assert len(calls) == len(modules), (len(calls), len(modules))
    return calls, counter.get_total_flops() // 2, output


def pair(spec_leaves: list[Any], torch_leaves: tuple[TorchLeaf, ...]) -> dict[str, TorchLeaf]:
    """Each spec leaf's path → the torch call it stands for: in order, a spec leaf marked
    ``functional: true`` (a function call in the model, no module) pairs with none, every
    other with the next torch call, of the same kind; none may be left over on either side."""
    modules = [leaf for leaf in spec_leaves if not leaf.layer.functional]
    assert len(modules) == len(torch_leaves), (len(modules), len(torch_leaves))
    for leaf, call in zip(modules, torch_leaves, strict=True):
        assert leaf.type == call.kind, f"{leaf.path} is a {leaf.type}, torch ran {call.torch_class}"
    return {leaf.path: call for leaf, call in zip(modules, torch_leaves, strict=True)}


def torchinfo_megabytes(summary: str) -> dict[str, str]:
    """torchinfo's printed memory lines: ``Input size (MB): 0.20`` → {"Input size": "0.20"}."""
    return dict(re.findall(r"^(.+?) \(MB\): ([\d.]+)$", summary, flags=re.MULTILINE))


# --- reading what convcalc shows --------------------------------------------------------------

SHAPE = re.compile(r"\d+(?:×\d+)*")
COUNT = re.compile(r"\d{1,3}(?:,\d{3})*")
THREE_DIGITS = re.compile(r"(\d{1,3}(?:,\d{3})*|\d+\.\d+)([kMG]?)")
UNITS = {"": 1, "k": 10**3, "M": 10**6, "G": 10**9}


def parse_shape(text: str) -> tuple[int, ...]:
    """``32×61×61`` → (32, 61, 61)."""
    assert SHAPE.fullmatch(text), f"not a shape: {text!r}"
    return tuple(int(n) for n in text.split("×"))


def parse_count(text: str) -> int:
    """``6,176`` → 6176 (thousands grouped by commas, as convcalc writes them)."""
    assert COUNT.fullmatch(text), f"not a count: {text!r}"
    return int(text.replace(",", ""))


def assert_three_digits(shown: str, exact: int) -> None:
    """``shown`` is ``exact`` to three significant digits, in the largest unit of k, M and G
    not above it (``6.18k`` for 6,176, ``23M`` for 22,980,896, ``850`` for 850; past 999G,
    whole G): within half a unit of its last digit, and no more digits than that."""
    match = THREE_DIGITS.fullmatch(shown)
    assert match, f"{shown!r} is not a count to three significant digits (exactly {exact:,})"
    mantissa, unit = Decimal(match.group(1).replace(",", "")), match.group(2)
    value = mantissa * UNITS[unit]
    if exact < 1000:
        assert unit == "" and value == exact, f"{shown!r} for {exact}"
        return
    digit = Decimal(10) ** (Decimal(exact).adjusted() - 2)  # the third significant digit
    if unit == "G" and exact >= 10**12:
        digit = Decimal(10**9)
    assert abs(value - exact) <= digit / 2, f"{shown!r} is not {exact:,} to three digits"
    assert value % digit == 0, f"{shown!r} has more digits than three ({exact:,})"
    # the unit: the largest one the rounded value reaches
    expected_unit = next(u for u in ("G", "M", "k", "") if value >= UNITS[u])
    assert unit == expected_unit, f"{shown!r}: {value:,} is written in {expected_unit or 'units'}"
    if unit and exact < 10**12:
        assert mantissa < 1000, f"{shown!r}: three digits in {unit} are under 1000"
