"""Timing helpers shared by the benchmarks (run them as scripts: this folder is on sys.path)."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path


def best_of(fn: Callable[[], object], repeat: int = 5) -> float:
    """The fastest of ``repeat`` in-process runs, in seconds."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def run_once(cmd: Sequence[str], env: dict[str, str] | None = None) -> float:
    """The wall time of one whole process, its output discarded, in seconds."""
    start = time.perf_counter()
    subprocess.run(cmd, stdout=subprocess.DEVNULL, check=True, env=env)
    return time.perf_counter() - start


def process_time(cmd: list[str], runs: int = 21) -> float:
    """The median wall time of a whole process, in seconds."""
    return statistics.median(run_once(cmd) for _ in range(runs))


def interleaved(
    cmds: Sequence[Sequence[str]],
    runs: int = 21,
    warmup: int = 1,
    env: dict[str, str] | None = None,
) -> list[list[float]]:
    """Wall times of whole processes run in turn (a, b, a, b, ...), so that drift in the
    machine's load hits every command alike; ``warmup`` untimed rounds first."""
    for _ in range(warmup):
        for cmd in cmds:
            run_once(cmd, env)
    times: list[list[float]] = [[] for _ in cmds]
    for _ in range(runs):
        for cmd, bucket in zip(cmds, times, strict=True):
            bucket.append(run_once(cmd, env))
    return times


def bytecode_env(cache: Path) -> dict[str, str]:
    """This environment with compiled bytecode kept under ``cache`` (PYTHONPYCACHEPREFIX), as
    for an installed package: with PYTHONDONTWRITEBYTECODE set and an editable install, every
    process compiles convcalc's sources again, which an installed wheel never does."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(cache)
    return env


def machine_note() -> str:
    """The load average, since a busy machine slows every process (ratios suffer less)."""
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores"


def convcalc_command() -> list[str]:
    """The ``convcalc`` console script of this interpreter's environment, as a user runs it."""
    script = Path(sys.executable).parent / "convcalc"
    if script.exists():
        return [str(script)]
    found = shutil.which("convcalc")
    return [found] if found else [sys.executable, "-m", "convcalc"]
