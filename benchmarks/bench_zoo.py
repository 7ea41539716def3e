"""``convcalc shape resnet50`` against torchinfo, each as a whole process and in-process; the
biggest zoo networks (ViT-H/14, RegNet-Y-128GF, ...) as whole processes against start-up alone.

The baseline is what a student would run to get the same table: a Python process that imports
torch and torchvision, builds ``torchvision.models.resnet50()`` and calls
``torchinfo.summary(model, input_size=(1, 3, 224, 224), verbose=0)``. Both run interleaved
(convcalc, torchinfo, convcalc, ...); the medians and their ratio are printed (target: convcalc
at least 10× faster). In-process, with the imports already paid, convcalc's read + validate +
analyse of the bundled spec is set against torchinfo's summary of an already built model.

Run: ``python benchmarks/bench_zoo.py`` (needs torch, torchvision and torchinfo). Nothing here
is asserted; it prints.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import types
from typing import Any

from timing import best_of, convcalc_command, interleaved, machine_note

PY = sys.executable
RUNS = 7
# torchvision's meta registrations import torch._prims and friends; the summary never needs
# them (and with some torch builds they fail to import), so a stand-in module is put first
STUB = (
    "import sys, types\n"
    'sys.modules["torchvision._meta_registrations"] = '
    'types.ModuleType("torchvision._meta_registrations")\n'
)
TORCHINFO = (
    STUB
    + "import torch, torchvision, torchinfo\n"
    + "model = torchvision.models.resnet50()\n"
    + "torchinfo.summary(model, input_size=(1, 3, 224, 224), verbose=0)\n"
)


def have_torchinfo() -> bool:
    probe = STUB + "import torch, torchvision, torchinfo\n"
    return subprocess.run([PY, "-c", probe], capture_output=True).returncode == 0


def bench_process(*extra: str) -> None:
    ours = [*convcalc_command(), "shape", "resnet50", *extra]
    theirs = [PY, "-c", TORCHINFO]
    t_ours, t_theirs = interleaved([ours, theirs], RUNS)
    med_ours, med_theirs = statistics.median(t_ours), statistics.median(t_theirs)
    label = " ".join(["shape resnet50", *extra])
    print(
        f"convcalc {label:<19} median {med_ours * 1e3:7.0f} ms  "
        f"min {min(t_ours) * 1e3:7.0f} ms\n"
        f"torch+torchvision+torchinfo  median {med_theirs * 1e3:7.0f} ms  "
        f"min {min(t_theirs) * 1e3:7.0f} ms\n"
        f"ratio (torchinfo / convcalc): median {med_theirs / med_ours:.1f}×  "
        f"min {min(t_theirs) / min(t_ours):.1f}×"
    )


def bench_in_process() -> None:
    from convcalc.analysis import summarise

    sys.modules["torchvision._meta_registrations"] = types.ModuleType(
        "torchvision._meta_registrations"
    )
    import torchinfo
    import torchvision

    report = summarise("resnet50")
    model: Any = torchvision.models.resnet50()
    stats = torchinfo.summary(model, input_size=(1, 3, 224, 224), verbose=0)
    t_ours = best_of(lambda: summarise("resnet50"), 5)
    t_build = best_of(torchvision.models.resnet50, 3)
    t_summary = best_of(lambda: torchinfo.summary(model, input_size=(1, 3, 224, 224), verbose=0), 3)
    print(
        f"convcalc read + validate + analyse {t_ours * 1e3:.1f} ms "
        f"({report.total_params:,} parameters); torchvision resnet50() {t_build * 1e3:.0f} ms, "
        f"torchinfo.summary {t_summary * 1e3:.0f} ms ({stats.total_params:,} parameters): "
        f"summary alone {t_summary / t_ours:.0f}× convcalc's time"
    )


# the biggest networks of the zoo: the whole `convcalc shape` process must stay under 0.5 s; the
# baseline in the same run is `convcalc --version` (the interpreter and the CLI's start-up alone)
BIGGEST = ("vit_h_14", "regnet_y_128gf", "efficientnet_v2_l", "swin_v2_b")


def bench_biggest() -> None:
    from convcalc.spec.validate import bundled_specs

    present = [name for name in BIGGEST if name in bundled_specs()]
    base = [*convcalc_command(), "--version"]
    for name in present:
        ours = [*convcalc_command(), "shape", name]
        t_ours, t_base = interleaved([ours, base], RUNS)
        med, med_base = statistics.median(t_ours), statistics.median(t_base)
        verdict = "under" if med < 0.5 else "OVER"
        print(
            f"convcalc shape {name:<18} median {med * 1e3:5.0f} ms ({verdict} 0.5 s): "
            f"{med / med_base:.1f}× `convcalc --version` ({med_base * 1e3:.0f} ms)"
        )
    missing = sorted(set(BIGGEST) - set(present))
    if missing:
        print(f"(not bundled yet: {', '.join(missing)})")


def bench_costs() -> None:
    """``convcalc costs`` on every bundled network: in-process and one whole process each."""
    import time

    from convcalc.analysis import summarise
    from convcalc.spec.validate import bundled_specs
    from convcalc.views.costs import compare

    names = [n for n in bundled_specs() if n != "five-stages"]  # five-stages has unknowns

    def every() -> None:
        for name in names:
            compare(summarise(name))

    t_all = best_of(every, 3)
    start = time.perf_counter()
    for name in names:
        subprocess.run([*convcalc_command(), "costs", name], capture_output=True, check=True)
    t_processes = time.perf_counter() - start
    print(
        f"costs on {len(names)} bundled networks, four conventions each: {t_all * 1e3:.0f} ms "
        f"in-process; {t_processes:.2f} s as {len(names)} whole processes"
    )


if __name__ == "__main__":
    if not have_torchinfo():
        print("torch, torchvision and torchinfo are needed for this benchmark")
        raise SystemExit(0)
    print(machine_note())
    print(f"== whole process, {RUNS} interleaved runs each ==")
    bench_process()
    bench_process("--rf")
    print("== the biggest zoo networks, whole process ==")
    bench_biggest()
    print("== convcalc costs ==")
    bench_costs()
    print("== in-process, imports paid (best of 3-5) ==")
    bench_in_process()
