"""``convcalc solve SPEC --input C,?,?``: every join accounted for, and joins of H and W.

- ``--explain`` lists every join, those that hold whatever the sizes too, as ``always`` with
  why (two paths with the same function of H; a join every size the earlier conditions leave
  meets); without ``--explain`` they are neither shown nor counted. The expected lines are
  worked by hand (a 3×3 conv with stride 2 and padding 1 and a 1×1 conv with stride 2 both give
  ⌊(H + 1)/2⌋; a 2×2 pool then ×2 upsampling gives 2·⌊(H + 1)/4⌋, equal to ⌊(H + 1)/2⌋ exactly
  for H mod 4 ∈ {0, 3}), and the accepted sizes are checked against PyTorch on the meta device.
- A condition joining H and W that is no union of boxes by itself (a body that exchanges them
  beside a shortcut that does not), which a linear after it cuts to a finite set: the answer
  is the box torch accepts, {36, 37}².
"""

from __future__ import annotations

from typing import Any

import pytest

JOINS = """\
name: joins
input: [2, 32, 32]
layers:
  - type: residual
    body:
      - {type: conv, out_channels: 2, kernel_size: 3, stride: 2, padding: 1}
    shortcut:
      - {type: conv, out_channels: 2, kernel_size: 1, stride: 2}
  - type: residual
    body: []
    shortcut:
      - {type: maxpool, kernel_size: 2}
      - {type: upsample, scale_factor: 2}
  - type: residual
    body:
      - {type: avgpool, kernel_size: 2}
      - {type: upsample, scale_factor: 2}
"""

HEAD = (
    "joins accepts 2×H×W for H mod 4 ∈ {0, 3} and W mod 4 ∈ {0, 3}\n"
    "the layers are built for the spec's input 2×32×32 (no layer takes a size from the "
    "input's spatial sizes)\n"
)
BINDS = (
    "  layers[1] residual: body ⌊(H + 1) / 2⌋ = shortcut 2·⌊(H + 1) / 4⌋ ⇔ H mod 4 ∈ {0, 3} "
    "(W alike)\n"
)

EXCHANGED = """\
name: exchanged
input: [2, 36, 36]
layers:
  - {type: upsample, scale_factor: 0.5}
  - type: residual
    body:
      - {type: maxpool, kernel_size: 2}
      - {type: permute, dims: [0, 2, 1]}
      - {type: upsample, scale_factor: 2}
  - {type: flatten}
  - {type: linear, out_features: 3}
"""


def joins_model() -> Any:
    """JOINS in PyTorch by hand, on the meta device."""
    torch = pytest.importorskip("torch")
    nn = torch.nn

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.body = nn.Conv2d(2, 2, 3, stride=2, padding=1)
            self.short = nn.Conv2d(2, 2, 1, stride=2)
            self.up = nn.Upsample(scale_factor=2)

        def forward(self, x: Any) -> Any:
            x = self.body(x) + self.short(x)
            x = x + self.up(nn.functional.max_pool2d(x, 2))
            return x + self.up(nn.functional.avg_pool2d(x, 2))

    with torch.device("meta"):
        return Net()


def exchanged_model() -> Any:
    """EXCHANGED in PyTorch by hand, built for 2×36×36 (the linear takes 2·18·18 values)."""
    torch = pytest.importorskip("torch")
    nn = torch.nn

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.down, self.up = nn.Upsample(scale_factor=0.5), nn.Upsample(scale_factor=2)
            self.linear = nn.Linear(2 * 18 * 18, 3)

        def forward(self, x: Any) -> Any:
            x = self.down(x)
            x = x + self.up(nn.functional.max_pool2d(x, 2).permute(0, 1, 3, 2))
            return self.linear(torch.flatten(x))

    with torch.device("meta"):
        return Net()


def torch_accepts(model: Any, shape: tuple[int, ...]) -> bool:
    torch = pytest.importorskip("torch")
    try:
        with torch.no_grad():
            out = model(torch.empty((1, *shape), device="meta"))
    except (RuntimeError, ValueError):
        return False
    return 0 not in out.shape


def test_explain_lists_every_join(run: Any, write: Any) -> None:
    spec = write(JOINS)
    result = run("solve", spec, "--input", "2,?,?", "--explain")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        HEAD + "\n"
        "why (every condition, in the order the network meets it):\n"
        "  layers[0] residual: body ⌊(H + 1) / 2⌋ = shortcut ⌊(H + 1) / 2⌋ ⇔ always (the same "
        "function of H) (W alike)\n"
        "  layers[1].shortcut[0] maxpool: ⌊(H + 1) / 2⌋ ≥ 2 ⇔ H ≥ 3 (W alike)\n"
        + BINDS
        + "  layers[2] residual: body 2·⌊(H + 1) / 4⌋ = shortcut ⌊(H + 1) / 2⌋ ⇔ always (every H "
        "the conditions before it leave meets it) (W alike)\n"
    )
    # without --explain: the binding condition, and the one other that restricts, counted
    short = run("solve", spec, "--input", "2,?,?")
    assert short.stdout == HEAD + "because:\n" + BINDS + "  … and 1 more condition (--explain)\n"


@pytest.mark.torch
def test_the_joins_answer_is_torchs(run: Any, write: Any) -> None:
    """H mod 4 ∈ {0, 3} for H up to 40 (W = 32), as torch accepts."""
    model = joins_model()
    spec = write(JOINS)
    result = run("solve", spec, "--input", "2,1..40,32", "--format", "csv")
    got = {int(line.split(",")[0]) for line in result.stdout.splitlines()[1:]}
    assert got == {h for h in range(1, 41) if torch_accepts(model, (2, h, 32))}
    assert got == {h for h in range(3, 41) if h % 4 in (0, 3)}


def test_json_says_why_a_join_holds_always(run: Any, write: Any) -> None:
    import json

    result = run("solve", write(JOINS), "--input", "2,?,?", "--explain", "--format", "json")
    first = json.loads(result.stdout)["limits"][0]
    assert first["always"] == "the same function of H" and first["binds"] is False
    assert "sizes" not in first


@pytest.mark.torch
def test_a_join_of_h_and_w_settled_by_the_linear(run: Any, write: Any) -> None:
    """⌊H/2⌋ = 2·⌊W/4⌋ and 2·⌊H/4⌋ = ⌊W/2⌋ (no box by themselves), then 8·⌊H/4⌋·⌊W/4⌋ = 648:
    H, W ∈ {36, 37}, which torch accepts, and nothing else on a grid around it."""
    model = exchanged_model()
    spec = write(EXCHANGED)
    result = run("solve", spec, "--input", "2,1..60,1..60", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    got = {tuple(map(int, line.split(",")[:2])) for line in result.stdout.splitlines()[1:]}
    grid = [(h, w) for h in range(28, 46) for w in range(28, 46)]
    assert {p for p in grid if torch_accepts(model, (2, *p))} == got
    assert got == {(h, w) for h in (36, 37) for w in (36, 37)}
    table = run("solve", spec, "--input", "2,?,?", "--explain")
    assert table.stdout.startswith(
        "exchanged accepts 2×H×W for H ∈ {36, 37} and W ∈ {36, 37}: 4 sizes\n"
        "the dimensions meet: ⌊H / 4⌋·⌊W / 4⌋ = 81 and 2·⌊W / 4⌋ = ⌊H / 2⌋ and "
        "2·⌊H / 4⌋ = ⌊W / 2⌋\n"
    )
    assert (
        "  layers[1] residual: body 2·⌊W / 4⌋ = shortcut ⌊H / 2⌋ ⇔ H ∈ {36, 37} and "
        "W ∈ {36, 37}, of the sizes the other conditions leave\n"
    ) in table.stdout


@pytest.mark.torch
def test_a_join_of_h_and_w_left_infinite_falls_back_to_the_search(run: Any, write: Any) -> None:
    """Without the linear, ⌊H/2⌋ = 2·⌊W/4⌋ is no finite union of boxes: the closed form says
    so by name, and the CLI's search answers a range instead, as torch does."""
    from convcalc.solve.inputs import NotSolvable, solve_input
    from convcalc.spec.validate import load_spec

    text = EXCHANGED.replace("  - {type: flatten}\n  - {type: linear, out_features: 3}\n", "")
    path = write(text)
    with pytest.raises(NotSolvable, match="a condition joining the dimensions in no box"):
        solve_input(load_spec(path))
    result = run("solve", path, "--input", "2,1..24,1..24", "--format", "csv")
    assert result.exit_code == 0, result.stderr
    got = {tuple(map(int, line.split(",")[:2])) for line in result.stdout.splitlines()[1:]}
    model = exchanged_model()
    model.linear = pytest.importorskip("torch").nn.Identity()
    brute = {(h, w) for h in range(1, 25) for w in range(1, 25) if torch_accepts(model, (2, h, w))}
    assert got == brute and (8, 9) in got and (8, 12) not in got
