"""``convcalc quiz`` without giveaways: 1,000 questions at each difficulty, read from what a
student is shown, with no parameter its layer ignores, a distinct mistake behind each wrong
choice, and no field of a choice (k, s, a shape's rank or channels, a number's digit count...)
that singles the answer out; every answer recomputed here (the size rule of tests/oracle.py,
the layers' formulas), and on a sample by PyTorch, autograd and FlopCounterMode."""

from __future__ import annotations

import functools
import re
from collections import Counter
from dataclasses import replace
from typing import Any

import pytest

from convcalc.teach.quiz import TOPICS, quiz
from convcalc.teach.quiz_formats import Question
from tests.budget import FULL
from tests.oracle import out_size
from tests.test_quiz import Layer, check_shown, from_question, network, pairs

COUNT = 1000  # questions a difficulty
SEED = 2025


@functools.cache
def questions(difficulty: int, seed: int = SEED) -> tuple[Question, ...]:
    return tuple(quiz(seed, COUNT, TOPICS, difficulty))


# --- what a layer ignores, by the size rule ---------------------------------------------------


def _sizes(shape: tuple[int, ...], layers: list[Layer]) -> list[int]:
    """The input length of each layer (square inputs, square windows), then the output's."""
    n, out = shape[1], [shape[1]]
    for layer in layers:
        size = out_size(
            layer.kind, n, layer.k, layer.stride, layer.padding, layer.dilation, 0, layer.ceil
        )
        assert size is not None
        n = size
        out.append(n)
    return out


def layer_ignores(layer: Layer, n: int) -> list[str]:
    """What ``layer`` does on an input ``n`` long that it would do without a parameter: a
    dilation or a padding on a 1-wide kernel (one tap, whatever the spacing; a border of
    nothing but the bias), a stride where even stride 1 leaves one window, ceil mode where
    ceil and floor give the same number of windows (the same windows)."""
    found = []
    if layer.k == 1 and layer.dilation > 1:
        found.append("dilation")
    if layer.k == 1 and layer.padding > 0:
        found.append("padding")
    one = out_size(layer.kind, n, layer.k, 1, layer.padding, layer.dilation, 0, layer.ceil)
    if layer.stride > 1 and one == 1:
        found.append("stride")
    if layer.ceil:
        args = (layer.kind, n, layer.k, layer.stride, layer.padding, layer.dilation, 0)
        if out_size(*args, True) == out_size(*args, False):
            found.append("ceil_mode")
    return found


_PAIR = re.compile(r"k = (\d+), s = (\d+)")
_SOLVE = re.compile(r"padding (\d+) and dilation (\d+) must map a (\d+)×\3 input to (\d+)×\4\. ")


def ignored(q: Question) -> list[str]:
    """The parameters the layers of ``q``'s text ignore; for an inverse problem, the padding
    and dilation it states against the kernel of each choice."""
    if q.topic == "mlp":
        return []
    if q.topic == "solve":
        given = _SOLVE.search(q.text)
        assert given, q.text
        p, d = int(given[1]), int(given[2])
        found = []
        for choice in q.choices:
            pair = _PAIR.fullmatch(choice.text)
            assert pair, choice.text
            if int(pair[1]) == 1 and (p or d > 1):
                found.append(f"{choice.text}: padding {p}, dilation {d} on a 1-wide kernel")
        return found
    shape, layers = network(q.text)
    sizes = _sizes(shape, layers)
    return [
        f"layers[{i}] {name}"
        for i, layer in enumerate(layers)
        for name in layer_ignores(layer, sizes[i])
    ]


# --- the fields by which a choice could be spotted --------------------------------------------


def fields(text: str) -> dict[str, Any]:
    """A choice's form: k and s (and their digit counts) of an inverse answer; a shape's rank,
    each of its sizes and their digit counts; a number's digit count."""
    if pair := _PAIR.fullmatch(text):
        k, s = pair[1], pair[2]
        return {"k": int(k), "s": int(s), "k digits": len(k), "s digits": len(s)}
    if "×" in text:
        sizes = text.split("×")
        out: dict[str, Any] = {"rank": len(sizes)}
        for i, size in enumerate(sizes):
            out[f"size {i}"] = int(size)
            out[f"size {i} digits"] = len(size)
        return out
    assert re.fullmatch(r"\d{1,3}(,\d{3})*", text), text
    return {"digits": len(text.replace(",", ""))}


def giveaways(q: Question) -> list[str]:
    """The fields in which the right choice's value is unique while some other value repeats:
    the answer is the odd one out. (A field in which every choice differs, such as a number's
    value itself, singles no choice out.)"""
    forms = [fields(c.text) for c in q.choices]
    right = next(i for i, c in enumerate(q.choices) if c.correct)
    found = []
    for name in set().union(*forms):
        values = Counter(form.get(name) for form in forms)
        mine = forms[right].get(name)
        if values[mine] == 1 and len(values) < len(forms):
            found.append(f"{name} {mine} among {dict(values)}")
    return found


def test_the_giveaway_check_by_hand() -> None:
    """The teaching assistant's example (four choices with s = 10, the answer's s = 11) is a
    giveaway; balanced and all-different fields are not."""

    def question(right: str, *wrong: str) -> Question:
        from convcalc.teach.quiz_formats import Choice

        choices = (Choice(right, True, ""), *(Choice(w, False, w) for w in wrong))
        return Question("q", "solve", 1, "t", "text", right, "", choices)

    odd = question("k = 5, s = 11", "k = 4, s = 10", "k = 6, s = 10", "k = 7, s = 10")
    assert giveaways(odd) == ["s 11 among {11: 1, 10: 3}"]
    fair = question("k = 5, s = 11", "k = 5, s = 10", "k = 6, s = 11", "k = 7, s = 10")
    assert giveaways(fair) == []
    assert giveaways(question("16×8×8", "16×9×9", "16×7×7")) == []
    assert giveaways(question("1,024", "2,048", "512", "1,000")) == []
    assert giveaways(question("1,024", "512", "256", "100")) == ["digits 4 among {4: 1, 3: 3}"]


# --- the 1,000 questions at each difficulty ---------------------------------------------------


@pytest.mark.full
@pytest.mark.parametrize("difficulty", [1, pytest.param(2, marks=pytest.mark.full), 3])
def test_no_ignored_parameter_no_repeated_feedback_no_giveaway(difficulty: int) -> None:
    faults: dict[str, list[str]] = {"ignored": [], "feedback": [], "giveaway": []}
    made = questions(difficulty)
    assert len(made) == COUNT
    for q in made:
        if found := ignored(q):
            faults["ignored"].append(f"{q.id}: {found}")
        feedback = [c.feedback for c in q.choices if not c.correct]
        if len(set(feedback)) != len(feedback) or not all(feedback):
            faults["feedback"].append(f"{q.id}: {feedback}")
        if found := giveaways(q):
            faults["giveaway"].append(f"{q.id}: {found}")
    assert faults == {"ignored": [], "feedback": [], "giveaway": []}


# --- every answer recomputed ------------------------------------------------------------------


def _number(text: str) -> int:
    assert re.fullmatch(r"\d{1,3}(,\d{3})*", text), text
    return int(text.replace(",", ""))


_MLP = re.compile(r"d = (\d+) inputs, one hidden layer of d_h = (\d+) .* d_o = (\d+) softmax")
# what each named mistake of an inverse problem makes of the size rule (n, k, s, p, d)
SLIPS = {
    "ceil instead of floor": lambda n, k, s, p, d: -(-(n + 2 * p - d * (k - 1) - 1) // s) + 1,
    "padding applied once instead of on both sides": lambda n, k, s, p, d: (
        (n + p - d * (k - 1) - 1) // s + 1
    ),
    "forgot the padding": lambda n, k, s, p, d: (n - d * (k - 1) - 1) // s + 1,
    "forgot the dilation": lambda n, k, s, p, d: (n + 2 * p - (k - 1) - 1) // s + 1,
    "forgot the stride": lambda n, k, s, p, d: n + 2 * p - d * (k - 1),
    "forgot the + 1": lambda n, k, s, p, d: (n + 2 * p - d * (k - 1) - 1) // s,
    "forgot the − 1 after d·(k − 1)": lambda n, k, s, p, d: (n + 2 * p - d * (k - 1)) // s + 1,
}


def recomputed(q: Question) -> int | str:
    """The answer of ``q`` from its text alone: shapes by the size rule, parameters and
    multiply-adds by the layer's formulas (no bias additions: the default convention),
    receptive fields by r += (k_eff − 1)·j, j *= s, the MLP's parameters by its formula; an
    inverse answer is checked by the size rule, each wrong pair by the mistake it names."""
    if q.topic == "mlp":
        sizes = _MLP.search(q.text)
        assert sizes, q.text
        d, d_h, d_o = (int(v) for v in sizes.groups())
        return (d + 1) * d_h + (d_h + 1) * d_o
    if q.topic == "solve":
        given = _SOLVE.search(q.text)
        assert given, q.text
        p, d, n, m = (int(v) for v in given.groups())
        for c in q.choices:
            pair = _PAIR.fullmatch(c.text)
            assert pair, c.text
            k, s = int(pair[1]), int(pair[2])
            assert (out_size("conv", n, k, s, p, d) == m) == c.correct, (q.id, c.text)
            if not c.correct:  # the mistake named gives m; the rule gives what is said
                name, said = re.fullmatch(
                    r"(.*): only then would it give \d+ \(it gives (\d+)\)", c.feedback
                ).groups()
                assert SLIPS[name](n, k, s, p, d) == m, (q.id, c.text, c.feedback)
                assert out_size("conv", n, k, s, p, d) == int(said), (q.id, c.feedback)
        return q.answer
    shape, layers = network(q.text)
    sizes = _sizes(shape, layers)
    if q.topic == "shape":
        channels = next((x.filters for x in reversed(layers) if x.kind == "conv"), shape[0])
        return f"{channels}×{sizes[-1]}×{sizes[-1]}"
    (layer, *_) = layers
    weights = layer.filters * (shape[0] // layer.groups) * layer.k * layer.k
    if q.topic == "params":
        return weights + layer.filters
    if q.topic == "macs":
        assert "bias additions not counted" in q.text
        return weights * sizes[1] * sizes[1]
    assert q.topic == "rf", q.topic
    r, j = 1, 1
    for x in layers:
        r, j = r + x.dilation * (x.k - 1) * j, j * x.stride
    return r


@pytest.mark.full
@pytest.mark.parametrize("difficulty", [1, 2, 3])
def test_every_answer_recomputed_from_the_text(difficulty: int) -> None:
    for q in questions(difficulty):
        right = [c.text for c in q.choices if c.correct]
        assert right == [q.answer] and len(q.choices) >= 3, q.id
        value = recomputed(q)
        if isinstance(value, int):
            assert _number(q.answer) == value, q.id
            assert all(_number(c.text) != value for c in q.choices if not c.correct), q.id
        else:
            assert q.answer == value, q.id
            assert all(c.text != value for c in q.choices if not c.correct), q.id


@pytest.mark.full
@pytest.mark.torch
@pytest.mark.parametrize("difficulty", [1, 2, 3])
def test_a_sample_recomputed_by_pytorch(difficulty: int) -> None:
    """Every 25th question (every 5th in the full run) through test_quiz's checks: PyTorch's
    modules on the meta device, FlopCounterMode, autograd, brute force for the inverse problem."""
    torch = pytest.importorskip("torch")
    step = 5 if FULL else 25
    sample = questions(difficulty)[::step]
    assert {q.topic for q in sample} == set(TOPICS)
    for q in sample:
        if q.topic == "solve":
            given = _SOLVE.search(q.text)
            assert given
            p, d, n, m = (int(v) for v in given.groups())
            pair = _PAIR.fullmatch(q.answer)
            assert pair and (int(pair[1]), int(pair[2])) in pairs(n, m, p, d)
        check_shown(from_question(q, f"difficulty {difficulty}, {q.id}"), torch, None)


def _module(torch: Any, layer: Layer) -> Any:
    """The layer on ``groups`` channels, one filter a group: what a parameter of the window
    changes does not depend on the channels."""
    nn = torch.nn
    window = {"stride": layer.stride, "padding": layer.padding, "dilation": layer.dilation}
    if layer.kind == "conv":
        return nn.Conv2d(layer.groups, layer.groups, layer.k, groups=layer.groups, **window)
    return nn.MaxPool2d(layer.k, ceil_mode=layer.ceil, **window)


@pytest.mark.full
@pytest.mark.torch
def test_each_stated_parameter_changes_what_pytorch_computes() -> None:
    """On a sample of the stacks (every 20th of each difficulty), each layer run by PyTorch
    with each parameter it states set back to its default (the same weights), on a random
    input of its size: the output differs (in shape or in value), or PyTorch refuses."""
    torch = pytest.importorskip("torch")
    defaults = {"stride": 1, "padding": 0, "dilation": 1, "ceil": False}
    checked = 0
    torch.manual_seed(0)
    for difficulty in (1, 2, 3):
        for q in questions(difficulty)[::20]:
            if q.topic in ("solve", "mlp"):
                continue
            shape, layers = network(q.text)
            for layer, n in zip(layers, _sizes(shape, layers), strict=False):
                module = _module(torch, layer).eval()
                x = torch.randn(1, layer.groups, n, n)
                with torch.no_grad():
                    y = module(x)
                    for name, default in defaults.items():
                        if getattr(layer, name) == default:
                            continue
                        plain = _module(torch, replace(layer, **{name: default})).eval()
                        plain.load_state_dict(module.state_dict())
                        try:
                            z = plain(x)
                        except RuntimeError:  # refused without it: it changes something
                            z = None
                        same = z is not None and z.shape == y.shape and torch.equal(z, y)
                        assert not same, f"{q.id}: {name} changes nothing in {layer}"
                        checked += 1
    assert checked > 50
