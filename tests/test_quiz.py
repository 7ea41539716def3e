"""``convcalc quiz``: every answer recomputed by an independent path, distractors never right,
the same seed the same quiz."""

from __future__ import annotations

import json
from typing import Any

import pytest

from convcalc.quiz import TOPICS, generate, quiz
from tests.budget import CI
from tests.oracle import out_size

SEEDS = range(40 if CI else 6)


def made(difficulty: int) -> list[tuple[Any, dict[str, Any]]]:
    return [item for seed in SEEDS for item in generate(seed, len(TOPICS), TOPICS, difficulty)]


def _oracle_shape(spec: dict[str, Any]) -> tuple[int, ...]:
    """The output shape by the test oracle's size rule, layer by layer."""
    shape = list(spec["input"])
    for layer in spec["layers"]:
        k, s = layer["kernel_size"], layer.get("stride", 1)
        p, d = layer.get("padding", 0), layer.get("dilation", 1)
        size = out_size(layer["type"], shape[1], k, s, p, d, 0, layer.get("ceil_mode", False))
        assert size is not None
        shape = [layer.get("out_channels", shape[0]), size, size]
    return tuple(shape)


def _torch_model(torch: Any, spec: dict[str, Any]) -> Any:
    modules = []
    channels = spec["input"][0]
    for layer in spec["layers"]:
        args = {
            "kernel_size": layer["kernel_size"],
            "stride": layer.get("stride", 1),
            "padding": layer.get("padding", 0),
            "dilation": layer.get("dilation", 1),
        }
        if layer["type"] == "conv":
            groups = layer.get("groups", 1)
            modules.append(torch.nn.Conv2d(channels, layer["out_channels"], groups=groups, **args))
            channels = layer["out_channels"]
        else:
            modules.append(torch.nn.MaxPool2d(ceil_mode=layer.get("ceil_mode", False), **args))
    return torch.nn.Sequential(*modules)


@pytest.mark.parametrize("difficulty", [1, 2, 3])
def test_every_answer_is_recomputed_independently(difficulty: int) -> None:
    """Shapes by the oracle's rule (and PyTorch where installed), parameters by PyTorch's
    modules or the layer's formula, receptive fields by autograd, solve answers by the size
    rule itself, MLP counts by the formula; no wrong choice is ever right."""
    try:
        import torch
    except ImportError:
        torch = None
    for question, data in made(difficulty):
        right = [c for c in question.choices if c.correct]
        assert len(right) == 1 and right[0].text == question.answer
        wrong = [c for c in question.choices if not c.correct]
        assert len(wrong) >= 2, question.id
        assert all(c.feedback for c in wrong)  # each says which mistake it is
        assert len({c.text for c in question.choices}) == len(question.choices)
        topic = question.topic
        if topic == "shape":
            shape = _oracle_shape(data["spec"])
            assert question.answer == "×".join(map(str, shape))
            if torch is not None:
                model = _torch_model(torch, data["spec"])
                out = model(torch.zeros(1, *data["spec"]["input"]))
                assert tuple(out.shape[1:]) == shape
        elif topic == "params":
            (layer,) = data["spec"]["layers"]
            c_in = data["spec"]["input"][0]
            k, groups = layer["kernel_size"], layer.get("groups", 1)
            formula = layer["out_channels"] * (c_in // groups) * k * k + layer["out_channels"]
            assert data["value"] == formula
            assert question.answer == f"{formula:,}"
            if torch is not None:
                model = _torch_model(torch, data["spec"])
                assert sum(p.numel() for p in model.parameters()) == formula
        elif topic == "macs":
            pytest.importorskip("torchinfo") if CI else None
            try:
                import torchinfo
            except ImportError:
                continue
            model = _torch_model(torch, data["spec"])
            stats = torchinfo.summary(model, (1, *data["spec"]["input"]), verbose=0)
            assert data["value"] == stats.total_mult_adds
        elif topic == "rf" and torch is not None:
            _check_field(torch, data)
        elif topic == "solve":
            n, m, p, d = data["n"], data["m"], data["p"], data["d"]
            assert out_size("conv", n, data["k"], data["s"], p, d) == m
            for choice in wrong:
                k, s = (int(part.split("=")[1]) for part in choice.text.split(","))
                assert out_size("conv", n, k, s, p, d) != m
        elif topic == "mlp":
            d, d_h, d_o = data["d"], data["d_h"], data["d_o"]
            assert data["value"] == d_h * d + d_h + d_o * d_h + d_o
            assert question.answer == f"{data['value']:,}"


def _check_field(torch: Any, data: dict[str, Any]) -> None:
    """The rows one central output position sees, by autograd on ones (pools as convolutions
    of ones with the same window), when the field lies inside the input."""
    spec = data["spec"]
    x = torch.ones(1, *spec["input"], dtype=torch.float64, requires_grad=True)
    y = x
    F = torch.nn.functional
    for layer in spec["layers"]:
        k = layer["kernel_size"]
        weight = torch.ones(layer.get("out_channels", y.shape[1]), y.shape[1], k, k, dtype=y.dtype)
        if layer["type"] != "conv":
            weight = torch.ones(y.shape[1], 1, k, k, dtype=y.dtype)
        y = F.conv2d(
            y,
            weight,
            stride=layer.get("stride", 1),
            padding=layer.get("padding", 0),
            dilation=layer.get("dilation", 1),
            groups=1 if layer["type"] == "conv" else y.shape[1],
        )
    if layer["type"] != "conv" and layer.get("ceil_mode"):
        return  # ceil mode adds a window a convolution does not have: not comparable
    centre = y.shape[2] // 2
    y[0, :, centre, centre].sum().backward()
    rows = (x.grad[0].abs().sum((0, 2)) > 0).nonzero().flatten().tolist()
    if rows and rows[0] > 0 and rows[-1] < spec["input"][1] - 1:
        assert rows[-1] - rows[0] + 1 == data["value"]


def test_the_same_seed_gives_the_same_quiz(run) -> None:
    first = run("quiz", "--seed", "7", "--count", "12", "--format", "json").output
    assert first == run("quiz", "--seed", "7", "--count", "12", "--format", "json").output
    assert first != run("quiz", "--seed", "8", "--count", "12", "--format", "json").output
    assert len(json.loads(first)) == 12


def test_a_twenty_question_quiz_in_every_format(run) -> None:
    markdown = run("quiz", "--seed", "3", "--count", "20").output
    key = markdown.index("Answer key")
    for question in quiz(3, 20):
        assert question.title in markdown[:key]  # every question before the key
        assert question.answer in markdown[key:]  # and its answer in the key
    for fmt in ("moodle-xml", "gift", "json"):
        result = run("quiz", "--seed", "3", "--count", "20", "--format", fmt)
        assert result.exit_code == 0, result.output
    assert len(quiz(3, 20)) == 20


def test_topics_and_difficulty_are_checked(run) -> None:
    result = run("quiz", "--topics", "shape,colour")
    assert result.exit_code == 2 and "colour" in result.stderr
    only = json.loads(run("quiz", "--topics", "solve", "--count", "3", "--format", "json").output)
    assert {q["topic"] for q in only} == {"solve"}


def test_multiple_choice_answers_spread_over_the_letters() -> None:
    """Shuffled: the right answer is not always in the same place."""
    places = [[c.correct for c in q.choices].index(True) for q in quiz(11, 30) if q.choices]
    assert len(set(places)) >= 3
