"""Numerical checks of the homework's Question 1 identities and of one MLP's backpropagation.

Each identity is evaluated at many random points (seeded) over a wide range and reported with
its worst error; derivatives are compared with central finite differences, an oracle that does
not share code with the formula it checks. The CLI (``convcalc identities``, ``convcalc mlp``)
only formats what these functions return.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Callable
from dataclasses import dataclass

from convcalc import reference as ref

H = 1e-5  # central-difference step for the derivative checks


@dataclass(frozen=True)
class Check:
    """One identity: its statement, the question it answers, and how well it held."""

    question: str
    statement: str
    worst: float
    tolerance: float
    points: int
    kind: str = "error"  # "error": worst must be ≤ tolerance; "gap": worst must be ≥ tolerance

    @property
    def ok(self) -> bool:
        return (
            self.worst <= self.tolerance if self.kind == "error" else self.worst >= self.tolerance
        )


def _rel(a: float, b: float) -> float:
    return abs(a - b) / max(1.0, abs(a), abs(b))


def _numeric(f: Callable[[float], float], x: float) -> float:
    return (f(x + H) - f(x - H)) / (2 * H)


def _vector(rng: random.Random, n: int, scale: float) -> list[float]:
    return [rng.uniform(-scale, scale) for _ in range(n)]


def identities(points: int = 1000, seed: int = 0) -> list[Check]:
    """Every Question 1 identity at ``points`` random points; see each Check's statement."""
    rng = random.Random(seed)
    wide = [rng.uniform(-1000, 1000) for _ in range(points // 2)]
    wide += [rng.uniform(-30, 30) for _ in range(points - len(wide))]
    moderate = [x for x in wide if abs(x) <= 30]
    vectors = [
        _vector(rng, rng.randint(2, 12), rng.choice([1, 10, 100, 1000])) for _ in range(points)
    ]
    small = [_vector(rng, rng.randint(2, 8), 5) for _ in range(points)]
    checks = [
        Check(
            "1.A",
            "relu'(x) = 1[x > 0] (finite differences away from 0)",
            max(_rel(ref.relu_grad(x), _numeric(ref.relu, x)) for x in wide if abs(x) > H),
            1e-6,
            len(wide),
        ),
        Check(
            "1.B",
            "σ'(x) = σ(x)(1 − σ(x)) (finite differences)",
            max(_rel(ref.sigmoid_grad(x), _numeric(ref.sigmoid, x)) for x in wide),
            1e-8,
            len(wide),
        ),
        Check(
            "1.C",
            "σ(x) = ½(tanh(x/2) + 1)",
            max(_rel(ref.sigmoid(x), 0.5 * (ref.tanh(x / 2) + 1)) for x in wide),
            1e-14,
            len(wide),
        ),
        Check(
            "1.D",
            "log σ(x) = −softplus(−x)",
            max(_rel(math.log(ref.sigmoid(x)), -ref.softplus(-x)) for x in moderate),
            1e-12,
            len(moderate),
        ),
        Check(
            "1.E",
            "softplus(x) − softplus(−x) = x",
            max(_rel(ref.softplus(x) - ref.softplus(-x), x) for x in wide),
            1e-13,
            len(wide),
        ),
        Check(
            "1.F",
            "sign(x) = 1[x > 0] − 1[x < 0]",
            max(abs(ref.sign(x) - ((x > 0) - (x < 0))) for x in [*wide, 0.0]),
            0.0,
            len(wide) + 1,
        ),
        Check(
            "1.G",
            "∇‖x‖₂² = 2x (finite differences)",
            max(
                _grad_error(lambda v: math.fsum(t * t for t in v), ref.l2_squared_grad, v)
                for v in small
            ),
            1e-7,
            len(small),
        ),
        Check(
            "1.H",
            "∇‖x‖₁ = sign(x) (finite differences)",
            max(_grad_error(lambda v: math.fsum(abs(t) for t in v), ref.l1_grad, v) for v in small),
            1e-7,
            len(small),
        ),
        Check(
            "1.I",
            "softmax(c·x) ≠ softmax(x) for c ≠ 1 (smallest gap, x not constant)",
            min(_scale_gap(v, rng.choice([0.5, 2.0, 3.0])) for v in small),
            1e-6,
            len(small),
            kind="gap",
        ),
        Check(
            "1.J",
            "softmax(x + c) = softmax(x)",
            max(
                _max_abs(ref.softmax(v), ref.softmax([t + c for t in v]))
                for v, c in ((v, rng.uniform(-1000, 1000)) for v in vectors)
            ),
            1e-12,
            len(vectors),
        ),
        Check(
            "1.K/L",
            "∂S/∂x = diag(S) − S·Sᵀ (finite differences)",
            max(_jacobian_error(v) for v in small),
            1e-8,
            len(small),
        ),
        Check(
            "1.M",
            "softmax VJP: Jᵀg = S ⊙ (g − (S·g)·1), O(n)",
            max(_vjp_error(ref.softmax_jacobian, ref.softmax_vjp, v, rng) for v in vectors),
            1e-12,
            len(vectors),
        ),
        Check(
            "1.M",
            "sigmoid VJP: Jᵀg = σ'(x) ⊙ g, O(n)",
            max(_vjp_error(ref.sigmoid_jacobian, ref.sigmoid_vjp, v, rng) for v in vectors),
            1e-15,
            len(vectors),
        ),
    ]
    return checks


def _max_abs(a: list[float], b: list[float]) -> float:
    return max(abs(x - y) for x, y in zip(a, b, strict=True))


def _scale_gap(v: list[float], c: float) -> float:
    return _max_abs(ref.softmax(v), ref.softmax([c * t for t in v]))


def _grad_error(
    f: Callable[[list[float]], float], grad: Callable[[list[float]], list[float]], v: list[float]
) -> float:
    analytic = grad(v)
    worst = 0.0
    for i in range(len(v)):
        up, down = list(v), list(v)
        up[i] += H
        down[i] -= H
        worst = max(worst, _rel(analytic[i], (f(up) - f(down)) / (2 * H)))
    return worst


def _jacobian_error(v: list[float]) -> float:
    jac = ref.softmax_jacobian(v)
    worst = 0.0
    for j in range(len(v)):
        up, down = list(v), list(v)
        up[j] += H
        down[j] -= H
        column = [
            (a - b) / (2 * H) for a, b in zip(ref.softmax(up), ref.softmax(down), strict=True)
        ]
        worst = max(worst, max(abs(jac[i][j] - column[i]) for i in range(len(v))))
    return worst


def _vjp_error(
    jacobian: Callable[[list[float]], list[list[float]]],
    vjp: Callable[[list[float], list[float]], list[float]],
    v: list[float],
    rng: random.Random,
) -> float:
    g = _vector(rng, len(v), 1.0)
    jac = jacobian(v)
    full = [math.fsum(jac[i][j] * g[i] for i in range(len(v))) for j in range(len(v))]
    return _max_abs(full, vjp(v, g))


def _shape(value: list[float] | list[list[float]]) -> tuple[int, ...]:
    first = value[0]
    return (len(value), len(first)) if isinstance(first, list) else (len(value),)


@dataclass(frozen=True)
class MLPReport:
    """One forward/backward pass of a random MLP and its gradient check."""

    sizes: tuple[int, int, int]
    alpha: float
    seed: int
    num_params: int
    loss: float
    label: int
    shapes: dict[str, tuple[int, ...]]
    errors: dict[str, float]
    checked: int
    tolerance: float = 1e-4

    @property
    def ok(self) -> bool:
        return all(error <= self.tolerance for error in self.errors.values())

    def to_json(self) -> str:
        d, d_h, d_o = self.sizes
        return json.dumps(
            {
                "inputs": d,
                "hidden": d_h,
                "classes": d_o,
                "alpha": self.alpha,
                "seed": self.seed,
                "num_params": self.num_params,
                "loss": self.loss,
                "label": self.label,
                "gradient_shapes": {k: list(v) for k, v in self.shapes.items()},
                "gradient_check": {
                    "max_relative_error": self.errors,
                    "max_entries_per_group": self.checked,
                    "tolerance": self.tolerance,
                },
            },
            indent=2,
        )

    def table(self) -> str:
        d, d_h, d_o = self.sizes
        shapes = ", ".join(f"∂L/∂{k} {'×'.join(map(str, v))}" for k, v in self.shapes.items())
        lines = [
            f"MLP d={d} → d_h={d_h} (ELU α={self.alpha:g}) → d_o={d_o} (softmax), seed {self.seed}",
            f"parameters: d_h·d + d_h + d_o·d_h + d_o = {d_h}·{d} + {d_h} + {d_o}·{d_h} + {d_o}"
            f" = {self.num_params:,}",
            f"loss −log o_s[y] for a random input, y = {self.label}: {self.loss:.6f}",
            f"gradient shapes: {shapes}",
            "",
            f"gradient check (up to {self.checked} entries per group, central differences,"
            " ε = 1e-6)",
            f"  {'group':<6} {'max relative error':>20}",
        ]
        lines += [
            f"  {name:<6} {error:>20.2e}  {'ok' if error <= self.tolerance else 'FAIL'}"
            for name, error in self.errors.items()
        ]
        return "\n".join(lines)


def identities_json(results: list[Check]) -> str:
    return json.dumps(
        [
            {
                "question": c.question,
                "statement": c.statement,
                "worst": c.worst,
                "tolerance": c.tolerance,
                "kind": c.kind,
                "points": c.points,
                "ok": c.ok,
            }
            for c in results
        ],
        indent=2,
        ensure_ascii=False,
    )


def identities_table(results: list[Check], points: int, seed: int) -> str:
    lines = [f"{'Q':<6} {'worst':>9}  {'':4} identity ({points} random points, seed {seed})"]
    for c in results:
        bound = f"gap ≥ {c.tolerance:g}" if c.kind == "gap" else f"error ≤ {c.tolerance:g}"
        lines.append(
            f"{c.question:<6} {c.worst:>9.1e}  {'ok' if c.ok else 'FAIL':<4} {c.statement}"
            f"  [{bound}]"
        )
    return "\n".join(lines)


def mlp_report(
    d: int, d_h: int, d_o: int, seed: int = 0, alpha: float = 1.0, max_entries: int = 64
) -> MLPReport:
    """A seeded random MLP and input: gradients' shapes and the worst finite-difference error."""
    model = ref.MLP.random(d, d_h, d_o, seed=seed, alpha=alpha)
    rng = random.Random(seed + 1)
    x = [rng.gauss(0.0, 1.0) for _ in range(d)]
    y = rng.randrange(d_o)
    g = model.gradients(x, y)
    shapes = {
        name: _shape(getattr(g, name))
        for name in ("o_a", "W2", "b2", "h_s", "h_a", "W1", "b1", "x")
    }
    errors = ref.gradient_check(model, x, y, eps=1e-6, max_entries=max_entries, seed=seed)
    return MLPReport(
        (d, d_h, d_o), alpha, seed, model.num_params, g.loss, y, shapes, errors, max_entries
    )
