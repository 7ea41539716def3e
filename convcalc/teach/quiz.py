"""Random, well-posed questions in the style of the homework, with answers, worked explanations
and distractors made from the named mistakes (:mod:`convcalc.teach.mistakes`).

Every answer comes from convcalc's own computation of a spec the generator writes; every wrong
choice is a number one named mistake gives, with that name as its feedback. The same seed gives
the same quiz; a negative seed is a seed of its own, not its absolute value's.

The questions are PyTorch's (:class:`Words`) or Keras' (:class:`KerasWords`, ``--framework
keras``): the same kinds, each layer written in its framework's own words (``Conv2D(filters=32,
kernel_size=8, strides=2, padding="same")``), its shapes in the framework's order (Keras:
height×width×channels) and its rules (Keras' ``same`` ⌈n/s⌉ at any stride, a pool's strides
defaulting to its pool_size, Conv2DTranspose, Dense on the last axis, BatchNormalization's
non-trainable moving statistics), with the other framework's rule among the mistakes.
:mod:`convcalc.teach.quiz_formats` writes the questions as Markdown, Moodle XML, GIFT, JSON or
LaTeX.

Nothing gives the answer away: no layer states a parameter it ignores (:func:`ignored`), each
wrong choice is a different mistake with its own feedback, and no field of a choice (k or s, a
shape's rank or sizes, a number's digit count: :func:`fields`) makes the answer the odd one out
(:func:`giveaway`).
"""

from __future__ import annotations

import functools
import itertools
import math
import random
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from typing import Any

from convcalc import arith
from convcalc.analysis import analyse
from convcalc.arith import Refusal
from convcalc.errors import ConvcalcError
from convcalc.expr import Expr, equation, product, total
from convcalc.records import Applied, Dialect, Entry, Report, shape_text
from convcalc.spec.validate import load_spec
from convcalc.teach import mistakes as named
from convcalc.teach.quiz_formats import TOPICS, Choice, Question
from convcalc.views.conventions import CONVENTIONS
from convcalc.views.explain import explain, grouped_digits, render_lines

MAX_TRIES = 200  # random layers drawn per question before giving up (a bug if ever reached)
TWICE = "counted every weight twice"
NO_INPUTS = "forgot the input channels"
ONE_POSITION = "counted one output position only"
LAST_KERNEL = "the last layer's kernel only"
K_NOT_K_MINUS_ONE = "k instead of k − 1 at each layer"
MAX_SETS = 300  # sets of wrong choices tried per size before a question is drawn again
Wrong = tuple[str, str, str]  # a wrong choice's text, its mistake's name, its feedback
Made = tuple[Question, dict[str, Any]]  # a question and what it was made from
Maker = Callable[[random.Random, int, str, "Words"], Made]  # (rng, difficulty, id, words)
FRAMEWORKS = ("pytorch", "keras")


def quiz(
    seed: int,
    count: int,
    topics: tuple[str, ...] = TOPICS,
    difficulty: int = 2,
    convention: str = named.DEFAULT_CONVENTION,
    framework: str = "pytorch",
) -> list[Question]:
    """``count`` questions cycling through ``topics``, reproducible from ``seed``; the
    multiply-adds counted under ``convention``; in ``framework``'s words."""
    return [q for q, _ in generate(seed, count, topics, difficulty, convention, framework)]


def generate(
    seed: int,
    count: int,
    topics: tuple[str, ...] = TOPICS,
    difficulty: int = 2,
    convention: str = named.DEFAULT_CONVENTION,
    framework: str = "pytorch",
) -> list[tuple[Question, dict[str, Any]]]:
    """The questions with what each was made from (the spec, or the sizes), for checking."""
    unknown = [t for t in topics if t not in TOPICS]
    if unknown or not topics:
        raise ConvcalcError(f"--topics: choose among {', '.join(TOPICS)}, not {unknown or 'none'}")
    if not 1 <= difficulty <= 3:
        raise ConvcalcError("--difficulty is 1, 2 or 3")
    if convention not in CONVENTIONS:
        raise ConvcalcError(f"--convention: choose among {', '.join(CONVENTIONS)}")
    if framework not in FRAMEWORKS:
        raise ConvcalcError(f"--framework: choose among {', '.join(FRAMEWORKS)}")
    words = KerasWords() if framework == "keras" else Words()
    makers: dict[str, Maker] = {**MAKERS, "macs": functools.partial(_macs, convention=convention)}
    rng = _random(seed)
    made = []
    for i in range(count):
        topic = topics[i % len(topics)]
        for _ in range(MAX_TRIES):  # until two mistakes give two wrong values, no giveaway
            question, data = makers[topic](rng, difficulty, f"q{i + 1:02d}-{topic}", words)
            if sum(not choice.correct for choice in question.choices) >= 2:
                break
        else:
            raise ConvcalcError(
                f"no {topic} question with two distractors that give nothing away: a bug in "
                "convcalc"
            )
        made.append((question, data))
    return made


def _random(seed: int) -> random.Random:
    """The generator for ``seed``, any integer. Python seeds with an integer's absolute value
    (-5 would give the quiz of 5), so a negative seed is given as its text instead: "-5", which
    :func:`random.seed` turns into the number of its bytes and their SHA-512 digest (over 500
    bits: no seed anyone types). Seeds of 0 and more are Python's own, their quizzes unchanged."""
    return random.Random(seed if seed >= 0 else str(seed))


# --- random layers -----------------------------------------------------------------------------


def _layer(rng: random.Random, difficulty: int) -> dict[str, Any]:
    """A conv or a pool, harder with the difficulty: padding and dilation (2), ceil mode and
    groups (3)."""
    kind = rng.choice(["conv", "conv", "maxpool"] if difficulty > 1 else ["conv"])
    k = rng.choice([1, 2, 3, 3, 4, 5, 7, 8] if kind == "conv" else [2, 3, 5])
    layer: dict[str, Any] = {"type": kind, "kernel_size": k, "stride": rng.choice([1, 2, 2, 3])}
    if difficulty > 1:
        layer["padding"] = rng.randint(0, k // 2)  # none on a 1×1 kernel
        if kind == "conv" and rng.random() < 0.4 and k > 1:  # a 1×1 kernel has one tap
            layer["dilation"] = 2
    if kind == "conv":
        layer["out_channels"] = rng.choice([8, 16, 32, 64, 128])
        if difficulty > 2 and rng.random() < 0.5:
            layer["groups"] = rng.choice([2, 4])
    elif difficulty > 2:
        layer["ceil_mode"] = True
    return layer


def _network(
    rng: random.Random, difficulty: int, layers: int, words: Words
) -> tuple[Report, dict[str, Any]]:
    """A valid random stack of ``layers`` layers on a square input, and its spec, in which
    every parameter changes what its layer does (``words.ignored``): a ceil mode that rounds
    nothing is left out (the sizes are the same without it), any other stack drawn again."""
    for _ in range(MAX_TRIES):
        channels = rng.choice([1, 3, 8, 16, 32])
        size = rng.choice([28, 32, 61, 64, 96, 100, 128, 224])
        spec = words.spec(channels, size, [words.layer(rng, difficulty) for _ in range(layers)])
        try:
            report = analyse(load_spec(spec))
        except (ConvcalcError, Refusal):
            continue
        found = [
            (layer, name)
            for layer, entry in zip(spec["layers"], report.layers, strict=True)
            for name in words.ignored(layer, entry.input_shape[1])
        ]
        if any(name != "ceil_mode" for _, name in found):
            continue
        if found:
            for layer, _ in found:
                del layer["ceil_mode"]
            report = analyse(load_spec(spec))
        if all(n > 1 for n in report.output_shape[1:]):
            return report, spec
    raise ConvcalcError("no valid network found: a bug in the quiz generator")


def ignored(layer: dict[str, Any], length: int) -> list[str]:
    """The parameters a conv or max pool (its spec) ignores on an input ``length`` long: a
    dilation on a 1-wide kernel (one tap, however spaced), a padding on one (a border of
    biases alone), a stride where even stride 1 leaves a single window
    (⌊(L + 2p − d·(k − 1) − 1)/1⌋ + 1 = 1), a ceil mode where ceil and floor give the same
    number of windows (the same windows)."""
    k, s = layer["kernel_size"], layer.get("stride", 1)
    p, d = layer.get("padding", 0), layer.get("dilation", 1)
    ceil_mode = bool(layer.get("ceil_mode", False))

    def size(stride: int, ceil: bool) -> int:
        if layer["type"] == "conv":
            return arith.conv_out(length, k, stride, p, d)
        return arith.pool_out(length, k, stride, p, d, ceil)

    found = [name for name, value in (("dilation", d > 1), ("padding", p > 0)) if value and k == 1]
    if s > 1 and size(1, ceil_mode) == 1:
        found.append("stride")
    if ceil_mode and size(s, True) == size(s, False):
        found.append("ceil_mode")
    return found


def _describe(entry: Entry) -> str:
    """``conv: 32 filters 8×8, stride 2, padding 0`` from the spec's own fields."""
    layer = entry.layer
    parts = []
    if entry.type == "conv":
        filters = getattr(layer, "out_channels", 0)
        parts.append(f"{filters} filters of {_k(getattr(layer, 'kernel_size', 1))}")
    else:
        parts.append(f"a {_k(getattr(layer, 'kernel_size', 1))} window")
    for name in ("stride", "padding", "dilation", "groups"):
        value = getattr(layer, name, None)
        if value is not None and (name in ("stride", "padding") or value != 1):
            parts.append(f"{name} {value}")
    if getattr(layer, "ceil_mode", False):
        parts.append("ceil_mode=True")
    kind = {"conv": "convolution", "maxpool": "max pooling"}.get(entry.type, entry.type)
    return f"{kind} ({', '.join(parts)})"


def _k(value: Any) -> str:
    return f"{value}×{value}" if isinstance(value, int) else "×".join(map(str, value))


def _working(report: Report, entry: Entry | None = None, about: str = "shape") -> str:
    """The worked explanation of each layer (or of ``entry``): its sizes for a shape question,
    its parameters for a parameter question."""

    def shown(quantity: str) -> bool:
        if about == "params":
            return quantity == "parameters"
        return quantity not in ("parameters", "values")

    out = []
    for section in explain(report):
        if not section.path or (entry is not None and section.path != entry.path):
            continue
        lines = [line for line in section.lines if shown(line.quantity)]
        out.append(f"{section.path} {section.label}:")
        out.extend(f"  {text}" for text in render_lines(replace(section, lines=tuple(lines))))
    return "\n".join(out)


def fields(text: str) -> dict[str, int]:
    """The fields by which a choice could be spotted without working it out: ``k`` and ``s``
    of an inverse answer ``k = 5, s = 2`` and their digit counts; a shape's rank, each of its
    sizes and their digit counts; a number's digit count (its magnitude)."""
    if text.startswith("k = "):
        k, s = (part.split(" = ")[1] for part in text.split(", "))
        return {"k": int(k), "s": int(s), "k digits": len(k), "s digits": len(s)}
    if "×" in text:
        sizes = text.split("×")
        found = {"rank": len(sizes)}
        for i, size in enumerate(sizes):
            found |= {f"size {i}": int(size), f"size {i} digits": len(size)}
        return found
    return {"digits": len(text.replace(",", ""))}


def giveaway(right: str, texts: Sequence[str]) -> str | None:
    """The first field (:func:`fields`) in which the answer ``right`` is the odd one out
    among the choices ``texts``: its value there unique while another value repeats. A field
    in which every choice differs (a number's value itself) singles none out."""
    forms = [fields(text) for text in texts]
    mine = fields(right)
    for name in sorted(set().union(*forms)):
        values = Counter(form.get(name) for form in forms)
        if values[mine.get(name)] == 1 and len(values) < len(forms):
            return f"{name} {mine.get(name)}"
    return None


def _choices(right: str, wrong: list[Wrong], rng: random.Random, qid: str) -> tuple[Choice, ...]:
    """The right answer and up to four wrong ones, each a different text from a different
    mistake with its own feedback, that give nothing away (:func:`giveaway`), shuffled
    (seeded); none when no set of two or more will do. The first four that differ (in the
    order given) when they will do; else sets tried at random, four wrong ones first (seeded
    by the question, so as not to draw on ``rng``)."""
    pool = [w for w in dict.fromkeys(wrong) if w[0] != right]

    def fits(chosen: Sequence[Wrong]) -> bool:
        distinct = all(len({w[j] for w in chosen}) == len(chosen) for j in range(3))
        texts = [right, *(w[0] for w in chosen)]
        return len(chosen) >= 2 and distinct and giveaway(right, texts) is None

    first: list[Wrong] = []
    for w in pool:
        if len(first) < 4 and all(w[0] != v[0] and w[1] != v[1] and w[2] != v[2] for v in first):
            first.append(w)
    picked: Sequence[Wrong] | None = first if fits(first) else None
    if picked is None:
        tries = random.Random(f"{qid} {right}")
        picked = next(
            (chosen for size in (4, 3, 2) for chosen in _sets(pool, size, tries) if fits(chosen)),
            None,
        )
    if picked is None:
        return ()
    options = [Choice(right, True, ""), *(Choice(text, False, why) for text, _, why in picked)]
    rng.shuffle(options)
    return tuple(options)


def _sets(pool: list[Wrong], size: int, tries: random.Random) -> Iterator[tuple[Wrong, ...]]:
    """At most ``MAX_SETS`` sets of ``size`` from ``pool``, in a random order: every one when
    there are no more, else random draws."""
    if math.comb(len(pool), size) <= MAX_SETS:
        every = list(itertools.combinations(pool, size))
        tries.shuffle(every)
        yield from every
    else:
        for _ in range(MAX_SETS):
            yield tuple(tries.sample(pool, size))


# --- the frameworks' words --------------------------------------------------------------------


class Words:
    """How the questions write a network and ask about it: PyTorch's words (``conv``,
    ``out_channels``, shapes channels×height×width). :class:`KerasWords` is Keras'; every
    topic asks through these methods."""

    framework = "pytorch"
    order = "channels×height×width"

    def layer(self, rng: random.Random, difficulty: int) -> dict[str, Any]:
        """A random layer's spec (:func:`_layer`)."""
        return _layer(rng, difficulty)

    def spec(self, channels: int, size: int, layers: list[dict[str, Any]]) -> dict[str, Any]:
        """The spec of ``layers`` on a square input: ``input: [C, H, W]``."""
        return {"name": "net", "input": [channels, size, size], "layers": layers}

    def ignored(self, layer: dict[str, Any], length: int) -> list[str]:
        """The parameters ``layer`` ignores on an input ``length`` long (:func:`ignored`)."""
        return ignored(layer, length)

    def shape(self, report: Report, shape: tuple[int, ...]) -> str:
        """A records' shape as the framework writes it: ``32×61×61``."""
        return shape_text(shape)

    def stack_text(self, report: Report, spec: dict[str, Any]) -> str:
        """The input and each layer, as the question states them."""
        lines = [f"{i + 1}. {_describe(e)}" for i, e in enumerate(report.layers)]
        return f"Input {shape_text(report.input_shape)}; layers, in order:\n" + "\n".join(lines)

    def shape_wrong(self, entry: Entry, layer: dict[str, Any]) -> list[Wrong]:
        """The wrong output shapes of the layer: one a named mistake."""
        return [(shape_text(m.value), m.name, m.name) for m in named.shape_mistakes(entry)]

    def params(
        self, rng: random.Random, difficulty: int
    ) -> tuple[Report, dict[str, Any], str, int, list[Wrong]]:
        """A one-layer network for a parameter question, the question asked, its answer and
        the wrong counts: a conv's learnable parameters."""
        for _ in range(MAX_TRIES):
            report, spec = _network(rng, max(difficulty, 2), 1, self)
            entry = report.layers[0]
            if entry.type == "conv":
                break
        wrong = [(f"{m.value:,}", m.name, m.name) for m in named.params_mistakes(entry)]
        wrong += _conv_params_wrong(entry)
        ask = "How many learnable parameters does the layer have?"
        return report, spec, ask, entry.params, wrong

    def solve(
        self, rng: random.Random, difficulty: int
    ) -> tuple[str, str, list[Wrong], dict[str, Any]]:
        """An inverse problem: the question, its explanation, the wrong pairs and the sizes;
        (k, s) in the data."""
        from convcalc.solve.layer import problem, solutions

        for _ in range(MAX_TRIES):
            n = rng.choice([32, 64, 100, 128, 224])
            m = rng.choice([2, 3, 4, 5, 7, 8])
            p = rng.randint(0, 2) if difficulty > 1 else 0
            d = rng.choice([1, 2]) if difficulty > 2 else 1
            every = list(solutions(problem("conv", n, m, padding=str(p), dilation=str(d))))
            wide = [sol for sol in every if sol[0] > 1 or (p == 0 and d == 1)]  # see ignored()
            if not wide:
                continue
            k, s, _, _ = rng.choice(wide)
            wrong = _inverse_mistakes(n, m, p, d, (k, s), {(sol[0], sol[1]) for sol in every})
            if len({w[0] for w in wrong}) >= 2:
                break
        text = (
            f"A convolution with padding {p} and dilation {d} must map a {n}×{n} input to "
            f"{m}×{m}. Which kernel size k and stride s do it? "
            "(out = ⌊(in + 2p − d·(k − 1) − 1)/s⌋ + 1)"
        )
        a = n + 2 * p - d * (k - 1) - 1
        explanation = (
            f"⌊({n} + 2·{p} − {d}·({k} − 1) − 1)/{s}⌋ + 1 = ⌊{a}/{s}⌋ + 1 = {m}; "
            f"{len(every)} (k, s) pairs work in all (convcalc solve --in {n} --out {m} "
            f"--padding {p} --dilation {d} lists them)"
        )
        return text, explanation, wrong, {"n": n, "m": m, "p": p, "d": d, "k": k, "s": s}

    def macs_wrong(self, wrong: list[Wrong]) -> list[Wrong]:
        """The multiply-add mistakes the framework's students make: all of them."""
        return wrong

    def mlp_text(self, d: int, d_h: int, d_o: int) -> str:
        """The MLP question."""
        return (
            f"An MLP has d = {d} inputs, one hidden layer of d_h = {d_h} ELU units, and d_o = "
            f"{d_o} softmax outputs, with biases. How many parameters does it have?"
        )


def _conv_params_wrong(entry: Entry) -> list[Wrong]:
    """A conv's parameters counted twice, or without its input channels:
    F·k·k + F for F·C·k·k + F (F·k·k for F·C·k·k without a bias)."""
    weight = entry.tensors["weight"]
    bias = math.prod(entry.tensors["bias"]) if "bias" in entry.tensors else 0
    no_inputs = weight[0] * math.prod(weight[2:]) + bias
    return [(f"{entry.params * 2:,}", TWICE, TWICE), (f"{no_inputs:,}", NO_INPUTS, NO_INPUTS)]


CHANNELS_FIRST = "channels first: Keras writes a shape height×width×channels"
POOL_STRIDES = "a pool's strides default to its pool_size, not to 1"
FLATTENED = "flattened the input: Dense acts on the last axis (the channels) alone"
EVERY_POSITION = "one Dense per position: its weights are shared by every position"
TORCH_BN = "PyTorch's count: Keras' Param # holds the moving mean and variance too"
BN_MOVING = "counted the moving mean and variance: they never train"
BN_BUFFERS_KERAS = "no non-trainable parameters: Keras counts the moving mean and variance"
BN_PER_VALUE = "a γ and a β per value: BatchNormalization keeps one per channel"
BN_ONE = "one parameter per channel: γ and β are two"
BN_ALL = "counted every parameter, γ and β too"
BN_ONE_MOVING = "one moving statistic per channel: the mean and the variance are two"
NO_USE_BIAS = "counted a bias: use_bias=False leaves it out"
KERAS_REFUSES = "strides > 1 with dilation_rate > 1: PyTorch takes it, Keras refuses it"


class KerasWords(Words):
    """Keras' words: ``keras.layers`` classes with their arguments (``Conv2D(filters=32,
    kernel_size=8, strides=2, padding="same")``), shapes height×width×channels, Keras' rules
    (same ⌈n/s⌉ at any stride, Conv2DTranspose, a pool's strides defaulting to its pool_size,
    Dense on the last axis, BatchNormalization's 4·C of which 2·C train)."""

    framework = "keras"
    order = "height×width×channels"

    def layer(self, rng: random.Random, difficulty: int) -> dict[str, Any]:
        """A Conv2D (difficulty 1), or a Conv2D, MaxPooling2D, AveragePooling2D or
        Conv2DTranspose, padded ``valid`` or ``same``; a dilation_rate 2 (difficulty 3, with
        strides 1: Keras takes no more); a pool's strides left to their default (its
        pool_size) now and then."""
        many = ["Conv2D", "Conv2D", "MaxPooling2D", "AveragePooling2D", "Conv2DTranspose"]
        kind = rng.choice(["Conv2D"] if difficulty == 1 else many)
        if kind.endswith("Pooling2D"):
            layer: dict[str, Any] = {"type": kind, "pool_size": rng.choice([2, 3, 5])}
            if rng.random() < 0.6:
                layer["strides"] = rng.choice([1, 2, 2, 3])
        else:
            sizes = [1, 2, 3, 3, 4, 5, 7, 8] if kind == "Conv2D" else [2, 3, 4, 5]
            layer = {"type": kind, "filters": rng.choice([8, 16, 32, 64, 128])}
            layer |= {"kernel_size": rng.choice(sizes), "strides": rng.choice([1, 2, 2, 3])}
        if rng.random() < 0.5:
            layer["padding"] = "same"
        if kind == "Conv2D" and difficulty > 2 and layer["kernel_size"] > 1 and rng.random() < 0.4:
            layer |= {"strides": 1, "dilation_rate": 2}
        return layer

    def spec(self, channels: int, size: int, layers: list[dict[str, Any]]) -> dict[str, Any]:
        """A Keras spec: ``input: [H, W, C]``."""
        return {"name": "net", "framework": "keras", "input": [size, size, channels],
                "layers": layers}  # fmt: skip

    def ignored(self, layer: dict[str, Any], length: int) -> list[str]:
        """A dilation_rate on a 1-wide kernel; strides where stride 1 leaves a single window;
        ``same`` where it gives what ``valid`` gives (it pads nothing, or a transposed
        convolution's kernel is no longer than its stride)."""
        k = layer.get("kernel_size", layer.get("pool_size", 1))
        s = layer.get("strides") or (k if "pool_size" in layer else 1)
        d, same = layer.get("dilation_rate", 1), layer.get("padding") == "same"
        found = ["dilation_rate"] if d > 1 and k == 1 else []
        k_eff = arith.effective_kernel(k, d)
        transposed = layer["type"] == "Conv2DTranspose"
        if s > 1 and not same and not transposed and length == k_eff:
            found.append("strides")
        if same and (k_eff <= s if transposed else (-(-length // s) - 1) * s + k_eff <= length):
            found.append("padding")
        return found

    def shape(self, report: Report, shape: tuple[int, ...]) -> str:
        """``61×61×32``: channels last."""
        assert report.dialect is not None
        return report.dialect.shown(shape)

    def stack_text(self, report: Report, spec: dict[str, Any]) -> str:
        """``Input shape 128×128×3 (height×width×channels); keras.layers, in order:``."""
        lines = [f"{i + 1}. {_keras_call(layer)}" for i, layer in enumerate(spec["layers"])]
        return (
            f"Input shape {self.shape(report, report.input_shape)} ({self.order}); "
            "keras.layers, in order:\n" + "\n".join(lines)
        )

    def shape_wrong(self, entry: Entry, layer: dict[str, Any]) -> list[Wrong]:
        """Each dimension's Keras mistakes (:func:`named.keras_size_variants`: the other
        padding's rule, PyTorch's, floor for ceil, ...), a pool's strides taken as 1 where
        they default to its pool_size, the input's channels kept, the shape channels first."""
        assert entry.step is not None
        report_shape = entry.output_shape
        per_dim = [named.keras_size_variants(applied) for applied in entry.step.rules]
        found: list[tuple[str, tuple[int, ...]]] = []
        for name in sorted({n for variants in per_dim for n in variants}):
            dims = [v.get(name, n) for v, n in zip(per_dim, report_shape[1:], strict=True)]
            if name == named.NO_STRIDE and "pool_size" in layer and "strides" not in layer:
                name = POOL_STRIDES
            found.append((name, (report_shape[0], *dims)))
        if "filters" in layer and report_shape[0] != entry.input_shape[0]:
            found.append(("kept the input's channels", (entry.input_shape[0], *report_shape[1:])))
        shown = Dialect("keras", True, {}, {})
        wrong = [(shown.shown(shape), name, name) for name, shape in found]
        wrong.append((shape_text(report_shape), CHANNELS_FIRST, CHANNELS_FIRST))
        return wrong

    def params(
        self, rng: random.Random, difficulty: int
    ) -> tuple[Report, dict[str, Any], str, int, list[Wrong]]:
        """A Conv2D's Param # (difficulty 3: now and then ``use_bias=False``), a Dense's (on an
        image: the last axis only), or a BatchNormalization's Param #, trainable or
        non-trainable parameters (difficulty 3: now and then without its β, ``center=False``,
        or its γ, ``scale=False``). The distractors are Keras' mistakes
        (:func:`_keras_params_wrong`, the ones ``convcalc check`` names), never PyTorch's
        buffers rule: Keras' Param # counts the moving mean and variance."""
        kind = rng.choice(["Conv2D", "Dense"] if difficulty == 1 else
                          ["Conv2D", "Dense", "BatchNormalization"])  # fmt: skip
        if kind == "Conv2D":
            for _ in range(MAX_TRIES):
                report, spec = _network(rng, max(difficulty, 2), 1, self)
                if spec["layers"][0]["type"] == "Conv2D":
                    break
            if difficulty > 2 and rng.random() < 0.3:
                spec["layers"][0]["use_bias"] = False
                report = analyse(load_spec(spec))
            entry = report.layers[0]
            wrong = _keras_params_wrong(entry) + _conv_params_wrong(entry)
            if "bias" not in entry.tensors:
                filters = entry.output_shape[0]
                wrong.append((f"{entry.params + filters:,}", NO_USE_BIAS, NO_USE_BIAS))
            return report, spec, "How many parameters does the layer have?", entry.params, wrong
        channels = rng.choice([3, 8, 16, 32, 64, 128])
        size = rng.choice([7, 14, 28, 32, 56])
        if kind == "Dense":
            units = rng.choice([10, 16, 64, 100, 128])
            spec = self.spec(channels, size, [{"type": "Dense", "units": units}])
            report = analyse(load_spec(spec))
            per_position = channels * units + units
            wrong = [
                (f"{size * size * channels * units + units:,}", FLATTENED, FLATTENED),
                (f"{per_position * size * size:,}", EVERY_POSITION, EVERY_POSITION),
                (f"{channels * units:,}", named.FORGOT_BIAS, named.FORGOT_BIAS),
                (f"{2 * per_position:,}", TWICE, TWICE),
            ]
            ask = "How many parameters does the layer have?"
            return report, spec, ask, per_position, wrong
        layer: dict[str, Any] = {"type": "BatchNormalization"}
        if difficulty > 2 and rng.random() < 0.4:
            layer[rng.choice(["center", "scale"])] = False
        report = analyse(load_spec(spec := self.spec(channels, size, [layer])))
        entry = report.layers[0]
        untrained = entry.step.untrained_params if entry.step else 0
        trainable, total, c = entry.params - untrained, entry.params, channels
        asked = rng.choice(["Param #", "trainable", "non-trainable"])
        wrong = [(f"{trainable * size * size:,}", BN_PER_VALUE, BN_PER_VALUE)]
        if asked == "Param #":
            right = total
            wrong += _keras_params_wrong(entry)
            wrong += [(f"{trainable:,}", TORCH_BN, TORCH_BN), (f"{c:,}", BN_ONE, BN_ONE)]
            ask = "How many parameters does model.summary() count for the layer (its Param #)?"
        elif asked == "trainable":
            right = trainable
            wrong += [(f"{total:,}", BN_MOVING, BN_MOVING), (f"{c:,}", BN_ONE, BN_ONE)]
            wrong += [  # Keras' Param # mistakes that leave out a trained tensor (beta)
                (f"{m.value - untrained:,}", m.name, m.name)
                for m in named.keras_params_mistakes(entry)
                if m.value - untrained > 0
            ]
            ask = "How many of the layer's parameters are trainable?"
        else:
            right = untrained
            wrong += [(f"{total:,}", BN_ALL, BN_ALL), (f"{c:,}", BN_ONE_MOVING, BN_ONE_MOVING),
                      ("0", BN_BUFFERS_KERAS, BN_BUFFERS_KERAS)]  # fmt: skip
            ask = "How many of the layer's parameters are non-trainable?"
        return report, spec, ask, right, [w for w in wrong if w[0] != f"{right:,}"]

    def solve(
        self, rng: random.Random, difficulty: int
    ) -> tuple[str, str, list[Wrong], dict[str, Any]]:
        """Keras' Conv2D with ``padding="valid"`` (and a dilation_rate at difficulty 3):
        which (kernel_size, strides) map n to m; Keras' own solver (``convcalc solve
        --framework keras``) lists the pairs, and Keras refuses strides > 1 with a
        dilation_rate > 1 where PyTorch takes it (a wrong-framework mistake)."""
        from convcalc.solve.layer import problem, solutions

        for _ in range(MAX_TRIES):
            n = rng.choice([32, 64, 100, 128, 224])
            m = rng.choice([2, 3, 4, 5, 7, 8])
            d = rng.choice([1, 2]) if difficulty > 2 else 1
            pb = problem("conv", n, m, padding="valid", dilation=str(d), framework="keras")
            every = list(solutions(pb))
            wide = [sol for sol in every if sol[0] > 1 or d == 1]
            if not wide:
                continue
            k, s = rng.choice(wide)[:2]
            wrong = _keras_inverse_mistakes(n, m, d, (k, s), {(sol[0], sol[1]) for sol in every})
            if len({w[0] for w in wrong}) >= 2:
                break
        text = (
            f'A Conv2D(filters, kernel_size=k, strides=s, padding="valid", dilation_rate={d}) '
            f"must map a {n}×{n}×C input to {m}×{m}×filters. Which kernel_size k and strides s "
            "do it? (valid: out = ⌊(in − d·(k − 1) − 1)/s⌋ + 1)"
        )
        a = n - d * (k - 1) - 1
        explanation = (
            f"⌊({n} − {d}·({k} − 1) − 1)/{s}⌋ + 1 = ⌊{a}/{s}⌋ + 1 = {m}; {len(every)} (k, s) "
            f"pairs work in all (convcalc solve --framework keras --in {n} --out {m} "
            f"--dilation {d} lists them)"
        )
        return text, explanation, wrong, {"n": n, "m": m, "p": 0, "d": d, "k": k, "s": s}

    def macs_wrong(self, wrong: list[Wrong]) -> list[Wrong]:
        """All but a count of 0 (fvcore's of a conv padded 'same' or 'valid', a PyTorch
        tool's quirk no Keras model shows)."""
        return [w for w in wrong if w[0] != "0"]

    def mlp_text(self, d: int, d_h: int, d_o: int) -> str:
        """The MLP question as Keras' Sequential model."""
        return (
            f"keras.Sequential([keras.Input(shape=({d},)), layers.Dense({d_h}, "
            f'activation="elu"), layers.Dense({d_o}, activation="softmax")]): how many '
            "parameters does model.count_params() give?"
        )


def _keras_params_wrong(entry: Entry) -> list[Wrong]:
    """Keras' Param # as each named Keras mistake gives it (:func:`named.keras_params_mistakes`,
    what ``convcalc check`` names for a Keras spec): the bias forgotten, BatchNormalization's
    beta forgotten, the groups forgotten; never its moving statistics, which Keras counts."""
    return [(f"{m.value:,}", m.name, m.name) for m in named.keras_params_mistakes(entry)]


def _keras_call(layer: dict[str, Any]) -> str:
    """A layer's spec as Keras' call: ``Conv2D(filters=32, kernel_size=8, strides=2)``."""
    args = ", ".join(
        f'{name}="{value}"' if isinstance(value, str) else f"{name}={value}"
        for name, value in layer.items()
        if name != "type"
    )
    return f"{layer['type']}({args})"


def _keras_inverse_mistakes(
    n: int, m: int, d: int, right: tuple[int, int], valid: set[tuple[int, int]]
) -> list[Wrong]:
    """The wrong pairs (k, s) near ``right`` with which a named Keras mistake maps ``n`` to
    ``m`` (:func:`named.keras_size_variants` of valid's rule: same's ⌈n/s⌉, ceil, no − 1, ...),
    nearest first, and those PyTorch's rule takes but Keras refuses (strides > 1 with a
    dilation_rate > 1). None is a 1-wide kernel with a dilation_rate (it ignores it)."""
    k, s = right
    near = itertools.product(range(max(1, k - 8), k + 9), range(max(1, s - 2), s + 3))
    found: list[Wrong] = []
    for kk, ss in sorted(near, key=lambda pair: (abs(pair[0] - k) + abs(pair[1] - s), pair)):
        if (kk, ss) in valid or (kk == 1 and d > 1) or n < d * (kk - 1) + 1:
            continue
        actual = arith.conv_out(n, kk, ss, 0, d)
        if d > 1 and ss > 1 and actual == m:
            found.append((f"k = {kk}, s = {ss}", KERAS_REFUSES, KERAS_REFUSES))
            continue
        for name, value in named.keras_size_variants(
            Applied(arith.conv_out, (n, kk, ss, 0, d))
        ).items():
            if value == m:
                why = f"{name}: only then would it give {m} (it gives {actual})"
                found.append((f"k = {kk}, s = {ss}", name, why))
    return found


# --- the topics --------------------------------------------------------------------------------


def _shape(rng: random.Random, difficulty: int, qid: str, words: Words) -> Made:
    for _ in range(MAX_TRIES):
        report, spec = _network(rng, difficulty, 1 if difficulty < 3 else 2, words)
        entry = report.layers[-1]
        wrong = words.shape_wrong(entry, spec["layers"][-1])
        if len({w[0] for w in wrong} - {words.shape(report, entry.output_shape)}) >= 2:
            break
    right = words.shape(report, report.output_shape)
    text = f"{words.stack_text(report, spec)}\nWhat is the output shape ({words.order})?"
    question = Question(
        qid,
        "shape",
        difficulty,
        "Output shape",
        text,
        right,
        _working(report),
        _choices(right, wrong, rng, qid),
    )
    return question, {"spec": spec}


def _params(rng: random.Random, difficulty: int, qid: str, words: Words) -> Made:
    report, spec, ask, value, wrong = words.params(rng, difficulty)
    entry = report.layers[0]
    right = f"{value:,}"
    question = Question(
        qid,
        "params",
        difficulty,
        "Parameters",
        f"{words.stack_text(report, spec)}\n{ask}",
        right,
        _working(report, entry, "params"),
        _choices(right, wrong, rng, qid),
    )
    return question, {"spec": spec, "value": value, "asked": ask}


def _macs(
    rng: random.Random,
    difficulty: int,
    qid: str,
    words: Words,
    convention: str = named.DEFAULT_CONVENTION,
) -> Made:
    for _ in range(MAX_TRIES):
        report, spec = _network(rng, difficulty, 1, words)
        if report.layers[0].type == "conv":
            break
    entry = report.layers[0]
    counts = named.mult_adds_by_type([entry])
    right_value = counts[convention]["conv"]
    wrong = [(f"{m.value:,}", m.name, m.name) for m in named.mult_adds_mistakes(counts, convention)]
    wrong = words.macs_wrong(wrong)
    weights = math.prod(entry.tensors["weight"])
    wrong.append((f"{weights:,}", ONE_POSITION, ONE_POSITION))
    positions = math.prod(entry.output_shape[1:])
    bias = right_value != weights * positions  # the bias added at every output position
    if bias and right_value != (weights + math.prod(entry.tensors["bias"])) * positions:
        raise ConvcalcError(f"--convention {convention}: no worked count of a conv")
    counted = (
        f"bias additions counted as {convention} does"
        if bias
        else "one multiply-add each time a weight meets an input value, bias additions not counted"
    )
    text = (
        f"{words.stack_text(report, spec)}\nHow many multiply-adds does one forward pass of the "
        f"layer take (batch 1, {counted})?"
    )
    worked = equation("multiply-adds", _per_position(entry, 1, bias))
    every = "every weight and bias" if bias else "every weight (no bias additions)"
    form = "(weights + biases)" if bias else "weights"
    explanation = (
        f"output {words.shape(report, entry.output_shape)}: {convention} counts {every} once "
        f"per output position, {form} · H·W: {grouped_digits(worked)}"
    )
    right = f"{right_value:,}"
    question = Question(
        qid,
        "macs",
        difficulty,
        "Multiply-adds",
        text,
        right,
        explanation,
        _choices(right, wrong, rng, qid),
    )
    return question, {"spec": spec, "value": right_value, "convention": convention}


def _per_position(entry: Entry, batch: int, bias: bool) -> Expr:
    """A conv's multiply-adds as the expression they come from: each weight (and, with
    ``bias``, each bias) once per output position, (weights [+ biases]) · [B ·] H·W:
    ``32·3·8·8·61·61``, ``(32·3·8·8 + 32)·61·61`` (the batch shown only when it is not 1)."""
    weights = product(entry.tensors["weight"])
    tensors = total([weights, product(entry.tensors["bias"])]) if bias else weights
    return tensors * product([*([batch] if batch != 1 else []), *entry.output_shape[1:]])


def _rf(rng: random.Random, difficulty: int, qid: str, words: Words) -> Made:
    from convcalc.views.receptive import receptive_fields

    for _ in range(MAX_TRIES):
        report, spec = _network(rng, difficulty, 2 + (difficulty > 1), words)
        entry = report.layers[-1]
        field = receptive_fields(report)[id(entry)]
        if any(e.type == "conv_transpose" for e in report.layers):
            continue  # its field is a fraction of an input row
        if field.size is not None and all(float(v).is_integer() for v in field.size):
            break
    size = int(field.size[0]) if field.size else 0
    wrong = [(str(m.value[0]), m.name, m.name) for m in named.receptive_mistakes(report, entry)]
    windows = [e.step.windows[0] for e in report.leaves() if e.step and e.step.windows]
    wrong.append((str(windows[-1].kernel), LAST_KERNEL, LAST_KERNEL))
    jump, plus_one = 1, 1
    for w in windows:
        plus_one, jump = plus_one + w.kernel * jump, jump * w.stride
    wrong.append((str(plus_one), K_NOT_K_MINUS_ONE, K_NOT_K_MINUS_ONE))
    text = (
        f"{words.stack_text(report, spec)}\nHow many input rows does one output position of the "
        "last layer see (its receptive field's height)?"
    )
    explanation = (
        "r = 1, j = 1; each layer: r += (k_eff − 1)·j, then j *= stride. "
        + "; ".join(
            f"{e.path}: k_eff {e.step.windows[0].kernel}, stride {e.step.windows[0].stride}"
            for e in report.leaves()
            if e.step and e.step.windows
        )
        + f"; r = {size}"
    )
    question = Question(
        qid,
        "rf",
        difficulty,
        "Receptive field",
        text,
        str(size),
        explanation,
        _choices(str(size), wrong, rng, qid),
    )
    return question, {"spec": spec, "value": size}


def _solve(rng: random.Random, difficulty: int, qid: str, words: Words) -> Made:
    text, explanation, wrong, data = words.solve(rng, difficulty)
    right = f"k = {data['k']}, s = {data['s']}"
    question = Question(
        qid,
        "solve",
        difficulty,
        "Inverse problem",
        text,
        right,
        explanation,
        _choices(right, wrong, rng, qid),
    )
    return question, data


def _inverse_mistakes(
    n: int, m: int, p: int, d: int, right: tuple[int, int], valid: set[tuple[int, int]]
) -> list[Wrong]:
    """The wrong pairs (k, s) near ``right`` that a named mistake maps ``n`` to ``m`` with,
    nearest first, one choice a mistake: each named with what the right rule gives instead.
    None is a 1-wide kernel when the padding or dilation is not the default (it ignores
    them), nor a pair PyTorch refuses."""
    k, s = right
    near = itertools.product(range(max(1, k - 8), k + 9), range(max(1, s - 2), s + 3))
    found: list[Wrong] = []
    for kk, ss in sorted(near, key=lambda pair: (abs(pair[0] - k) + abs(pair[1] - s), pair)):
        if (kk, ss) in valid or (kk == 1 and (p or d > 1)) or n + 2 * p < d * (kk - 1) + 1:
            continue
        actual = arith.conv_out(n, kk, ss, p, d)
        variants = named.size_variants(Applied(arith.conv_out, (n, kk, ss, p, d)))
        for name, value in variants.items():
            if value == m:
                why = f"{name}: only then would it give {m} (it gives {actual})"
                found.append((f"k = {kk}, s = {ss}", name, why))
    return found


def _mlp(rng: random.Random, difficulty: int, qid: str, words: Words) -> Made:
    from convcalc.teach.mlp_explain import parameter_count

    d = rng.choice([4, 10, 64, 784, 3072])
    d_h = rng.choice([16, 32, 100, 128, 256])
    d_o = rng.choice([2, 3, 10, 100])
    value = int(parameter_count(d, d_h, d_o).evaluate())
    wrong = [
        (f"{value:,}", name, name)
        for value, name in (
            (d_h * d + d_o * d_h, "forgot the biases"),
            (d_h * d + d_h, "counted the first layer only"),
            ((d + 1) * d_h * (d_h + 1) * d_o, "multiplied the layers' counts"),
            (d * d_h * d_o, "multiplied the three sizes"),
        )
    ]
    text = words.mlp_text(d, d_h, d_o)
    explanation = (
        f"n_θ = d_h·d + d_h + d_o·d_h + d_o = {d_h}·{d} + {d_h} + {d_o}·{d_h} + {d_o} = {value:,}"
    )
    right = f"{value:,}"
    question = Question(
        qid,
        "mlp",
        difficulty,
        "MLP parameters",
        text,
        right,
        explanation,
        _choices(right, wrong, rng, qid),
    )
    return question, {"d": d, "d_h": d_h, "d_o": d_o, "value": value}


MAKERS: dict[str, Maker] = {
    "shape": _shape,
    "params": _params,
    "macs": _macs,
    "rf": _rf,
    "solve": _solve,
    "mlp": _mlp,
}
