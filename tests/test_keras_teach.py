"""Grading answers on Keras specs (``convcalc check``) against Keras 3 itself.

Every right number is Keras' own, built live on its torch backend: each layer's output shape
(channels-last, as ``model.summary()`` shows it), ``count_params()``, the trainable and the
non-trainable weights; the homework's inverse problem is checked with PyTorch's Conv1d. The
tests write answers files from those numbers and check the grader's marks and named mistakes.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import Invoke
from tests.keras_oracle import KERAS_MARKS, keras

pytestmark = KERAS_MARKS

EXAMPLES = Path(__file__).parent.parent / "examples" / "hw3-grading"

HW3 = [
    {"type": "Conv2D", "filters": 32, "kernel_size": 8, "strides": 2},
    {"type": "MaxPooling2D", "pool_size": 5, "strides": 5},
    {"type": "ZeroPadding2D", "padding": 1},
    {"type": "Conv2D", "filters": 128, "kernel_size": 4, "strides": 1},
]


def keras_model(shape: tuple[int, ...], layers: list[dict[str, Any]]) -> Any:
    """The stack built by Keras, each layer by its class and arguments as written."""
    built = [getattr(keras.layers, item["type"])(**{k: v for k, v in item.items()
                                                   if k != "type"}) for item in layers]  # fmt: skip
    return keras.Sequential([keras.Input(shape), *built])


def counts(weights: list[Any]) -> int:
    return sum(math.prod(w.shape) for w in weights)


def test_keras_key_marks_keras_numbers(run: Invoke, tmp_path: Path) -> None:
    """The Keras key of Question 3 (examples/hw3-grading/key-keras.yaml): Keras' shapes,
    sizes and counts earn every point, written as a list, as Keras prints them or as text;
    the example student who answers every question holds exactly Keras' numbers; the shapes
    of the accepted variant (MaxPooling2D padding="same") are Keras' too; PyTorch's
    channels-first shape is the named mistake."""
    keras.backend.clear_session()  # Keras' names as a fresh session gives them
    model = keras_model((128, 128, 3), HW3)
    shapes = [tuple(layer.output.shape[1:]) for layer in model.layers]
    assert [layer.name for layer in model.layers][::3] == ["conv2d", "conv2d_1"]
    kernel = math.prod(model.layers[3].kernel.shape)
    total = model.count_params()
    size = math.prod(shapes[-1])
    variant = keras_model((128, 128, 3), [HW3[0], {**HW3[1], "padding": "same"}, *HW3[2:]])
    variant_shapes = [tuple(layer.output.shape[1:]) for layer in variant.layers]
    torch = pytest.importorskip("torch")
    for k, s, p, d in ((49, 5, 0, 1), (27, 5, 2, 2), (51, 5, 1, 1)):  # Question 3.2's answers
        conv = torch.nn.Conv1d(1, 1, k, stride=s, padding=p, dilation=d, device="meta")
        assert conv(torch.empty(1, 1, 64, device="meta")).shape[-1] == 4

    kim = yaml.safe_load((EXAMPLES / "class-keras" / "kim.yaml").read_text())
    given = {(a["question"], a.get("at")): a for a in kim["answers"]}
    assert given["3.1a", "conv2d"]["output_shape"] == list(shapes[0])
    assert given["3.1a", "max_pooling2d"]["output_shape"] == list(shapes[1])
    assert given["3.1a", "conv2d_1"]["output_shape"] == f"(None, {', '.join(map(str, shapes[3]))})"
    assert given["3.1a", None]["output_size"] == size
    assert given["3.1b", "conv2d_1"]["weights"] == kernel
    assert given["3.1b", None]["total_params"] == total
    key = str(EXAMPLES / "key-keras.yaml")
    result = run("check", "--key", key, str(EXAMPLES / "class-keras"), "--format", "json")
    marked = {row["student_id"]: row for row in json.loads(result.output)["students"]}
    assert marked["kim.ito"]["score"] == marked["kim.ito"]["out_of"] == 9

    h, w, c = shapes[3]
    answers = {
        "answers": [
            {"question": "3.1a", "at": "conv2d", "output_shape": "{}×{}×{}".format(*shapes[0])},
            {"question": "3.1a", "at": "max_pooling2d",
             "output_shape": "({}, {}, {})".format(*variant_shapes[1])},
            {"question": "3.1a", "at": "conv2d_1", "output_shape": [c, h, w]},
            {"question": "3.1a", "output_size": size},
            {"question": "3.1b", "at": "conv2d_1", "weights": kernel},
            {"question": "3.1b", "total_params": total},
        ]
    }  # fmt: skip
    (tmp_path / "sam.yaml").write_text(yaml.safe_dump(answers))
    result = run("check", "--key", key, str(tmp_path / "sam.yaml"))
    assert result.exit_code == 1, result.output
    lines = result.output.splitlines()
    assert "  ✓ 3.1a  layers[0] conv2d (Conv2D) output_shape: 61×61×32  (1 / 1)" in lines
    assert any("max_pooling2d (MaxPooling2D) output_shape: 13×13×32" in ln for ln in lines)
    assert any("accepted: hw3-q3-keras-pool-same.yaml" in ln for ln in lines)
    wrong = f"  ✗ 3.1a  layers[3] conv2d_1 (Conv2D) output_shape: {c}×{h}×{w} — right: {h}×{w}×{c}"
    assert any(ln.startswith(wrong) for ln in lines), lines
    assert (
        "      mistake: channels first: Keras writes a shape (H, W, C), its channels last" in lines
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text("answers:\n  - {question: 3.1a, at: conv2d, output_shape: '61 by 61'}\n")
    refused = run("check", "--key", key, str(bad))
    assert refused.exit_code == 2
    assert "bad.yaml:2: answers[0], field output_shape: a shape is a list" in refused.output


@pytest.mark.full
def test_batchnorm_trainable_and_not(run: Invoke, tmp_path: Path) -> None:
    """BatchNormalization holds 4·C parameters in Keras' "Param #", 2·C of them trainable:
    either count is right for ``params`` and ``total_params``; ``trainable_params`` and
    ``non_trainable_params`` ask for one part, each mistake named."""
    layers = [
        {"type": "Conv2D", "filters": 16, "kernel_size": 3, "strides": 2, "padding": "same"},
        {"type": "BatchNormalization"},
    ]
    model = keras_model((32, 32, 3), layers)
    bn = model.layers[1]
    param, trainable = bn.count_params(), counts(bn.trainable_weights)
    untrained = counts(bn.non_trainable_weights)
    total, total_trainable = model.count_params(), counts(model.trainable_weights)
    spec = {"framework": "keras", "input": [32, 32, 3], "layers": layers}
    answers = [
        {"at": "batch_normalization", "params": param},
        {"at": "batch_normalization", "params": trainable},
        {"at": "batch_normalization", "trainable_params": trainable},
        {"at": "batch_normalization", "non_trainable_params": untrained},
        {"total_params": total},
        {"total_params": total_trainable},
        {"trainable_params": total_trainable},
        {"non_trainable_params": untrained},
        {"at": "batch_normalization", "trainable_params": param},
        {"non_trainable_params": 0},
    ]
    file = tmp_path / "bn.yaml"
    file.write_text(yaml.safe_dump({"spec": spec, "answers": answers}))
    result = run("check", str(file), "--format", "json")
    marks = json.loads(result.output)[0]["marks"]
    assert [m["credit"] for m in marks] == [1.0] * 8 + [0.0, 0.0]
    assert marks[8]["mistake"].startswith("counted the non-trainable parameters")
    assert marks[9]["mistake"].startswith("forgot the non-trainable parameters")


def keras_size(layer: str, n: int, k: int, s: int, padding: str, d: int = 1) -> int | None:
    """The output length Keras gives one layer on an n×n×1 input, None where it refuses."""
    kind, args = {
        "conv": ("Conv2D", {"filters": 1, "kernel_size": k, "dilation_rate": d}),
        "conv_transpose": ("Conv2DTranspose", {"filters": 1, "kernel_size": k}),
        "maxpool": ("MaxPooling2D", {"pool_size": k}),
    }[layer]
    try:
        model = keras_model((n, n, 1), [{"type": kind, **args, "strides": s, "padding": padding}])
    except ValueError:
        return None
    out = model.output_shape[1]
    return out if out is not None and out > 0 else None


def test_solve_questions_ask_keras_rules(run: Invoke, tmp_path: Path) -> None:
    """A solve question with framework: keras is marked by Keras' rules in Keras' names: each
    claimed [kernel_size, strides] is right exactly where Keras builds
    the layer with the wanted output (same at strides 2: ⌈64/2⌉ = 32 for any kernel; valid;
    a transposed convolution; a max pool padded same); a pair Keras refuses (strides 2 with
    dilation_rate 2) is wrong and named; PyTorch's names are refused with Keras' own; without
    framework: keras, PyTorch's rule is asked, on a Keras spec too (the homework's 3.2)."""
    asks = [
        ({"in": 64, "out": 32, "padding": "same"}, [[4, 2], [3, 2], [4, 3]], "conv", 1),
        ({"in": 64, "out": 30, "padding": "valid"}, [[5, 2], [6, 2]], "conv", 1),
        ({"in": 16, "out": 32, "layer": "conv_transpose", "padding": "same"},
         [[3, 2], [1, 2], [3, 1]], "conv_transpose", 1),
        ({"in": 16, "out": 33, "layer": "conv_transpose", "padding": "valid"},
         [[3, 2], [5, 2], [2, 2]], "conv_transpose", 1),
        ({"in": 31, "out": 16, "layer": "maxpool", "padding": "same"}, [[2, 2], [3, 2]],
         "maxpool", 1),
        ({"in": 64, "out": 30, "padding": "valid", "dilation_rate": 2}, [[3, 2], [35, 1]],
         "conv", 2),
    ]  # fmt: skip
    answers = []
    expected = []
    for ask, claims, layer, d in asks:
        for claim in claims:
            asked = {**ask, "framework": "keras"}
            answers.append({"question": "s", "solve": asked, "solutions": [claim]})
            gives = keras_size(layer, ask["in"], *claim, ask["padding"], d)
            expected.append(1.0 if gives == ask["out"] else 0.0)
    assert expected.count(1.0) >= 6 and expected.count(0.0) >= 4
    spec = {"framework": "keras", "input": [32, 32, 3], "layers": HW3[:1]}
    file = tmp_path / "solve.yaml"
    file.write_text(yaml.safe_dump({"spec": spec, "answers": answers}))
    marks = json.loads(run("check", str(file), "--format", "json").output)[0]["marks"]
    assert [m["credit"] for m in marks] == expected
    assert "Keras refuses strides > 1 with dilation_rate > 1" in marks[-2]["mistake"]
    # the same on a PyTorch spec; and PyTorch's own rule without framework: keras
    torch_spec = {"input": [3, 32, 32], "layers": [{"type": "conv", "out_channels": 4,
                                                    "kernel_size": 3}]}  # fmt: skip
    file.write_text(yaml.safe_dump({"spec": torch_spec, "answers": answers}))
    marks = json.loads(run("check", str(file), "--format", "json").output)[0]["marks"]
    assert [m["credit"] for m in marks] == expected
    torch = pytest.importorskip("torch")
    conv = torch.nn.Conv2d(1, 1, 4, stride=2, padding=1, device="meta")
    assert conv(torch.empty(1, 1, 64, 64, device="meta")).shape[-1] == 32  # PyTorch: p 1
    plain = {"question": "s", "solve": {"in": 64, "out": 32, "padding": 1},
             "solutions": [[4, 2]]}  # fmt: skip
    file.write_text(yaml.safe_dump({"spec": spec, "answers": [plain]}))
    assert json.loads(run("check", str(file), "--format", "json").output)[0]["score"] == 1
    bad = {"question": "s", "solve": {"in": 64, "out": 32, "stride": 2, "framework": "keras"},
           "solutions": [[4, 2]]}  # fmt: skip
    file.write_text(yaml.safe_dump({"spec": spec, "answers": [bad]}))
    refused = run("check", str(file))
    assert refused.exit_code == 2
    assert "'stride' is PyTorch's name: Keras calls it 'strides'" in refused.output


def test_the_grader_and_the_summary_name_layers_alike(run: Invoke, tmp_path: Path) -> None:
    """Keras' automatic names (a fresh session's: conv2d, conv2d_1, counted over the layers
    given no name) are the ones ``--format keras`` prints and the grader answers ``at:``."""
    layers = [
        {"type": "Conv2D", "filters": 4, "kernel_size": 3},
        {"type": "Conv2D", "filters": 4, "kernel_size": 3, "name": "mine"},
        {"type": "MaxPooling2D", "pool_size": 2},
        {"type": "Conv2D", "filters": 8, "kernel_size": 3},
    ]
    keras.backend.clear_session()
    model = keras_model((32, 32, 3), layers)
    names = [layer.name for layer in model.layers]
    assert names == ["conv2d", "mine", "max_pooling2d", "conv2d_1"]
    spec = {"name": "net", "framework": "keras", "input": [32, 32, 3], "layers": layers}
    (tmp_path / "net.yaml").write_text(yaml.safe_dump(spec))
    printed = run("shape", str(tmp_path / "net.yaml"), "--format", "keras").output
    assert all(f"{n} (" in printed for n in names)
    answers = [{"question": "a", "at": n, "output_shape": list(layer.output.shape[1:])}
               for n, layer in zip(names, model.layers, strict=True)]  # fmt: skip
    file = tmp_path / "a.yaml"
    file.write_text(yaml.safe_dump({"spec": spec, "answers": answers}))
    marks = json.loads(run("check", str(file), "--format", "json").output)[0]["marks"]
    assert [m["credit"] for m in marks] == [1.0] * 4
    assert [m["what"].split(" ")[1] for m in marks] == names
