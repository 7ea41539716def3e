"""The README's table of the torchvision zoo: every bundled torchvision network with its input,
parameters and multiply-adds (convcalc's convention: PyTorch's FlopCounterMode ÷ 2).

    python zoo/table.py            # print the table
    python zoo/table.py --write    # put it in README.md, between its two markers
    python zoo/table.py --check    # exit 1 if README.md's table is not this one

The numbers are convcalc's; the tests check them against torchvision (parameters, leaf for
leaf), PyTorch's FlopCounterMode (multiply-adds) and the figures torchvision publishes with its
weights (``num_params`` and ``_ops``).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
BEGIN = "<!-- the torchvision zoo: written by zoo/table.py -->"
END = "<!-- end of the torchvision zoo -->"

# the bundled specs that are not torchvision's: the README's other table lists them
EXAMPLES = ("hw3-q3", "hw3-q3-keras", "hw3-mlp", "lenet5", "lenet5_c3", "unet", "five-stages")
KERAS = "keras_"  # the Keras applications (zoo/keras_apps.py): not torchvision's table

# spec-name prefix → family, in the table's order; a spec's family is its longest prefix
FAMILIES = (
    ("alexnet", "AlexNet"),
    ("vgg", "VGG"),
    ("resnet", "ResNet"),
    ("resnext", "ResNeXt"),
    ("wide_resnet", "Wide ResNet"),
    ("densenet", "DenseNet"),
    ("squeezenet", "SqueezeNet"),
    ("googlenet", "GoogLeNet"),
    ("inception", "Inception v3"),
    ("mobilenet_v2", "MobileNetV2"),
    ("mobilenet_v3", "MobileNetV3"),
    ("mnasnet", "MNASNet"),
    ("shufflenet", "ShuffleNetV2"),
    ("efficientnet", "EfficientNet"),
    ("efficientnet_v2", "EfficientNetV2"),
    ("regnet_x", "RegNetX"),
    ("regnet_y", "RegNetY"),
    ("convnext", "ConvNeXt"),
    ("vit", "ViT"),
    ("swin", "Swin"),
    ("swin_v2", "Swin v2"),
    ("maxvit", "MaxViT"),
    ("fcn", "FCN (segmentation)"),
    ("deeplabv3", "DeepLabV3 (segmentation)"),
    ("lraspp", "LR-ASPP (segmentation)"),
)


def family(name: str) -> tuple[int, str]:
    """The family of a spec: its longest prefix in :data:`FAMILIES` (its place, its name)."""
    found = [(len(p), i, label) for i, (p, label) in enumerate(FAMILIES) if name.startswith(p)]
    if not found:
        raise SystemExit(f"zoo/table.py: {name} is in no family: add its prefix to FAMILIES")
    _, index, label = max(found)
    return index, label


def rows() -> list[str]:
    """One Markdown row per torchvision spec, by family, then by parameters."""
    sys.path.insert(0, str(ROOT))
    from convcalc.analysis import summarise
    from convcalc.spec.validate import bundled_specs

    found = []
    for name in bundled_specs():
        if name in EXAMPLES or name.startswith(KERAS):
            continue
        report = summarise(name)
        order, label = family(name)
        found.append((order, report.total_params, name, label, report))
    lines = []
    for _, params, name, label, report in sorted(found):
        shape = "×".join(map(str, report.input_shape))
        lines.append(
            f"| `{name}` | {label} | {shape} | {params:,} | {report.total_mult_adds():,} |"
        )
    return lines


def table() -> str:
    head = "| spec | family | input | params | multiply-adds |\n|---|---|---|---:|---:|"
    return "\n".join([BEGIN, head, *rows(), END])


def main(argv: list[str]) -> int:
    text = table()
    if not argv:
        print(text)
        return 0
    readme = README.read_text(encoding="utf-8")
    start, end = readme.index(BEGIN), readme.index(END) + len(END)
    if argv == ["--check"]:
        same = readme[start:end] == text
        print("README.md's zoo table is up to date" if same else "README.md's zoo table differs")
        return 0 if same else 1
    if argv == ["--write"]:
        README.write_text(readme[:start] + text + readme[end:], encoding="utf-8")
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
