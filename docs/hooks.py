"""MkDocs hooks: the layer-type reference is generated from the registry at every build, and
the Keras layers' page from the Keras dialect's table."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

_SCRIPT = Path(__file__).resolve().parent / "gen_reference.py"


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    """docs/reference/layers.md is replaced by what docs/gen_reference.py writes today, so the
    site shows the registry's types and fields whatever the committed copy says (the tests
    keep that copy current); docs/reference/keras-layers.md likewise, from
    convcalc/spec/keras.py."""
    if page.file.src_uri not in ("reference/layers.md", "reference/keras-layers.md"):
        return markdown
    spec = importlib.util.spec_from_file_location("gen_reference", _SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    if str(_SCRIPT.parent.parent) not in sys.path:
        sys.path.insert(0, str(_SCRIPT.parent.parent))
    spec.loader.exec_module(module)
    keras = page.file.src_uri == "reference/keras-layers.md"
    text: str = module.keras_page() if keras else module.page()
    return text
