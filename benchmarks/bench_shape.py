"""Speed of ``convcalc shape``, as ratios against baselines run in the same process.

1. A deep stack (20,000 layers): read + validate + analyse, against PyTorch building the same
   ``nn.Sequential`` and running it on the meta device (no arithmetic on data), when torch is
   installed. Two depths show whether the time is linear.
2. Whole-process start-up of ``convcalc shape hw3-q3`` against
   ``python -c "import click, yaml; from pydantic import BaseModel"``, and ``convcalc --help``
   against ``python -c "import click"`` (the issue's budgets: 1.5× and "no pydantic, no YAML").

Run: ``python benchmarks/bench_shape.py``. Nothing here is asserted; it prints.
"""

from __future__ import annotations

import sys
from typing import Any

from timing import best_of, process_time


def deep_spec(depth: int) -> str:
    block = [
        "  - {type: conv, out_channels: 8, kernel_size: 3, padding: 1}",
        "  - {type: batchnorm}",
        "  - {type: relu}",
        "  - {type: maxpool, kernel_size: 3, stride: 1, padding: 1}",
    ]
    lines = ["input: [8, 16, 16]", "layers:"]
    lines += [block[i % len(block)] for i in range(depth)]
    return "\n".join(lines) + "\n"


def bench_deep() -> None:
    from convcalc.calc import analyse
    from convcalc.loader import parse_yaml
    from convcalc.validate import validate

    for depth in (10_000, 20_000):
        text = deep_spec(depth)
        doc = parse_yaml(text, "deep.yaml", "deep")
        spec = validate(doc)
        t_yaml = best_of(lambda text=text: parse_yaml(text, "deep.yaml", "deep"), 3)
        t_validate = best_of(lambda doc=doc: validate(doc), 3)
        t_analyse = best_of(lambda spec=spec: analyse(spec, "deep"), 3)
        print(
            f"{depth:>6} layers: yaml {t_yaml * 1e3:7.1f} ms  validate {t_validate * 1e3:6.1f} ms"
            f"  analyse {t_analyse * 1e3:6.1f} ms  total {(t_yaml + t_validate + t_analyse):.3f} s"
        )
        try:
            import torch
        except ImportError:
            print("        (torch not installed: no baseline)")
            continue
        t_torch = best_of(lambda depth=depth: torch_build_and_run(torch, depth), 1)
        total = t_yaml + t_validate + t_analyse
        print(
            f"        torch build + meta forward {t_torch:.3f} s: convcalc is "
            f"{t_torch / total:.1f}× faster (analysis alone {t_torch / t_analyse:.0f}×)"
        )


def torch_build_and_run(torch: Any, depth: int) -> None:
    nn = torch.nn
    makers = [
        lambda: nn.Conv2d(8, 8, 3, padding=1),
        lambda: nn.BatchNorm2d(8),
        lambda: nn.ReLU(),
        lambda: nn.MaxPool2d(3, 1, 1),
    ]
    model = nn.Sequential(*(makers[i % 4]() for i in range(depth))).to("meta")
    model(torch.zeros(1, 8, 16, 16, device="meta"))


def bench_startup() -> None:
    py = sys.executable
    pairs = [
        (
            "convcalc shape hw3-q3",
            [py, "-m", "convcalc", "shape", "hw3-q3"],
            "import click, yaml, pydantic.BaseModel",
            [py, "-c", "import click, yaml; from pydantic import BaseModel"],
        ),
        (
            "convcalc --help",
            [py, "-m", "convcalc", "--help"],
            "import click",
            [py, "-c", "import click"],
        ),
    ]
    for name, cmd, base_name, base in pairs:
        t_cmd, t_base = process_time(cmd), process_time(base)
        print(
            f"{name:<24} {t_cmd * 1e3:6.0f} ms   {base_name:<40} {t_base * 1e3:6.0f} ms"
            f"   ratio {t_cmd / t_base:.2f}"
        )


if __name__ == "__main__":
    print("== deep stacks ==")
    bench_deep()
    print("== whole-process start-up (median of 21) ==")
    bench_startup()
