"""How much the tests run: the quick default set, or the full set (CI, ``pytest --full``).

The default ``pytest`` is the edit-test loop: a sample of the suite, a fraction of its time. The
full run — CI, where ``CI`` is set (``.ci/run`` sets it), or ``pytest --full`` on a developer's
machine — runs everything. One mechanism decides what the default leaves out:

* a test (or a parameter) marked ``@pytest.mark.full`` is skipped unless the run is full
  (tests/conftest.py);
* a test over the bundled specs takes :func:`spec_params`: by default only :data:`QUICK_SPECS`;
* a property test draws Hypothesis' ``dev`` profile (a few examples) by default and the ``ci``
  profile (2,000) in the full run; a test that fixes its own number uses :func:`examples`;
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


def examples(in_ci: int) -> int:
    """``in_ci`` in the full run; a fiftieth of it (at least 5) by default."""
    return in_ci if FULL else max(5, in_ci // 50)


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
