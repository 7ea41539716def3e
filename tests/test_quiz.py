"""``convcalc quiz``: every answer recomputed by an independent path, distractors never right,
the same seed the same quiz."""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import pytest
from click.testing import CliRunner

from convcalc.cli import cli
from convcalc.errors import ConvcalcError
from convcalc.teach.quiz import TOPICS, generate, quiz
from convcalc.teach.quiz_formats import Question
from tests.budget import FULL
from tests.oracle import out_size

SEEDS = range(40 if FULL else 6)


def made(difficulty: int) -> list[tuple[Any, dict[str, Any]]]:
    return [item for seed in SEEDS for item in generate(seed, len(TOPICS), TOPICS, difficulty)]


def _oracle_shape(spec: dict[str, Any]) -> tuple[int, ...]:
    """The output shape by the test oracle's size rule, layer by layer."""
    shape = list(spec["input"])
    for layer in spec["layers"]:
        k, s = layer["kernel_size"], layer.get("stride", 1)
        p, d = layer.get("padding", 0), layer.get("dilation", 1)
        size = out_size(layer["type"], shape[1], k, s, p, d, 0, layer.get("ceil_mode", False))
        assert size is not None
        shape = [layer.get("out_channels", shape[0]), size, size]
    return tuple(shape)


def _torch_model(torch: Any, spec: dict[str, Any]) -> Any:
    modules = []
    channels = spec["input"][0]
    for layer in spec["layers"]:
        args = {
            "kernel_size": layer["kernel_size"],
            "stride": layer.get("stride", 1),
            "padding": layer.get("padding", 0),
            "dilation": layer.get("dilation", 1),
        }
        if layer["type"] == "conv":
            groups = layer.get("groups", 1)
            modules.append(torch.nn.Conv2d(channels, layer["out_channels"], groups=groups, **args))
            channels = layer["out_channels"]
        else:
            modules.append(torch.nn.MaxPool2d(ceil_mode=layer.get("ceil_mode", False), **args))
    return torch.nn.Sequential(*modules)


@pytest.mark.full
@pytest.mark.parametrize("difficulty", [1, 2, 3])
def test_every_answer_is_recomputed_independently(difficulty: int) -> None:
    """The generator's records (the spec or sizes each question was made from, and its value):
    shapes by the oracle's rule (and PyTorch where installed), parameters by PyTorch's modules
    or the layer's formula, receptive fields by autograd, solve answers by the size rule
    itself, MLP counts by the formula; no wrong choice is ever right. What the questions show
    is read back and checked below."""
    try:
        import torch
    except ImportError:
        torch = None
    for question, data in made(difficulty):
        right = [c for c in question.choices if c.correct]
        assert len(right) == 1 and right[0].text == question.answer
        wrong = [c for c in question.choices if not c.correct]
        assert len(wrong) >= 2, question.id
        assert all(c.feedback for c in wrong)  # each says which mistake it is
        assert len({c.text for c in question.choices}) == len(question.choices)
        topic = question.topic
        if topic == "shape":
            shape = _oracle_shape(data["spec"])
            assert question.answer == "×".join(map(str, shape))
            if torch is not None:
                model = _torch_model(torch, data["spec"])
                out = model(torch.zeros(1, *data["spec"]["input"]))
                assert tuple(out.shape[1:]) == shape
        elif topic == "params":
            (layer,) = data["spec"]["layers"]
            c_in = data["spec"]["input"][0]
            k, groups = layer["kernel_size"], layer.get("groups", 1)
            formula = layer["out_channels"] * (c_in // groups) * k * k + layer["out_channels"]
            assert data["value"] == formula
            assert question.answer == f"{formula:,}"
            if torch is not None:
                model = _torch_model(torch, data["spec"])
                assert sum(p.numel() for p in model.parameters()) == formula
        elif topic == "macs" and torch is not None:
            # the default convention: every multiply-add, PyTorch's FlopCounterMode ÷ 2
            from torch.utils.flop_counter import FlopCounterMode

            model = _torch_model(torch, data["spec"])
            counter = FlopCounterMode(display=False)
            with counter, torch.no_grad():
                model(torch.zeros(1, *data["spec"]["input"]))
            assert data["value"] == counter.get_total_flops() // 2
        elif topic == "rf" and torch is not None:
            _check_field(torch, data)
        elif topic == "solve":
            n, m, p, d = data["n"], data["m"], data["p"], data["d"]
            assert out_size("conv", n, data["k"], data["s"], p, d) == m
            for choice in wrong:
                k, s = (int(part.split("=")[1]) for part in choice.text.split(","))
                assert out_size("conv", n, k, s, p, d) != m
        elif topic == "mlp":
            d, d_h, d_o = data["d"], data["d_h"], data["d_o"]
            assert data["value"] == d_h * d + d_h + d_o * d_h + d_o
            assert question.answer == f"{data['value']:,}"


def _check_field(torch: Any, data: dict[str, Any]) -> None:
    """The rows one output position sees, by autograd on a long input of ones, each window a
    convolution of ones (:func:`field_by_autograd`): a central position of the spec's own
    input may have its field cut by a padding on the way."""
    layers = [
        Layer(
            layer["type"],
            layer["kernel_size"],
            layer.get("stride", 1),
            layer.get("padding", 0),
            layer.get("dilation", 1),
        )
        for layer in data["spec"]["layers"]
    ]
    assert field_by_autograd(torch, layers) == data["value"]


def test_the_same_seed_gives_the_same_quiz(run) -> None:
    first = run("quiz", "--seed", "7", "--count", "12", "--format", "json").output
    assert first == run("quiz", "--seed", "7", "--count", "12", "--format", "json").output
    assert first != run("quiz", "--seed", "8", "--count", "12", "--format", "json").output
    assert len(json.loads(first)) == 12


def test_a_twenty_question_quiz_in_every_format(run) -> None:
    markdown = run("quiz", "--seed", "3", "--count", "20").output
    key = markdown.index("Answer key")
    for question in quiz(3, 20):
        assert question.title in markdown[:key]  # every question before the key
        assert question.answer in markdown[key:]  # and its answer in the key
    for fmt in ("moodle-xml", "gift", "json"):
        result = run("quiz", "--seed", "3", "--count", "20", "--format", fmt)
        assert result.exit_code == 0, result.output
    assert len(quiz(3, 20)) == 20


def test_topics_and_difficulty_are_checked(run) -> None:
    result = run("quiz", "--topics", "shape,colour")
    assert result.exit_code == 2 and "colour" in result.stderr
    only = json.loads(run("quiz", "--topics", "solve", "--count", "3", "--format", "json").output)
    assert {q["topic"] for q in only} == {"solve"}


def test_multiple_choice_answers_spread_over_the_letters() -> None:
    """Shuffled: the right answer is not always in the same place."""
    places = [[c.correct for c in q.choices].index(True) for q in quiz(11, 30) if q.choices]
    assert len(set(places)) >= 3


# --- what students see, read back and recomputed ---------------------------------------------
#
# The tests below read only the texts a student is shown (the question, the answer, the
# working and the choices), in three forms: the Question objects, and the JSON and the Markdown
# worksheet `convcalc quiz` writes. Every number is recomputed from the network the question's
# text describes: by PyTorch's modules (shapes, parameters), PyTorch's FlopCounterMode ÷ 2
# (multiply-adds; torchinfo where the question counts the biases as torchinfo does),
# autograd (receptive fields), the size rule and brute force (inverse problems), the formula
# (the MLP); every number in a working is evaluated by the small evaluator below.

FORMS = ("question", "json", "markdown")
TITLES = {  # the Markdown worksheet names a question's topic by its title
    "Output shape": "shape",
    "Parameters": "params",
    "Multiply-adds": "macs",
    "Receptive field": "rf",
    "Inverse problem": "solve",
    "MLP parameters": "mlp",
}


@dataclass(frozen=True)
class Shown:
    """One question as a student reads it; ``choices`` are (text, marked right)."""

    where: str
    topic: str
    text: str
    answer: str
    working: str
    choices: tuple[tuple[str, bool], ...]


# integers (thousands grouped by commas or not), + and − (or -), · and × for a product, / exact,
# ⌊…⌋ and ⌈…⌉, parentheses
_TOKEN = re.compile(r"\s*(\d{1,3}(?:,\d{3})+(?![\d,])|\d+|[-−+·×/()⌊⌋⌈⌉])")


def evaluate(text: str) -> Fraction:
    """The value of an arithmetic expression as the working writes it; a ValueError for any
    other text."""
    tokens: list[str] = []
    pos, text = 0, text.rstrip()
    while pos < len(text):
        if not (m := _TOKEN.match(text, pos)):
            raise ValueError(f"cannot read {text[pos:]!r} in {text!r}")
        tokens.append(m.group(1))
        pos = m.end()
    tokens.append("")  # the end
    at = 0

    def take(*expected: str) -> str:
        nonlocal at
        token = tokens[at]
        if expected and token not in expected:
            raise ValueError(f"{expected} expected, not {token!r}, in {text!r}")
        at += 1
        return token

    def expression() -> Fraction:
        value = term()
        while tokens[at] in ("+", "−", "-"):
            value = value + term() if take() == "+" else value - term()
        return value

    def term() -> Fraction:
        value = factor()
        while tokens[at] in ("·", "×", "/"):
            value = value / factor() if take() == "/" else value * factor()
        return value

    def factor() -> Fraction:
        token = take()
        if token in ("−", "-"):
            return -factor()
        if token == "(":
            value = expression()
            take(")")
            return value
        if token in ("⌊", "⌈"):
            value = expression()
            take("⌋" if token == "⌊" else "⌉")
            return Fraction(math.floor(value) if token == "⌊" else math.ceil(value))
        if token.replace(",", "").isdigit():
            return Fraction(int(token.replace(",", "")))
        raise ValueError(f"a number expected, not {token!r}, in {text!r}")

    value = expression()
    take("")
    return value


def test_the_evaluator_by_hand() -> None:
    assert evaluate("(8·3·3·3 + 8)·13·13") == (8 * 27 + 8) * 169
    assert evaluate("⌈111 / 2⌉ + 1 − 1") == 56
    assert evaluate("⌊(32 + 2·1 − 1·(2 − 1) − 1) / 3⌋ + 1") == 11
    assert evaluate("1,187,840") == 1187840
    assert evaluate("2·(3 + 4)/7 - −1") == 3
    for bad in ("2 +", "(1", "k·2", "1,2", "1 2", "⌊3/2⌉"):
        with pytest.raises(ValueError, match=r"expected|cannot read"):
            evaluate(bad)


def chain(line: str) -> list[Fraction]:
    """The values of the numeric parts of ``a = b = c`` (a note after three spaces dropped;
    a part with letters in it is a formula, passed over)."""
    line = line.split("   (")[0]
    return [evaluate(part) for part in line.split(" = ") if not re.search(r"[^\W\d]", part)]


def assert_chain(line: str, value: int, where: str) -> None:
    values = chain(line)
    assert values and all(v == value for v in values), f"{where}: {line!r} is not {value}"


def number(text: str) -> int:
    """A count as the quiz writes it, thousands grouped by commas."""
    value = int(text.replace(",", ""))
    assert text == f"{value:,}", text
    return value


# --- the network a question's text describes -------------------------------------------------


@dataclass(frozen=True)
class Layer:
    kind: str  # "conv" or "maxpool"
    k: int
    stride: int
    padding: int
    dilation: int = 1
    groups: int = 1
    filters: int = 0
    ceil: bool = False


_INPUT = re.compile(r"Input (\d+)×(\d+)×(\d+); layers, in order:")
_OPTIONS = r"((?:, [a-z]+ \d+)*)"
_CONV = re.compile(r"(\d+)\. convolution \((\d+) filters of (\d+)×(\d+)" + _OPTIONS + r"\)")
_POOL = re.compile(
    r"(\d+)\. max pooling \(a (\d+)×(\d+) window" + _OPTIONS + r"(, ceil_mode=True)?\)"
)


def network(text: str) -> tuple[tuple[int, ...], list[Layer]]:
    """The input shape and the numbered layers of a question's text."""
    lines = text.split("\n")
    head = _INPUT.fullmatch(lines[0])
    assert head, lines[0]
    layers = []
    for n, line in enumerate(lines[1:-1], 1):
        if conv := _CONV.fullmatch(line):
            index, filters, k, k2, options, ceil = (*conv.groups(), "")
        else:
            pool = _POOL.fullmatch(line)
            assert pool, line
            index, k, k2, options, ceil = pool.groups(default="")
            filters = "0"
        assert int(index) == n and k == k2, line  # numbered in order; square windows
        fields = {name: int(value) for name, value in re.findall(r", ([a-z]+) (\d+)", options)}
        assert {"stride", "padding"} <= set(fields) <= {"stride", "padding", "dilation", "groups"}
        kind = "conv" if conv else "maxpool"
        layers.append(Layer(kind, int(k), filters=int(filters), ceil=bool(ceil), **fields))
    assert layers, text
    return tuple(int(n) for n in head.groups()), layers


def modules(torch: Any, channels: int, layers: list[Layer]) -> list[Any]:
    """PyTorch's modules for the layers, on the meta device (shapes and sizes only)."""
    nn, out = torch.nn, []
    with torch.device("meta"):
        for layer in layers:
            window = {"stride": layer.stride, "padding": layer.padding, "dilation": layer.dilation}
            if layer.kind == "conv":
                out.append(
                    nn.Conv2d(channels, layer.filters, layer.k, groups=layer.groups, **window)
                )
                channels = layer.filters
            else:
                out.append(nn.MaxPool2d(layer.k, ceil_mode=layer.ceil, **window))
    return out


def torch_shapes(torch: Any, shape: tuple[int, ...], mods: list[Any]) -> list[tuple[int, ...]]:
    """The input shape, then each module's output shape, batch left out."""
    x, shapes = torch.empty(1, *shape, device="meta"), [shape]
    for module in mods:
        x = module(x)
        shapes.append(tuple(int(n) for n in x.shape[1:]))
    return shapes


def field_by_autograd(torch: Any, layers: list[Layer]) -> int:
    """The rows one output position sees: the span of the input rows whose gradient is not 0,
    for a central output position of the stack run on ones, each window a convolution of ones
    (a max pool's gradient reaches one row of its window only). The layers act on the rows as
    on the columns, so one axis is enough; the input is long enough that no edge cuts the field
    (checked)."""
    bound, jump = 1, 1  # a generous bound on the field, only to size the input
    for layer in layers:
        bound, jump = bound + layer.dilation * layer.k * jump, jump * layer.stride
    length = 4 * bound + 1
    x = torch.ones(1, 1, length, dtype=torch.float64, requires_grad=True)
    y = x
    for layer in layers:
        weight = torch.ones(1, 1, layer.k, dtype=torch.float64)
        y = torch.nn.functional.conv1d(
            y, weight, stride=layer.stride, padding=layer.padding, dilation=layer.dilation
        )
    y[0, 0, y.shape[-1] // 2].backward()
    rows = (x.grad[0, 0] != 0).nonzero().flatten().tolist()
    assert rows[0] > 0 and rows[-1] < length - 1, (rows, length)
    return int(rows[-1] - rows[0] + 1)


def _attribute(value: Any) -> int:
    return int(value[0] if isinstance(value, tuple) else value)


# --- the checks, topic by topic --------------------------------------------------------------


def check_shown(q: Shown, torch: Any, torchinfo: Any) -> None:
    """Everything ``q`` shows, recomputed; ``torch`` and ``torchinfo`` may be None for the
    topics that do without (solve, mlp)."""
    right = [text for text, correct in q.choices if correct]
    assert right == [q.answer], f"{q.where}: right choices {right}, answer {q.answer!r}"
    texts = [text for text, _ in q.choices]
    assert len(set(texts)) == len(texts) and len(texts) >= 3, q.where
    wrong = [text for text, correct in q.choices if not correct]
    CHECKS[q.topic](q, wrong, torch, torchinfo)


_SECTION = re.compile(r"layers\[(\d+)\] (conv|maxpool)\b.*:")
_SIZE = re.compile(r"([⌊⌈])\((\d+) \+ 2·(\d+) − (\d+)·\((\d+) − 1\) − 1\) / (\d+)([⌋⌉])")


def _sections(working: str) -> list[tuple[int, str, dict[str, str]]]:
    """The working's per-layer sections: index, type, and its lines by their first symbol."""
    out: list[tuple[int, str, dict[str, str]]] = []
    for raw in working.split("\n"):
        line = raw.strip()
        if head := _SECTION.fullmatch(line):
            out.append((int(head[1]), head[2], {}))
        elif line:
            assert out and " = " in line, line
            out[-1][2][line.split(" = ")[0]] = line
    return out


def _check_shape(q: Shown, wrong: list[str], torch: Any, torchinfo: Any) -> None:
    shape, layers = network(q.text)
    shapes = torch_shapes(torch, shape, modules(torch, shape[0], layers))
    assert q.answer == "×".join(map(str, shapes[-1])), q.where
    for text in wrong:
        assert tuple(int(n) for n in text.split("×")) != shapes[-1], q.where
    sections = _sections(q.working)
    assert [(i, kind) for i, kind, _ in sections] == [
        (i, layer.kind) for i, layer in enumerate(layers)
    ], q.where
    for (i, _, lines), layer in zip(sections, layers, strict=True):
        before, after = shapes[i], shapes[i + 1]
        where = f"{q.where} layers[{i}]"
        assert ("C" in lines) == (after[0] != before[0]), where  # a change of channels
        if "C" in lines:
            assert_chain(lines["C"], after[0], where)
        assert_chain(lines["H"], after[1], where)
        assert_chain(lines["W"], after[2], where)
        size = _SIZE.search(lines["H"])
        assert size, where
        assert size[1] + size[7] == ("⌈⌉" if layer.ceil else "⌊⌋"), where
        n, p, d, k, s = (int(v) for v in size.groups()[1:6])
        assert (n, p, d, k, s) == (before[1], layer.padding, layer.dilation, layer.k, layer.stride)
        if layer.ceil:  # a last window that would start in the right padding is dropped
            full = -((n + 2 * p - d * (k - 1) - 1) // -s) + 1
            drop = (full - 1) * s >= n + p
            assert after[1] == full - drop, where  # PyTorch's rule, as written here
            note = re.search(r"\(out − 1\)·s = (\d+) ≥ H_in \+ p = (\d+)", lines["H"])
            assert (note is not None) == drop, where
            assert note is None or (int(note[1]), int(note[2])) == ((full - 1) * s, n + p)


def _check_params(q: Shown, wrong: list[str], torch: Any, torchinfo: Any) -> None:
    shape, layers = network(q.text)
    (module,) = modules(torch, shape[0], layers)
    count = sum(int(p.numel()) for p in module.parameters())
    assert number(q.answer) == count, q.where
    assert all(number(text) != count for text in wrong), q.where
    ((_, _, lines),) = _sections(q.working)
    assert_chain(lines["parameters"], count, q.where)
    tensors = re.search(r"\(weight ([\d×]+), bias (\d+)\)$", lines["parameters"])
    assert tensors, q.where
    assert tensors[1] == "×".join(map(str, module.weight.shape)), q.where
    assert int(tensors[2]) == module.bias.numel(), q.where


_AS_TOOL = re.compile(r"bias additions counted as (\w+) does")


def _check_macs(q: Shown, wrong: list[str], torch: Any, torchinfo: Any) -> None:
    """The count the question asks for: every multiply-add (FlopCounterMode ÷ 2), or, where
    it counts the biases as torchinfo does, torchinfo's."""
    from torch.utils.flop_counter import FlopCounterMode

    shape, layers = network(q.text)
    (module,) = modules(torch, shape[0], layers)
    x = torch.empty(1, *shape, device="meta")
    if tool := _AS_TOOL.search(q.text):
        assert tool[1] == "torchinfo", q.where  # the only tool these tests ask
        assert torchinfo is not None, q.where
        stats = torchinfo.summary(
            torch.nn.Sequential(module), input_data=x, device="meta", verbose=0
        )
        (counted,) = [layer for layer in stats.summary_list if layer.is_leaf_layer]
        macs, output_shape = int(counted.macs), tuple(counted.output_size[1:])
    else:
        assert "bias additions not counted" in q.text, q.where
        counter = FlopCounterMode(display=False)
        with counter:
            out = module(x)
        macs, output_shape = counter.get_total_flops() // 2, tuple(out.shape[1:])
    assert number(q.answer) == macs, q.where
    assert all(number(text) != macs for text in wrong), q.where
    output = re.match(r"output (\d+)×(\d+)×(\d+): ", q.working)
    assert output and tuple(int(n) for n in output.groups()) == output_shape
    _, worked = q.working.split("multiply-adds = ")
    assert "\n" not in worked, q.where
    assert_chain(worked, macs, q.where)


_RF_LAYER = re.compile(r"layers\[(\d+)\]: k_eff (\d+), stride (\d+)")


def _check_rf(q: Shown, wrong: list[str], torch: Any, torchinfo: Any) -> None:
    shape, layers = network(q.text)
    size = field_by_autograd(torch, layers)
    assert number(q.answer) == size, q.where
    assert all(number(text) != size for text in wrong), q.where
    steps = [tuple(map(int, m)) for m in _RF_LAYER.findall(q.working)]
    assert [i for i, _, _ in steps] == list(range(len(layers))), q.where
    r, j = 1, 1  # the rule the working states: r += (k_eff − 1)·j, then j *= stride
    for (_, k_eff, stride), module in zip(steps, modules(torch, shape[0], layers), strict=True):
        dilation, k = _attribute(module.dilation), _attribute(module.kernel_size)
        assert (k_eff, stride) == (dilation * (k - 1) + 1, _attribute(module.stride)), q.where
        r, j = r + (k_eff - 1) * j, j * stride
    assert r == size, q.where
    assert q.working.endswith(f"; r = {size}"), q.where


_SOLVE = re.compile(r"padding (\d+) and dilation (\d+) must map a (\d+)×\3 input to (\d+)×\4\. ")
_SOLVE_WORKING = re.compile(
    r"(⌊\((\d+) \+ 2·(\d+) − (\d+)·\((\d+) − 1\) − 1\)/(\d+)⌋ \+ 1 = .*); (\d+) \(k, s\) pairs "
    r"work in all \(convcalc solve --in (\d+) --out (\d+) --padding (\d+) --dilation (\d+) "
    r"lists them\)"
)


@functools.cache
def pairs(n: int, m: int, p: int, d: int) -> frozenset[tuple[int, int]]:
    """Every (k, s) the size rule maps n to m with, by brute force: past k_eff = n + 2p there is
    no window, and past s = n + 2p every output is 1 (m is 2 or more)."""
    assert m >= 2
    limit = n + 2 * p
    return frozenset(
        (k, s)
        for k in range(1, limit + 1)
        for s in range(1, limit + 1)
        if out_size("conv", n, k, s, p, d) == m
    )


def _check_solve(q: Shown, wrong: list[str], torch: Any, torchinfo: Any) -> None:
    given = _SOLVE.search(q.text)
    assert given, q.where
    p, d, n, m = (int(v) for v in given.groups())
    answer = re.fullmatch(r"k = (\d+), s = (\d+)", q.answer)
    assert answer, q.where
    k, s = int(answer[1]), int(answer[2])
    assert out_size("conv", n, k, s, p, d) == m, f"{q.where}: k = {k}, s = {s} do not give {m}"
    for text in wrong:
        other = re.fullmatch(r"k = (\d+), s = (\d+)", text)
        assert other, text
        kk, ss = int(other[1]), int(other[2])
        assert out_size("conv", n, kk, ss, p, d) != m, f"{q.where}: {text} is right too"
    working = _SOLVE_WORKING.fullmatch(q.working)
    assert working, q.where
    shown = [int(v) for v in working.groups()[1:]]
    assert shown[:5] == [n, p, d, k, s], f"{q.where}: the working substitutes {shown[:5]}"
    assert_chain(working[1], m, q.where)
    assert shown[5] == len(pairs(n, m, p, d)), q.where
    assert shown[6:] == [n, m, p, d], q.where


_MLP = re.compile(
    r"An MLP has d = (\d+) inputs, one hidden layer of d_h = (\d+) ELU units, and d_o = (\d+) "
    r"softmax outputs, with biases\. "
)


def _check_mlp(q: Shown, wrong: list[str], torch: Any, torchinfo: Any) -> None:
    sizes = _MLP.match(q.text)
    assert sizes, q.where
    d, d_h, d_o = (int(v) for v in sizes.groups())
    count = (d + 1) * d_h + (d_h + 1) * d_o  # each unit: a weight per input, and a bias
    if torch is not None:
        nn = torch.nn
        with torch.device("meta"):
            mlp = nn.Sequential(nn.Linear(d, d_h), nn.ELU(), nn.Linear(d_h, d_o), nn.Softmax(-1))
        assert sum(int(p.numel()) for p in mlp.parameters()) == count
    assert number(q.answer) == count, q.where
    assert all(number(text) != count for text in wrong), q.where
    assert q.working.startswith("n_θ = "), q.where
    assert_chain(q.working, count, q.where)


CHECKS: dict[str, Callable[[Shown, list[str], Any, Any], None]] = {
    "shape": _check_shape,
    "params": _check_params,
    "macs": _check_macs,
    "rf": _check_rf,
    "solve": _check_solve,
    "mlp": _check_mlp,
}


# --- the three forms ---------------------------------------------------------------------------


def from_question(q: Question, where: str) -> Shown:
    choices = tuple((c.text, c.correct) for c in q.choices)
    return Shown(where, q.topic, q.text, q.answer, q.explanation, choices)


def read_json(source: str, where: str) -> list[Shown]:
    out = []
    for n, q in enumerate(json.loads(source), 1):
        choices = tuple((c["text"], c["correct"]) for c in q["choices"])
        assert all(c["feedback"] for c in q["choices"] if not c["correct"]), q["id"]
        out.append(
            Shown(f"{where} #{n}", q["topic"], q["text"], q["answer"], q["explanation"], choices)
        )
    return out


# CommonMark: a backslash before ASCII punctuation is that character; one ending a line is a
# hard line break
_MD_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")
_MD_FENCE = re.compile(r" {0,3}(`{3,})[^`]*")
_MD_ITEM = re.compile(r"- ([A-Z])\) (.*)")


def _md_text(lines: list[str]) -> str:
    """Paragraphs and fenced code blocks as plain text, a line for each line: a paragraph's
    lines lose their indent, their escapes and hard breaks; a code block's stay as written."""
    out, i = [], 0
    while i < len(lines):
        if fence := _MD_FENCE.fullmatch(lines[i]):
            close = re.compile(r" {0,3}" + fence[1] + r"`* *")
            end = next(j for j in range(i + 1, len(lines)) if close.fullmatch(lines[j]))
            out += lines[i + 1 : end]
            i = end + 1
            continue
        line = lines[i].strip()
        if line:
            hard = (len(line) - len(line.rstrip("\\"))) % 2 == 1
            out.append(_MD_ESCAPED.sub(r"\1", line[:-1] if hard else line))
        i += 1
    return "\n".join(out)


def _md_items(lines: list[str]) -> tuple[list[str], dict[str, str]]:
    """The lines before a trailing list of ``- X) text`` items, and the items by letter."""
    start = next((i for i, line in enumerate(lines) if _MD_ITEM.fullmatch(line)), len(lines))
    items = {}
    for line in lines[start:]:
        if line.strip():
            item = _MD_ITEM.fullmatch(line)
            assert item, line
            items[item[1]] = _md_text([item[2]])
    return lines[:start], items


def read_markdown(source: str, where: str) -> list[Shown]:
    """The worksheet (``## n. title``, the text, the lettered choices) and the answer key
    (``### n. title``, ``**Answer:** X) text``, the working, ``- X) text: feedback``)."""
    body, key = source.split("\n## Answer key\n")
    asked = re.split(r"^## (\d+)\. (.*)$", body, flags=re.MULTILINE)[1:]
    answered = re.split(r"^### (\d+)\. (.*)$", key, flags=re.MULTILINE)[1:]
    assert len(asked) == len(answered) and asked[::3] == answered[::3], where
    out = []
    for i in range(0, len(asked), 3):
        n, title = asked[i], _md_text([asked[i + 1]])
        assert _md_text([answered[i + 1]]) == title, (n, title)
        text, choices = _md_items(asked[i + 2].strip("\n").split("\n"))
        lines = answered[i + 2].strip("\n").split("\n")
        answer = re.fullmatch(r"\*\*Answer:\*\* ([A-Z])\) (.*)", lines[0])
        assert answer and not lines[1].strip(), lines[:2]
        working, feedback = _md_items(lines[2:])
        letter = answer[1]
        assert _md_text([answer[2]]) == choices[letter], (n, answer[0])
        assert set(feedback) == set(choices) - {letter}, n  # each wrong choice explained
        for x, said in feedback.items():
            assert said.startswith(choices[x] + ": ") and said[len(choices[x]) + 2 :], (n, x)
        out.append(
            Shown(
                f"{where} #{n}",
                TITLES[title],
                _md_text(text),
                choices[letter],
                _md_text(working),
                tuple((t, x == letter) for x, t in choices.items()),
            )
        )
    return out


@functools.cache
def shown(form: str, convention: str = "") -> tuple[Shown, ...]:
    """Every question of the seeds and difficulties, as ``form`` shows it; multiply-adds
    under ``convention`` (the default without one)."""
    chosen = {"convention": convention} if convention else {}
    out: list[Shown] = []
    for seed in SEEDS:
        for difficulty in (1, 2, 3):
            where = f"{form}, seed {seed}, difficulty {difficulty}"
            if form == "question":
                made = quiz(seed, len(TOPICS), TOPICS, difficulty, **chosen)
                out += [from_question(q, f"{where}, {q.id}") for q in made]
                continue
            args = ["quiz", "--seed", str(seed), "--count", str(len(TOPICS))]
            args += ["--difficulty", str(difficulty), "--format", form]
            args += ["--convention", convention] if convention else []
            result = CliRunner().invoke(cli, args, catch_exceptions=False)
            assert result.exit_code == 0, result.output
            read = read_json if form == "json" else read_markdown
            out += read(result.stdout, where)
    return tuple(out)


def _oracles(topic: str) -> tuple[Any, Any]:
    """torch (and torchinfo for multiply-adds) where the topic needs them, else a skip; the
    inverse problem needs neither, the MLP uses torch where it is installed."""
    if topic == "solve":
        return None, None
    if topic == "mlp":
        try:
            import torch
        except ImportError:
            return None, None
        return torch, None
    return pytest.importorskip("torch"), None


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("topic", TOPICS)
def test_what_students_see_is_recomputed_independently(topic: str, form: str) -> None:
    """The answer, every choice and every number of the working, as each form shows them, read
    back and recomputed from the network the question's text describes."""
    torch, torchinfo = _oracles(topic)
    questions = [q for q in shown(form) if q.topic == topic]
    assert len(questions) == 3 * len(SEEDS)
    for q in questions:
        check_shown(q, torch, torchinfo)


@pytest.mark.torch
def test_multiply_adds_and_inverse_problems_are_recomputed() -> None:
    """The quick run's share of the test above past its first case, as the Question objects
    show them: the first seed's multiply-add workings, one a difficulty (PyTorch's
    FlopCounterMode ÷ 2), and every inverse answer (the size rule, brute force)."""
    torch = pytest.importorskip("torch")
    for topic, count in (("macs", 3), ("solve", 3 * len(SEEDS))):
        questions = [q for q in shown("question") if q.topic == topic][:count]
        assert len(questions) == count
        for q in questions:
            check_shown(q, torch, None)


@pytest.mark.full
@pytest.mark.torch
@pytest.mark.parametrize("form", FORMS)
def test_a_course_teaching_torchinfo_s_count_is_checked_by_torchinfo(form: str) -> None:
    """``--convention torchinfo``: the multiply-add questions count the biases, and torchinfo
    itself gives every answer, choice and working; the convention never reaches the other
    topics (a quiz of them alone is the same under both; in a mixed quiz, a multiply-add
    question's distractors may number differently and move the later draws)."""
    torch = pytest.importorskip("torch")
    torchinfo = pytest.importorskip("torchinfo")
    questions = [q for q in shown(form, "torchinfo") if q.topic == "macs"]
    assert len(questions) == 3 * len(SEEDS)
    for q in questions:
        assert "bias additions counted as torchinfo does" in q.text, q.where
        check_shown(q, torch, torchinfo)
    topics = tuple(topic for topic in TOPICS if topic != "macs")
    for seed in SEEDS:
        theirs = quiz(seed, len(topics), topics, convention="torchinfo")
        ours = quiz(seed, len(topics), topics)
        assert [(q.text, q.answer) for q in theirs] == [(q.text, q.answer) for q in ours]


def test_the_default_and_torchinfo_differ_by_the_biases() -> None:
    """The same seed's question under both: torchinfo's answer is the default's plus one bias
    per output channel at every output position (the layer read from the question's text),
    and each is the other's distractor, named — but where the choices are balanced so that
    none gives the answer away by its form, which may leave it out (2 seeds in 200)."""
    shown = 0
    for seed in SEEDS:
        (ours,) = quiz(seed, 1, ("macs",))
        (theirs,) = quiz(seed, 1, ("macs",), convention="torchinfo")
        assert ours.text.split("\n")[:-1] == theirs.text.split("\n")[:-1]
        shape, (layer,) = network(ours.text)
        size = shape[1] + 2 * layer.padding - layer.dilation * (layer.k - 1) - 1
        side = size // layer.stride + 1
        weights = layer.filters * (shape[0] // layer.groups) * layer.k * layer.k
        assert number(ours.answer) == weights * side * side
        assert number(theirs.answer) == (weights + layer.filters) * side * side
        feedback = {c.text: c.feedback for c in ours.choices}
        if theirs.answer not in feedback:
            continue
        shown += 1
        assert feedback[theirs.answer] == (
            "torchinfo's convention: adds the bias at every output position"
        )
        feedback = {c.text: c.feedback for c in theirs.choices}
        assert feedback[ours.answer].startswith("convcalc's convention: unlike torchinfo")
    assert shown >= 0.9 * len(SEEDS)


def test_an_unknown_convention_is_refused() -> None:
    with pytest.raises(ConvcalcError, match="--convention: choose among convcalc, torchinfo"):
        quiz(0, 1, ("macs",), convention="flops")
    result = CliRunner().invoke(cli, ["quiz", "--convention", "flops"])
    assert result.exit_code == 2 and "'flops' is not one of" in result.output


def _swapped(q: Shown) -> Shown:
    """The inverse answer shown with k and s swapped (the working left as it was)."""
    pair = re.fullmatch(r"k = (\d+), s = (\d+)", q.answer)
    assert pair, q.answer
    answer = f"k = {pair[2]}, s = {pair[1]}"
    choices = tuple((answer if right else text, right) for text, right in q.choices)
    return dataclasses.replace(q, answer=answer, choices=choices)


def _batch_of_two(q: Shown) -> Shown:
    """The multiply-add working for a batch of 2: ``2·w·H·W = 2n``."""
    head, worked = q.working.split("multiply-adds = ")
    expression, value = worked.rsplit(" = ", 1)
    doubled = f"2·{expression}"
    working = f"{head}multiply-adds = {doubled} = {2 * number(value):,}"
    return dataclasses.replace(q, working=working)


def _another_right(q: Shown) -> Shown:
    """The first wrong choice marked right and given as the answer."""
    other = next(text for text, right in q.choices if not right)
    choices = tuple((text, text == other) for text, _ in q.choices)
    return dataclasses.replace(q, answer=other, choices=choices)


@pytest.mark.full
def test_the_checks_refuse_a_slip_in_what_is_shown() -> None:
    """The checks above can fail: an inverse answer with k and s swapped (where they differ), a
    multiply-add working for a batch of 2, and a wrong choice given as the answer are refused
    in every question they apply to."""
    torch = pytest.importorskip("torch")
    questions = shown("question")
    slips = [
        (_swapped, [q for q in questions if q.topic == "solve"]),
        (_batch_of_two, [q for q in questions if q.topic == "macs"]),
        (_another_right, list(questions)),
    ]
    tried = 0
    for slip, among in slips:
        for q in among:
            wrong = slip(q)
            if wrong == q:
                continue  # k = s: swapping them changes nothing
            with pytest.raises(AssertionError):
                check_shown(wrong, torch, None)
            tried += 1
    assert tried > len(questions)
