"""Writes the bundled ViT and ConvNeXt specs (specs/vit_*.yaml, specs/convnext_*.yaml) from
torchvision 0.28's configurations: ``python zoo/transformers.py`` rewrites them (names: only
those; ``--check``: write nothing, exit 1 if a shipped file differs). The YAML files are what
ships; this script only keeps their repetition honest.

ViT (Dosovitskiy et al. 2021, torchvision.models.vision_transformer): patch convolution, the
patches as a sequence, class token, position embedding, ``layers`` encoder blocks (pre-norm
attention and MLP, each added back), a final layer norm, the class token's features, the head.
ConvNeXt (Liu et al. 2022, torchvision.models.convnext): a 4×4 /4 stem, four stages of blocks
(depthwise 7×7, channels-last layer norm, 4× MLP, layer scale, stochastic depth, added back),
a LayerNorm2d and 2×2 /2 convolution between stages, global pool, norm, head.
"""

from __future__ import annotations

from functools import partial

from common import flow, header, run

# name -> (patch size, layers, heads, hidden size, MLP size, published parameter count)
VITS = {
    "vit_b_16": (16, 12, 12, 768, 3072),
    "vit_b_32": (32, 12, 12, 768, 3072),
    "vit_l_16": (16, 24, 16, 1024, 4096),
    "vit_l_32": (32, 24, 16, 1024, 4096),
    "vit_h_14": (14, 32, 16, 1280, 5120),
}
# name -> (channels per stage, blocks per stage, stochastic depth probability)
CONVNEXTS = {
    "convnext_tiny": ((96, 192, 384, 768), (3, 3, 9, 3), 0.1),
    "convnext_small": ((96, 192, 384, 768), (3, 3, 27, 3), 0.4),
    "convnext_base": ((128, 256, 512, 1024), (3, 3, 27, 3), 0.5),
    "convnext_large": ((192, 384, 768, 1536), (3, 3, 27, 3), 0.5),
}
TITLES = {"b": "B", "l": "L", "h": "H"}
SIZE = 224
VIT_NOTES = """\
`functional: true` marks what torchvision computes without a module: reshaping the patches
into a sequence and taking the class token out (x[:, 0]). The class token and the position
embedding are parameters of VisionTransformer and its Encoder, added by their forward; the
attention is nn.MultiheadAttention(batch_first=True).
"""
CONVNEXT_NOTES = """\
A CNBlock is x + stochastic_depth(layer_scale · block(x)), block = depthwise 7×7, Permute to
channels last, LayerNorm, Linear 4C, GELU, Linear C, Permute back; its stochastic depth
probability grows linearly from 0 to {sd} over the {total} blocks, so each block is written out
with its own (to 4 decimals).
The norms outside the blocks are torchvision's channels-first LayerNorm2d (eps 1e-6).
"""


def vit(name: str) -> str:
    """The spec of one ViT at 224×224."""
    patch, layers, heads, hidden, mlp = VITS[name]
    grid = SIZE // patch
    title = f"ViT-{TITLES[name.split('_')[1]]}/{patch}"
    head = header(
        f"{title} (torchvision.models.{name}, Dosovitskiy et al. 2021), 3×{SIZE}×{SIZE}.",
        "transformers.py",
        "models/vision_transformer.py",
        VIT_NOTES,
    )
    return (
        head
        + f"""\
name: {name}
input: [3, {SIZE}, {SIZE}]
layers:
  - {{name: conv_proj, type: conv, out_channels: {hidden}, kernel_size: {patch}, stride: {patch}}}
  # x.reshape(n, {hidden}, {grid}·{grid}).permute(0, 2, 1): {grid * grid} patches, {hidden} features
  - {{type: reshape, shape: [{hidden}, {grid * grid}], functional: true}}
  - {{type: permute, dims: [1, 0], functional: true}}
  - {flow("class_token")}
  - {{name: encoder.pos_embedding, type: position_embedding}}
  - {{name: encoder.dropout, type: dropout, p: 0.0}}
  # EncoderBlock: x + dropout(attention(ln_1(x))), then x + mlp(ln_2(x))
  - name: encoder.layers
    type: repeat
    times: {layers}
    layers:
      - name: encoder_layer
        type: sequential
        layers:
          - type: residual
            body:
              - &ln {{name: ln_1, type: layernorm, normalized_shape: {hidden}, eps: 1.0e-6}}
              - {{name: self_attention, type: multihead_attention, num_heads: {heads},
                 batch_first: true}}
              - &dropout {flow("dropout", p=0.0)}
          - type: residual
            body:
              - {{<<: *ln, name: ln_2}}
              - {{name: mlp.0, type: linear, out_features: {mlp}}}
              - {{name: mlp.1, type: gelu}}
              - {{<<: *dropout, name: mlp.2}}
              - {{name: mlp.3, type: linear, out_features: {hidden}}}
              - {{<<: *dropout, name: mlp.4}}
  - {{<<: *ln, name: encoder.ln}}
  - {{type: select, dim: 0, index: 0, functional: true}}  # x[:, 0]: the class token
  - {{name: heads.head, type: linear, out_features: 1000}}
"""
    )


def convnext(name: str) -> str:
    """The spec of one ConvNeXt at 224×224, one line per block (each has its own stochastic
    depth probability, growing linearly from 0 to the model's)."""
    widths, depths, sd = CONVNEXTS[name]
    total = sum(depths)
    title = "ConvNeXt-" + name.split("_")[1].capitalize()
    head = header(
        f"{title} (torchvision.models.{name}, Liu et al. 2022), 3×{SIZE}×{SIZE}.",
        "transformers.py",
        "models/convnext.py",
        CONVNEXT_NOTES.format(sd=sd, total=total),
    )
    out = [
        f"name: {name}",
        f"input: [3, {SIZE}, {SIZE}]",
        "layers:",
        f"  - {{name: features.0.0, type: conv, out_channels: {widths[0]}, kernel_size: 4, "
        "stride: 4}",
        "  - &ln2d {name: features.0.1, type: layernorm2d, normalized_shape: "
        f"{widths[0]}, eps: 1.0e-6}}",
    ]
    block = 0
    for stage, (width, depth) in enumerate(zip(widths, depths, strict=True)):
        index = 2 * stage + 1
        anchor = f"block{width}"
        out.append(f"  # features.{index}: {depth} blocks of {width} channels")
        for i in range(depth):
            p = sd * block / (total - 1.0)
            block += 1
            if i == 0:
                out += [
                    f"  - name: features.{index}.{i}",
                    "    type: residual",
                    "    body:",
                    f"      - &{anchor}",
                    "        name: block",
                    "        type: sequential",
                    "        layers:",
                    f"          - {{type: conv, out_channels: {width}, kernel_size: 7, "
                    f"padding: 3, groups: {width}}}",
                    "          - {type: permute, dims: [1, 2, 0]}",
                    f"          - {{type: layernorm, normalized_shape: {width}, eps: 1.0e-6}}",
                    f"          - {{type: linear, out_features: {4 * width}}}",
                    "          - {type: gelu}",
                    f"          - {{type: linear, out_features: {width}}}",
                    "          - {type: permute, dims: [2, 0, 1]}",
                    "      - &scale {type: layer_scale, layer_scale: 1.0e-6}"
                    if block == 1
                    else "      - *scale",
                    f"      - {{type: stochastic_depth, p: {round(p, 4)}, mode: row}}",
                ]
            else:
                out += [
                    f"  - name: features.{index}.{i}",
                    "    type: residual",
                    f"    body: [*{anchor}, *scale, {{type: stochastic_depth, p: {round(p, 4)}, "
                    "mode: row}]",
                ]
        if stage + 1 < len(widths):
            out += [
                f"  - name: features.{index + 1}",
                "    type: sequential",
                "    layers:",
                f"      - {{<<: *ln2d, name: '0', normalized_shape: {width}}}",
                f"      - {{name: '1', type: conv, out_channels: {widths[stage + 1]}, "
                "kernel_size: 2, stride: 2}",
            ]
    out += [
        "  - {name: avgpool, type: adaptive_avgpool, output_size: 1}",
        f"  - {{<<: *ln2d, name: classifier.0, normalized_shape: {widths[-1]}}}",
        "  - {name: classifier.1, type: flatten}",
        "  - {name: classifier.2, type: linear, out_features: 1000}",
    ]
    return head + "\n".join(out) + "\n"


GENERATED = {
    **{name: partial(vit, name) for name in VITS},
    **{name: partial(convnext, name) for name in CONVNEXTS},
}

if __name__ == "__main__":
    run(GENERATED, "transformers.py", __doc__.splitlines()[0])
