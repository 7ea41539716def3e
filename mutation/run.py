"""The mutation check: does the test suite catch a deliberate bug?

Each mutation in :mod:`mutations` (beside this file) replaces one snippet of one module with a
plausible mistake — a floor for a ceiling, a dropped term, a swapped pair, a forgotten argument.
For each, the repository's files as they are in the working tree (tracked, and new ones git
does not ignore) are copied into a fresh folder, the snippet is replaced there (it must occur
exactly once: a mutation whose snippet has gone is reported *stale*, so the list cannot rot
silently), and the default ``pytest`` runs in that copy until its first failure. A failing run
kills the mutation; a passing one means no test notices that bug: it *survives*. A mutation
known to change nothing a user can see is listed with ``equivalent`` and its reason; it is
checked to apply but not run, and not counted.

Run from the repository's root::

    python mutation/run.py                 # every mutation; the score at the end
    python mutation/run.py --list          # the mutations, one a line
    python mutation/run.py softplus-beta   # some of them, by name

The suite runs first without a mutation: it must pass, else nothing is run (exit code 2), since
every mutation would be "killed" by a test that fails anyway. The score is killed / (all −
equivalent); exit code 0 when every counted mutation is killed, 1 otherwise, 2 when a mutation
is stale or a run is *broken* (errors and no failure: the copied suite could not be collected —
a test importing a file git ignores, say — which proves nothing, so it is not counted as
killed). It takes about a minute a mutation (the suite is stopped at its first failure; a
survivor runs it whole), so it is run on demand, not in CI.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from mutations import MUTATIONS, Mutation

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 1800  # seconds: ten times the default suite's run


def tracked_copy(folder: Path) -> None:
    """The repository's files as they are in the working tree, copied into ``folder``: the
    tracked ones and the new ones git does not ignore (a test written but not yet committed
    counts), without the ignored caches and builds."""
    names = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for raw in names:
        if not raw:
            continue
        name = raw.decode()
        source, target = ROOT / name, folder / name
        if source.is_symlink():
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(os.readlink(source))
        elif source.is_file():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def apply(mutation: Mutation, folder: Path) -> bool:
    """Replace the mutation's snippet in the copy; False if it does not occur exactly once."""
    path = folder / mutation.file
    text = path.read_text(encoding="utf-8")
    if text.count(mutation.old) != 1:
        return False
    path.write_text(text.replace(mutation.old, mutation.new), encoding="utf-8")
    return True


def run_tests(folder: Path) -> tuple[bool, str]:
    """The default pytest in the copy, stopped at the first failure: (passed, its last line)."""
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "HYPOTHESIS_PROFILE")}
    env["PYTHONPATH"] = str(folder)  # the copy's convcalc, not the installed one
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider"],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=TIMEOUT,
        )
    except subprocess.TimeoutExpired:  # a mutant that hangs the suite is caught too
        return False, f"the suite did not end within {TIMEOUT} s"
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    return done.returncode == 0, lines[-1] if lines else done.stderr.strip()[-200:]


def baseline_passes(base: Path, folder: Path) -> bool:
    """The suite run on the copy without a mutation (in ``folder``): it must pass, or every
    mutation would be "killed" by a test that fails anyway (a file half edited when it was
    copied, say); if it fails, said, and nothing is run."""
    shutil.copytree(base, folder, symlinks=True)
    start = time.monotonic()
    passed, last = run_tests(folder)
    shutil.rmtree(folder)
    print(f"{'baseline':9} {'(no mutation)':28} {time.monotonic() - start:5.0f} s  {last}")
    if not passed:
        print("the suite fails without a mutation: fix it (or wait for the edit) first")
    return passed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="mutations to run (default: all)")
    parser.add_argument("--list", action="store_true", help="list the mutations and stop")
    args = parser.parse_args()
    chosen = [m for m in MUTATIONS if not args.names or m.name in args.names]
    if args.list:
        for m in chosen:
            mark = " (equivalent)" if m.equivalent else ""
            print(f"{m.name:28} {m.file}: {m.why}{mark}")
        return 0
    unknown = set(args.names) - {m.name for m in MUTATIONS}
    if unknown:
        print(f"unknown mutations: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    killed = survived = stale = broken = 0
    with tempfile.TemporaryDirectory(prefix="convcalc-mutant-") as tmp:
        base = Path(tmp) / "base"
        tracked_copy(base)
        if not baseline_passes(base, Path(tmp) / "unmutated"):
            return 2
        for m in chosen:
            folder = Path(tmp) / m.name
            shutil.copytree(base, folder, symlinks=True)
            start = time.monotonic()
            applied = apply(m, folder)
            if not applied or m.equivalent:
                shutil.rmtree(folder)
            if not applied:
                stale += 1
                print(f"STALE     {m.name}: the snippet no longer occurs once in {m.file}")
                continue
            if m.equivalent:  # explained, not run
                print(f"{'equiv':9} {m.name:28}        {m.equivalent}")
                continue
            passed, last = run_tests(folder)
            took = time.monotonic() - start
            if passed:
                survived += 1
                verdict = "SURVIVED"
            elif " failed" not in last and " error" in last:  # the suite could not even run
                broken += 1
                verdict = "BROKEN"
            else:
                killed += 1
                verdict = "killed"
            print(f"{verdict:9} {m.name:28} {took:5.0f} s  {last}", flush=True)
            shutil.rmtree(folder)
    counted = killed + survived
    score = f"{killed}/{counted} killed ({100 * killed / counted:.0f} %)" if counted else "none"
    print(f"\nmutation score: {score}; {stale} stale, {broken} broken")
    return 2 if stale or broken else 0 if survived == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
