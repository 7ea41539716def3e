"""``convcalc solve SPEC --input 3,?,?``: the accepted input sizes in closed form, with why.

Every expected set comes from outside convcalc: PyTorch modules built for the declared input
and run on the meta device for every size of a range well past the set's threshold, the
homework's LeNet-5 worked by hand (16·H'·W' = 400), and the U-Net's skips (a multiple of 16).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.latex import compiles, needs_pdflatex

VGG = str(Path(__file__).parent.parent / "examples" / "vgg-cifar.yaml")


def accepts(model: Any, shape: tuple[int, ...]) -> bool:
    """PyTorch runs ``model`` on one input of ``shape`` (meta device: no arithmetic)."""
    torch = pytest.importorskip("torch")
    try:
        out = model(torch.empty((1, *shape), device="meta"))
    except (RuntimeError, ValueError):
        return False
    return 0 not in out.shape


def vgg_model() -> Any:
    """examples/vgg-cifar.yaml written in PyTorch by hand."""
    torch = pytest.importorskip("torch")
    nn = torch.nn
    layers: list[Any] = []
    channels = 3
    with torch.device("meta"):
        for width in (64, 128, 256):
            for _ in range(2):
                layers += [nn.Conv2d(channels, width, 3, padding=1), nn.ReLU()]
                channels = width
            layers.append(nn.MaxPool2d(2))
        layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(256, 10)]
        return nn.Sequential(*layers).eval()


# --- the answers, against PyTorch ----------------------------------------------------------


@pytest.mark.full
@pytest.mark.torch
def test_resnet18_accepts_every_size(run) -> None:
    """The search stopped after 1,000,000 steps; the closed form says every H, W ≥ 1, and
    torchvision's ResNet-18 runs on every size tried."""
    from tests.independent import zoo_model

    result = run("solve", "resnet18", "--input", "3,?,?")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        "resnet18 accepts 3×H×W for H ≥ 1 and W ≥ 1\n"
        "the layers are built for the spec's input 3×224×224 (no layer takes a size from the "
        "input's spatial sizes)\n"
        "because: no layer or join restricts the input's sizes (each takes any size, every join "
        "agrees)\n"
    )
    model, _ = zoo_model("resnet18")
    model.eval()
    assert all(accepts(model, (3, h, w)) for h, w in [(1, 1), (1, 7), (5, 2), (33, 1), (97, 64)])


@pytest.mark.full
@pytest.mark.torch
def test_a_vgg_style_cifar_net_accepts_every_size_from_8(run) -> None:
    """3,249 pairs were listed; the answer is H, W ≥ 8: three 2×2 pools need ⌊H/4⌋ ≥ 2."""
    model = vgg_model()
    brute = {n for n in range(1, 40) if accepts(model, (3, n, 40))}
    assert brute == set(range(8, 40))
    assert {n for n in range(1, 40) if accepts(model, (3, 40, n))} == brute
    result = run("solve", VGG, "--input", "3,1..64,1..64")
    assert result.stdout == (
        "vgg-cifar accepts 3×H×W for H ≥ 8 and W ≥ 8\n"
        "within H 1..64 · W 1..64: 8 ≤ H ≤ 64 and 8 ≤ W ≤ 64, 3,249 sizes\n"
        "the layers are built for the spec's input 3×32×32 (no layer takes a size from the "
        "input's spatial sizes)\n"
        "because:\n"
        "  layers[14] maxpool: ⌊H / 4⌋ ≥ 2 ⇔ H ≥ 8 (W alike)\n"
        "  … and 2 more conditions (--explain)\n"
    )
    assert 3249 == (64 - 8 + 1) ** 2
    rows = run("solve", VGG, "--input", "3,1..12,6..9", "--format", "csv").stdout.splitlines()
    expected = [(h, w) for h in range(1, 13) for w in range(6, 10) if accepts(model, (3, h, w))]
    assert rows[0] == "input[1],input[2],output_shape"
    assert [tuple(map(int, r.split(",")[:2])) for r in rows[1:]] == expected
    assert all(r.endswith(",10") for r in rows[1:])


@pytest.mark.full
@pytest.mark.torch
def test_unet_takes_multiples_of_16_and_the_nearest_to_500(run) -> None:
    from tests.independent import zoo_model

    model, _ = zoo_model("unet")
    model.eval()
    assert {h for h in range(1, 50) if accepts(model, (3, h, 16))} == {16, 32, 48}
    result = run("solve", "unet", "--input", "3,?,?", "--near", "500")
    lines = result.stdout.splitlines()
    assert lines[:4] == [
        "unet accepts 3×H×W for H = 16k, k ≥ 1 and W = 16k, k ≥ 1",
        "the layers are built for the spec's input 3×512×512 (no layer takes a size from the "
        "input's spatial sizes)",
        "nearest to 500×500: 496×496 below, 512×512 above",  # 31·16 and 32·16
        "  H: 496 below, 512 above · W: 496 below, 512 above",
    ]
    # the innermost skip: ⌊H/8⌋ even ⇔ H mod 16 < 8, by hand
    assert (
        "  layers[1].branches[1][2].branches[1][2].branches[1][2] concat: branches[0] ⌊H / 8⌋ "
        "= branches[1] 2·⌊H / 16⌋ ⇔ H mod 16 ∈ {0, …, 7} (W alike)"
    ) in lines
    assert {h for h in range(1, 64) if h % 16 < 8 and (h // 8) % 2 == 0} == {
        h for h in range(1, 64) if (h // 8) == 2 * (h // 16)
    }


def test_lenet5_as_declared_and_rebuilt(run) -> None:
    """16·H'·W' = 400 with H' = ⌊H/4⌋ − 3 (the homework's LeNet-5, worked in
    tests/test_solve_inputs.py): (H', W') ∈ {(1, 25), (5, 5), (25, 1)}; 500×500 has only
    115×19 below it, nothing above. Rebuilt, the linear follows: any H, W ≥ 16."""
    hand = {
        (h, w)
        for h in range(12, 130)
        for w in range(12, 130)
        if (h // 4 - 3) * (w // 4 - 3) == 25 and h >= 16 and w >= 16
    }
    assert len(hand) == 48
    below = max((p for p in hand if p[0] <= 500 and p[1] <= 500), key=lambda p: (sum(p), p))
    assert below == (115, 19)
    result = run("solve", "lenet5", "--near", "500,500")
    assert result.stdout.splitlines()[:4] == [
        "lenet5 accepts 1×H×W for (16 ≤ H ≤ 19 and 112 ≤ W ≤ 115) or (32 ≤ H ≤ 35 and 32 ≤ W "
        "≤ 35) or (112 ≤ H ≤ 115 and 16 ≤ W ≤ 19): 48 sizes",
        "the dimensions meet: (⌊H / 4⌋ − 3)·(⌊W / 4⌋ − 3) = 25",
        "the layers are built for the spec's input 1×32×32: layers[7] linear's in_features 400 "
        "is fixed (--rebuild rebuilds the layers for each input size)",
        "nearest to 500×500: 115×19 below, none above",
    ]
    data = json.loads(
        run("solve", "lenet5", "--input", "1,1..130,1..130", "--format", "json").stdout
    )
    assert data["count"] == 48
    assert {(s["input[1]"], s["input[2]"]) for s in data["solutions"]} == hand
    refused = run("solve", "lenet5", "--input", "1,30,30").stdout.splitlines()
    assert refused[0] == "lenet5 refuses 1×30×30"
    assert refused[2] == "nearest to 30×30: none below, 32×32 above"
    assert run("solve", "lenet5", "--input", "1,32,33").stdout.startswith(
        "lenet5 accepts 1×32×33\n"
    )
    rebuilt = run("solve", "lenet5", "--rebuild").stdout.splitlines()
    assert rebuilt[:2] == [
        "lenet5 accepts 1×H×W for H ≥ 16 and W ≥ 16",
        "--rebuild: the layers are rebuilt for each input size",
    ]


@pytest.mark.torch
@pytest.mark.full
def test_lenet5_rebuilt_against_pytorch(run) -> None:
    """LeNet-5 built by PyTorch for each input (a lazy linear): H ≥ 16 with W = 32."""
    torch = pytest.importorskip("torch")
    nn = torch.nn

    def builds(h: int) -> bool:
        net = nn.Sequential(
            nn.LazyConv2d(6, 5), nn.Tanh(), nn.AvgPool2d(2), nn.LazyConv2d(16, 5), nn.Tanh(),
            nn.AvgPool2d(2), nn.Flatten(), nn.LazyLinear(120),
        )  # fmt: skip
        try:
            net(torch.zeros(1, 1, h, 32))
        except RuntimeError:
            return False
        return True

    assert [h for h in range(1, 40) if builds(h)] == list(range(16, 40))
    result = run("solve", "lenet5", "--input", "1,?,32", "--rebuild")
    assert result.stdout.startswith("lenet5 accepts 1×H×32 for H ≥ 16\n")


# --- the mixed question --------------------------------------------------------------------


MIXED = 'input: [3, "?", 32]\nlayers:\n  - {type: conv, out_channels: 4, kernel_size: "?"}\n'


@pytest.mark.full
@pytest.mark.torch
def test_an_input_size_and_a_kernel_together(run, write) -> None:
    """Tried size by size, 1024 heights × every kernel took seconds; now each kernel 1..32 (W
    = 32 bounds it) has its heights in closed form. PyTorch: 28×28 only from H = 32, k = 5."""

    torch = pytest.importorskip("torch")
    path = write(MIXED)
    found = set()
    for k in range(1, 40):
        conv = torch.nn.Conv2d(3, 4, k, device="meta")
        for h in range(1, 70):
            try:
                out = conv(torch.empty(1, 3, h, 32, device="meta"))
            except RuntimeError:
                continue
            if tuple(out.shape[2:]) == (28, 28):
                found.add((h, k))
    assert found == {(32, 5)}
    result = run("solve", path, "--out", "28")  # the search by sizes ran out of its budget
    assert result.stdout == (
        "net → 28×28: 1 setting (1 solution)\n"
        "unknowns: input[1] ? · layers[0].kernel_size 1..32\n"
        'network: the spec\'s input declares no size where it writes "?" or a range, so the '
        "layers follow each input size\n"
        "\n"
        "layers[0].kernel_size  input sizes\n"
        "                    5  H = 32\n"
    )
    every = run("solve", path).stdout.splitlines()
    assert every[0] == "net → any valid output: 32 settings"
    assert every[5:] == [f"{k:>21}  H ≥ {k}" for k in range(1, 33)]
    rows = run("solve", path, "--format", "csv", "--limit", "3").stdout.splitlines()
    assert rows == [
        "input[1],layers[0].kernel_size,output_shape",
        "1,1,4x1x32",
        "2,1,4x2x32",
        "2,2,4x1x31",
    ]


# --- the forms of the explanation ----------------------------------------------------------


def test_explain_text_markdown_json(run) -> None:
    text = run("solve", VGG, "--input", "3,?,?", "--explain").stdout
    assert text.endswith(
        "why (every condition, in the order the network meets it):\n"
        "  layers[4] maxpool: H ≥ 2 (W alike)\n"
        "  layers[9] maxpool: ⌊H / 2⌋ ≥ 2 ⇔ H ≥ 4 (W alike)\n"
        "  layers[14] maxpool: ⌊H / 4⌋ ≥ 2 ⇔ H ≥ 8 (W alike)\n"
    )
    data = json.loads(run("solve", "unet", "--input", "3,?,?", "--format", "json").stdout)
    assert data["accepted"]["text"] == "H = 16k, k ≥ 1 and W = 16k, k ≥ 1"
    assert data["count"] is None and "solutions" not in data
    assert data["network"]["built_for"] == [3, 512, 512]
    concat = [lim for lim in data["limits"] if lim["type"] == "concat" and lim["dims"] == ["H"]]
    assert [lim["binds"] for lim in concat] == [True] * 4
    assert concat[-1]["sides"] == [
        {"label": "branches[0]", "size": "H"},
        {"label": "branches[1]", "size": "2·⌊H / 2⌋"},
    ]
    markdown = run("solve", "unet", "--input", "3,?,?", "--explain", "--format", "markdown")
    markdown_it = pytest.importorskip("markdown_it")
    html = markdown_it.MarkdownIt().render(markdown.stdout)
    assert "<h2>Why</h2>" in html
    assert "<code>H mod 16 ∈ {0, …, 7}</code>" in html
    assert "layers[1].branches[1][2] concat" in html


@pytest.mark.full
@needs_pdflatex
@pytest.mark.parametrize("name", ["lenet5", "unet"])
def test_explain_latex_compiles(run, tmp_path, name: str) -> None:
    channels = "1" if name == "lenet5" else "3"
    result = run(
        "solve", name, "--input", f"{channels},?,?", "--explain", "--format", "latex",
        "--near", "500",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    compiles(result.stdout, tmp_path)


# --- bad input -----------------------------------------------------------------------------


@pytest.mark.every_case
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--input", "3,?,x"], "--input: cannot read 'x'"),
        (["--input", "3,?"], "--input gives 2 sizes but the spec's input 3×224×224 has 3"),
        (["--input", "3,?,?", "--near", "5x"], "--near: expected 1 to 3 positive sizes"),
        (["--input", "3,?,?", "--near", "0"], "--near: expected 1 to 3 positive sizes"),
        (["--input", "3,?,?", "--near", "5,5,5"], "--near gives 3 sizes but the input has 2"),
        (["--input", "3,?,?", "--format", "csv"], "infinitely many"),
        (["--input", "3,?,?", "--out", "7", "--explain"], "--explain and --near with a SPEC"),
        (["--format", "latex"], "--format latex is for"),
    ],
)
def test_bad_questions_exit_2_with_a_message(run, args: list[str], message: str) -> None:
    result = run("solve", "resnet18", *args)
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.stderr


def test_the_readme_ships_the_example_spec() -> None:
    """docs/solving.md's vgg-cifar.yaml (its example is checked by tests/test_readme.py) is
    examples/vgg-cifar.yaml without its opening comment."""
    readme = (Path(__file__).parent.parent / "docs" / "solving.md").read_text(encoding="utf-8")
    shipped = Path(VGG).read_text(encoding="utf-8").split("\n", 2)[2]
    assert f"```yaml\n# file: vgg-cifar.yaml\n{shipped}```" in readme
