"""How much the tests run: the quick default set, or the full set (CI, ``pytest --full``).

The default ``pytest`` is the edit-test loop: a sample of the suite that runs in under 30
seconds on two cores, still importing and exercising every module of the package. The full run
— CI, where ``CI`` is set (``.ci/run`` sets it), or ``pytest --full`` on a developer's machine —
runs everything. One mechanism decides what the default leaves out:

* a test (or a parameter) marked ``@pytest.mark.full`` is deselected unless the run is full
  (tests/conftest.py): a test that takes more than ~0.3 s, compiles LaTeX, starts Chromium or
  ruff, or builds torchvision models is marked, but for one representative of its kind
  (one Chromium rendering, one pdflatex compilation);
* Keras, the oracle of the Keras dialect, runs in the full run only: in the quick run,
  importing it skips the test (tests/conftest.py; tests/keras_oracle.py imports it at first
  use, so a Keras test module's other tests still run);
* a parametrized test runs its first parameter set by default, the others only in the full run
  (:func:`first_cases`), unless it is marked ``@pytest.mark.every_case``;
* a test over the bundled specs takes :func:`spec_params`: by default only :data:`QUICK_SPECS`;
* a property test draws Hypothesis' ``dev`` profile (5 examples) by default and the ``ci``
  profile (1,000) in the full run; a test that fixes its own number uses :func:`examples`;
* :data:`FULL` is for what no marker can say (a loop inside one test).

:data:`CI` says only that this is CI, where every tool must be installed (pdflatex, Chromium):
a missing one fails there instead of skipping.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

import pytest

CI = bool(os.environ.get("CI"))
# the full run: CI, or ``pytest --full`` (tests/conftest.py sets it before any test module is
# imported, so ``from tests.budget import FULL`` at a module's top reads the final value)
FULL = CI

# the bundled specs a default run takes where a test goes over all of them: a plain CNN, a
# residual net, a transformer, a U-Net (skip concatenations, upsampling); the full run takes
# every bundled spec
QUICK_SPECS = frozenset({"hw3-q3", "resnet18", "vit_b_32", "unet"})


def first_cases(items: list[pytest.Item]) -> None:
    """Marks ``full`` every parameter set of a parametrized test but its first one not marked
    ``full`` already (in collection order: as written), unless the test is marked ``every_case``
    (its cases are the point and cheap); tests without parameters keep their marks."""
    taken: set[tuple[str, str]] = set()
    for item in items:
        if not hasattr(item, "callspec") or item.get_closest_marker("full") is not None:
            continue
        if item.get_closest_marker("every_case") is not None:
            continue
        key = (item.parent.nodeid if item.parent else "", getattr(item, "originalname", item.name))
        if key in taken:
            item.add_marker(pytest.mark.full)
        else:
            taken.add(key)


def examples(in_ci: int) -> int:
    """``in_ci`` in the full run; a two-hundredth of it (at least 3) by default."""
    return in_ci if FULL else max(3, in_ci // 200)


def spec_params(cases: Iterable[Any], quick: Iterable[str] = QUICK_SPECS) -> list[Any]:
    """``cases`` as pytest parameters, those whose spec is not in ``quick`` marked ``full``. A
    case is a spec's name, a path whose stem is the name, or a tuple of values for several
    arguments that starts with one of those; the ids are pytest's own, as for the bare cases."""
    keep = frozenset(quick)
    params = []
    for case in cases:
        values = case if isinstance(case, tuple) else (case,)
        marks = () if getattr(values[0], "stem", values[0]) in keep else (pytest.mark.full,)
        params.append(pytest.param(*values, marks=marks))
    return params
