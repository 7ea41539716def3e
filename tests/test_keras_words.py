# ruff: noqa: E501  (exact outputs, one line each)
"""Keras specs in Keras' words: labels, the explanation's names and tensors, lint's fixes.

Every tensor name and shape printed for a Keras layer is checked against Keras 3 itself
(``layer.weights`` of the built layer, torch backend); the transposed ``same`` placement
lint warns about against Keras' output and a PyTorch ConvTranspose2d's.
"""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from convcalc.analysis import analyse
from convcalc.cli import cli
from convcalc.spec.validate import load_spec
from tests.keras_oracle import KERAS_MARKS, keras

K = """framework: keras
input: [65, 65, 3]
layers:
  - {type: Conv2D, filters: 8, kernel_size: 3, strides: 2, padding: same}
  - {type: BatchNormalization}
  - {type: Conv2DTranspose, filters: 4, kernel_size: 3, strides: 2, padding: same}
"""

K2 = """framework: keras
input: [32, 32, 3]
layers:
  - {type: Dense, units: 6}
  - {type: DepthwiseConv2D, kernel_size: 3, depth_multiplier: 2}
  - {type: SeparableConv2D, filters: 16, kernel_size: 3, strides: 2, padding: same}
  - type: Add
    body:
      - {type: Conv2D, filters: 16, kernel_size: 1}
  - {type: MaxPooling2D, pool_size: 3, strides: 2, padding: same}
"""


def _run(tmp_path: Any, text: str, *args: str) -> str:
    path = tmp_path / "k.yaml"
    path.write_text(text)
    result = CliRunner().invoke(cli, [*args[:1], str(path), *args[1:]])
    assert result.exit_code == 0, result.output
    return result.output


EXPLAIN_K = """\
k: 65×65×3 → 66×66×4

layers[0] Conv2D(8, 3, strides=2, padding="same"): 65×65×3 → 33×33×8
  C = filters = 8
  H = ⌈H_in / strides⌉ = ⌈65 / 2⌉ = 33   (Keras' same: out = ⌈H_in / strides⌉; it pads max((out − 1)·strides + dilation_rate·(kernel_size − 1) + 1 − H_in, 0) = 2 in all: 1 before, 1 after)
  W = 33   (the same numbers as H)
  parameters = 3·3·3·8 + 8 = 224   (kernel 3×3×3×8, bias 8)

layers[1] BatchNormalization(): 33×33×8 → 33×33×8
  shape: each of the 8 channels normalised by its mean and variance over the batch and its positions (the running ones in eval); shape kept
  parameters = 8 + 8 + 8 + 8 = 32   (gamma 8, beta 8, moving_mean 8, moving_variance 8)

layers[2] Conv2DTranspose(4, 3, strides=2, padding="same"): 33×33×8 → 66×66×4
  C = filters = 4
  H = H_in·strides = 33·2 = 66   (Keras' same: out = H_in · strides)
  W = 66   (the same numbers as H)
  parameters = 3·3·4·8 + 4 = 292   (kernel 3×3×4×8, bias 4)

total
  parameters = 224 + 32 + 292 = 548
  values = 66·66·4 = 17,424   (the output's size)
"""

LINT_K = """\
k: 2 warnings

layers[0] Conv2D(8, 3, strides=2, padding="same") [bias-before-norm]
  Conv2D(8, 3, strides=2, padding="same") adds a bias of 8 values that BatchNormalization() at layers[1] removes with each channel's mean: 8 parameters with no effect
  (x + b) − mean(x + b) = x − mean(x)
  fix: use_bias: false (8 fewer parameters)

layers[2] Conv2DTranspose(4, 3, strides=2, padding="same") [even-kernel-same]
  Conv2DTranspose(4, 3, strides=2, padding="same"): 'same' crops 0 at the start and 1 at the end (Keras' output): each input's footprint is shifted half a position to the end
  the crop T = k_eff − s = 3 − 2 = 1, odd: ⌊T/2⌋ at the start, the rest at the end
  fix: a kernel with k − s even and at least 0 (kernel_size 4 with strides 2) crops both sides equally
"""

TABLE_K2 = """\
#  Layer                                              Output shape  Params  Mult-adds
─────────────────────────────────────────────────────────────────────────────────────
0  Dense(6)                                           32×32×6           24     18,432
1  DepthwiseConv2D(3, depth_multiplier=2)             30×30×12         120     97,200
2  SeparableConv2D(16, 3, strides=2, padding="same")  15×15×16         316     67,500
   └─depthwise(3, strides=2, padding="same")          15×15×12         108     24,300
   └─pointwise(16)                                    15×15×16         208     43,200
3  Add()                                              15×15×16         272     57,600
   └─body: Conv2D(16, 1)                              15×15×16         272     57,600
   └─shortcut: identity                               15×15×16           0          0
4  MaxPooling2D(3, strides=2, padding="same")         8×8×16             0          0
"""


def test_explain_in_keras_words(tmp_path: Any) -> None:
    assert _run(tmp_path, K, "shape", "--explain") == EXPLAIN_K


def test_lint_in_keras_words(tmp_path: Any) -> None:
    assert _run(tmp_path, K, "lint") == LINT_K


def test_table_labels_in_keras_words(tmp_path: Any) -> None:
    out = _run(tmp_path, K2, "shape")
    assert TABLE_K2 in out


def test_hw3_q3_keras_valid_formulas() -> None:
    result = CliRunner().invoke(cli, ["shape", "hw3-q3-keras", "--explain"])
    lines = result.output.splitlines()
    assert (
        "  H = ⌊(H_in − dilation_rate·(kernel_size − 1) − 1) / strides⌋ + 1 = ⌊(128 − 1·(8 − 1) − 1) / 2⌋ + 1 = ⌊120 / 2⌋ + 1 = 61"
        in lines
    )
    assert (
        "  H = ⌊(H_in − pool_size) / strides⌋ + 1 = ⌊(61 − 5) / 5⌋ + 1 = ⌊56 / 5⌋ + 1 = 12" in lines
    )


def keras_test(test: Any) -> Any:
    """The Keras marks (skipped without Keras) on one test."""
    for mark in KERAS_MARKS:
        test = mark(test)
    return test


# --- Keras 3.15.1 (live) as the oracle of every tensor name and shape -------------------------


def _leaf_tensors(text: str) -> list[list[tuple[str, tuple[int, ...]]]]:
    """Each top-level layer's tensors as convcalc shows them, its leaves' in order."""
    report = analyse(load_spec(yaml.safe_load(text)))
    out = []
    for entry in report.layers:
        found = []
        for leaf in entry.walk():
            if leaf.step is not None:
                shown = leaf.layer.shown_tensors(leaf.tensors)
                found += [(name, shape) for name, shape in shown.items()]
        out.append(found)
    return out


def _keras_tensors(text: str) -> list[list[tuple[str, tuple[int, ...]]]]:
    spec = yaml.safe_load(text)
    model = keras.Sequential([keras.Input(tuple(spec["input"]))])
    out = []
    for item in spec["layers"]:
        args = {k: v for k, v in item.items() if k != "type"}
        if item["type"] == "Add":
            inner = keras.Sequential(
                [
                    getattr(keras.layers, i["type"])(**{k: v for k, v in i.items() if k != "type"})
                    for i in args["body"]
                ]
            )
            model.add(inner)
            layer = inner
        else:
            layer = getattr(keras.layers, item["type"])(**args)
            model.add(layer)
        out.append([(w.path.split("/")[-1], tuple(w.shape)) for w in layer.weights])
    return out


K3 = """framework: keras
input: [5, 5, 4]
layers:
  - {type: LayerNormalization}
  - {type: Reshape, target_shape: [25, 4]}
  - {type: LayerNormalization, center: false}
  - {type: MaxPooling1D, pool_size: 2, padding: same}
"""


@pytest.mark.parametrize(
    "text", [K, K2, K3], ids=["conv-bn-transpose", "dense-depthwise-separable", "layernorm"]
)
@keras_test
def test_tensors_against_keras(text: str) -> None:
    assert _leaf_tensors(text) == _keras_tensors(text)


@keras_test
def test_dense_on_features_against_keras() -> None:
    text = "framework: keras\ninput: [7]\nlayers:\n  - {type: Dense, units: 3, use_bias: false}\n"
    assert _leaf_tensors(text) == _keras_tensors(text) == [[("kernel", (7, 3))]]


@keras_test
def test_transposed_same_placement() -> None:
    """Keras' Conv2DTranspose(k 3, strides 2, same) is PyTorch's uncropped ConvTranspose2d
    (11×11 from 5×5) cropped 0 at the start and 1 at the end, as lint says."""
    import numpy as np
    import torch

    layer = keras.layers.Conv2DTranspose(1, 3, strides=2, padding="same", use_bias=False)
    x = np.random.default_rng(0).standard_normal((1, 5, 5, 1)).astype("float32")
    y = keras.ops.convert_to_numpy(layer(x))
    kernel = keras.ops.convert_to_numpy(layer.kernel)  # (kh, kw, out, in)
    full = torch.nn.ConvTranspose2d(1, 1, 3, stride=2, bias=False)
    with torch.no_grad():
        full.weight.copy_(torch.from_numpy(kernel.transpose(3, 2, 0, 1).copy()))
        xt = torch.from_numpy(x.transpose(0, 3, 1, 2).copy())
        uncropped = full(xt).numpy().transpose(0, 2, 3, 1)  # (5 − 1)·2 + 3 = 11
    assert y.shape == (1, 10, 10, 1)
    assert np.allclose(y, uncropped[:, :10, :10], atol=1e-5)  # 0 at the start, 1 at the end
    assert not np.allclose(y, uncropped[:, 1:, 1:], atol=1e-5)


# --- the diagram and the HTML report in Keras' words and order --------------------------------


def _svg_texts(spec: str) -> list[str]:
    """Every text of ``convcalc draw SPEC``'s SVG, in order."""
    svg = CliRunner().invoke(cli, ["draw", spec]).output
    return [html.unescape(t) for t in re.findall(r"<text[^>]*>([^<]*)</text>", svg)]


def _report_rows(spec: str) -> list[list[str]]:
    """The layer table of ``convcalc report SPEC``: each row's label, shape and parameters
    (a list's heading alone)."""
    page = CliRunner().invoke(cli, ["report", spec]).output
    table = page[page.index('<div class="table" id="layers">') :]
    table = table[: re.search(r"\n</div>(?!</details>)", table).start()]  # type: ignore[union-attr]
    rows = []
    for row in re.split(r'class="row[" ]', table)[2:]:  # after the heading's row
        cells = re.findall(r'<div class="(?:layer[^"]*|mono|n)"[^>]*>(.*?)</div>', row)
        rows.append([html.unescape(re.sub(r"<[^>]+>", "", c)) for c in cells[:3]])
    return rows


DRAW_HW3 = [
    "hw3-q3-keras: input 128×128×3 → 11×11×128 · 71,840 parameters · 30,791,680 multiply-adds",
    *("conv", "pool", "reshape", "input", "128×128×3"),
    *("Conv2D", "32, 8, strides=2", "61×61×32", "MaxPooling2D", "5", "12×12×32"),
    *("ZeroPadding2D", "1", "14×14×32", "Conv2D", "128, 4", "11×11×128"),
]
DRAW_K2 = [
    "k: input 32×32×3 → 8×8×16 · 732 parameters · 240,732 multiply-adds",
    *("conv", "pool", "add", "input", "32×32×3", "Dense", "6", "32×32×6"),
    *("DepthwiseConv2D", "3, depth_multiplier=2", "30×30×12"),
    'SeparableConv2D(16, 3, strides=2, padding="same")',
    *("depthwise", '3, strides=2, padding="same"', "15×15×12", "pointwise", "16", "15×15×16"),
    *("Conv2D", "16, 1", "15×15×16", "MaxPooling2D", '3, strides=2, padding="same"', "8×8×16"),
]
REPORT_HW3 = [
    ["Conv2D(32, 8, strides=2)", "61×61×32", "6,176"],
    ["MaxPooling2D(5)", "12×12×32", "0"],
    ["ZeroPadding2D(1)", "14×14×32", "0"],
    ["Conv2D(128, 4)", "11×11×128", "65,664"],
]
REPORT_K2 = [
    ["Dense(6)", "32×32×6", "24"],
    ["DepthwiseConv2D(3, depth_multiplier=2)", "30×30×12", "120"],
    ['SeparableConv2D(16, 3, strides=2, padding="same")', "15×15×16", "316"],
    ['depthwise(3, strides=2, padding="same")', "15×15×12", "108"],
    ["pointwise(16)", "15×15×16", "208"],
    ["Add()", "15×15×16", "272"],
    ["body:"],
    ["Conv2D(16, 1)", "15×15×16", "272"],
    ["shortcut: identity"],
    ['MaxPooling2D(3, strides=2, padding="same")', "8×8×16", "0"],
]


def test_draw_and_report_in_keras_words(tmp_path: Any) -> None:
    """``convcalc draw`` and ``convcalc report`` of hw3-q3-keras and of a spec with an Add:
    Keras' calls (a block built for one Keras layer by its call) and channels-last shapes."""
    path = tmp_path / "k.yaml"
    path.write_text(K2)
    assert _svg_texts("hw3-q3-keras") == DRAW_HW3
    assert _svg_texts(str(path)) == DRAW_K2
    assert _report_rows("hw3-q3-keras") == REPORT_HW3
    assert _report_rows(str(path)) == REPORT_K2


def _keras_layer(item: dict[str, Any]) -> Any:
    """The Keras layer a spec's item writes; an Add's body as a Keras Sequential (the same
    shape and weights: the shortcut is the identity)."""
    if item["type"] == "Add":
        return keras.Sequential([_keras_layer(inner) for inner in item["body"]])
    return getattr(keras.layers, item["type"])(**{k: v for k, v in item.items() if k != "type"})


def _config(layer: Any) -> dict[str, Any]:
    return {k: v for k, v in layer.get_config().items() if k != "name"}


@pytest.mark.parametrize(("spec", "rows"), [("hw3-q3-keras", REPORT_HW3), ("K2", REPORT_K2)])
@keras_test
def test_shown_shapes_and_counts_are_keras(spec: str, rows: list[list[str]]) -> None:
    """The report's rows of the top-level layers show Keras' own output shapes and parameter
    counts (the model built live, layer by layer), and a label that is a Keras call makes the
    layer as written (the same config)."""
    from convcalc.spec.validate import bundled_specs

    text = yaml.safe_load(K2 if spec == "K2" else bundled_specs()[spec].read_text())
    model = keras.Sequential([keras.Input(tuple(text["input"]))])
    top = [row for row in rows if len(row) == 3 and not row[0].startswith(("depth", "point"))]
    top = [row for row in top if row[0] != "Conv2D(16, 1)"]  # the Add's body
    for item, row in zip(text["layers"], top, strict=True):
        layer = _keras_layer(item)
        model.add(layer)
        shape = "×".join(str(n) for n in layer.output.shape[1:])
        assert [shape, f"{layer.count_params():,}"] == row[1:]
        if row[0].startswith(f"{item['type']}("):
            shown = eval(f"keras.layers.{row[0]}")  # the call as the report shows it
            written = {k: v for k, v in item.items() if k not in ("type", "body")}
            assert _config(shown) == _config(getattr(keras.layers, item["type"])(**written))


def test_layernorm_and_pool_same_in_keras_words(tmp_path: Any) -> None:
    """LayerNormalization's label and gamma/beta (names from Keras, above); a pool's ``same``
    padding written without a dilation."""
    out = _run(tmp_path, K3, "shape", "--explain").splitlines()
    assert "layers[0] LayerNormalization(): 5×5×4 → 5×5×4" in out
    assert "  parameters = 4 + 4 = 8   (gamma 4, beta 4)" in out
    assert "layers[2] LayerNormalization(center=False): 25×4 → 25×4" in out
    assert "    parameters = 4   (gamma 4)" in out
    same = "(Keras' same: out = ⌈L_in / strides⌉; it pads max((out − 1)·strides + pool_size − L_in, 0) = 1 in all: 0 before, 1 after (the extra one at the end))"
    assert f"  L = ⌈L_in / strides⌉ = ⌈25 / 2⌉ = 13   {same}" in out
