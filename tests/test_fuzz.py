"""Whatever the input, convcalc answers or refuses with a located message: never a traceback.

Random documents (random YAML values where a spec's parts go, and random text) go through the
library and the CLI; the only outcomes allowed are a summary or a SpecError / exit code 2.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from convcalc.analysis import summarise
from convcalc.cli import cli
from convcalc.errors import SpecError
from convcalc.layers.registry import KINDS, layer_class
from tests.budget import examples

FIELDS = sorted({f for name in KINDS for f in layer_class(name).model_fields} | {"bogus"})
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 40),
    st.floats(allow_nan=True),
    st.sampled_from(["same", "valid", "?", "1..3", "conv", "", "zeros", "none"]),
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(FIELDS), inner, max_size=3)
    ),
    max_leaves=8,
)
layers = st.fixed_dictionaries(
    {"type": st.sampled_from([*KINDS, "nope", 3])},
    optional={name: values for name in FIELDS if name != "type"},
)
documents = st.fixed_dictionaries(
    {},
    optional={
        "input": st.one_of(st.lists(st.integers(-1, 12), max_size=5), values),
        "layers": st.one_of(st.lists(st.one_of(layers, values), max_size=5), values),
        "name": values,
    },
)


def check(path: str) -> None:
    message = path
    try:
        summarise(path)
    except SpecError as exc:
        message = str(exc)
    assert message.startswith(path)


@settings(max_examples=examples(400))
@given(documents)
def test_random_documents(tmp_path_factory: Any, doc: dict[str, Any]) -> None:
    path = tmp_path_factory.mktemp("f") / "doc.yaml"
    path.write_text(json.dumps(doc, default=str), encoding="utf-8")  # JSON is YAML
    check(str(path))


@settings(max_examples=examples(300))
@given(st.text(alphabet=st.sampled_from(list("{}[]:,-&*!?|>'\"#%@` \n\tab01.<")), max_size=80))
def test_random_text(tmp_path_factory: Any, text: str) -> None:
    path = tmp_path_factory.mktemp("t") / "doc.yaml"
    path.write_text("input: [3, 8, 8]\nlayers:\n" + text, encoding="utf-8")
    result = CliRunner().invoke(cli, ["shape", str(path)])
    assert result.exit_code in (0, 2), result.output
    assert "Traceback" not in result.output


@pytest.mark.full
@settings(max_examples=examples(200))
@given(documents)
def test_random_documents_through_solve(tmp_path_factory: Any, doc: dict[str, Any]) -> None:
    path = tmp_path_factory.mktemp("s") / "doc.yaml"
    path.write_text(yaml.safe_dump(doc, default_flow_style=True), encoding="utf-8")
    result = CliRunner().invoke(cli, ["solve", str(path), "--out", "2", "--count"])
    assert result.exit_code in (0, 2), result.output
