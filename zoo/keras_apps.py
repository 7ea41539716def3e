"""Write the bundled specs of Keras' applications: ``specs/keras_<name>.yaml``.

``python zoo/keras_apps.py`` builds each model with Keras (``keras.applications.X(weights=None)``
on the torch backend, on the meta device, so that no weight is initialised, after
``keras.backend.clear_session()``, so that the automatic layer names are a fresh session's),
takes ``model.to_json()`` and imports it with convcalc (``convcalc import model.json``,
:mod:`convcalc.frameworks.keras.importer`); ``--check`` writes nothing and fails if a shipped
file differs. Unlike the other generators it needs Keras 3.15.1 and convcalc; the YAML is what
ships, and tests/test_keras_zoo.py compares each spec with the Keras model layer for layer and
checks that the model's JSON imports to exactly the shipped file.
"""

from __future__ import annotations

import os
import textwrap
from functools import partial
from typing import Any

from common import WIDTH, run

KERAS = "Keras 3.15.1"

# spec name -> (keras.applications class, its arguments, parameters, non-trainable of them:
# Keras' own counts, which tests/test_keras_zoo.py checks on the model)
APPS: dict[str, tuple[str, dict[str, Any], int, int]] = {
    "keras_vgg16": ("VGG16", {}, 138_357_544, 0),
    "keras_resnet50": ("ResNet50", {}, 25_636_712, 53_120),
    "keras_mobilenet_v2": ("MobileNetV2", {}, 3_538_984, 34_112),
    "keras_densenet121": ("DenseNet121", {}, 8_062_504, 83_648),
    "keras_efficientnet_b0": ("EfficientNetB0", {}, 5_330_571, 42_023),
    "keras_inception_v3": ("InceptionV3", {}, 23_851_784, 34_432),
    "keras_xception": ("Xception", {}, 22_910_480, 54_528),
    "keras_convnext_tiny": ("ConvNeXtTiny", {}, 28_589_128, 0),
    "keras_resnet50_v2": ("ResNet50V2", {}, 25_613_800, 45_440),
    "keras_mobilenet_v3_small": (
        "MobileNetV3Small",
        {"input_shape": (224, 224, 3)},
        2_554_968,
        12_112,
    ),
    "keras_efficientnet_v2_b0": ("EfficientNetV2B0", {}, 7_200_312, 60_608),
}


def build(name: str) -> Any:
    """The Keras model of ``name``, built afresh on the meta device (no weights drawn)."""
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras

    cls, kwargs, _, _ = APPS[name]
    keras.backend.clear_session()
    with keras.device("meta"):
        return getattr(keras.applications, cls)(weights=None, **kwargs)


def header(name: str) -> str:
    """The spec's comment: the title sentence (what ``convcalc zoo`` lists), then where it
    comes from."""
    cls, kwargs, total, frozen = APPS[name]
    args = "".join(f", {k}={v}" for k, v in kwargs.items())
    title = (
        f"Keras' {cls} (keras.applications.{cls}(weights=None{args})): {total:,} parameters, "
        f"{frozen:,} of them non-trainable."
    )
    written = (
        f"Written by zoo/keras_apps.py from {KERAS}'s keras.applications through convcalc "
        "import (model.to_json()); edit the script, not this file."
    )
    lines = textwrap.wrap(title, WIDTH, break_on_hyphens=False) + textwrap.wrap(written, WIDTH)
    return "".join(f"# {line}\n" for line in lines)


def render(name: str, text: str | None = None) -> str:
    """The spec file of one application, from its model's JSON ``text`` (built if not given)."""
    from convcalc.frameworks.keras.importer import from_json, to_yaml

    if text is None:
        text = build(name).to_json()
    return to_yaml(from_json(text, name), header(name))


GENERATED = {name: partial(render, name) for name in APPS}

if __name__ == "__main__":
    run(GENERATED, "keras_apps.py", __doc__.splitlines()[0])
