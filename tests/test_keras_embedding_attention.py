"""Keras' Embedding and MultiHeadAttention in the Keras dialect, against Keras 3 itself (torch
backend), and PyTorch's ``embedding`` type against torch.

Each Keras model is built live with the functional API (MultiHeadAttention called as
self-attention, ``mha(x, x)``); layer for layer, convcalc's output shape (Keras' order), its
trainable and non-trainable counts and each weight's name and shape must be Keras'. Where Keras
refuses the arguments, convcalc refuses them, located in the file.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from convcalc.analysis import analyse
from convcalc.errors import ConvcalcError, SpecError
from convcalc.spec.validate import load_spec
from tests.keras_oracle import KERAS_MARKS, keras

pytestmark = KERAS_MARKS

Row = tuple[tuple[int, ...], int, int, dict[str, tuple[int, ...]]]


def keras_rows(shape: tuple[int, ...], layers: list[dict[str, Any]], fmt: str) -> list[Row]:
    """Keras' rows: output shape, trainable, non-trainable, {weight path in the layer: shape}."""
    ids = layers[0]["type"] == "Embedding"
    x = inputs = keras.Input(shape, dtype="int32" if ids else "float32")
    built = []
    for item in layers:
        args = {k: v for k, v in item.items() if k != "type"}
        layer = getattr(keras.layers, item["type"])(**args)
        x = layer(x, x) if item["type"] == "MultiHeadAttention" else layer(x)
        built.append(layer)
    keras.Model(inputs, x)
    rows = []
    for layer in built:
        trainable = sum(math.prod(w.shape) for w in layer.trainable_weights)
        frozen = sum(math.prod(w.shape) for w in layer.non_trainable_weights)
        weights = {w.path.split("/", 1)[1]: tuple(w.shape) for w in layer.weights}
        rows.append((tuple(layer.output.shape[1:]), trainable, frozen, weights))
    return rows


def convcalc_rows(shape: tuple[int, ...], layers: list[dict[str, Any]], fmt: str) -> list[Row]:
    spec = {"framework": "keras", "data_format": fmt, "input": list(shape), "layers": layers}
    report = analyse(load_spec(spec))
    assert report.dialect is not None
    rows = []
    for entry in report.layers:
        frozen = sum(e.step.untrained_params for e in entry.walk() if e.step is not None)
        weights: dict[str, tuple[int, ...]] = {}
        for e in entry.walk():
            if e.step is not None and not hasattr(e.layer, "layers"):
                weights |= e.layer.shown_tensors(dict(e.step.tensors))
        out = report.dialect.shape(entry.output_shape)
        rows.append((tuple(out), entry.params - frozen, frozen, weights))
    return rows


def compare(
    shape: tuple[int, ...], layers: list[dict[str, Any]], fmt: str = "channels_last"
) -> None:
    """Keras and convcalc agree layer for layer (weights by name and shape), or both refuse."""
    try:
        expected = keras_rows(shape, layers, fmt)
    except ValueError:
        with pytest.raises(ConvcalcError):
            convcalc_rows(shape, layers, fmt)
        return
    assert convcalc_rows(shape, layers, fmt) == expected


EMBED = {"type": "Embedding", "input_dim": 50, "output_dim": 8}


def mha(heads: int, key: int, **kwargs: Any) -> dict[str, Any]:
    return {"type": "MultiHeadAttention", "num_heads": heads, "key_dim": key, **kwargs}


@pytest.mark.parametrize("fmt", ["channels_last", "channels_first"])
def test_embedding_then_attention_is_keras(fmt: str) -> None:
    """Token ids (7,) → (7, 8), 400 parameters; PyTorch-like attention (2 heads × 4 = 8,
    288 parameters), then a general one (3 heads × 5, values of 6, 10 out, no bias), a
    LayerNormalization and a Dense on the sequence."""
    layers = [
        EMBED,
        mha(2, 4),
        mha(3, 5, value_dim=6, output_shape=10, use_bias=False),
        {"type": "LayerNormalization"},
        {"type": "Dense", "units": 3},
    ]
    compare((7,), layers, fmt)


CASES = [
    ((5,), [{"type": "Embedding", "input_dim": 3, "output_dim": 1, "mask_zero": True}]),
    ((3, 4), [{"type": "Embedding", "input_dim": 10, "output_dim": 6}]),  # ids (3, 4)
    ((6, 12), [mha(4, 3)]),
    ((6, 12), [mha(1, 7, value_dim=2)]),
    ((6, 12), [mha(2, 2, output_shape=[5], dropout=0.1)]),
    ((1, 1), [mha(1, 1)]),
    ((6, 12), [mha(0, 3)]),  # Keras refuses: num_heads 0
    ((6, 12), [mha(2, 0)]),  # key_dim 0
    ((6, 12), [mha(2, 3, value_dim=0)]),
    ((5,), [{"type": "Embedding", "input_dim": 0, "output_dim": 3}]),
    ((5,), [{"type": "Embedding", "input_dim": 4, "output_dim": 0}]),
]


@pytest.mark.full
@pytest.mark.parametrize("fmt", ["channels_last", "channels_first"])
@pytest.mark.parametrize(("shape", "layers"), CASES)
def test_cases_are_keras(shape: tuple[int, ...], layers: list[dict[str, Any]], fmt: str) -> None:
    compare(shape, layers, fmt)


def refused(tmp_path: Path, text: str) -> str:
    path = tmp_path / "net.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SpecError) as caught:
        analyse(load_spec(str(path)))
    return str(caught.value)


@pytest.mark.parametrize(
    ("layers", "where", "words"),
    [
        (  # convcalc's rule: the ids are the spec's input
            "  - {type: Dense, units: 4}\n  - {type: Embedding, input_dim: 5, output_dim: 2}\n",
            "net.yaml:5",
            "must be the first layer",
        ),
        ("  - {type: MultiHeadAttention, num_heads: 0, key_dim: 2}\n", "net.yaml:4", "num_heads"),
        (
            "  - {type: MultiHeadAttention, num_heads: 2, key_dim: 2, attention_axes: [1]}\n",
            "net.yaml:4",
            "attention_axes",
        ),
        (
            "  - {type: MultiHeadAttention, num_heads: 2, key_dim: 2, output_shape: [2, 3]}\n",
            "net.yaml:4",
            "output_shape",
        ),
    ],
)
def test_refusals_are_located(tmp_path: Path, layers: str, where: str, words: str) -> None:
    text = refused(tmp_path, f"framework: keras\ninput: [5, 8]\nlayers:\n{layers}")
    assert where in text and words in text


def test_attention_needs_a_sequence(tmp_path: Path) -> None:
    """convcalc reads self-attention on (steps, features) only (Keras also takes (features,)
    and (H, W, C), attending over every axis but the last)."""
    text = refused(
        tmp_path,
        "framework: keras\ninput: [4, 4, 8]\nlayers:\n"
        "  - {type: MultiHeadAttention, num_heads: 2, key_dim: 4}\n",
    )
    assert "net.yaml:4" in text and "(steps, features)" in text


def test_pytorch_export_of_the_keras_spec(tmp_path: Path) -> None:
    """The PyTorch export of Embedding + PyTorch-like attention runs in torch with Keras'
    count and shape; attention of another width is refused, naming key_dim."""
    torch = pytest.importorskip("torch")
    from convcalc.frameworks.pysource import ExportError
    from convcalc.frameworks.torch.export import to_pytorch

    spec = load_spec({"framework": "keras", "input": [7], "layers": [EMBED, mha(2, 4)]})
    source = to_pytorch(analyse(spec), "Net", spec)
    space: dict[str, Any] = {}
    exec(compile(source, "net.py", "exec"), space)
    model = space["Net"]().eval()
    out = model(torch.zeros(1, 7, dtype=torch.long))
    # channels-last records: the sequence is (features, steps) in PyTorch's layout
    assert tuple(out.shape) == (1, 8, 7)
    assert sum(p.numel() for p in model.parameters()) == 400 + 288
    other = load_spec({"framework": "keras", "input": [7], "layers": [EMBED, mha(2, 3)]})
    with pytest.raises(ExportError, match="key_dim"):
        to_pytorch(analyse(other), "Net", other)


@pytest.mark.full
def test_keras_export_builds_in_keras(tmp_path: Path) -> None:
    """The Keras export writes MultiHeadAttention called on (x, x); Keras builds it with
    convcalc's count."""
    from convcalc.frameworks.keras.export import to_keras

    layers = [EMBED, mha(3, 5, value_dim=6, output_shape=10), {"type": "Dense", "units": 3}]
    spec = load_spec({"framework": "keras", "input": [7], "layers": layers})
    report = analyse(spec)
    source = to_keras(report, "build", spec)
    space: dict[str, Any] = {}
    exec(compile(source, "net.py", "exec"), space)
    model = space["build"]()
    assert model.count_params() == report.total_params
    assert tuple(model.output.shape[1:]) == (7, 3)


# --- PyTorch's embedding type against torch ---------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "fields"),
    [
        ((5,), {"num_embeddings": 10, "embedding_dim": 3}),
        ((2, 3), {"num_embeddings": 4, "embedding_dim": 6, "padding_idx": -4}),
        ((5,), {"num_embeddings": 4, "embedding_dim": 2, "padding_idx": 4}),  # torch refuses
        ((5,), {"num_embeddings": 4, "embedding_dim": 2, "padding_idx": -5}),  # torch refuses
    ],
)
def test_embedding_is_torch(shape: tuple[int, ...], fields: dict[str, Any]) -> None:
    torch = pytest.importorskip("torch")
    spec = {"input": list(shape), "layers": [{"type": "embedding", **fields}]}
    try:
        module = torch.nn.Embedding(**fields)
    except AssertionError:
        with pytest.raises(ConvcalcError, match="padding_idx"):
            analyse(load_spec(spec))
        return
    out = module(torch.zeros((1, *shape), dtype=torch.long))
    report = analyse(load_spec(spec))
    assert report.output_shape == tuple(out.shape[1:])
    assert report.total_params == sum(p.numel() for p in module.parameters())
