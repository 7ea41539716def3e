"""Speed of ``convcalc solve``, as ratios against baselines run in the same process.

1. ``--count`` for in=2048, out=16, kernel 1..2080, stride 1..140, padding 0..16, dilation 1..4:
   the whole ``convcalc`` process against an in-process brute force that tries each of the
   19.8 million points with the size formula.
2. in=8192, out=64, padding 0..64, dilation 1..8: counted (whole process), and listed as CSV
   to /dev/null (solutions per second, and the peak memory of the process).
3. Start-up of ``convcalc solve`` against ``python -c "import click"``.
4. A stack with six unknowns over ranges of ten values.
5. ``convcalc solve unet --input 3,1..1024,1..1024 --count``: every input size up to 1024×1024
   the bundled U-Net accepts (whole process).

Run: ``python benchmarks/bench_solve.py``. Nothing here is asserted; it prints.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

from timing import convcalc_command, machine_note, process_time

PY = sys.executable
SOLVE = [*convcalc_command(), "solve"]


def brute_force_count(n: int, m: int, ks: range, ss: range, ps: range, ds: range) -> int:
    """Every point of the space tried with PyTorch's formula, as a script would."""
    found = 0
    for d in ds:
        for p in ps:
            for k in ks:
                k_eff = d * (k - 1) + 1
                for s in ss:
                    if n + 2 * p >= k_eff and (n + 2 * p - k_eff) // s + 1 == m:
                        found += 1
    return found


def conv_out(n: int, k: int, s: int, p: int, d: int) -> int | None:
    """PyTorch's conv size rule, as a script would write it (None where torch refuses)."""
    k_eff = d * (k - 1) + 1
    return None if n + 2 * p < k_eff else (n + 2 * p - k_eff) // s + 1


def brute_force_count_with_function(
    n: int, m: int, ks: range, ss: range, ps: range, ds: range
) -> int:
    """The usual script: every point through the size function."""
    return sum(1 for d in ds for p in ps for k in ks for s in ss if conv_out(n, k, s, p, d) == m)


def bench_count_vs_brute() -> None:
    args = [
        "--in",
        "2048",
        "--out",
        "16",
        "--kernel",
        "1..2080",
        "--stride",
        "1..140",
        "--padding",
        "0..16",
        "--dilation",
        "1..4",
        "--count",
        "--format",
        "csv",
    ]
    out = subprocess.run([*SOLVE, *args], capture_output=True, text=True, check=True).stdout
    t_cli = process_time([*SOLVE, *args])
    start = time.perf_counter()
    found = brute_force_count(2048, 16, range(1, 2081), range(1, 141), range(17), range(1, 5))
    t_brute = time.perf_counter() - start
    start = time.perf_counter()
    found_f = brute_force_count_with_function(
        2048, 16, range(1, 2081), range(1, 141), range(17), range(1, 5)
    )
    t_brute_f = time.perf_counter() - start
    print(
        f"count 2048→16 over 19,801,600 points: convcalc {out.strip()} in {t_cli * 1e3:.0f} ms "
        "(whole process)\n"
        f"  brute force through a size function: {found_f:,} in {t_brute_f:.2f} s: "
        f"{t_brute_f / t_cli:.0f}× convcalc's time\n"
        f"  brute force with the formula inlined: {found:,} in {t_brute:.2f} s: "
        f"{t_brute / t_cli:.0f}× convcalc's time"
    )


def bench_big() -> None:
    args = ["--in", "8192", "--out", "64", "--padding", "0..64", "--dilation", "1..8"]
    out = subprocess.run(
        [*SOLVE, *args, "--count", "--format", "csv"], capture_output=True, text=True, check=True
    ).stdout
    t_count = process_time([*SOLVE, *args, "--count", "--format", "csv"])
    total = int(out)
    t_list, rss_big = timed_with_rss([*SOLVE, *args, "--format", "csv"])
    t_small, rss_small = timed_with_rss([*SOLVE, "--in", "64", "--out", "4", "--format", "csv"])
    print(
        f"8192→64: {total:,} solutions counted in {t_count:.2f} s (whole process); "
        f"listed as CSV in {t_list:.2f} s = {total / t_list:,.0f} solutions/s; "
        f"peak memory {rss_big:.0f} MB (listing 171 solutions: {rss_small:.0f} MB, "
        f"{t_small:.2f} s)"
    )


def timed_with_rss(cmd: list[str]) -> tuple[float, float]:
    """Wall time and peak resident memory (MB) of one command, measured in a fresh child."""
    probe = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, check=True)\n"
        "print(time.perf_counter() - t, "
        "resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)\n"
    )
    out = subprocess.run([PY, "-c", probe, *cmd], capture_output=True, text=True, check=True)
    seconds, mb = out.stdout.split()
    return float(seconds), float(mb)


def bench_startup() -> None:
    t_solve = process_time([*SOLVE, "--in", "64", "--out", "4", "--count"], 21)
    t_click = process_time([PY, "-c", "import click"], 21)
    print(
        f"start-up: convcalc solve {t_solve * 1e3:.0f} ms, import click {t_click * 1e3:.0f} ms:"
        f" ratio {t_solve / t_click:.2f}"
    )


def bench_stack() -> None:
    spec = """input: [3, 224, 224]
layers:
  - {type: conv, out_channels: 8, kernel_size: "1..10", stride: "1..10", padding: 0}
  - {type: maxpool, kernel_size: 2, stride: "1..10"}
  - {type: conv, out_channels: 8, kernel_size: 3, stride: "1..10", padding: "0..9"}
  - {type: conv, out_channels: 8, kernel_size: 3, stride: "1..10", padding: 1}
"""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "six.yaml"
        path.write_text(spec, encoding="utf-8")
        from convcalc.solve.stack import solve_stack

        start = time.perf_counter()
        result = solve_stack(str(path), (7,))
        listed = sum(1 for _ in result.solutions)
        t_lib = time.perf_counter() - start
        t_cli = process_time([*SOLVE, str(path), "--out", "7", "--format", "csv"], 3)
        start = time.perf_counter()
        brute = 0
        for k0 in range(1, 11):
            for s0 in range(1, 11):
                a = (224 - k0) // s0 + 1
                for s1 in range(1, 11):
                    b = (a - 2) // s1 + 1 if a >= 2 else 0
                    if b < 1:
                        continue
                    for s2 in range(1, 11):
                        for p2 in range(10):
                            c = (b + 2 * p2 - 3) // s2 + 1 if b + 2 * p2 >= 3 else 0
                            if c < 1:
                                continue
                            for s3 in range(1, 11):
                                if (c + 2 - 3) // s3 + 1 == 7:
                                    brute += 1
        t_brute = time.perf_counter() - start
    print(
        f"stack, six unknowns over ten values (10^6 assignments): {result.count} solutions "
        f"({listed} listed) in {t_lib * 1e3:.0f} ms in-process, {t_cli * 1e3:.0f} ms whole "
        f"process; a brute force with the formulas inlined: {t_brute * 1e3:.0f} ms "
        f"({brute} solutions)"
    )


def bench_unet_inputs() -> None:
    args = ["unet", "--input", "3,1..1024,1..1024", "--count"]
    out = subprocess.run([*SOLVE, *args], capture_output=True, text=True, check=True).stdout
    t_cli = process_time([*SOLVE, *args], 5)
    print(
        f"convcalc solve {' '.join(args)}: {t_cli * 1e3:.0f} ms whole process (median of 5); "
        f"{out.splitlines()[0]}"
    )


if __name__ == "__main__":
    print(machine_note())
    bench_unet_inputs()
    bench_count_vs_brute()
    bench_big()
    bench_startup()
    bench_stack()
