"""Write the bundled specs of torchvision's ShuffleNetV2 (x0.5, x1.0, x1.5, x2.0).

Run from the repository root: ``python zoo/shufflenet.py`` writes the four specs into specs/
(names: only those; ``--check`` writes nothing and fails if a file differs from what it would
write). It needs
neither torch nor torchvision: the architecture is transcribed from torchvision 0.28's
models/shufflenetv2.py, and tests/test_zoo.py compares every written spec with the torchvision
model itself, leaf module by leaf module.

Each InvertedResidual is a ``split`` block (stride 1: ``x1, x2 = x.chunk(2, dim=1)``, x1 passed
on, x2 through branch2) or a ``concat`` block (stride 2: branch1 and branch2 both see x),
followed by the channel shuffle that torchvision calls as a function.
"""

from __future__ import annotations

from functools import partial

from common import flow, header, run

# name -> (stages_out_channels, published parameter count: the weights' meta num_params)
MODELS = {
    "shufflenet_v2_x0_5": ((24, 48, 96, 192, 1024), 1_366_792),
    "shufflenet_v2_x1_0": ((24, 116, 232, 464, 1024), 2_278_604),
    "shufflenet_v2_x1_5": ((24, 176, 352, 704, 1024), 3_503_624),
    "shufflenet_v2_x2_0": ((24, 244, 488, 976, 2048), 7_393_996),
}
REPEATS = (4, 8, 4)
NOTES = """\
Each unit (InvertedResidual) is a sequential: at stride 1 a split block (x.chunk(2, dim=1): the
first half passed on, the second through branch2), at stride 2 a concat of branch1 and branch2;
then the channel shuffle. `functional: true` marks a leaf torchvision calls as a function, not a
module (no module hook sees it): the channel shuffle, and x.mean([2, 3]) before fc (an average
pool to 1×1 and a flatten).
"""


def _conv(out: int, k: int, stride: int = 1, groups: int = 1) -> str:
    """A bias-free conv, padded 1 when 3×3; stride and groups only where not 1."""
    return flow(
        "conv",
        out_channels=out,
        kernel_size=k,
        stride=stride if stride != 1 else None,
        groups=groups if groups != 1 else None,
        padding=1 if k == 3 else None,
        bias=False,
    )


BN = flow("batchnorm")
RELU = flow("relu", inplace=True)
SHUFFLE = flow("channel_shuffle", groups=2, functional=True)


def _branch2(inp: int, features: int, stride: int) -> list[str]:
    """1×1 conv-bn-relu, 3×3 depthwise conv (stride)-bn, 1×1 conv-bn-relu."""
    return [
        _conv(features, 1),
        BN,
        RELU,
        _conv(features, 3, stride, features),
        BN,
        _conv(features, 1),
        BN,
        RELU,
    ]


def _unit(name: str, inp: int, out: int, stride: int) -> list[str]:
    """One InvertedResidual as YAML lines (indented for the layers list): a sequential of its
    split (stride 1) or concat (stride 2) and the channel shuffle its forward ends with."""
    features = out // 2
    lines = [f"  - name: {name}", "    type: sequential", "    layers:"]

    def branch(layers: list[str]) -> list[str]:
        return ["          - - " + layers[0], *(f"            - {x}" for x in layers[1:])]

    if stride == 1:
        lines += ["      - type: split", "        chunks: 2", "        branches:"]
        lines += ["          - []", *branch(_branch2(features, features, 1))]
    else:
        branch1 = [_conv(inp, 3, stride, inp), BN, _conv(features, 1), BN, RELU]
        lines += ["      - type: concat", "        branches:"]
        lines += [*branch(branch1), *branch(_branch2(inp, features, stride))]
    return [*lines, f"      - {SHUFFLE}"]


def spec(name: str) -> str:
    """The YAML text of one ShuffleNetV2 spec."""
    channels, published = MODELS[name]
    width = name.removeprefix("shufflenet_v2_x").replace("_", ".")
    lines = [
        *header(
            f"ShuffleNetV2 x{width} (torchvision.models.{name}, Ma et al. 2018), 3×224×224: "
            f"{published:,} parameters.",
            "shufflenet.py",
            "models/shufflenetv2.py",
            NOTES,
        ).splitlines(),
        f"name: {name}",
        "input: [3, 224, 224]",
        "layers:",
        "  # conv1, maxpool",
        f"  - {_conv(channels[0], 3, 2)}",
        f"  - {BN}",
        f"  - {RELU}",
        "  - {type: maxpool, kernel_size: 3, stride: 2, padding: 1}",
    ]
    inp = channels[0]
    for stage, (repeats, out) in enumerate(zip(REPEATS, channels[1:4], strict=True), 2):
        lines.append(f"  # stage{stage}: {inp} -> {out}")
        for i in range(repeats):
            lines += _unit(f"stage{stage}.{i}", inp, out, 2 if i == 0 else 1)
            inp = out
    lines += [
        "  # conv5, mean over the spatial dimensions, fc",
        f"  - {_conv(channels[4], 1)}",
        f"  - {BN}",
        f"  - {RELU}",
        "  - {type: adaptive_avgpool, output_size: 1, functional: true}",
        "  - {type: flatten, functional: true}",
        "  - {type: linear, out_features: 1000}",
    ]
    return "\n".join(lines) + "\n"


GENERATED = {name: partial(spec, name) for name in MODELS}

if __name__ == "__main__":
    run(GENERATED, "shufflenet.py", __doc__.splitlines()[0])
