"""``convcalc check`` on a Keras spec speaks Keras: each count claim is what Keras means by it
and each explanation gives Keras' weights by Keras' names and shapes.

What a Keras user means, decided with Keras 3.15.1 (torch backend):

- ``params``: the layer's ``count_params()`` (``model.summary()``'s Param #), every tensor of
  ``layer.weights``, trainable or not;
- ``weights``: ``layer.weights`` but the biases (the tensors Keras names ``bias``, use_bias's):
  a Conv2D's kernel; a BatchNormalization's gamma, beta, moving_mean and moving_variance;
- ``trainable_params`` / ``non_trainable_params``: Σ ``layer.trainable_weights`` /
  ``layer.non_trainable_weights``.

The quick tests mark answers written from :data:`RECORDED`, each layer's weights as Keras
3.15.1 gave them (name, shape, trainable), and the homework seed's numbers; the full run builds
the model live and checks that the recording is still what Keras gives.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import yaml

from convcalc.teach.grade import Mark, grade
from tests.conftest import Invoke
from tests.keras_oracle import KERAS_MARKS, keras

INPUT = [8, 8, 3]
LAYERS: list[dict[str, Any]] = [
    {"type": "Conv2D", "filters": 4, "kernel_size": 3},
    {"type": "BatchNormalization"},
    {"type": "Dense", "units": 5},
    {"type": "LayerNormalization"},
    {"type": "SeparableConv2D", "filters": 6, "kernel_size": 3},
    {"type": "Conv2D", "filters": 2, "kernel_size": 1, "use_bias": False},
    {"type": "BatchNormalization", "trainable": False},
]

# each layer's layer.weights as Keras 3.15.1 gave them (a fresh session's names): weight name →
# (shape, trainable); checked against Keras itself by test_the_recording_is_what_keras_gives
RECORDED: dict[str, dict[str, tuple[tuple[int, ...], bool]]] = {
    "conv2d": {"kernel": ((3, 3, 3, 4), True), "bias": ((4,), True)},
    "batch_normalization": {
        "gamma": ((4,), True),
        "beta": ((4,), True),
        "moving_mean": ((4,), False),
        "moving_variance": ((4,), False),
    },
    "dense": {"kernel": ((4, 5), True), "bias": ((5,), True)},
    "layer_normalization": {"gamma": ((5,), True), "beta": ((5,), True)},
    "separable_conv2d": {
        "depthwise_kernel": ((3, 3, 5, 1), True),
        "pointwise_kernel": ((1, 1, 5, 6), True),
        "bias": ((6,), True),
    },
    "conv2d_1": {"kernel": ((1, 1, 6, 2), True)},
    "batch_normalization_1": {
        "gamma": ((2,), False),
        "beta": ((2,), False),
        "moving_mean": ((2,), False),
        "moving_variance": ((2,), False),
    },
}


def size(shape: tuple[int, ...]) -> int:
    return math.prod(shape)


def count(layer: str, *, bias: bool = True, trains: bool | None = None) -> int:
    """Σ the sizes of a recorded layer's weights: all of them, or without the biases, or only
    the trainable (or non-trainable) ones."""
    return sum(
        size(shape)
        for name, (shape, trained) in RECORDED[layer].items()
        if (bias or name != "bias") and (trains is None or trained == trains)
    )


def text(shape: tuple[int, ...]) -> str:
    return "×".join(map(str, shape))


def marked(tmp_path: Path, answers: list[dict[str, Any]]) -> list[Mark]:
    spec = {"framework": "keras", "input": INPUT, "layers": LAYERS}
    path = tmp_path / "answers.yaml"
    path.write_text(yaml.safe_dump({"spec": spec, "answers": answers}), encoding="utf-8")
    return list(grade(str(path)).marks)


def test_every_count_claim_is_what_keras_counts(tmp_path: Path) -> None:
    """Keras' own numbers earn every point: count_params() as params, layer.weights without
    the biases as weights (a BatchNormalization's 4·C: its moving statistics are weights, beta
    is no bias), the trainable and non-trainable weights, the network's totals."""
    answers = []
    for layer in RECORDED:
        answers += [
            {"at": layer, "params": count(layer)},
            {"at": layer, "weights": count(layer, bias=False)},
            {"at": layer, "trainable_params": count(layer, trains=True)},
            {"at": layer, "non_trainable_params": count(layer, trains=False)},
        ]
    answers += [
        {"total_params": sum(count(layer) for layer in RECORDED)},
        {"trainable_params": sum(count(layer, trains=True) for layer in RECORDED)},
        {"non_trainable_params": sum(count(layer, trains=False) for layer in RECORDED)},
    ]
    marks = marked(tmp_path, answers)
    assert [m.what for m in marks if not m.right] == []
    assert count("batch_normalization", bias=False) == count("batch_normalization") == 16


def test_the_weights_are_explained_in_keras_names_and_shapes(tmp_path: Path) -> None:
    """A wrong weights count is worked out with Keras' kernel (*k, in, filters), not PyTorch's
    weight (filters, in, *k); a Conv2D's or a Dense's bias counted is "counted the bias" in
    Keras' words (use_bias); nothing is called weight or bias that Keras does not call so."""
    conv, dense, separable = "conv2d", "dense", "separable_conv2d"
    marks = marked(
        tmp_path,
        [
            {"at": conv, "weights": count(conv)},
            {"at": dense, "weights": count(dense)},
            {"at": separable, "weights": count(separable)},
            {"at": "batch_normalization", "weights": count("batch_normalization") - 4},
        ],
    )
    for mark, layer in zip(marks[:3], (conv, dense, separable), strict=True):
        assert mark.credit == 0 and mark.mistake.startswith("counted the bias (use_bias)")
        assert mark.correct == f"{count(layer, bias=False):,}"
        weights = RECORDED[layer]
        kept = ", ".join(f"{n} {text(s)}" for n, (s, _) in weights.items() if n != "bias")
        (line,) = mark.explanation
        assert line.endswith(f"({kept}; not counted: bias {text(weights['bias'][0])})"), line
    bn = marks[3]
    assert bn.correct == "16" and "beta" in bn.mistake and "counted the bias" not in bn.mistake
    assert "gamma 4, beta 4, moving_mean 4, moving_variance 4" in bn.explanation[0]
    for mark in marks:
        assert "weight " not in " ".join(mark.explanation)  # PyTorch's name of a kernel


def test_the_other_keras_mistakes_are_named(tmp_path: Path) -> None:
    """BatchNormalization's weights without the moving statistics (its trainable_weights), or
    PyTorch's gamma alone; its Param # without beta; Param # given for the non-trainable part;
    a frozen layer (trainable: false) has no trainable weights, and each count is worked out
    tensor by tensor in Keras' names."""
    bn, frozen = "batch_normalization", "batch_normalization_1"
    gamma = size(RECORDED[bn]["gamma"][0])
    marks = marked(
        tmp_path,
        [
            {"at": bn, "weights": count(bn, trains=True)},
            {"at": bn, "weights": gamma},
            {"at": bn, "params": count(bn) - size(RECORDED[bn]["beta"][0])},
            {"at": bn, "non_trainable_params": count(bn)},
            {"at": frozen, "trainable_params": count(frozen)},
            {"at": "conv2d", "params": count("conv2d") - 4},
        ],
    )
    assert [m.credit for m in marks] == [0.0] * 6
    assert marks[0].mistake.startswith("left out the non-trainable weights")
    assert marks[1].mistake == "PyTorch's count: gamma alone"
    assert marks[2].mistake.startswith("forgot beta")
    assert marks[3].mistake.startswith("gave every parameter (Param #)")
    assert marks[3].explanation == (
        "non-trainable = 4 + 4 = 8   (moving_mean 4, moving_variance 4; not counted: gamma 4, "
        "beta 4)",
    )
    assert marks[4].correct == "0" and "counted the non-trainable" in marks[4].mistake
    assert marks[5].mistake == "forgot the bias"


def test_the_homework_seed_in_keras_terms(tmp_path: Path) -> None:
    """The seed's 3.1b (the weights of the second convolution, 128·32·4·4 = 65,536) on the
    Keras spec: right as the seed gives it; with the 128 biases, the bias counted, worked out
    with Keras' kernel 4×4×32×128."""
    path = tmp_path / "a.yaml"
    path.write_text(
        "spec: hw3-q3-keras\nanswers:\n  - {at: conv2d_1, weights: 65536}\n"
        "  - {at: conv2d_1, weights: 65664}\n  - {at: conv2d_1, params: 65536}\n",
        encoding="utf-8",
    )
    right, wrong, params = grade(str(path)).marks
    assert right.right and not wrong.right and not params.right
    assert wrong.mistake.startswith("counted the bias")
    assert wrong.explanation == (
        "weights = 4·4·32·128 = 65,536   (kernel 4×4×32×128; not counted: bias 128)",
    )
    assert params.mistake == "forgot the bias"


def test_a_pytorch_spec_keeps_pytorchs_words(tmp_path: Path) -> None:
    """The same claims on PyTorch's hw3-q3: weight (out, in, *k) and its buffers-free BatchNorm."""
    path = tmp_path / "a.yaml"
    path.write_text(
        "spec: {input: [3, 8, 8], layers: [{type: conv, out_channels: 4, kernel_size: 3}, "
        "{type: batchnorm}]}\nanswers:\n  - {at: 'layers[0]', weights: 112}\n"
        "  - {at: 'layers[1]', weights: 8}\n",
        encoding="utf-8",
    )
    conv, bn = grade(str(path)).marks
    assert conv.mistake == "counted the bias"
    assert conv.explanation == ("weights = 4·3·3·3 = 108   (weight 4×3×3×3; not counted: bias 4)",)
    assert bn.correct == "4" and bn.mistake == "counted the bias"  # weight 4; bias 4 left out


# --- against Keras itself (the full run) --------------------------------------------------------


def keras_marks(test: Any) -> Any:
    """The Keras oracle's marks (torch; Keras' warnings ignored) on one test."""
    for mark in KERAS_MARKS:
        test = mark(test)
    return test


def live_model() -> Any:
    keras.backend.clear_session()  # Keras' names as a fresh session gives them
    built = [
        getattr(keras.layers, item["type"])(**{k: v for k, v in item.items() if k != "type"})
        for item in LAYERS
    ]
    return keras.Sequential([keras.Input(tuple(INPUT)), *built])


@pytest.mark.full
@keras_marks
def test_the_recording_is_what_keras_gives() -> None:
    """Keras 3.15.1, built live: every layer's weights, by name, shape and trainability, are
    the recorded ones, and count_params() is their sum."""
    model = live_model()
    trainable = {id(w) for w in model.trainable_weights}
    live = {
        layer.name: {w.name: (tuple(w.shape), id(w) in trainable) for w in layer.weights}
        for layer in model.layers
    }
    assert live == RECORDED
    assert all(layer.count_params() == count(layer.name) for layer in model.layers)


@pytest.mark.full
@keras_marks
def test_check_marks_live_keras_counts(run: Invoke, tmp_path: Path) -> None:
    """Answers written from the live model (count_params(), layer.weights without its bias,
    trainable_weights, non_trainable_weights, model.summary()'s totals) are all right through
    the CLI; count_params() for the weights of a layer with a bias is "counted the bias"."""
    model = live_model()

    def total(weights: list[Any]) -> int:
        return sum(size(tuple(w.shape)) for w in weights)

    answers: list[dict[str, Any]] = []
    for layer in model.layers:
        kernels = [w for w in layer.weights if w.name != "bias"]
        answers += [
            {"at": layer.name, "params": layer.count_params()},
            {"at": layer.name, "weights": total(kernels)},
            {"at": layer.name, "trainable_params": total(layer.trainable_weights)},
            {"at": layer.name, "non_trainable_params": total(layer.non_trainable_weights)},
        ]
    answers += [
        {"total_params": model.count_params()},
        {"trainable_params": total(model.trainable_weights)},
        {"non_trainable_params": total(model.non_trainable_weights)},
        {"at": "conv2d", "weights": model.layers[0].count_params()},
    ]
    spec = {"framework": "keras", "input": INPUT, "layers": LAYERS}
    path = tmp_path / "live.yaml"
    path.write_text(yaml.safe_dump({"spec": spec, "answers": answers}), encoding="utf-8")
    result = run("check", str(path))
    lines = result.output.splitlines()
    assert sum(line.startswith("  ✓") for line in lines) == len(answers) - 1, result.output
    kernel = tuple(model.layers[0].kernel.shape)
    assert f"(kernel {text(kernel)}; not counted: bias {kernel[-1]})" in result.output
    assert "mistake: counted the bias (use_bias)" in result.output
