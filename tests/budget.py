"""How many examples a property test draws: many in CI (CI=true), few on a developer's machine.

The default ``pytest`` stays within seconds; CI runs the long profile. Tests that fix their own
number use :func:`examples`, so that it scales the same way.
"""

from __future__ import annotations

import os

CI = bool(os.environ.get("CI"))


def examples(in_ci: int) -> int:
    """``in_ci`` in CI, a tenth of it (at least 10) elsewhere."""
    return in_ci if CI else max(10, in_ci // 10)
