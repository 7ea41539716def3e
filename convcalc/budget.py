"""The one work budget: how many steps any search may take before it stops and says so.

Every loop whose length a user's input sets (the solvers' trials, the input-size search, lint's
trial sizes, counting) spends from a :class:`Budget` and stops with :class:`WorkLimit` — exit
code 2 and a message naming what to narrow — instead of running for minutes or taking the
machine's memory. A step is a small, bounded piece of work (one trial of a layer, one setting
examined); the limits are sized so that a search that reaches one has taken about a second.
"""

from __future__ import annotations

from convcalc.errors import ConvcalcError

STEPS = 1_000_000  # the default budget: about a second of the slowest search's steps


class WorkLimit(ConvcalcError):
    """A search that would take too long; the message says what to narrow."""


class Budget:
    """Steps a search may still take. :meth:`spend` raises :class:`WorkLimit` past ``limit``.

    ``what`` completes the message: "the search passed 1,000,000 steps: ``what``".
    """

    def __init__(self, limit: int = STEPS, what: str = "narrow the ranges") -> None:
        self.limit, self.what, self.spent = limit, what, 0

    def spend(self, steps: int = 1) -> None:
        """Take ``steps`` steps, or raise :class:`WorkLimit` if that passes the limit."""
        self.spent += steps
        if self.spent > self.limit:
            raise WorkLimit(f"the search passed {self.limit:,} steps: {self.what}")

    def reset(self) -> None:
        """Start again from no steps taken: a budget of the steps between two solutions."""
        self.spent = 0

    def allows(self, steps: int) -> bool:
        """Whether ``steps`` more steps fit, without taking them (to refuse a search whose size
        is known before it starts)."""
        return self.spent + steps <= self.limit
