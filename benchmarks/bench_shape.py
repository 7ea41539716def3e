"""Speed of ``convcalc shape``, as ratios against baselines run in the same process.

1. A deep stack (20,000 layers): read + validate + analyse, against PyTorch building the same
   ``nn.Sequential`` and running it on the meta device (no arithmetic on data), when torch is
   installed. Two depths show whether the time is linear.
2. Big specs at two sizes each: the 20,000-layer chain, 2,000 residual blocks (conv-bn-relu-
   conv-bn body) written once with a YAML anchor and listed by alias, the same as a ``repeat``,
   and blocks nested inside each other 500 deep (each residual's body ends with the next
   block), in block style and in flow style. Whole-process ``convcalc shape`` (median of 5)
   and the in-process split into read (file + YAML), validate, analyse and the table's
   rendering (best of 3).
3. Whole-process start-up of ``convcalc shape hw3-q3`` against a script importing click and
   yaml and validating a one-field pydantic model (budget 1.3×), and ``convcalc --help``
   against ``python -c "import click"``: interleaved runs, median and min; once as the
   environment is configured (PYTHONDONTWRITEBYTECODE with an editable install: convcalc's
   sources are compiled in every process) and once with a bytecode cache, as installed.
4. Where the start-up goes: ``python -X importtime`` on ``convcalc shape hw3-q3``, the
   convcalc modules by cumulative import time, and the import time by top-level package.

Run: ``python benchmarks/bench_shape.py``. Nothing here is asserted; it prints.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from timing import (
    best_of,
    bytecode_env,
    convcalc_command,
    interleaved,
    machine_note,
    process_time,
)

PY = sys.executable
CONVCALC = convcalc_command()
STARTUP_RUNS = 31
NO_BYTECODE = bool(os.environ.get("PYTHONDONTWRITEBYTECODE"))
BASELINE = """import click, yaml
from pydantic import BaseModel


class A(BaseModel):
    x: int


A(x=1)
"""


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


ANCHORS = (
    "&conv {type: conv, out_channels: 8, kernel_size: 3, padding: 1, bias: false}",
    "&bn {type: batchnorm}",
    "&relu {type: relu}",
)
BODY = "[*conv, *bn, *relu, *conv, *bn]"


def residual_alias_spec(blocks: int) -> str:
    """``blocks`` residual blocks: the first written with an anchor, the others its alias."""
    lines = ["input: [8, 16, 16]", "layers:"]
    lines.append(f"  - &block {{type: residual, body: [{', '.join(ANCHORS)}, *conv, *bn]}}")
    lines += ["  - *block"] * (blocks - 1)
    return "\n".join(lines) + "\n"


def residual_repeat_spec(blocks: int) -> str:
    """The same network as a ``repeat`` of one residual block."""
    return (
        "input: [8, 16, 16]\n"
        "layers:\n"
        f"  - {{type: repeat, times: {blocks}, layers: [\n"
        f"      {{type: residual, body: [{', '.join(ANCHORS)}, *conv, *bn]}}]}}\n"
    )


def residual_nested_spec(depth: int) -> str:
    """Residual blocks nested ``depth`` deep, in block style: each body is conv-bn-relu-conv-bn
    and, but for the innermost, the next block. Each level is indented two more spaces, so the
    file grows as the square of the depth."""
    lines = ["input: [8, 16, 16]", "layers:"]
    for level in range(depth):
        pad = "  " * level
        lines += [f"{pad}- type: residual", f"{pad}  body:"]
        items = [*ANCHORS, "*conv", "*bn"] if level == 0 else BODY[1:-1].split(", ")
        lines += [f"{pad}  - {item}" for item in items]
    return "\n".join(lines) + "\n"


def residual_nested_flow_spec(depth: int) -> str:
    """The same in flow style, on one line (the file grows linearly with the depth)."""
    first = f"{{type: residual, body: [{', '.join(ANCHORS)}, *conv, *bn"
    inner = f"{{type: residual, body: [{BODY[1:-1]}"
    text = first + "".join(", " + inner for _ in range(depth - 1)) + "]}" * depth
    return f"input: [8, 16, 16]\nlayers:\n  - {text}\n"


FAMILIES: list[tuple[str, Callable[[int], str], tuple[int, int]]] = [
    ("chain (layers)", deep_spec, (10_000, 20_000)),
    ("residual ×N, alias", residual_alias_spec, (1_000, 2_000)),
    ("residual ×N, repeat", residual_repeat_spec, (1_000, 2_000)),
    ("residual nested N deep", residual_nested_spec, (250, 500)),
    ("nested N deep, flow style", residual_nested_flow_spec, (250, 500)),
]


def bench_deep() -> None:
    from convcalc.analysis import analyse
    from convcalc.spec.document import parse_yaml
    from convcalc.spec.validate import validate

    for depth in (10_000, 20_000):
        text = deep_spec(depth)
        doc = parse_yaml(text, "deep.yaml", "deep")
        spec = validate(doc)
        t_yaml = best_of(lambda text=text: parse_yaml(text, "deep.yaml", "deep"), 3)
        t_validate = best_of(lambda doc=doc: validate(doc), 3)
        t_analyse = best_of(lambda spec=spec: analyse(spec), 3)
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


def bench_big_specs() -> None:
    from convcalc.analysis import analyse
    from convcalc.errors import SpecError
    from convcalc.render import text as render
    from convcalc.spec.validate import read_document, validate

    print(
        f"{'spec':<25} {'N':>6} {'bytes':>9} {'process':>9} {'read':>9} {'validate':>9} "
        f"{'analyse':>9} {'table':>9} {'in-proc':>9} {'rows':>7}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for label, make, sizes in FAMILIES:
            totals: list[float] = []
            for n in sizes:
                path = Path(tmp) / f"spec-{n}.yaml"
                path.write_text(make(n), encoding="utf-8")
                cmd = [*CONVCALC, "shape", str(path)]
                try:
                    doc = read_document(path)
                except SpecError as exc:
                    print(f"{label:<25} {n:>6} {path.stat().st_size:>9,}   refused: {exc}")
                    continue
                spec = validate(doc)
                report = analyse(spec)
                rows = sum(1 for _ in report.walk())
                t_read = best_of(lambda path=path: read_document(path), 3)
                t_validate = best_of(lambda doc=doc: validate(doc), 3)
                t_analyse = best_of(lambda spec=spec: analyse(spec), 3)
                t_render = best_of(lambda report=report: render.table(report, None), 3)
                t_process = process_time(cmd, 5)
                in_process = t_read + t_validate + t_analyse + t_render
                totals.append(t_process)
                print(
                    f"{label:<25} {n:>6} {path.stat().st_size:>9,} {ms(t_process)} {ms(t_read)} "
                    f"{ms(t_validate)} {ms(t_analyse)} {ms(t_render)} {ms(in_process)} {rows:>7,}"
                )
            if len(totals) == 2:
                print(
                    f"{'':<25} ×{sizes[1] / sizes[0]:.0f} the size: ×{totals[1] / totals[0]:.2f} "
                    "the whole-process time"
                )


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:6.0f} ms"


def bench_startup() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        baseline = Path(tmp) / "baseline.py"
        baseline.write_text(BASELINE, encoding="utf-8")
        pairs = [
            (
                "convcalc shape hw3-q3",
                [*CONVCALC, "shape", "hw3-q3"],
                "click+yaml+pydantic model",
                [PY, str(baseline)],
            ),
            ("convcalc --help", [*CONVCALC, "--help"], "import click", [PY, "-c", "import click"]),
        ]
        modes: list[tuple[str, dict[str, str] | None]] = [
            ("as configured" + (" (no .pyc written)" if NO_BYTECODE else ""), None),
            ("with a bytecode cache", bytecode_env(Path(tmp) / "pycache")),
        ]
        for mode, env in modes:
            print(f"  {mode}:")
            for name, cmd, base_name, base in pairs:
                t_cmd, t_base = interleaved([cmd, base], STARTUP_RUNS, env=env)
                med_cmd, med_base = statistics.median(t_cmd), statistics.median(t_base)
                print(
                    f"  {name:<22} median {ms(med_cmd)} min {ms(min(t_cmd))}   "
                    f"{base_name:<26} median {ms(med_base)} min {ms(min(t_base))}   "
                    f"ratio median {med_cmd / med_base:.2f}  min {min(t_cmd) / min(t_base):.2f}"
                )


def import_times(
    cmd: list[str], env: dict[str, str] | None = None, runs: int = 5
) -> dict[str, tuple[int, int]]:
    """Per module: (self µs, cumulative µs), from the run whose imports took least in all."""
    best: dict[str, tuple[int, int]] = {}
    for _ in range(runs):
        err = subprocess.run(
            [PY, "-X", "importtime", *cmd], capture_output=True, text=True, check=True, env=env
        ).stderr
        times: dict[str, tuple[int, int]] = {}
        for line in err.splitlines():
            if not line.startswith("import time:") or "self [us]" in line:
                continue
            own, cumulative, name = line[len("import time:") :].split("|")
            times[name.strip()] = (int(own), int(cumulative))
        if not best or total_of(times) < total_of(best):
            best = times
    return best


def total_of(times: dict[str, tuple[int, int]]) -> int:
    return sum(own for own, _ in times.values())


def bench_imports() -> None:
    cmd = ["-m", "convcalc", "shape", "hw3-q3"]
    with tempfile.TemporaryDirectory() as tmp:
        plain = import_times(cmd)
        cached = import_times(cmd, bytecode_env(Path(tmp) / "pycache"))
    print(
        f"python -X importtime -m convcalc shape hw3-q3: {total_of(plain) / 1e3:.0f} ms of imports "
        f"as configured, {total_of(cached) / 1e3:.0f} ms with a bytecode cache"
    )
    ours = sorted(
        (name for name in plain if name.split(".")[0] == "convcalc"),
        key=lambda name: -plain[name][1],
    )
    print(
        f"  {'convcalc module (cumulative: with what it imports first)':<58}"
        f"{'as configured':>24}{'bytecode cache':>24}"
    )
    print(f"  {'':<58}{'cumulative   self':>24}{'cumulative   self':>24}")
    for name in ours[:10]:
        cells = "".join(
            f"{t[name][1] / 1e3:>14.1f} ms {t[name][0] / 1e3:>5.1f}" if name in t else f"{'':>24}"
            for t in (plain, cached)
        )
        print(f"  {name:<58}{cells}")
    print("  self time summed by top-level package (as configured, bytecode cache):")
    totals: list[dict[str, int]] = []
    for times in (plain, cached):
        by_package: dict[str, int] = defaultdict(int)
        for name, (own, _) in times.items():
            by_package[name.split(".")[0].lstrip("_")] += own
        totals.append(by_package)
    for package in sorted(totals[0], key=lambda p: -totals[0][p])[:12]:
        print(
            f"    {package:<36} {totals[0][package] / 1e3:6.1f} ms "
            f"{totals[1].get(package, 0) / 1e3:6.1f} ms"
        )


if __name__ == "__main__":
    print(machine_note())
    print("== deep stacks, in-process against torch ==")
    bench_deep()
    print("== big specs: whole process (median of 5), in-process split (best of 3) ==")
    bench_big_specs()
    print(f"== whole-process start-up ({STARTUP_RUNS} interleaved runs each) ==")
    bench_startup()
    print("== import time (the fastest of 5 runs) ==")
    bench_imports()
