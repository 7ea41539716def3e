"""The accepted input sizes where the commands use them: lint's ``only-some-input-sizes``, the
line an analysing command adds when the declared input is refused, the HTML report's section.

Every set is checked against PyTorch: the network is built with torch modules and run on the
meta device for every height in a range (the brute force of tests/test_solve_inputs.py), and
the numbers the commands print (a refused size, the nearest accepted ones) are read from the
heights torch accepts, never from convcalc.
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from typing import Any

import pytest
import yaml

from convcalc.solve.inputs import SizeSet

C = 2  # the channels of the specs written here: tests.test_solve_inputs.TorchNet's own
CONV = {"type": "conv", "out_channels": C, "kernel_size": 3, "padding": 1}
POOL = {"type": "maxpool", "kernel_size": 2}
UP = {"type": "upsample", "scale_factor": 2}
# a U-Net of two levels: each joins its input with itself pooled, worked on and upsampled
UNET2 = [
    CONV,
    {
        "type": "concat",
        "branches": [[], [POOL, CONV, {"type": "concat", "branches": [[], [POOL, CONV, UP]]}, UP]],
    },
]
# a VGG-style CIFAR network: three conv-conv-pool stages
VGG = [CONV, {"type": "relu"}, CONV, POOL] * 3


def spec_text(layers: list[Any], h: int, w: int) -> str:
    return yaml.safe_dump({"input": [C, h, w], "layers": layers}, sort_keys=False)


def torch_accepts(layers: list[Any], heights: range, w: int) -> set[int]:
    """The heights PyTorch runs the network on, the width ``w`` (meta device)."""
    pytest.importorskip("torch")
    from tests.test_solve_inputs import TorchNet

    net = TorchNet()
    return {h for h in heights if net.accepts(layers, h, w)}


def neighbours(accepted: set[int], n: int) -> tuple[int | None, int | None]:
    below = [m for m in accepted if m <= n]
    above = [m for m in accepted if m >= n]
    return (max(below) if below else None), (min(above) if above else None)


# --- lint ---------------------------------------------------------------------------------


@pytest.mark.full
@pytest.mark.torch
def test_lint_names_the_sizes_a_unet_refuses(run, write) -> None:
    accepted = torch_accepts(UNET2, range(1, 100), 64)
    assert accepted == set(range(4, 100, 4))  # as the set is described: H = 4k, k ≥ 1
    refused = min(h for h in range(65, 100) if h not in accepted)
    low, high = neighbours(accepted, refused)
    result = run("lint", write(spec_text(UNET2, 64, 64)))
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "net: 3 warnings"  # and the two joins' misaligned-paths
    assert lines[2:4] == [
        f"input {C}×64×64 [only-some-input-sizes]",
        f"  this network accepts only H = 4k, k ≥ 1 (and W likewise): {refused} would be "
        f"refused, the nearest accepted are {low} and {high}",
    ]
    # the inner join's own condition, by torch on the layers up to it: H mod 4 ∈ {0, 1}
    inner = [CONV, POOL, CONV, UNET2[1]["branches"][1][2]]
    assert torch_accepts(inner, range(2, 60), 64) == {h for h in range(2, 60) if h % 4 < 2}
    assert lines[4] == (
        "  layers[1].branches[1][2] (concat) needs H mod 4 ∈ {0, 1} (and W likewise); "
        "layers[1] (concat) needs H = 2k, k ≥ 1 (and W likewise)"
    )
    assert lines[5] == (
        f"  fix: H and W: pad or crop to an accepted size ({refused} → {high}); or pad the "
        "shorter path to the other's size before layers[1] and layers[1].branches[1][2]"
    )
    assert lines[6] == ""


@pytest.mark.full
@pytest.mark.torch
def test_lint_json_carries_the_set_as_data(run, write) -> None:
    heights = range(1, 120)
    accepted = torch_accepts(UNET2, heights, 64)
    result = run("lint", write(spec_text(UNET2, 64, 48)), "--format", "json")
    warning = json.loads(result.stdout)["warnings"][0]
    assert warning["code"] == "only-some-input-sizes" and warning["path"] == "input"
    rows = warning["data"]["dimensions"]
    assert [row["dimension"] for row in rows] == ["H", "W"]
    assert [row["declared"] for row in rows] == [64, 48]
    for row in rows:
        sizes = SizeSet(
            row["threshold"], row["period"], tuple(row["residues"]), tuple(row["below"])
        )
        assert {h for h in heights if h in sizes} == accepted
        assert SizeSet.parse(row["accepted"]) == sizes
        assert row["refused"] not in accepted and row["refused"] > row["declared"]
        assert row["nearest"] == list(neighbours(accepted, row["refused"]))
        assert [limit["type"] for limit in row["limits"]].count("concat") == 2


@pytest.mark.full
@pytest.mark.torch
def test_no_warning_where_every_size_from_a_threshold_is_accepted(run, write) -> None:
    assert torch_accepts(VGG, range(1, 40), 32) == set(range(8, 40))  # H ≥ 8: no gaps
    result = run("lint", write(spec_text(VGG, 32, 32)))
    assert "only-some-input-sizes" not in result.stdout
    assert "only-some-input-sizes" not in run("lint", "resnet18").stdout  # H ≥ 1


def test_nothing_is_said_where_the_sizes_have_no_closed_form(run, write, monkeypatch) -> None:
    import convcalc.solve.accepted as adapter
    from convcalc.solve.inputs import NotSolvable

    def unsolvable(*args: Any, **kwargs: Any) -> Any:
        raise NotSolvable("layers[0] (flatten): mixes dimension 1 with the others")

    monkeypatch.setattr(adapter, "accepted_sizes", unsolvable)
    assert "only-some-input-sizes" not in run("lint", write(spec_text(UNET2, 64, 64))).stdout
    refused = run("shape", write(spec_text(UNET2, 66, 64)))
    assert refused.exit_code == 2 and len(refused.stderr.splitlines()) == 1


# --- a refused input ----------------------------------------------------------------------


@pytest.mark.torch
@pytest.mark.parametrize(("h", "w"), [(66, 64), (66, 66), (3, 64)])
def test_shape_names_the_accepted_sizes_nearby(run, write, h: int, w: int) -> None:
    accepted = torch_accepts(UNET2, range(1, 100), 64)  # H and W alike: the same rules
    assert h not in accepted
    parts = []
    for name, n in (("H", h), ("W", w)):
        if n not in accepted:
            low, high = neighbours(accepted, n)
            sizes = " or ".join(str(m) for m in (low, high) if m is not None)
            parts.append(f"{name} = {sizes} ({name} = 4k, k ≥ 1)")
    for command in ("shape", "costs", "lint", "draw", "report"):
        result = run(command, write(spec_text(UNET2, h, w)))
        assert result.exit_code == 2
        first, *rest = result.stderr.splitlines()
        assert first.startswith("Error: ") and "layers[1]" in first
        assert rest == ["accepted nearby: " + "; ".join(parts)], command


@pytest.mark.torch
@pytest.mark.full
def test_the_bundled_unet_refused_at_500(run, write) -> None:
    torch = pytest.importorskip("torch")
    from tests.independent import zoo_model

    model, _ = zoo_model("unet")

    def accepts(h: int) -> bool:
        try:
            model(torch.empty((1, 3, h, 512), device="meta"))
        except RuntimeError:
            return False
        return True

    accepted = {h for h in range(490, 530) if accepts(h)}
    low, high = neighbours(accepted, 500)
    text = run("zoo", "unet").stdout.replace("input: [3, 512, 512]", "input: [3, 500, 512]")
    result = run("shape", write(text))
    assert result.exit_code == 2
    assert result.stderr.splitlines()[1] == f"accepted nearby: H = {low} or {high} (H = 16k, k ≥ 1)"


@pytest.mark.torch
def test_no_suggestion_where_no_size_helps(run, write) -> None:
    # the body changes the channels: PyTorch refuses the sum whatever the size
    body = {"type": "conv", "out_channels": C + 1, "kernel_size": 3, "padding": 1}
    layers = [{"type": "residual", "body": [body], "shortcut": []}]
    pytest.importorskip("torch")
    from tests.test_solve_inputs import TorchNet

    assert not any(TorchNet().accepts(layers, h, 16) for h in range(1, 40))
    result = run("shape", write(spec_text(layers, 16, 16)))
    assert result.exit_code == 2 and len(result.stderr.splitlines()) == 1


def test_a_refusal_not_about_sizes_gets_no_suggestion(run, write) -> None:
    text = "input: [3, 8, 8]\nlayers:\n  - {type: reshape, shape: [7, 9]}\n"
    result = run("shape", write(text))
    assert result.exit_code == 2 and len(result.stderr.splitlines()) == 1


# --- the HTML report ----------------------------------------------------------------------


class Rows(HTMLParser):
    """The rows of the table ``#input-sizes``: each dimension's name and accepted sizes."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, str] = {}
        self.inside, self.dim, self.cell = False, "", False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "table":
            self.inside = found.get("id") == "input-sizes"
        elif self.inside and tag == "tr" and found.get("data-dim"):
            self.dim = found["data-dim"] or ""
            self.rows[self.dim] = ""
        elif self.inside and tag == "td" and found.get("class") == "sizes":
            self.cell = True

    def handle_endtag(self, tag: str) -> None:
        self.cell = self.cell and tag != "td"
        self.inside = self.inside and tag != "table"

    def handle_data(self, data: str) -> None:
        if self.cell:
            self.rows[self.dim] += data


@pytest.mark.torch
def test_the_report_shows_the_accepted_sizes(run, write, tmp_path) -> None:
    heights = range(1, 100)
    accepted = torch_accepts(UNET2, heights, 64)
    out = tmp_path / "page.html"
    assert run("report", write(spec_text(UNET2, 64, 64)), "-o", str(out)).exit_code == 0
    page = Rows()
    page.feed(out.read_text(encoding="utf-8"))
    assert page.rows == {"H": "H = 4k, k ≥ 1", "W": "W = 4k, k ≥ 1"}
    for text in page.rows.values():
        assert {h for h in heights if h in SizeSet.parse(text)} == accepted


def test_the_report_says_when_the_sizes_are_not_known(run, write, tmp_path, monkeypatch) -> None:
    import convcalc.solve.accepted as adapter

    monkeypatch.setattr(adapter, "accepted_inputs", lambda spec: ())
    out = tmp_path / "page.html"
    assert run("report", write(spec_text(UNET2, 64, 64)), "-o", str(out)).exit_code == 0
    page = out.read_text(encoding="utf-8")
    assert "<h2>Input sizes</h2>" in page and "not known in closed form" in page
    assert Rows().rows == {} and "only-some-input-sizes" not in page
