"""Random, well-posed questions in the style of the homework, with answers, worked explanations
and distractors made from the named mistakes (:mod:`convcalc.teach.mistakes`).

Every answer comes from convcalc's own computation of a spec the generator writes; every wrong
choice is a number one named mistake gives, with that name as its feedback. The same seed gives
the same quiz; a negative seed is a seed of its own, not its absolute value's.
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
from convcalc.records import Applied, Entry, Report, shape_text
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
Maker = Callable[[random.Random, int, str], Made]  # (rng, difficulty, id) → a question


def quiz(
    seed: int,
    count: int,
    topics: tuple[str, ...] = TOPICS,
    difficulty: int = 2,
    convention: str = named.DEFAULT_CONVENTION,
) -> list[Question]:
    """``count`` questions cycling through ``topics``, reproducible from ``seed``; the
    multiply-adds counted under ``convention``."""
    return [q for q, _ in generate(seed, count, topics, difficulty, convention)]


def generate(
    seed: int,
    count: int,
    topics: tuple[str, ...] = TOPICS,
    difficulty: int = 2,
    convention: str = named.DEFAULT_CONVENTION,
) -> list[tuple[Question, dict[str, Any]]]:
    """The questions with what each was made from (the spec, or the sizes), for checking."""
    unknown = [t for t in topics if t not in TOPICS]
    if unknown or not topics:
        raise ConvcalcError(f"--topics: choose among {', '.join(TOPICS)}, not {unknown or 'none'}")
    if not 1 <= difficulty <= 3:
        raise ConvcalcError("--difficulty is 1, 2 or 3")
    if convention not in CONVENTIONS:
        raise ConvcalcError(f"--convention: choose among {', '.join(CONVENTIONS)}")
    makers: dict[str, Maker] = {**MAKERS, "macs": functools.partial(_macs, convention=convention)}
    rng = _random(seed)
    made = []
    for i in range(count):
        topic = topics[i % len(topics)]
        for _ in range(MAX_TRIES):  # until two mistakes give two wrong values, no giveaway
            question, data = makers[topic](rng, difficulty, f"q{i + 1:02d}-{topic}")
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


def _network(rng: random.Random, difficulty: int, layers: int) -> tuple[Report, dict[str, Any]]:
    """A valid random stack of ``layers`` layers on a square input, and its spec, in which
    every parameter changes what its layer does (:func:`ignored`): a ceil mode that rounds
    nothing is left out (the sizes are the same without it), any other stack drawn again."""
    for _ in range(MAX_TRIES):
        channels = rng.choice([1, 3, 8, 16, 32])
        size = rng.choice([28, 32, 61, 64, 96, 100, 128, 224])
        spec: dict[str, Any] = {"name": "net", "input": [channels, size, size]}
        spec["layers"] = [_layer(rng, difficulty) for _ in range(layers)]
        try:
            report = analyse(load_spec(spec))
        except (ConvcalcError, Refusal):
            continue
        found = [
            (layer, name)
            for layer, entry in zip(spec["layers"], report.layers, strict=True)
            for name in ignored(layer, entry.input_shape[1])
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


def _stack_text(report: Report) -> str:
    lines = [f"{i + 1}. {_describe(e)}" for i, e in enumerate(report.layers)]
    return f"Input {shape_text(report.input_shape)}; layers, in order:\n" + "\n".join(lines)


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


# --- the topics --------------------------------------------------------------------------------


def _shape(rng: random.Random, difficulty: int, qid: str) -> Made:
    for _ in range(MAX_TRIES):
        report, spec = _network(rng, difficulty, 1 if difficulty < 3 else 2)
        entry = report.layers[-1]
        wrong = [(shape_text(m.value), m.name, m.name) for m in named.shape_mistakes(entry)]
        if len({w[0] for w in wrong} - {shape_text(entry.output_shape)}) >= 2:
            break
    right = shape_text(report.output_shape)
    text = f"{_stack_text(report)}\nWhat is the output shape (channels×height×width)?"
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


def _params(rng: random.Random, difficulty: int, qid: str) -> Made:
    for _ in range(MAX_TRIES):
        report, spec = _network(rng, max(difficulty, 2), 1)
        entry = report.layers[0]
        if entry.type == "conv":
            break
    right = f"{entry.params:,}"
    wrong = [(f"{m.value:,}", m.name, m.name) for m in named.params_mistakes(entry)]
    weight = entry.tensors["weight"]
    wrong.append((f"{entry.params * 2:,}", TWICE, TWICE))
    no_inputs = weight[0] * weight[2] * weight[3] + weight[0]
    wrong.append((f"{no_inputs:,}", NO_INPUTS, NO_INPUTS))
    text = f"{_stack_text(report)}\nHow many learnable parameters does the layer have?"
    question = Question(
        qid,
        "params",
        difficulty,
        "Parameters",
        text,
        right,
        _working(report, entry, "params"),
        _choices(right, wrong, rng, qid),
    )
    return question, {"spec": spec, "value": entry.params}


def _macs(
    rng: random.Random, difficulty: int, qid: str, convention: str = named.DEFAULT_CONVENTION
) -> Made:
    for _ in range(MAX_TRIES):
        report, spec = _network(rng, difficulty, 1)
        if report.layers[0].type == "conv":
            break
    entry = report.layers[0]
    counts = named.mult_adds_by_type([entry])
    right_value = counts[convention]["conv"]
    wrong = [(f"{m.value:,}", m.name, m.name) for m in named.mult_adds_mistakes(counts, convention)]
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
        f"{_stack_text(report)}\nHow many multiply-adds does one forward pass of the layer take "
        f"(batch 1, {counted})?"
    )
    worked = equation("multiply-adds", _per_position(entry, 1, bias))
    every = "every weight and bias" if bias else "every weight (no bias additions)"
    form = "(weights + biases)" if bias else "weights"
    explanation = (
        f"output {shape_text(entry.output_shape)}: {convention} counts {every} once per output "
        f"position, {form} · H·W: {grouped_digits(worked)}"
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


def _rf(rng: random.Random, difficulty: int, qid: str) -> Made:
    from convcalc.views.receptive import receptive_fields

    for _ in range(MAX_TRIES):
        report, spec = _network(rng, difficulty, 2 + (difficulty > 1))
        entry = report.layers[-1]
        field = receptive_fields(report)[id(entry)]
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
        f"{_stack_text(report)}\nHow many input rows does one output position of the last layer "
        "see (its receptive field's height)?"
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


def _solve(rng: random.Random, difficulty: int, qid: str) -> Made:
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
    right = f"k = {k}, s = {s}"
    text = (
        f"A convolution with padding {p} and dilation {d} must map a {n}×{n} input to {m}×{m}. "
        f"Which kernel size k and stride s do it? (out = ⌊(in + 2p − d·(k − 1) − 1)/s⌋ + 1)"
    )
    a = n + 2 * p - d * (k - 1) - 1
    explanation = (
        f"⌊({n} + 2·{p} − {d}·({k} − 1) − 1)/{s}⌋ + 1 = ⌊{a}/{s}⌋ + 1 = {m}; "
        f"{len(every)} (k, s) pairs work in all (convcalc solve --in {n} --out {m} "
        f"--padding {p} --dilation {d} lists them)"
    )
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
    return question, {"n": n, "m": m, "p": p, "d": d, "k": k, "s": s}


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


def _mlp(rng: random.Random, difficulty: int, qid: str) -> Made:
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
    text = (
        f"An MLP has d = {d} inputs, one hidden layer of d_h = {d_h} ELU units, and d_o = {d_o} "
        "softmax outputs, with biases. How many parameters does it have?"
    )
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
