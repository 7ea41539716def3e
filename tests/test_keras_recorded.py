"""The Keras importer in the quick run, without Keras: a functional model's ``to_json()`` and
its rows as Keras 3.15.1 printed them (output shape, trainable and non-trainable parameters),
recorded in tests/golden/keras/. The full run builds the model again with Keras and checks
that both files are still what Keras writes, so the recording cannot drift from Keras."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from convcalc.analysis import analyse
from convcalc.frameworks.keras.importer import from_json, to_yaml
from convcalc.spec.validate import load_spec
from tests.keras_oracle import KERAS_MARKS, keras, keras_rows, layers
from tests.test_keras_zoo import convcalc_rows

HERE = Path(__file__).resolve().parent / "golden" / "keras"
MODEL, ROWS = HERE / "model.json", HERE / "rows.json"

pytestmark = KERAS_MARKS


def build() -> Any:
    """A small functional model with a stem, a residual Add, a Concatenate of two branches, a
    Subtract and a Dense head: the merges and the norms the importer reads."""
    keras.backend.clear_session()
    x = keras.Input((16, 16, 3))
    y = layers.Conv2D(8, 3, strides=2, padding="same", name="stem")(x)
    y = layers.BatchNormalization(name="bn")(y)
    z = layers.Conv2D(8, 3, padding="same", activation="relu", name="body")(y)
    y = layers.Add(name="add")([z, y])
    a = layers.Conv2D(4, 1, name="a")(y)
    b = layers.DepthwiseConv2D(3, padding="same", name="b")(y)
    y = layers.Concatenate(name="cat")([a, b])
    c = layers.Conv2D(12, 1, name="c")(y)
    y = layers.Subtract(name="sub")([c, y])
    y = layers.GlobalAveragePooling2D(name="gap")(y)
    return keras.Model(x, layers.Dense(5, name="head")(y), name="recorded")


def test_recorded_model_imports_to_kerass_rows() -> None:
    """The recorded JSON imports to a spec whose rows are the recorded Keras rows."""
    table = json.loads(ROWS.read_text(encoding="utf-8"))
    recorded = {name: (tuple(shape), t, n) for name, (shape, t, n) in table.items()}
    spec = from_json(MODEL.read_text(encoding="utf-8"), "recorded")
    report = analyse(load_spec(spec))
    assert convcalc_rows(report) == recorded
    again = analyse(load_spec(yaml.safe_load(to_yaml(spec))))  # the YAML it writes reads back
    assert convcalc_rows(again) == recorded


@pytest.mark.full
def test_the_recording_is_what_keras_writes() -> None:
    """Keras, built live, writes the recorded JSON and prints the recorded rows."""
    model = build()
    assert json.loads(model.to_json()) == json.loads(MODEL.read_text(encoding="utf-8"))
    rows = {k: [list(s), t, n] for k, (s, t, n) in keras_rows(model).items()}
    assert rows == json.loads(ROWS.read_text(encoding="utf-8"))


if __name__ == "__main__":  # KERAS_BACKEND=torch python tests/test_keras_recorded.py: record
    built = build()
    MODEL.write_text(json.dumps(json.loads(built.to_json()), indent=1) + "\n", encoding="utf-8")
    table = {k: [list(s), t, n] for k, (s, t, n) in keras_rows(built).items()}
    ROWS.write_text(json.dumps(table, indent=1) + "\n", encoding="utf-8")
