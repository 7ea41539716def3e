"""Write the bundled specs of torchvision's ShuffleNetV2 (x0.5, x1.0, x1.5, x2.0).

Run from the repository root: ``python zoo/shufflenet.py`` writes the four specs into specs/
(``--check`` writes nothing and fails if a file differs from what it would write). It needs
neither torch nor torchvision: the architecture is transcribed from torchvision 0.28's
models/shufflenetv2.py, and tests/test_zoo.py compares every written spec with the torchvision
model itself, leaf module by leaf module.

Each InvertedResidual is a ``split`` block (stride 1: ``x1, x2 = x.chunk(2, dim=1)``, x1 passed
on, x2 through branch2) or a ``concat`` block (stride 2: branch1 and branch2 both see x),
followed by the channel shuffle that torchvision calls as a function.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

SPECS = Path(__file__).resolve().parent.parent / "specs"

# name -> (stages_out_channels, published parameter count: the weights' meta num_params)
MODELS = {
    "shufflenet_v2_x0_5": ((24, 48, 96, 192, 1024), 1_366_792),
    "shufflenet_v2_x1_0": ((24, 116, 232, 464, 1024), 2_278_604),
    "shufflenet_v2_x1_5": ((24, 176, 352, 704, 1024), 3_503_624),
    "shufflenet_v2_x2_0": ((24, 244, 488, 976, 2048), 7_393_996),
}
REPEATS = (4, 8, 4)


def _conv(out: int, k: int, stride: int = 1, groups: int = 1) -> str:
    pad = ", padding: 1" if k == 3 else ""
    extra = f", stride: {stride}" if stride != 1 else ""
    extra += f", groups: {groups}" if groups != 1 else ""
    return f"{{type: conv, out_channels: {out}, kernel_size: {k}{extra}{pad}, bias: false}}"


BN = "{type: batchnorm}"
RELU = "{type: relu, inplace: true}"
SHUFFLE = "{type: channel_shuffle, groups: 2, functional: true}"


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
        f"# ShuffleNetV2 x{width} (torchvision.models.{name}, Ma et al. 2018), 3×224×224:",
        f"# {published:,} parameters. Written by zoo/shufflenet.py. Each unit (InvertedResidual)",
        "# is a sequential: at stride 1 a split block (x.chunk(2, dim=1): the first half passed",
        "# on, the second through branch2), at stride 2 a concat of branch1 and branch2; then",
        "# the channel shuffle. `functional: true` marks a leaf torchvision calls as a function,",
        "# not a module (no module hook sees it): the channel shuffle, and x.mean([2, 3]) before",
        "# fc (an average pool to 1×1 and a flatten).",
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", choices=[*MODELS, []], metavar="NAME")
    parser.add_argument("--check", action="store_true", help="fail if a file would change")
    args = parser.parse_args(argv)
    stale = []
    for name in args.names or MODELS:
        path, text = SPECS / f"{name}.yaml", spec(name)
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(path.name)
        else:
            path.write_text(text, encoding="utf-8")
    if stale:
        print("out of date: " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
