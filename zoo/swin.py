"""Writes the bundled Swin Transformer specs (specs/swin_*.yaml) from torchvision 0.28's
configurations: ``python zoo/swin.py`` rewrites them (names: only those; ``--check``: write
nothing, exit 1 if a shipped file differs). The YAML files are what ships; this script only
keeps their repetition honest.

Swin (Liu et al. 2021, torchvision.models.swin_t/s/b) and Swin V2 (Liu et al. 2022,
swin_v2_t/s/b) work channels-last on [H, W, C]: a 4×4 /4 patch convolution, a permute and a
layer norm; four stages of blocks (v1: x + sd(attn(norm1(x))), then x + sd(mlp(norm2(x)));
v2 puts each norm after its attention or MLP), the windows shifted by half a window in every
other block, a patch merging between stages; a final layer norm, the channels first again,
global average pool, flatten and head. Block i of n (counted over all stages) has stochastic
depth p · i / (n − 1).
"""

from __future__ import annotations

from functools import partial

from common import flow, header, run

# name -> (embedding dim, blocks per stage, heads per stage, window, stochastic depth, input)
SWINS = {
    "swin_t": (96, (2, 2, 6, 2), (3, 6, 12, 24), 7, 0.2, 224),
    "swin_s": (96, (2, 2, 18, 2), (3, 6, 12, 24), 7, 0.3, 224),
    "swin_b": (128, (2, 2, 18, 2), (4, 8, 16, 32), 7, 0.5, 224),
    "swin_v2_t": (96, (2, 2, 6, 2), (3, 6, 12, 24), 8, 0.2, 256),
    "swin_v2_s": (96, (2, 2, 18, 2), (3, 6, 12, 24), 8, 0.3, 256),
    "swin_v2_b": (128, (2, 2, 18, 2), (4, 8, 16, 32), 8, 0.5, 256),
}
TITLES = {"t": "T", "s": "S", "b": "B"}


def block(v2: bool, name: str, dim: int, heads: int, window: int, shift: int, p: float) -> str:
    """One SwinTransformerBlock (v2: SwinTransformerBlockV2) of ``dim`` channels."""
    attention = "shifted_window_attention_v2" if v2 else "shifted_window_attention"
    attn = flow(
        attention,
        name="attn",
        window_size=[window, window],
        shift_size=[shift, shift],
        num_heads=heads,
    )
    norm1 = flow("layernorm", name="norm1", normalized_shape=dim)
    norm2 = flow("layernorm", name="norm2", normalized_shape=dim)
    depth = flow("stochastic_depth", name="stochastic_depth", p=p, mode="row")
    mlp = [
        flow("linear", name="mlp.0", out_features=4 * dim),
        flow("gelu", name="mlp.1"),
        flow("dropout", name="mlp.2", p=0.0),
        flow("linear", name="mlp.3", out_features=dim),
        flow("dropout", name="mlp.4", p=0.0),
    ]
    first = [attn, norm1] if v2 else [norm1, attn]
    second = [*mlp, norm2] if v2 else [norm2, *mlp]
    lines = [f"  - name: {name}", "    type: sequential", "    layers:"]
    for body in (first, second):
        lines += ["      - type: residual", "        body:"]
        lines += [f"          - {layer}" for layer in (*body, depth)]
    return "\n".join(lines)


def swin(name: str) -> str:
    """The spec of one Swin Transformer."""
    dim, depths, heads, window, depth_p, size = SWINS[name]
    v2 = "_v2_" in name
    title = f"Swin{'V2' if v2 else ''}-{TITLES[name[-1]]}"
    merging = "patch_merging_v2" if v2 else "patch_merging"
    total = sum(depths)
    parts = [
        header(
            f"{title} (torchvision.models.{name}, Liu et al. {2022 if v2 else 2021}), "
            f"3×{size}×{size}.",
            "swin.py",
            "models/swin_transformer.py",
            f"""\
Channels-last [H, W, C] after the patch embedding's permute; every other block shifts its
{window}×{window} windows by {window // 2}. A block's StochasticDepth module runs twice, once per
residual branch.
""",
        )
        + f"""\
name: {name}
input: [3, {size}, {size}]
layers:
  - {{name: features.0.0, type: conv, out_channels: {dim}, kernel_size: 4, stride: 4}}
  - {{name: features.0.1, type: permute, dims: [1, 2, 0]}}
  - {{name: features.0.2, type: layernorm, normalized_shape: {dim}}}"""
    ]
    index = 0
    for stage, (count, head) in enumerate(zip(depths, heads, strict=True)):
        width = dim * 2**stage
        for i in range(count):
            p = depth_p * index / (total - 1)
            shift = 0 if i % 2 == 0 else window // 2
            where = f"features.{2 * stage + 1}.{i}"
            parts.append(block(v2, where, width, head, window, shift, p))
            index += 1
        if stage < len(depths) - 1:
            parts.append(f"  - {{name: features.{2 * stage + 2}, type: {merging}}}")
    final = dim * 2 ** (len(depths) - 1)
    parts.append(
        f"""\
  - {{name: norm, type: layernorm, normalized_shape: {final}}}
  - {flow("permute", name="permute", dims=[2, 0, 1])}
  - {{name: avgpool, type: adaptive_avgpool, output_size: 1}}
  - {flow("flatten", name="flatten")}
  - {{name: head, type: linear, out_features: 1000}}
"""
    )
    return "\n".join(parts)


GENERATED = {name: partial(swin, name) for name in SWINS}

if __name__ == "__main__":
    run(GENERATED, "swin.py", __doc__.splitlines()[0])
