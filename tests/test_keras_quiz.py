"""``convcalc quiz --framework keras`` against Keras 3 itself (torch backend).

Every question is read from what a student is shown: the input shape and each layer written as
a ``keras.layers`` call (``Conv2D(filters=32, kernel_size=8, strides=2, padding="same")``),
parsed here and built by Keras, which gives the answer: the output shape (channels last), the
layer's ``count_params()`` or its trainable or non-trainable weights, the multiply-adds from
Keras' kernel and output shapes, the receptive field by autograd through the Keras model, the
inverse problem's output size, the MLP's ``count_params()``. No wrong choice is Keras' answer;
PyTorch's rule behind a wrong-framework distractor is PyTorch's own (``torch.nn.Conv2d``); no
layer states an argument that changes nothing (Keras builds the same shape without it); each
wrong choice is a different mistake; no field gives the answer away.
"""

from __future__ import annotations

import ast
import functools
import math
import re
from typing import Any

import pytest

from convcalc.teach import quiz_formats
from convcalc.teach.quiz import TOPICS, generate
from convcalc.teach.quiz_formats import Question
from tests.conftest import Invoke
from tests.keras_oracle import KERAS_MARKS, keras
from tests.test_quiz_giveaways import giveaways

pytestmark = KERAS_MARKS

QUICK_SEEDS = (0,)
FULL_SEEDS = tuple(range(1, 12))


@functools.cache
def made(seed: int, difficulty: int) -> tuple[tuple[Question, dict[str, Any]], ...]:
    return tuple(generate(seed, len(TOPICS) * 2, TOPICS, difficulty, framework="keras"))


# --- what the student is shown, read back ----------------------------------------------------

_INPUT = re.compile(r"Input shape (\d+)×(\d+)×(\d+) \(height×width×channels\)")


def shown_network(text: str) -> tuple[tuple[int, ...], list[tuple[str, dict[str, Any]]]]:
    """The input shape and the layers (class, keyword arguments) the question states."""
    found = _INPUT.search(text)
    assert found, text
    layers = []
    for line in text.splitlines():
        if not re.match(r"\d+\. ", line):
            continue
        call = ast.parse(line.split(". ", 1)[1], mode="eval").body
        assert isinstance(call, ast.Call) and isinstance(call.func, ast.Name), line
        args = {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords if kw.arg}
        layers.append((call.func.id, args))
    return tuple(int(n) for n in found.groups()), layers


def build(shape: tuple[int, ...], layers: list[tuple[str, dict[str, Any]]]) -> Any:
    """The stack built by Keras, or None where Keras refuses it."""
    try:
        built = [getattr(keras.layers, kind)(**args) for kind, args in layers]
        model = keras.Sequential([keras.Input(shape), *built])
    except ValueError:
        return None
    if any(n is not None and n <= 0 for n in model.output_shape):
        return None
    return model


def out_text(model: Any) -> str:
    return "×".join(str(n) for n in model.output_shape[1:])


def weights(tensors: list[Any]) -> int:
    return sum(math.prod(w.shape) for w in tensors)


# --- each topic, by Keras ---------------------------------------------------------------------


def check_shape(q: Question) -> None:
    shape, layers = shown_network(q.text)
    model = build(shape, layers)
    assert model is not None, q.text
    assert q.answer == out_text(model), q.text
    torch = pytest.importorskip("torch")
    last_kind, last = layers[-1]
    for choice in q.choices:
        if "PyTorch's rule" in choice.feedback and last_kind == "Conv2D":
            # what PyTorch's Conv2d gives with padding ⌊k_eff/2⌋ (k // 2) where Keras says same
            before = build(shape, layers[:-1]) if len(layers) > 1 else None
            h, w, c = before.output_shape[1:] if before is not None else shape
            k, d = last["kernel_size"], last.get("dilation_rate", 1)
            conv = torch.nn.Conv2d(c, last["filters"], k, last.get("strides", 1),
                                   (d * (k - 1) + 1) // 2, d, device="meta")  # fmt: skip
            out = conv(torch.empty(1, c, h, w, device="meta")).shape
            assert choice.text == f"{out[2]}×{out[3]}×{out[1]}", q.text


def check_params(q: Question) -> None:
    shape, layers = shown_network(q.text)
    model = build(shape, layers)
    assert model is not None, q.text
    layer = model.layers[0]
    if "non-trainable" in q.text:
        right = weights(layer.non_trainable_weights)
    elif "trainable" in q.text:
        right = weights(layer.trainable_weights)
    else:
        right = layer.count_params()
    assert q.answer == f"{right:,}", q.text


def check_macs(q: Question) -> None:
    shape, layers = shown_network(q.text)
    model = build(shape, layers)
    assert model is not None, q.text
    layer = model.layers[0]
    positions = math.prod(model.output_shape[1:3])
    right = math.prod(layer.kernel.shape) * positions
    if "bias additions counted" in q.text:
        right += math.prod(layer.bias.shape) * positions
    assert q.answer == f"{right:,}", q.text


def check_rf(q: Question) -> None:
    """The rows of a tall input that the middle output position depends on, by autograd
    through Keras' own layers: every filter count 1 and every kernel all ones (the field does
    not depend on them), a max pool's window averaged (the same window: a max passes its
    gradient to one value only), the input tall enough that no field reaches its border."""
    torch = pytest.importorskip("torch")
    _, layers = shown_network(q.text)
    tall = []
    for kind, args in layers:
        args = {**args, "filters": 1} if "filters" in args else dict(args)
        tall.append(("AveragePooling2D" if kind == "MaxPooling2D" else kind, args))
    model = build((400, 400, 1), tall)
    assert model is not None, q.text
    for layer in model.layers:
        for w in layer.weights:
            w.assign(keras.ops.ones(w.shape))
    x = torch.ones(1, 400, 400, 1, requires_grad=True)
    with torch.backends.mkldnn.flags(enabled=False):  # oneDNN's strided 1×1 backward crashes
        y = model(x)
        y[0, y.shape[1] // 2, y.shape[2] // 2, 0].backward()
    rows = torch.nonzero(x.grad[0, :, :, 0].abs().sum(dim=1)).flatten().tolist()
    assert rows[0] > 0 and rows[-1] < 399, q.text  # inside the input
    assert q.answer == str(rows[-1] - rows[0] + 1), q.text


_SOLVE = re.compile(r"dilation_rate=(\d+)\) must map a (\d+)×\d+×C input to (\d+)×")


def check_solve(q: Question) -> None:
    found = _SOLVE.search(q.text)
    assert found, q.text
    d, n, m = map(int, found.groups())
    for choice in q.choices:
        k, s = (int(part.split(" = ")[1]) for part in choice.text.split(", "))
        args = {"filters": 1, "kernel_size": k, "strides": s, "padding": "valid"}
        model = build((n, n, 1), [("Conv2D", {**args, "dilation_rate": d})])
        gives = model.output_shape[1] if model is not None else None
        assert (gives == m) == choice.correct, (q.text, choice)


_MLP = re.compile(r"shape=\((\d+),\)\), layers.Dense\((\d+), .*layers.Dense\((\d+), ")


def check_mlp(q: Question) -> None:
    found = _MLP.search(q.text)
    assert found, q.text
    d, d_h, d_o = map(int, found.groups())
    model = keras.Sequential([keras.Input((d,)), keras.layers.Dense(d_h, activation="elu"),
                              keras.layers.Dense(d_o, activation="softmax")])  # fmt: skip
    assert q.answer == f"{model.count_params():,}", q.text


CHECKS = {
    "shape": check_shape,
    "params": check_params,
    "macs": check_macs,
    "rf": check_rf,
    "solve": check_solve,
    "mlp": check_mlp,
}


def ignored_by_keras(q: Question) -> list[str]:
    """The arguments of a layer the question states that change nothing: with the argument at
    its default (padding valid, strides 1, dilation_rate 1) Keras builds every layer's output
    the same shape and, given the same weights, computes the same values."""
    if q.topic not in ("shape", "params", "macs", "rf"):
        return []
    torch = pytest.importorskip("torch")
    shape, layers = shown_network(q.text)
    mine = build(shape, layers)
    assert mine is not None, q.text
    x = torch.rand(1, *shape)
    found = []
    for i, (kind, args) in enumerate(layers):
        for name, default in (("padding", "valid"), ("strides", 1), ("dilation_rate", 1)):
            if name not in args or args[name] == default:
                continue
            other = build(shape, [*layers[:i], (kind, {**args, name: default}), *layers[i + 1 :]])
            if other is None or [tuple(a.output.shape) for a in other.layers] != [
                tuple(a.output.shape) for a in mine.layers
            ]:
                continue
            other.set_weights(mine.get_weights())
            with torch.no_grad():
                if torch.allclose(mine(x), other(x)):
                    found.append(f"{q.id} layer {i + 1} {name}")
    return found


def check_all(seeds: tuple[int, ...], first: int | None = None) -> None:
    """Every question of ``seeds`` at each difficulty (or the ``first`` few of each) checked."""
    faults: dict[str, list[str]] = {"ignored": [], "feedback": [], "giveaway": [], "few": []}
    for seed in seeds:
        for difficulty in (1, 2, 3):
            for q, _ in made(seed, difficulty)[:first]:
                CHECKS[q.topic](q)
                quiz_formats.validate_question(q)
                feedback = [c.feedback for c in q.choices if not c.correct]
                if len(set(feedback)) != len(feedback) or not all(feedback):
                    faults["feedback"].append(f"{q.id}: {feedback}")
                if found := giveaways(q):
                    faults["giveaway"].append(f"{q.id}: {found}")
                if len(feedback) < 2:
                    faults["few"].append(q.id)
                faults["ignored"] += ignored_by_keras(q)
    assert faults == {"ignored": [], "feedback": [], "giveaway": [], "few": []}


def test_every_answer_is_keras_own() -> None:
    """One seed, the first questions of each difficulty (18), checked by Keras; the full run
    checks every question of twelve seeds."""
    check_all(QUICK_SEEDS, len(TOPICS))


@pytest.mark.full
def test_every_answer_is_keras_own_over_many_seeds() -> None:
    """Every question of twelve seeds (432)."""
    check_all(QUICK_SEEDS + FULL_SEEDS)


def test_keras_rules_are_asked_and_pytorch_s_are_the_mistakes() -> None:
    """Over a few seeds the questions ask Keras' own rules: same at strides above 1, an even
    kernel with same (where PyTorch's floor rule gives one more), Conv2DTranspose, a pool's
    default strides, Dense on the last axis, BatchNormalization's non-trainable parameters;
    and PyTorch's rule is a distractor."""
    texts, feedback = [], []
    for seed in range(6):
        for difficulty in (2, 3):
            for q, _ in made(seed, difficulty):
                texts.append(q.text)
                feedback += [c.feedback for c in q.choices]
    joined = "\n".join(texts)
    assert re.search(r'kernel_size=[2468], strides=[23], padding="same"', joined)
    assert "Conv2DTranspose(" in joined and "BatchNormalization(" in joined
    assert re.search(r"MaxPooling2D\(pool_size=\d\)|AveragePooling2D\(pool_size=\d\)", joined)
    assert "non-trainable" in joined and "Dense(units=" in joined
    assert any("PyTorch's rule" in f for f in feedback)
    assert any("channels first" in f for f in feedback)
    assert any("flattened the input" in f for f in feedback)


def test_the_formats_write_keras_questions(run: Invoke) -> None:
    """Markdown, Moodle XML, GIFT, JSON and LaTeX take the Keras questions (their quotes,
    underscores and parentheses); the command line asks for them with --framework keras and
    refuses another framework."""
    questions = [q for q, _ in made(0, 3)]
    quiz_formats.validate_questions(questions)
    markdown = quiz_formats.to_markdown(questions, "Keras quiz")
    assert "dilation\\_rate" in markdown or "dilation_rate" in markdown
    assert "Conv2D(" in quiz_formats.to_moodle_xml(questions, "Keras quiz")
    assert "Conv2D(" in quiz_formats.to_gift(questions, "Keras quiz")
    exam, key = quiz_formats.to_latex(questions, "Keras quiz")
    assert "Conv2D" in exam and "Conv2D" in key
    result = run("quiz", "--framework", "keras", "--seed", "0", "--count", "12",
                 "--difficulty", "3", "--format", "json")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert [q["answer"] for q in __import__("json").loads(result.output)] == [
        q.answer for q in questions
    ]
    refused = run("quiz", "--framework", "tensorflow")
    assert refused.exit_code == 2 and "tensorflow" in refused.output


# --- the parameter distractors: Keras' own mistakes ---------------------------------------------

# Keras' weights of the layers some parameter questions state, by name: (trainable, non-trainable)
# sizes, recorded from Keras 3.15.1 (layer.trainable_weights, layer.non_trainable_weights);
# Keras' count_params() is their sum. The full run takes them from Keras itself.
KERAS_WEIGHTS: dict[tuple[str, str], tuple[dict[str, int], dict[str, int]]] = {
    ("32×32×16", 'Conv2D(filters=32, kernel_size=8, strides=1, padding="same", dilation_rate=2, '
     "use_bias=False)"): ({"kernel": 32768}, {}),
    ("100×100×1", "Conv2D(filters=8, kernel_size=1, strides=1)"): ({"kernel": 8, "bias": 8}, {}),
    ("32×32×16", "BatchNormalization()"):  # Param # 64
        ({"gamma": 16, "beta": 16}, {"moving_mean": 16, "moving_variance": 16}),
    ("28×28×16", "BatchNormalization(center=False)"):  # Param # 48
        ({"gamma": 16}, {"moving_mean": 16, "moving_variance": 16}),
    ("14×14×3", "BatchNormalization(scale=False)"):  # Param # 9
        ({"beta": 3}, {"moving_mean": 3, "moving_variance": 3}),
    ("28×28×64", "BatchNormalization()"):  # trainable 128
        ({"gamma": 64, "beta": 64}, {"moving_mean": 64, "moving_variance": 64}),
    ("56×56×3", "BatchNormalization(scale=False)"):  # trainable 3
        ({"beta": 3}, {"moving_mean": 3, "moving_variance": 3}),
    ("32×32×32", "BatchNormalization()"):  # non-trainable 64
        ({"gamma": 32, "beta": 32}, {"moving_mean": 32, "moving_variance": 32}),
    ("56×56×64", "BatchNormalization(center=False)"):  # non-trainable 128
        ({"gamma": 64}, {"moving_mean": 64, "moving_variance": 64}),
}  # fmt: skip

# PyTorch's mistakes that are none in Keras: its Param # holds BatchNormalization's moving
# statistics, and it calls BatchNormalization's offset beta, not a bias
PYTORCH_ONLY = ("counted BatchNorm's buffers as parameters",)


def _stated(q: Question) -> tuple[str, str]:
    """The input shape and the layer call a one-layer question states."""
    lines = q.text.splitlines()
    return lines[0].split(" (")[0].removeprefix("Input shape "), lines[-2].split(". ", 1)[1]


def keras_weights_of(q: Question) -> tuple[dict[str, int], dict[str, int]]:
    """The stated layer's trainable and non-trainable weights by name, by Keras."""
    shape, layers = shown_network(q.text)
    model = build(shape, layers)
    assert model is not None, q.text
    layer = model.layers[0]

    def sizes(tensors: list[Any]) -> dict[str, int]:
        return {w.path.rsplit("/", 1)[-1]: math.prod(w.shape) for w in tensors}

    return sizes(layer.trainable_weights), sizes(layer.non_trainable_weights)


def keras_mistakes(q: Question, trained: dict[str, int], frozen: dict[str, int]) -> dict[str, int]:
    """What each mistake a Keras student makes gives for the question, from Keras' weights
    alone: the feedback a distractor must carry, and its value."""
    (h, w, c), layers = shown_network(q.text)
    kind, args = layers[0]
    total, trainable = sum({**trained, **frozen}.values()), sum(trained.values())
    if kind == "Conv2D":
        bias = trained.get("bias", 0)
        found = {
            "forgot the bias": total - bias,
            "counted every weight twice": 2 * total,
            "forgot the input channels": trained["kernel"] // c + bias,
        }
        if "bias" not in trained:
            found["counted a bias: use_bias=False leaves it out"] = total + args["filters"]
        return found
    per_value = {"a γ and a β per value: BatchNormalization keeps one per channel":
                 trainable * h * w}  # fmt: skip
    beta = "forgot beta (Keras' offset of a normalization)"
    if "Param #" in q.text:
        return per_value | {
            beta: total - trained.get("beta", 0),
            "PyTorch's count: Keras' Param # holds the moving mean and variance too": trainable,
            "one parameter per channel: γ and β are two": c,
        }
    if "non-trainable" in q.text:
        return per_value | {
            "counted every parameter, γ and β too": total,
            "one moving statistic per channel: the mean and the variance are two": c,
            "no non-trainable parameters: Keras counts the moving mean and variance": 0,
        }
    return per_value | {
        "counted the moving mean and variance: they never train": total,
        "one parameter per channel: γ and β are two": c,
        beta: trainable - trained.get("beta", 0),
    }


def check_params_distractors(q: Question, trained: dict[str, int], frozen: dict[str, int]) -> None:
    """The answer is Keras' count (Param #: count_params(), or the trainable or non-trainable
    weights), no distractor is it, each distractor is a named Keras mistake giving what that
    mistake gives by Keras' weights, and none is a PyTorch-only mistake."""
    total, trainable = sum({**trained, **frozen}.values()), sum(trained.values())
    right = total - trainable if "non-trainable" in q.text else (
        trainable if "trainable" in q.text else total)  # fmt: skip
    assert q.answer == f"{right:,}", q.text
    expected = keras_mistakes(q, trained, frozen)
    wrong = [c for c in q.choices if not c.correct]
    assert len(wrong) >= 2, q.text
    for choice in wrong:
        assert choice.text != q.answer, (q.text, choice)
        assert choice.feedback not in PYTORCH_ONLY, (q.text, choice)
        assert choice.feedback in expected, (q.text, choice)
        assert choice.text == f"{expected[choice.feedback]:,}", (q.text, choice)
    if "BatchNormalization" in q.text:
        assert all(c.feedback != "forgot the bias" for c in wrong), q.text


def params_questions(seeds: tuple[int, ...], difficulties: tuple[int, ...]) -> list[Question]:
    """The Conv2D and BatchNormalization parameter questions of ``seeds``."""
    return [
        q
        for seed in seeds
        for difficulty in difficulties
        for q, _ in generate(seed, 6, ("params",), difficulty, framework="keras")
        if re.search(r"\d\. (Conv2D|BatchNormalization)\(", q.text)
    ]


def test_parameter_distractors_are_keras_mistakes() -> None:
    """BatchNormalization (Param #, trainable, non-trainable; with center=False and
    scale=False) and Conv2D (with a bias and use_bias=False): the answers are Keras' recorded
    counts (BatchNormalization(16 channels): Param # 64, 32 trainable) and every distractor
    one of Keras' named mistakes; the full run checks every such question against Keras."""
    found = set()
    for q in params_questions((*range(6), 14), (3,)):
        if (stated := _stated(q)) in KERAS_WEIGHTS:
            check_params_distractors(q, *KERAS_WEIGHTS[stated])
            found.add(stated)
    assert found == set(KERAS_WEIGHTS)


@pytest.mark.full
def test_parameter_distractors_are_keras_mistakes_by_keras() -> None:
    """The recorded weights are Keras' own, and every Conv2D and BatchNormalization parameter
    question of twelve seeds, each difficulty, is checked against Keras' weights."""
    questions = params_questions(tuple(range(12)), (1, 2, 3))
    assert {"use_bias=False", "center=False", "scale=False", "Param #", "non-trainable"} <= {
        word for q in questions for word in re.findall(r"\w+=False|Param #|non-trainable", q.text)
    }
    for q in questions:
        weights = keras_weights_of(q)
        if _stated(q) in KERAS_WEIGHTS:
            assert KERAS_WEIGHTS[_stated(q)] == weights, q.text
        check_params_distractors(q, *weights)
