"""convcalc.reference against independent oracles: finite differences, torch autograd (float64),
and the seed's own identities and parameter count."""

from __future__ import annotations

import json
import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from convcalc import reference as ref

wide = st.floats(-1000, 1000, allow_nan=False)
vectors = st.lists(st.floats(-1000, 1000, allow_nan=False), min_size=1, max_size=10)


def numeric(f, x: float) -> float:
    h = 1e-6 * max(1.0, abs(x))
    return (f(x + h) - f(x - h)) / (2 * h)


def close(a: float, b: float, tol: float = 1e-6) -> bool:
    return abs(a - b) <= tol * max(1.0, abs(a), abs(b))


# --- derivatives against central finite differences ----------------------------------------


@given(wide)
def test_sigmoid_grad(x: float) -> None:
    assert close(ref.sigmoid_grad(x), numeric(ref.sigmoid, x))


@given(wide.filter(lambda x: abs(x) > 1e-3))
def test_relu_grad(x: float) -> None:
    assert close(ref.relu_grad(x), numeric(ref.relu, x))


@given(wide.filter(lambda x: abs(x) > 1e-3), st.floats(0.1, 3))
def test_elu_grad(x: float, alpha: float) -> None:
    assert close(ref.elu_grad(x, alpha), numeric(lambda t: ref.elu(t, alpha), x))


@given(wide)
def test_softplus_derivative_is_sigmoid(x: float) -> None:
    assert close(ref.sigmoid(x), numeric(ref.softplus, x))


@given(st.lists(st.floats(-50, 50), min_size=1, max_size=8))
def test_norm_gradients(v: list[float]) -> None:
    def partial(f, i: int) -> float:
        return numeric(lambda t: f([*v[:i], t, *v[i + 1 :]]), v[i])

    l2 = ref.l2_squared_grad(v)
    for i in range(len(v)):
        assert close(l2[i], partial(lambda w: math.fsum(t * t for t in w), i), 1e-5)
        if abs(v[i]) > 1e-3:
            assert ref.l1_grad(v)[i] == pytest.approx(partial(lambda w: sum(map(abs, w)), i))


@given(st.lists(st.floats(-30, 30), min_size=1, max_size=8))
def test_softmax_jacobian_by_columns(v: list[float]) -> None:
    jac = ref.softmax_jacobian(v)
    for j in range(len(v)):
        h = 1e-6
        up = ref.softmax([*v[:j], v[j] + h, *v[j + 1 :]])
        down = ref.softmax([*v[:j], v[j] - h, *v[j + 1 :]])
        for i in range(len(v)):
            assert abs(jac[i][j] - (up[i] - down[i]) / (2 * h)) < 1e-7


@given(vectors, st.randoms(use_true_random=False))
def test_vjps_equal_the_full_products(v: list[float], rng: random.Random) -> None:
    g = [rng.uniform(-1, 1) for _ in v]
    for jacobian, vjp in (
        (ref.softmax_jacobian, ref.softmax_vjp),
        (ref.sigmoid_jacobian, ref.sigmoid_vjp),
    ):
        jac = jacobian(v)
        full = [math.fsum(jac[i][j] * g[i] for i in range(len(v))) for j in range(len(v))]
        assert all(abs(a - b) < 1e-12 for a, b in zip(full, vjp(v, g), strict=True))


def test_vjp_length_mismatch() -> None:
    with pytest.raises(ValueError, match="3 values"):
        ref.softmax_vjp([1.0, 2.0, 3.0], [1.0])


# --- the seed's identities and conventions -------------------------------------------------


@given(wide)
def test_seed_question_1_identities(x: float) -> None:
    assert close(ref.sigmoid(x), 0.5 * (ref.tanh(x / 2) + 1), 1e-14)  # 1.C
    assert close(ref.softplus(x) - ref.softplus(-x), x, 1e-14)  # 1.E
    if abs(x) < 30:
        assert close(math.log(ref.sigmoid(x)), -ref.softplus(-x), 1e-12)  # 1.D
    assert ref.sign(x) == (x > 0) - (x < 0)  # 1.F


@given(st.lists(st.floats(-100, 100), min_size=2, max_size=8), st.floats(-1000, 1000))
def test_softmax_is_translation_invariant(v: list[float], c: float) -> None:
    shifted = ref.softmax([t + c for t in v])
    assert all(abs(a - b) < 1e-12 for a, b in zip(ref.softmax(v), shifted, strict=True))
    assert math.isclose(math.fsum(shifted), 1.0, rel_tol=1e-14)  # Q2.C


def test_softmax_is_not_scale_invariant() -> None:
    v = [1.0, 2.0, 3.0]  # Q1.I: S(cx) ≠ S(x) for c ≠ 1 and non-constant x
    assert ref.softmax([2 * t for t in v]) != pytest.approx(ref.softmax(v))


def test_conventions_at_the_kinks() -> None:
    assert ref.relu_grad(0.0) == 0.0
    assert ref.sign(0.0) == 0.0
    assert ref.elu_grad(0.0, 0.5) == 0.5
    assert ref.l1_grad([0.0, -2.0, 3.0]) == [0.0, -1.0, 1.0]


@pytest.mark.parametrize(
    ("call", "expected"),
    [
        (lambda: ref.sigmoid(1000), 1.0),
        (lambda: ref.sigmoid(-1000), 0.0),
        (lambda: ref.softplus(1000), 1000.0),
        (lambda: ref.softplus(-1000), 0.0),
        (lambda: ref.log_softmax([1000, 0]), [0.0, -1000.0]),
        (lambda: ref.logsumexp([1000, 1000]), 1000 + math.log(2)),
        (lambda: ref.elu(-1000), -1.0),
        (lambda: ref.sigmoid_grad(1e4), 0.0),
        (lambda: ref.softmax([1e4, -1e4, 0]), [1.0, 0.0, 0.0]),
        (lambda: ref.elu_grad(-1e4), 0.0),
        (lambda: ref.softplus(-1e4), 0.0),
    ],
)
def test_stability(call, expected) -> None:
    assert call() == pytest.approx(expected, abs=1e-300)


@given(st.floats(-1e4, 1e4))
def test_nothing_overflows(x: float) -> None:
    for value in (
        ref.sigmoid(x),
        ref.softplus(x),
        ref.elu(x),
        ref.elu_grad(x),
        ref.tanh(x),
        ref.sigmoid_grad(x),
        *ref.softmax([x, 0.0, -x]),
        *ref.log_softmax([x, 0.0]),
    ):
        assert math.isfinite(value)


# --- the MLP -------------------------------------------------------------------------------


def test_num_params_is_the_seed_formula() -> None:
    d, d_h, d_o = 784, 256, 10
    assert ref.MLP.random(d, d_h, d_o).num_params == d_h * d + d_h + d_o * d_h + d_o


def test_forward_by_hand() -> None:
    m = ref.MLP([[1.0, -1.0]], [0.5], [[2.0], [-1.0]], [0.0, 1.0], alpha=1.0)
    h_a, h_s, o_a, o_s = m.forward([1.0, 3.0])
    assert h_a == [-1.5]  # 1 − 3 + 0.5
    assert h_s == pytest.approx([math.exp(-1.5) - 1])
    assert o_a == pytest.approx([2 * h_s[0], -h_s[0] + 1])
    assert m.loss([1.0, 3.0], 1) == pytest.approx(-math.log(o_s[1]))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (([[1.0, 2.0], [1.0]], [0.0, 0.0], [[1.0, 1.0]], [0.0]), "W1 row 1"),
        (([[1.0]], [0.0, 0.0], [[1.0]], [0.0]), "b1 has 2"),
        (([[1.0]], [0.0], [[1.0, 2.0]], [0.0]), "W2 row 0"),
        (([[1.0]], [0.0], [[1.0]], []), "b2 has 0"),
    ],
)
def test_bad_shapes_are_value_errors(args, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ref.MLP(*args)


def test_bad_inputs_are_value_errors() -> None:
    m = ref.MLP.random(3, 2, 2)
    with pytest.raises(ValueError, match="x has 2 values"):
        m.loss([1.0, 2.0], 0)
    with pytest.raises(ValueError, match="class index"):
        m.loss([1.0, 2.0, 3.0], 2)
    with pytest.raises(ValueError, match="class index"):
        m.gradients([1.0, 2.0, 3.0], True)  # type: ignore[arg-type]


@given(
    st.integers(1, 6),
    st.integers(1, 6),
    st.integers(1, 5),
    st.integers(0, 10**6),
    st.floats(0.2, 2.0),
)
def test_gradient_check_on_random_networks(
    d: int, d_h: int, d_o: int, seed: int, alpha: float
) -> None:
    m = ref.MLP.random(d, d_h, d_o, seed=seed, alpha=alpha)
    rng = random.Random(seed)
    x = [rng.gauss(0, 1) for _ in range(d)]
    errors = ref.gradient_check(m, x, rng.randrange(d_o))
    assert set(errors) == {"W1", "b1", "W2", "b2", "x"}
    assert max(errors.values()) < 1e-4


def test_gradient_check_notices_a_wrong_gradient(monkeypatch) -> None:
    m = ref.MLP.random(3, 4, 2, seed=1)
    x, y = [0.5, -1.0, 2.0], 1
    real = ref.MLP.gradients

    def broken(self, x, y):
        g = real(self, x, y)
        g.b2[0] += 0.1
        return g

    monkeypatch.setattr(ref.MLP, "gradients", broken)
    assert ref.gradient_check(m, x, y)["b2"] > 1e-2


def test_sgd_step_returns_the_loss_before_and_moves_downhill() -> None:
    m = ref.MLP.random(4, 5, 3, seed=2)
    x, y = [1.0, -0.5, 0.25, 2.0], 2
    before = m.loss(x, y)
    assert m.sgd_step(x, y, lr=0.05) == pytest.approx(before)
    assert m.loss(x, y) < before


def test_training_decreases_the_risk_on_separable_data() -> None:
    rng = random.Random(7)
    data = [([rng.gauss(-2, 0.5), rng.gauss(-2, 0.5)], 0) for _ in range(20)]
    data += [([rng.gauss(2, 0.5), rng.gauss(2, 0.5)], 1) for _ in range(20)]
    m = ref.MLP.random(2, 8, 2, seed=3)
    history = m.train(data, lr=0.1, epochs=15)
    assert len(history) == 16
    assert history[-1] < 0.2 * history[0]
    assert history[0] == pytest.approx(ref.MLP.random(2, 8, 2, seed=3).risk(data))
    predictions = [max(range(2), key=lambda k: m.forward(x)[3][k]) for x, _ in data]
    assert predictions == [y for _, y in data]


def test_risk_is_the_sum_of_losses() -> None:
    m = ref.MLP.random(2, 3, 2, seed=4)
    data = [([0.1, 0.2], 0), ([1.0, -1.0], 1)]
    assert m.risk(data) == pytest.approx(m.loss(*data[0]) + m.loss(*data[1]))


# --- torch autograd, float64 ---------------------------------------------------------------


@pytest.mark.torch
@given(
    st.integers(1, 8),
    st.integers(1, 8),
    st.integers(1, 6),
    st.integers(0, 10**6),
    st.floats(0.1, 3.0),
)
def test_mlp_against_torch_autograd(d: int, d_h: int, d_o: int, seed: int, alpha: float) -> None:
    torch = pytest.importorskip("torch")
    m = ref.MLP.random(d, d_h, d_o, seed=seed, alpha=alpha)
    rng = random.Random(seed)
    m.b1 = [rng.uniform(-1, 1) for _ in range(d_h)]
    m.b2 = [rng.uniform(-1, 1) for _ in range(d_o)]
    x_list = [rng.gauss(0, 2) for _ in range(d)]
    y = rng.randrange(d_o)

    def t(v):
        return torch.tensor(v, dtype=torch.float64, requires_grad=True)

    W1, b1, W2, b2, x = t(m.W1), t(m.b1), t(m.W2), t(m.b2), t(x_list)
    h_a = W1 @ x + b1
    h_s = torch.nn.functional.elu(h_a, alpha)
    o_a = W2 @ h_s + b2
    for v in (h_a, h_s, o_a):
        v.retain_grad()
    loss = -torch.log_softmax(o_a, 0)[y]
    loss.backward()
    g = m.gradients(x_list, y)
    assert g.loss == pytest.approx(loss.item(), rel=1e-9)
    for name, tensor in (
        ("W1", W1),
        ("b1", b1),
        ("W2", W2),
        ("b2", b2),
        ("x", x),
        ("h_a", h_a),
        ("h_s", h_s),
        ("o_a", o_a),
    ):
        expected = torch.tensor(getattr(g, name), dtype=torch.float64)
        assert torch.allclose(tensor.grad, expected, rtol=1e-9, atol=1e-12), name


@pytest.mark.torch
@given(st.lists(st.floats(-50, 50), min_size=1, max_size=10), st.randoms(use_true_random=False))
def test_softmax_jacobian_and_vjp_against_torch(v: list[float], rng: random.Random) -> None:
    torch = pytest.importorskip("torch")
    x = torch.tensor(v, dtype=torch.float64)
    jac = torch.autograd.functional.jacobian(lambda t: torch.softmax(t, 0), x)
    assert torch.allclose(
        jac, torch.tensor(ref.softmax_jacobian(v), dtype=torch.float64), rtol=1e-9, atol=1e-15
    )
    g = [rng.uniform(-1, 1) for _ in v]
    expected = jac.T @ torch.tensor(g, dtype=torch.float64)
    assert torch.allclose(
        expected, torch.tensor(ref.softmax_vjp(v, g), dtype=torch.float64), rtol=1e-9, atol=1e-15
    )
    sig = torch.autograd.functional.jacobian(torch.sigmoid, x)
    assert torch.allclose(
        sig, torch.tensor(ref.sigmoid_jacobian(v), dtype=torch.float64), rtol=1e-9, atol=1e-15
    )


# --- the CLI -------------------------------------------------------------------------------


def test_identities_command(run) -> None:
    result = run("identities", "--points", "200", "--format", "json")
    assert result.exit_code == 0
    checks = json.loads(result.stdout)
    assert all(c["ok"] for c in checks)
    assert {c["question"] for c in checks} >= {"1.B", "1.C", "1.D", "1.E", "1.I", "1.J", "1.M"}
    assert run("identities", "--points", "50").stdout.count(" ok ") == len(checks)


def test_mlp_command(run) -> None:
    result = run("mlp", "--inputs", "6", "--hidden", "5", "--classes", "3", "--format", "json")
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert report["num_params"] == 5 * 6 + 5 + 3 * 5 + 3
    assert report["gradient_shapes"]["W1"] == [5, 6]
    assert report["gradient_shapes"]["x"] == [6]
    assert max(report["gradient_check"]["max_relative_error"].values()) < 1e-4
    table = run("mlp", "--inputs", "784", "--hidden", "8", "--classes", "10", "--checks", "3")
    assert f"8·784 + 8 + 10·8 + 10 = {8 * 784 + 8 + 10 * 8 + 10:,}" in table.stdout


def test_mlp_command_rejects_bad_sizes(run) -> None:
    result = run("mlp", "--inputs", "0", "--hidden", "5", "--classes", "3")
    assert result.exit_code == 2


INF, NAN = math.inf, math.nan


@pytest.mark.torch
@pytest.mark.parametrize(
    "x",
    [[1e16, 1e16], [1e8, 1e8 + 1], [INF, 0.0], [-INF, -INF], [NAN, 1.0], [INF, INF], [-INF, 0.0]],
)
def test_extremes_as_torch_float64(x: list[float]) -> None:
    torch = pytest.importorskip("torch")
    t = torch.tensor(x, dtype=torch.float64)

    def same(ours: list[float], theirs: list[float]) -> bool:
        return all(
            (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=1e-12, abs=1e-12)
            for a, b in zip(ours, theirs, strict=True)
        )

    assert same([ref.logsumexp(x)], [torch.logsumexp(t, 0).item()])
    assert same(ref.log_softmax(x), torch.log_softmax(t, 0).tolist())
    assert same(ref.softmax(x), torch.softmax(t, 0).tolist())
    assert same([ref.relu(v) for v in x], torch.relu(t).tolist())


def test_loss_with_huge_logits_and_clear_refusals() -> None:
    model = ref.MLP([[0.0]], [0.0], [[0.0], [0.0]], [1e16, 1e16])
    assert model.loss([1.0], 0) == pytest.approx(math.log(2))  # two equal logits: log 2
    with pytest.raises(ValueError, match="at least one value"):
        ref.softmax([])
    with pytest.raises(ValueError, match="eps"):
        ref.gradient_check(ref.MLP.random(2, 2, 2), [0.1, 0.2], 0, eps=0)
    broken = ref.MLP.random(2, 2, 2)
    broken.W1[0][0] = NAN
    assert math.isinf(max(ref.gradient_check(broken, [0.1, 0.2], 0).values()))


def test_mlp_refuses_a_non_finite_alpha(run) -> None:
    for alpha in ("nan", "inf", "-inf"):
        result = run("mlp", "--inputs", "3", "--hidden", "2", "--classes", "2", "--alpha", alpha)
        assert result.exit_code == 2
        assert "must be a finite number" in result.stderr
