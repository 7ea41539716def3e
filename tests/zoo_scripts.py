"""zoo/'s scripts as modules, for the tests (zoo/ is a folder of scripts, not a package)."""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path

ZOO = Path(__file__).resolve().parent.parent / "zoo"
# the scripts that write specs/, each through zoo/common.py's main
GENERATORS = ("cnn", "mobile", "transformers", "swin", "maxvit", "shufflenet")
# the script that writes specs from Keras (it needs Keras): tests/test_keras_zoo.py checks it
KERAS_GENERATORS = ("keras_apps",)


def load(script: str) -> types.ModuleType:
    """zoo/<script>.py as the module ``zoo_<script>``, loaded once; zoo/ goes on sys.path so
    that its ``from common import ...`` finds zoo/common.py, as when the script is run."""
    name = f"zoo_{script}"
    if name in sys.modules:
        return sys.modules[name]
    if str(ZOO) not in sys.path:
        sys.path.insert(0, str(ZOO))
    spec = importlib.util.spec_from_file_location(name, ZOO / f"{script}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
