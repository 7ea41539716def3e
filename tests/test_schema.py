"""``convcalc schema``'s JSON Schemas dispatch a layer on its ``type``: a layer is checked in
depth against its own type's definition only, so validation is linear in the layers (a
``oneOf`` over the types checks every type, and descends into the lists of every block type
with the same field name: twice as much work a level of nesting), and a wrong field is
reported once, at its place. The oracle is jsonschema itself: the work it does, counted per
keyword, and the verdicts of the ``oneOf`` over the same definitions."""

from __future__ import annotations

import copy
import functools
import json
import math
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from convcalc.layers.registry import KINDS
from convcalc.spec.keras import CLASSES
from convcalc.spec.schema import keras_schema, spec_schema
from tests.budget import examples

jsonschema = pytest.importorskip("jsonschema")
yaml = pytest.importorskip("yaml")

SPECS = Path(__file__).resolve().parent.parent / "specs"
Layer = dict[str, Any]


def counting(schema: dict[str, Any]) -> tuple[Any, Counter[str]]:
    """A Draft 2020-12 validator of ``schema`` that counts each keyword's checks (the wrapper
    returns the keyword's own generator: no stack frame added, so as deep as the plain one)."""
    base = jsonschema.Draft202012Validator
    calls: Counter[str] = Counter()

    def counted(keyword: str, check: Callable[..., Any]) -> Callable[..., Any]:
        def run(validator: Any, value: Any, instance: Any, schema: Any) -> Any:
            calls[keyword] += 1
            return check(validator, value, instance, schema)

        return run

    kinds = {keyword: counted(keyword, check) for keyword, check in base.VALIDATORS.items()}
    return jsonschema.validators.extend(base, kinds)(schema), calls


@functools.cache
def schema(framework: str) -> dict[str, Any]:
    """``convcalc schema``'s schema (``--framework keras``'s), built once: never changed."""
    return spec_schema() if framework == "torch" else keras_schema()


def nest(leaf: Layer, depth: int, block: str) -> Layer:
    """``leaf`` inside ``depth`` blocks of type ``block``, each holding the next in ``body``."""
    for _ in range(depth):
        leaf = {"type": block, "body": [leaf]}
    return leaf


# a spec's head, the residual block, a leaf (its kernel size to come)
FRAMEWORKS: dict[str, tuple[Layer, str, Layer]] = {
    "torch": ({"input": [3, 8, 8]}, "residual", {"type": "conv", "out_channels": 4}),
    "keras": ({"framework": "keras", "input": [8, 8, 3]}, "Add", {"type": "Conv2D", "filters": 4}),
}


@pytest.mark.every_case
@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_a_wrong_leaf_thirty_blocks_deep_costs_a_fixed_work_a_level(framework: str) -> None:
    """A float kernel size inside 30 nested residual blocks: one error, at the field, with the
    field's own alternatives (an integer, an unknown, a list) as its only context. The keyword
    checks grow by the same count with each level (linear), and a level costs fewer checks
    than there are layer types, its type tests at most ⌈log₂ types⌉ + 1: no type but the one
    written is checked in depth. (A ``oneOf`` of the types doubles its failed branches at each
    level: 212 at depth 0, 25,160 at depth 6.)"""
    head, block, leaf = FRAMEWORKS[framework]
    types = len(KINDS if framework == "torch" else CLASSES)
    validator, calls = counting(schema(framework))
    work, tests = {}, {}
    for depth in (0, 1, 2, 10, 30):
        calls.clear()
        data = {**head, "layers": [nest({**leaf, "kernel_size": 2.5}, depth, block)]}
        errors = list(validator.iter_errors(data))
        assert len(errors) == 1, (depth, [e.message for e in errors])
        error = errors[0]
        assert list(error.absolute_path) == ["layers", 0, *["body", 0] * depth, "kernel_size"]
        assert error.validator == "anyOf" and len(error.context) <= 3
        work[depth], tests[depth] = sum(calls.values()), calls["if"]
    step, if_step = work[1] - work[0], tests[1] - tests[0]  # a level's: the same at every level
    assert all(work[depth] == work[0] + depth * step for depth in work), work
    assert all(tests[depth] == tests[0] + depth * if_step for depth in tests), tests
    assert 0 < step < types and if_step <= math.ceil(math.log2(types)) + 1, (step, if_step)


ERRORS = [  # a layer as written → where the one error is, its keyword, a word of its message
    ({"type": "conv", "out_channels": 4, "kernel_size": 2.5}, ["kernel_size"], "anyOf", "2.5"),
    (
        {"type": "conv", "out_channels": 4, "kernel_size": 3, "strid": 2},
        [],
        "additionalProperties",
        "'strid'",
    ),
    ({"type": "conv", "kernel_size": 3}, [], "required", "'out_channels'"),
    ({"type": "residual", "body": [{"type": "nope"}]}, ["body", 0, "type"], "enum", "'conv'"),
    ({"type": "residual", "body": [{"out_channels": 3}]}, ["body", 0], "required", "'type'"),
    ({"type": "sequential", "layers": ["relu"]}, ["layers", 0], "type", "'object'"),
    (
        {"type": "maxpool", "kernel_size": 2, "in_channels": 3},
        [],
        "additionalProperties",
        "'in_channels'",
    ),
    ({"type": "relu", "inplace": "yes"}, ["inplace"], "type", "'boolean'"),
]
KERAS_ERRORS = [
    ({"type": "Dense"}, [], "required", "'units'"),
    (
        {"type": "Conv2D", "filters": 4, "kernel_size": 3, "stride": 2},
        [],
        "additionalProperties",
        "'stride'",
    ),
    ({"type": "Add", "body": [{"type": "Relu"}]}, ["body", 0, "type"], "enum", "'ReLU'"),
    ({"type": "Conv2D", "filters": 0, "kernel_size": 3}, ["filters"], "anyOf", "0"),
]


@pytest.mark.every_case
@pytest.mark.parametrize(
    ("framework", "layer", "path", "keyword", "word"),
    [("torch", *case) for case in ERRORS] + [("keras", *case) for case in KERAS_ERRORS],
)
def test_a_wrong_layer_is_one_error_at_its_place(
    framework: str, layer: Layer, path: list[Any], keyword: str, word: str
) -> None:
    """What an editor shows: one error, at the wrong field (or the layer, for a field missing
    or unexpected), by the keyword that fails: not a failure for each layer type."""
    head = FRAMEWORKS[framework][0]
    errors = list(validators(framework)[0].iter_errors({**head, "layers": [layer]}))
    assert [(list(e.absolute_path), e.validator) for e in errors] == [
        (["layers", 0, *path], keyword)
    ]
    assert word in errors[0].message


def test_each_framework_refuses_the_others_spec_at_its_head_and_types() -> None:
    """A Keras spec under the PyTorch schema: ``framework`` unexpected and the class unknown;
    a PyTorch spec under the Keras schema: ``framework`` missing and the type unknown."""
    torch, keras = validators("torch")[0], validators("keras")[0]
    conv = {"type": "conv", "out_channels": 4, "kernel_size": 3}
    keras_conv = {"type": "Conv2D", "filters": 4, "kernel_size": 3}
    found = {
        (tuple(e.absolute_path), e.validator)
        for e in torch.iter_errors(
            {"framework": "keras", "input": [8, 8, 3], "layers": [keras_conv]}
        )
    }
    assert found == {((), "additionalProperties"), (("layers", 0, "type"), "enum")}
    found = {
        (tuple(e.absolute_path), e.validator)
        for e in keras.iter_errors({"input": [3, 8, 8], "layers": [conv]})
    }
    assert found == {((), "required"), (("layers", 0, "type"), "enum")}


def layer_lists(node: Any) -> list[Layer]:
    """Every layer written in ``node`` (a spec's list of layers), blocks' contents included."""
    found, todo = [], [node]
    while todo:
        item = todo.pop()
        if isinstance(item, list):
            todo.extend(item)
        elif isinstance(item, dict):
            if "type" in item:
                found.append(item)
            todo.extend(v for v in item.values() if isinstance(v, (list, dict)))
    return found


POOLS = {  # the bundled specs whose layers are edited (other types: by a changed type)
    "torch": [
        *("hw3-q3", "resnet18", "mobilenet_v3_small", "vit_b_32", "unet", "five-stages"),
        *("lraspp_mobilenet_v3_large", "swin_t", "maxvit_t", "googlenet", "shufflenet_v2_x0_5"),
        *("vgg11", "densenet121", "squeezenet1_0", "lenet5_c3"),
    ],
    "keras": [
        *("hw3-q3-keras", "keras_mobilenet_v3_small", "keras_densenet121", "keras_xception"),
        *("keras_convnext_tiny", "keras_efficientnet_b0", "keras_resnet50", "keras_inception_v3"),
    ],
}


@functools.cache
def pool(framework: str) -> list[Layer]:
    """The distinct layers of the framework's bundled specs in :data:`POOLS`, small ones (400
    characters as JSON, a block of a few layers): the ``oneOf`` reference takes half a second
    on a ResNet stage."""
    seen: dict[str, Layer] = {}
    for name in POOLS[framework]:
        text = (SPECS / f"{name}.yaml").read_text(encoding="utf-8")
        data = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        for layer in layer_lists(data["layers"]):
            text = json.dumps(layer, sort_keys=True)
            if len(text) <= 400:
                seen.setdefault(text, layer)
    return [seen[key] for key in sorted(seen)]


VALUES = [2.5, 3.0, -1, 0, 1, 7, "?", "1..3", "same", "x", None, True, [1, 2], [], {"a": 1}]
FIELDS = ["type", "kernel_size", "stride", "out_channels", "filters", "units", "layers", "body"]


def reference(schema: dict[str, Any], name: str) -> Any:
    """``schema`` with its layer definition ``name`` replaced by the ``oneOf`` of the type
    definitions its dispatch leads to: what the schema said before it dispatched."""
    refs: list[str] = []
    todo: list[Any] = [schema["$defs"][name]]
    while todo:
        node = todo.pop()
        if isinstance(node, dict):
            refs += [node["$ref"]] if "$ref" in node else []
            todo.extend(node.values())
    assert len(refs) == len(schema["$defs"][name]["properties"]["type"]["enum"])
    reference = copy.deepcopy(schema)
    reference["$defs"][name] = {"oneOf": [{"$ref": ref} for ref in refs]}
    return jsonschema.Draft202012Validator(reference)


@st.composite
def mutated(draw: st.DrawFn, framework: str) -> Layer:
    """A bundled layer with up to two edits, each anywhere in it (the layer or a layer it
    holds): a field set to a value of any sort, removed, a type changed, or a block around."""
    types = list(KINDS if framework == "torch" else CLASSES)
    layer = copy.deepcopy(draw(st.sampled_from(pool(framework))))
    for _ in range(draw(st.integers(0, 2))):
        inner = layer_lists([layer]) or [layer]  # (its type perhaps dropped)
        target = inner[draw(st.integers(0, len(inner) - 1))]
        edit = draw(st.sampled_from(["set", "drop", "retype", "wrap"]))
        if edit == "set":
            field = draw(st.sampled_from(sorted(target) + FIELDS + ["strid"]))
            target[field] = draw(st.sampled_from([*VALUES, [{"type": "relu"}], [{"type": "nope"}]]))
        elif edit == "drop" and target:
            del target[draw(st.sampled_from(sorted(target)))]
        elif edit == "retype":
            target["type"] = draw(st.sampled_from([*types, "nope", "Conv2D", "conv"]))
        else:
            block = draw(st.sampled_from(["residual", "sequential", "Add", "Sequential"]))
            layer = {"type": block, draw(st.sampled_from(["body", "layers"])): [layer]}
    return layer


@functools.cache
def validators(framework: str) -> tuple[Any, Any]:
    """The framework's schema's validator, and its ``oneOf`` reference's."""
    name = "Layer" if framework == "torch" else "KerasLayer"
    return jsonschema.Draft202012Validator(schema(framework)), reference(schema(framework), name)


@settings(max_examples=examples(100), deadline=None)
@given(
    case=st.sampled_from(["torch", "keras"]).flatmap(lambda f: st.tuples(st.just(f), mutated(f)))
)
def test_the_dispatch_accepts_what_the_types_oneof_accepts(case: tuple[str, Layer]) -> None:
    """Bundled layers (blocks included), edited: the dispatching schema and the ``oneOf`` of
    the same type definitions agree on every one, valid or not."""
    framework, layer = case
    data = {**FRAMEWORKS[framework][0], "layers": [layer]}
    dispatching, one_of = validators(framework)
    assert dispatching.is_valid(data) == one_of.is_valid(data), layer
