"""The mathematics of the homework's Questions 1 and 2, in pure Python.

Activations, their derivatives, the softmax Jacobian and its O(n) vector-Jacobian product, the
gradients of the L1 and L2 norms, and a one-hidden-layer MLP (ELU hidden layer, softmax output,
cross-entropy loss) with backpropagation written out line by line, to be read next to the
derivation. Scalars are floats, vectors lists of floats, matrices lists of rows. No NumPy.

Every function is numerically stable for finite inputs up to |x| = 1e4: nothing overflows,
raises or returns NaN (``math.exp(710)`` raises in Python, so no unbounded argument is ever
exponentiated). Conventions at the kinks follow PyTorch's autograd: relu'(0) = 0, sign(0) = 0,
ELU'(0) = α.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from operator import mul

Vector = list[float]
Matrix = list[list[float]]


def _dot(a: Sequence[float], b: Sequence[float]) -> float:
    """Σᵢ aᵢ·bᵢ."""
    return float(sum(map(mul, a, b)))


# --- Question 1: scalar functions -----------------------------------------------------------


def relu(x: float) -> float:
    """relu(x) = max(0, x) (NaN stays NaN, as in PyTorch)."""
    return x if x > 0 or math.isnan(x) else 0.0


def relu_grad(x: float) -> float:
    """relu'(x) = 1 if x > 0 else 0 (0 at the kink, as autograd; Q1.A)."""
    return 1.0 if x > 0 else 0.0


def sigmoid(x: float) -> float:
    """σ(x) = 1 / (1 + e⁻ˣ), computed as eˣ / (1 + eˣ) for x < 0 so nothing overflows."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def sigmoid_grad(x: float) -> float:
    """σ'(x) = σ(x)·(1 − σ(x)) (Q1.B)."""
    s = sigmoid(x)
    return s * (1.0 - s)


def tanh(x: float) -> float:
    """tanh(x) = (eˣ − e⁻ˣ) / (eˣ + e⁻ˣ) = 2σ(2x) − 1 (Q1.C)."""
    return math.tanh(x)


def softplus(x: float) -> float:
    """softplus(x) = log(1 + eˣ) = max(x, 0) + log1p(e^−|x|) (Q1.D, Q1.E)."""
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


def sign(x: float) -> float:
    """sign(x) = 1[x > 0] − 1[x < 0]; sign(0) = 0 (Q1.F)."""
    return float((x > 0) - (x < 0))


def elu(x: float, alpha: float = 1.0) -> float:
    """ELU_α(x) = x if x > 0 else α·(eˣ − 1) (Q2.A); expm1 keeps small x exact."""
    return x if x > 0 else alpha * math.expm1(x)


def elu_grad(x: float, alpha: float = 1.0) -> float:
    """ELU_α'(x) = 1 if x > 0 else α·eˣ; α at 0, the left branch, as autograd (Q2.L)."""
    return 1.0 if x > 0 else alpha * math.exp(x)


# --- Question 1: vector functions -----------------------------------------------------------


def _shift(x: Sequence[float]) -> float:
    """m = max x, the shift that keeps every exponent ≤ 0 (NaN if any xⱼ is NaN)."""
    if not x:
        raise ValueError("needs at least one value")
    return math.nan if any(math.isnan(v) for v in x) else max(x)


def logsumexp(x: Sequence[float]) -> float:
    """log Σⱼ e^xⱼ = m + log Σⱼ e^(xⱼ − m) with m = max x (translation invariance, Q1.J).

    As PyTorch: NaN if any xⱼ is NaN, +∞ if any is +∞, −∞ if all are −∞."""
    m = _shift(x)
    if math.isinf(m) or math.isnan(m):
        return m
    return m + math.log(math.fsum(math.exp(v - m) for v in x))


def log_softmax(x: Sequence[float]) -> Vector:
    """log softmax(x)ᵢ = (xᵢ − m) − log Σⱼ e^(xⱼ − m): shifted before anything is added, so
    that [1e16, 1e16] gives −log 2 each (xᵢ − logsumexp(x) would lose it to rounding).
    As PyTorch: all NaN when m is NaN or infinite."""
    m = _shift(x)
    if math.isinf(m) or math.isnan(m):
        return [math.nan] * len(x)
    log_total = math.log(math.fsum(math.exp(v - m) for v in x))
    return [(v - m) - log_total for v in x]


def softmax(x: Sequence[float]) -> Vector:
    """softmax(x)ᵢ = e^xᵢ / Σⱼ e^xⱼ, computed with the maximum subtracted (Q1.J, Q2.C).
    As PyTorch: all NaN when the maximum is NaN or infinite."""
    m = _shift(x)
    if math.isinf(m) or math.isnan(m):
        return [math.nan] * len(x)
    e = [math.exp(v - m) for v in x]
    total = math.fsum(e)
    return [v / total for v in e]


def softmax_jacobian(x: Sequence[float]) -> Matrix:
    """∂sᵢ/∂xⱼ = sᵢ·(1[i = j] − sⱼ), i.e. J = diag(s) − s·sᵀ (Q1.K, Q1.L)."""
    s = softmax(x)
    return [
        [si * ((1.0 if i == j else 0.0) - sj) for j, sj in enumerate(s)] for i, si in enumerate(s)
    ]


def softmax_vjp(x: Sequence[float], g: Sequence[float]) -> Vector:
    """Jᵀg = s ⊙ (g − (s·g)·1), in O(n) without forming J (Q1.M)."""
    _same_length(x, g, "x", "g")
    s = softmax(x)
    sg = _dot(s, g)
    return [si * (gi - sg) for si, gi in zip(s, g, strict=True)]


def sigmoid_jacobian(x: Sequence[float]) -> Matrix:
    """∂σ(x)ᵢ/∂xⱼ = σ'(xᵢ)·1[i = j]: diagonal, written out in full (Q1.M)."""
    return [[sigmoid_grad(v) if i == j else 0.0 for j in range(len(x))] for i, v in enumerate(x)]


def sigmoid_vjp(x: Sequence[float], g: Sequence[float]) -> Vector:
    """Jᵀg = σ'(x) ⊙ g, a Hadamard product in O(n) (Q1.M)."""
    _same_length(x, g, "x", "g")
    return [sigmoid_grad(v) * gi for v, gi in zip(x, g, strict=True)]


def l2_squared_grad(x: Sequence[float]) -> Vector:
    """∇‖x‖₂² = 2x (Q1.G)."""
    return [2.0 * v for v in x]


def l1_grad(x: Sequence[float]) -> Vector:
    """∇‖x‖₁ = sign(x), with 0 where xᵢ = 0 (Q1.H)."""
    return [sign(v) for v in x]


def _same_length(a: Sequence[float], b: Sequence[float], na: str, nb: str) -> None:
    if len(a) != len(b):
        raise ValueError(f"{na} has {len(a)} values but {nb} has {len(b)}")


# --- Question 2: the MLP --------------------------------------------------------------------


@dataclass
class Gradients:
    """∂L/∂· for every parameter, the input and the intermediate values of one example."""

    loss: float
    W1: Matrix
    b1: Vector
    W2: Matrix
    b2: Vector
    x: Vector
    o_a: Vector
    h_s: Vector
    h_a: Vector


class MLP:
    """h_a = W1 x + b1, h_s = ELU_α(h_a), o_a = W2 h_s + b2, o_s = softmax(o_a), L = −log o_s[y].

    ``W1`` has d_h rows of d values, ``W2`` d_o rows of d_h values (the homework's Question 2).
    """

    def __init__(self, W1: Matrix, b1: Vector, W2: Matrix, b2: Vector, alpha: float = 1.0) -> None:
        d_h, d_o = len(W1), len(W2)
        if d_h == 0 or d_o == 0 or not W1[0]:
            raise ValueError("W1 and W2 need at least one row and one column")
        d = len(W1[0])
        for name, matrix, cols in (("W1", W1, d), ("W2", W2, d_h)):
            for i, row in enumerate(matrix):
                if len(row) != cols:
                    raise ValueError(f"{name} row {i} has {len(row)} values, expected {cols}")
        if len(b1) != d_h:
            raise ValueError(f"b1 has {len(b1)} values but W1 has {d_h} rows")
        if len(b2) != d_o:
            raise ValueError(f"b2 has {len(b2)} values but W2 has {d_o} rows")
        self.W1 = [list(map(float, row)) for row in W1]
        self.b1 = list(map(float, b1))
        self.W2 = [list(map(float, row)) for row in W2]
        self.b2 = list(map(float, b2))
        self.alpha = float(alpha)

    @classmethod
    def random(cls, d: int, d_h: int, d_o: int, seed: int = 0, alpha: float = 1.0) -> MLP:
        """Glorot-uniform weights U(−√(6/(fan_in + fan_out)), +…), zero biases."""
        if min(d, d_h, d_o) < 1:
            raise ValueError(f"sizes must be positive, not d={d}, d_h={d_h}, d_o={d_o}")
        rng = random.Random(seed)

        def glorot(rows: int, cols: int) -> Matrix:
            limit = math.sqrt(6.0 / (rows + cols))
            return [[rng.uniform(-limit, limit) for _ in range(cols)] for _ in range(rows)]

        return cls(glorot(d_h, d), [0.0] * d_h, glorot(d_o, d_h), [0.0] * d_o, alpha)

    @property
    def sizes(self) -> tuple[int, int, int]:
        """(d, d_h, d_o)."""
        return len(self.W1[0]), len(self.W1), len(self.W2)

    @property
    def num_params(self) -> int:
        """n_θ = d_h·d + d_h + d_o·d_h + d_o (Q2.E)."""
        d, d_h, d_o = self.sizes
        return d_h * d + d_h + d_o * d_h + d_o

    def _check(self, x: Sequence[float], y: int | None = None) -> None:
        d, _, d_o = self.sizes
        if len(x) != d:
            raise ValueError(f"x has {len(x)} values but the network takes d = {d}")
        if y is not None and (isinstance(y, bool) or not isinstance(y, int) or not 0 <= y < d_o):
            raise ValueError(f"y must be a class index from 0 to {d_o - 1}, not {y!r}")

    def forward(self, x: Sequence[float]) -> tuple[Vector, Vector, Vector, Vector]:
        """(h_a, h_s, o_a, o_s) for one input (Q2.A–C)."""
        self._check(x)
        h_a = [_dot(row, x) + b for row, b in zip(self.W1, self.b1, strict=True)]
        h_s = [elu(v, self.alpha) for v in h_a]
        o_a = [_dot(row, h_s) + b for row, b in zip(self.W2, self.b2, strict=True)]
        return h_a, h_s, o_a, softmax(o_a)

    def loss(self, x: Sequence[float], y: int) -> float:
        """L(x, y) = −log o_s[y] = −log_softmax(o_a)[y] (Q2.D): shifted, never the log of a
        softmax, and exact for huge logits ([1e16, 1e16] gives log 2)."""
        self._check(x, y)
        _, _, o_a, _ = self.forward(x)
        return -log_softmax(o_a)[y]

    def gradients(self, x: Sequence[float], y: int) -> Gradients:
        """Backpropagation, one line per step of the derivation (Q2.G–P)."""
        self._check(x, y)
        h_a, h_s, o_a, o_s = self.forward(x)
        g_oa = [s - (1.0 if k == y else 0.0) for k, s in enumerate(o_s)]  # o_s − onehot(y)
        g_W2 = [[g * h for h in h_s] for g in g_oa]  # ∂L/∂o_a · h_sᵀ
        g_b2 = list(g_oa)
        g_hs = [_dot(column, g_oa) for column in zip(*self.W2, strict=True)]  # W2ᵀ ∂L/∂o_a
        g_ha = [g * elu_grad(v, self.alpha) for g, v in zip(g_hs, h_a, strict=True)]  # ⊙ ELU'
        g_W1 = [[g * v for v in x] for g in g_ha]  # ∂L/∂h_a · xᵀ
        g_b1 = list(g_ha)
        g_x = [_dot(column, g_ha) for column in zip(*self.W1, strict=True)]  # W1ᵀ ∂L/∂h_a
        loss = logsumexp(o_a) - o_a[y]
        return Gradients(loss, g_W1, g_b1, g_W2, g_b2, g_x, g_oa, g_hs, g_ha)

    def sgd_step(self, x: Sequence[float], y: int, lr: float) -> float:
        """θ ← θ − lr·∇θ L (Q2.F); returns the loss before the step."""
        g = self.gradients(x, y)
        self.W1 = [_step(row, grad, lr) for row, grad in zip(self.W1, g.W1, strict=True)]
        self.b1 = _step(self.b1, g.b1, lr)
        self.W2 = [_step(row, grad, lr) for row, grad in zip(self.W2, g.W2, strict=True)]
        self.b2 = _step(self.b2, g.b2, lr)
        return g.loss

    def risk(self, dataset: Sequence[tuple[Sequence[float], int]]) -> float:
        """R̂(θ) = Σ₍ₓ,ᵧ₎ L(x, y), the empirical risk (Q2.E)."""
        return math.fsum(self.loss(x, y) for x, y in dataset)

    def train(
        self, dataset: Sequence[tuple[Sequence[float], int]], lr: float, epochs: int
    ) -> list[float]:
        """Stochastic gradient descent, one step per example in order, for ``epochs`` passes.

        Returns the risk before training and after every epoch (epochs + 1 values).
        """
        history = [self.risk(dataset)]
        for _ in range(epochs):
            for x, y in dataset:
                self.sgd_step(x, y, lr)
            history.append(self.risk(dataset))
        return history


_GRADIENT_FLOOR = 1e-4  # below this, gradients are compared absolutely (see gradient_check)


def _step(values: Vector, grads: Vector, lr: float) -> Vector:
    """θ − lr·g, entry by entry."""
    return [v - lr * g for v, g in zip(values, grads, strict=True)]


def gradient_check(
    model: MLP,
    x: Sequence[float],
    y: int,
    eps: float = 1e-6,
    max_entries: int | None = None,
    seed: int = 0,
) -> dict[str, float]:
    """Backprop against central differences (L(θ + ε) − L(θ − ε)) / 2ε, entry by entry.

    Returns, per group (W1, b1, W2, b2, x), the worst relative error
    |analytic − numeric| / max(|analytic|, |numeric|, 1e-4). The floor is there because the
    difference quotient itself carries rounding noise of about 1e-16·|L| / ε ≈ 1e-10: measured
    relative to a gradient of 1e-6 that noise alone would read as 1e-4. ``max_entries`` checks a
    random sample of that many entries per group (seeded), for large networks.
    """
    if not eps > 0 or math.isinf(eps):
        raise ValueError(f"eps must be a positive finite step, not {eps}")
    analytic = model.gradients(x, y)
    point = list(map(float, x))
    rng = random.Random(seed)
    # each group as rows we can perturb in place, beside its analytic gradient
    groups: dict[str, tuple[Matrix, Matrix]] = {
        "W1": (model.W1, analytic.W1),
        "b1": ([model.b1], [analytic.b1]),
        "W2": (model.W2, analytic.W2),
        "b2": ([model.b2], [analytic.b2]),
        "x": ([point], [analytic.x]),
    }
    worst: dict[str, float] = {}
    for name, (rows, grads) in groups.items():
        entries = [(i, j) for i, row in enumerate(rows) for j in range(len(row))]
        if max_entries is not None and len(entries) > max_entries:
            entries = rng.sample(entries, max_entries)
        worst[name] = 0.0
        for i, j in entries:
            saved = rows[i][j]
            rows[i][j] = saved + eps
            up = model.loss(point, y)
            rows[i][j] = saved - eps
            down = model.loss(point, y)
            rows[i][j] = saved
            numeric = (up - down) / (2 * eps)
            a = grads[i][j]
            error = abs(a - numeric) / max(abs(a), abs(numeric), _GRADIENT_FLOOR)
            if math.isnan(error) or math.isnan(a) or math.isnan(numeric):
                error = math.inf  # a NaN anywhere fails the check (max() would drop it)
            worst[name] = max(worst[name], error)
    return worst
