"""Random, well-posed questions in the style of the homework, with answers, worked explanations
and distractors made from the named mistakes (:mod:`convcalc.teach.mistakes`).

Every answer comes from convcalc's own computation of a spec the generator writes; every wrong
choice is a number one named mistake gives, with that name as its feedback. The same seed gives
the same quiz; a negative seed is a seed of its own, not its absolute value's.
:mod:`convcalc.teach.quiz_formats` writes the questions as Markdown, Moodle XML, GIFT or JSON.
"""

from __future__ import annotations

import functools
import math
import random
from collections.abc import Callable
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
        for _ in range(MAX_TRIES):  # until two distinct mistakes give two distinct wrong values
            question, data = makers[topic](rng, difficulty, f"q{i + 1:02d}-{topic}")
            if sum(not choice.correct for choice in question.choices) >= 2:
                break
        else:
            raise ConvcalcError(f"no {topic} question with two distractors: a bug in convcalc")
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
        layer["padding"] = rng.randint(0, k // 2)
        if kind == "conv" and rng.random() < 0.4:
            layer["dilation"] = 2
    if kind == "conv":
        layer["out_channels"] = rng.choice([8, 16, 32, 64, 128])
        if difficulty > 2 and rng.random() < 0.5:
            layer["groups"] = rng.choice([2, 4])
    elif difficulty > 2:
        layer["ceil_mode"] = True
    return layer


def _network(rng: random.Random, difficulty: int, layers: int) -> tuple[Report, dict[str, Any]]:
    """A valid random stack of ``layers`` layers on a square input, and its spec."""
    for _ in range(MAX_TRIES):
        channels = rng.choice([1, 3, 8, 16, 32])
        size = rng.choice([28, 32, 61, 64, 96, 100, 128, 224])
        spec = {"name": "net", "input": [channels, size, size]}
        spec["layers"] = [_layer(rng, difficulty) for _ in range(layers)]
        try:
            report = analyse(load_spec(spec))
        except (ConvcalcError, Refusal):
            continue
        if all(n > 1 for n in report.output_shape[1:]):
            return report, spec
    raise ConvcalcError("no valid network found: a bug in the quiz generator")


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


def _choices(right: str, wrong: list[tuple[str, str]], rng: random.Random) -> tuple[Choice, ...]:
    """The right answer and up to four distinct wrong ones, shuffled (seeded)."""
    seen = {right}
    options = [Choice(right, True, "")]
    for text, feedback in wrong:
        if text not in seen and len(options) < 5:
            seen.add(text)
            options.append(Choice(text, False, feedback))
    rng.shuffle(options)
    return tuple(options)


# --- the topics --------------------------------------------------------------------------------


def _shape(rng: random.Random, difficulty: int, qid: str) -> Made:
    for _ in range(MAX_TRIES):
        report, spec = _network(rng, difficulty, 1 if difficulty < 3 else 2)
        entry = report.layers[-1]
        wrong = [(shape_text(m.value), m.name) for m in named.shape_mistakes(entry)]
        if len({w for w, _ in wrong} - {shape_text(entry.output_shape)}) >= 2:
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
        _choices(right, wrong, rng),
    )
    return question, {"spec": spec}


def _params(rng: random.Random, difficulty: int, qid: str) -> Made:
    for _ in range(MAX_TRIES):
        report, spec = _network(rng, max(difficulty, 2), 1)
        entry = report.layers[0]
        if entry.type == "conv":
            break
    right = f"{entry.params:,}"
    wrong = [(f"{m.value:,}", m.name) for m in named.params_mistakes(entry)]
    weight = entry.tensors["weight"]
    wrong.append((f"{entry.params * 2:,}", "counted every weight twice"))
    wrong.append(
        (f"{weight[0] * weight[2] * weight[3] + weight[0]:,}", "forgot the input channels")
    )
    text = f"{_stack_text(report)}\nHow many learnable parameters does the layer have?"
    question = Question(
        qid,
        "params",
        difficulty,
        "Parameters",
        text,
        right,
        _working(report, entry, "params"),
        _choices(right, wrong, rng),
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
    wrong = [(f"{m.value:,}", m.name) for m in named.mult_adds_mistakes(counts, convention)]
    weights = math.prod(entry.tensors["weight"])
    wrong.append((f"{weights:,}", "counted one output position only"))
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
        _choices(right, wrong, rng),
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
    wrong = [(str(m.value[0]), m.name) for m in named.receptive_mistakes(report, entry)]
    windows = [e.step.windows[0] for e in report.leaves() if e.step and e.step.windows]
    wrong.append((str(windows[-1].kernel), "the last layer's kernel only"))
    jump, plus_one = 1, 1
    for w in windows:
        plus_one, jump = plus_one + w.kernel * jump, jump * w.stride
    wrong.append((str(plus_one), "k instead of k − 1 at each layer"))
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
        _choices(str(size), wrong, rng),
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
        if not every:
            continue
        k, s, _, _ = rng.choice(every)
        valid = {(sol[0], sol[1]) for sol in every}
        wrong = []
        for kk in range(max(1, k - 3), k + 4):
            for ss in range(max(1, s - 1), s + 2):
                if (kk, ss) in valid:
                    continue
                variants = named.size_variants(Applied(arith.conv_out, (n, kk, ss, p, d)))
                for name, value in variants.items():
                    if value == m:
                        wrong.append(
                            (f"k = {kk}, s = {ss}", f"{name}: only then would it give {m}")
                        )
                        break
        if len({w for w, _ in wrong}) >= 2:
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
        _choices(right, wrong, rng),
    )
    return question, {"n": n, "m": m, "p": p, "d": d, "k": k, "s": s}


def _mlp(rng: random.Random, difficulty: int, qid: str) -> Made:
    from convcalc.teach.mlp_explain import parameter_count

    d = rng.choice([4, 10, 64, 784, 3072])
    d_h = rng.choice([16, 32, 100, 128, 256])
    d_o = rng.choice([2, 3, 10, 100])
    value = int(parameter_count(d, d_h, d_o).evaluate())
    wrong = [
        (f"{d_h * d + d_o * d_h:,}", "forgot the biases"),
        (f"{d_h * d + d_h:,}", "counted the first layer only"),
        (f"{(d + 1) * d_h * (d_h + 1) * d_o:,}", "multiplied the layers' counts"),
        (f"{d * d_h * d_o:,}", "multiplied the three sizes"),
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
        _choices(right, wrong, rng),
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
