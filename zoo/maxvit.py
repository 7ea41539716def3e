"""Writes the bundled MaxViT spec (specs/maxvit_t.yaml) from torchvision 0.28's configuration:
``python zoo/maxvit.py`` rewrites it (``--check``: write nothing, exit 1 if the shipped file
differs). The YAML file is what ships; this script only keeps its repetition honest.

MaxViT (Tu et al. 2022, torchvision.models.maxvit_t): a stem (3×3 /2 conv-BN-GELU, 3×3 conv),
four blocks of MaxVitLayers, each an MBConv (pre-norm BN, 1×1 expand ×4, depthwise 3×3 with
the block's stride 2 in its first layer, squeeze-excitation to out/4, 1×1 project; a shortcut
of a 3×3 /2 average pool and a 1×1 conv where the shape changes, run before the main path)
followed by window attention (7×7 windows) and grid attention (a 7×7 grid: the partition
with p = H / 7, its two middle axes swapped). Each attention layer: partition, LayerNorm,
relative-position attention (heads of 32), dropout and stochastic depth in a residual; then
LayerNorm, MLP ×4, dropout and the same stochastic depth in another; departition. Layer i of
n (over all blocks) has stochastic depth 0.2 · i / (n − 1), numpy's linspace. Classifier:
global average pool, flatten, LayerNorm, Linear, Tanh, Linear without bias.
"""

from __future__ import annotations

from common import flow, header, run

# maxvit_t: stem 64; block channels, layers; head_dim 32; partition 7; stochastic depth 0.2
STEM, CHANNELS, LAYERS, HEAD_DIM, PARTITION, DEPTH_P, SIZE = (
    64,
    (64, 128, 256, 512),
    (2, 2, 5, 2),
    32,
    7,
    0.2,
    224,
)
BN = "eps: 0.001, momentum: 0.01"  # MaxVit's norm_layer: BatchNorm2d(eps=1e-3, momentum=0.01)


def linspace(stop: float, count: int) -> list[float]:
    """numpy.linspace(0, stop, count).tolist(): i · (stop / (count − 1)), the last exactly stop."""
    step = stop / (count - 1)
    return [i * step for i in range(count - 1)] + [stop]


def mbconv(indent: str, in_ch: int, out_ch: int, stride: int, p: float) -> list[str]:
    """MBConv(in_ch, out_ch, expansion 4, squeeze 0.25, stride): proj (the residual's body,
    run first) and the main path with its stochastic depth (the identity at p = 0)."""
    mid, squeeze = out_ch * 4, out_ch // 4
    if stride != 1 or in_ch != out_ch:
        proj = [
            "{name: proj.0, type: avgpool, kernel_size: 3, stride: 2, padding: 1}"
            if stride == 2
            else None,
            f"{{name: proj.1, type: conv, out_channels: {out_ch}, kernel_size: 1}}",
        ]
        body = [layer for layer in proj if layer is not None]
    else:
        body = ["{name: proj, type: identity}"]
    depth = (
        flow("stochastic_depth", name="stochastic_depth", p=p, mode="row")
        if p
        else flow("identity", name="stochastic_depth")
    )
    main = [
        f"{{name: pre_norm, type: batchnorm, {BN}}}",
        f"{{name: conv_a.0, type: conv, out_channels: {mid}, kernel_size: 1, bias: false}}",
        f"{{name: conv_a.1, type: batchnorm, {BN}}}",
        "{name: conv_a.2, type: gelu}",
        f"{{name: conv_b.0, type: conv, out_channels: {mid}, kernel_size: 3, stride: {stride}, "
        f"padding: 1, groups: {mid}, bias: false}}",
        f"{{name: conv_b.1, type: batchnorm, {BN}}}",
        "{name: conv_b.2, type: gelu}",
    ]
    se = [
        "{name: avgpool, type: adaptive_avgpool, output_size: 1}",
        f"{{name: fc1, type: conv, out_channels: {squeeze}, kernel_size: 1}}",
        "{name: activation, type: silu}",
        f"{{name: fc2, type: conv, out_channels: {mid}, kernel_size: 1}}",
        "{name: scale_activation, type: sigmoid}",
    ]
    i = indent
    lines = [f"{i}- name: MBconv", f"{i}  type: residual", f"{i}  body:"]
    lines += [f"{i}    - {layer}" for layer in body]
    lines += [f"{i}  shortcut:", f"{i}    - name: layers", f"{i}      type: sequential"]
    lines += [f"{i}      layers:"]
    lines += [f"{i}        - {layer}" for layer in main]
    lines += [f"{i}        - name: squeeze_excitation", f"{i}          type: scale"]
    lines += [f"{i}          body:"] + [f"{i}            - {layer}" for layer in se]
    lines += [f"{i}        - {{name: conv_c, type: conv, out_channels: {out_ch}, kernel_size: 1}}"]
    lines += [f"{i}    - {depth}"]
    return lines


def attention(indent: str, kind: str, channels: int, grid: int, p: float) -> list[str]:
    """PartitionAttentionLayer(channels, head_dim 32, partition 7, kind) on a grid×grid input."""
    windows = grid // PARTITION
    size, count = (PARTITION, windows) if kind == "window" else (windows, PARTITION)
    swap = (
        "type: identity" if kind == "window" else "type: permute, dims: [1, 0, 2]"
    )  # SwapAxes(-2, -3)
    depth = flow("stochastic_depth", name="stochastic_dropout", p=p, mode="row")
    attn = [
        f"{{name: attn_layer.0, type: layernorm, normalized_shape: {channels}}}",
        f"{{name: attn_layer.1, type: relative_position_attention, head_dim: {HEAD_DIM}, "
        f"max_seq_len: {PARTITION * PARTITION}}}",
        "{name: attn_layer.2, type: dropout, p: 0.0}",
    ]
    mlp = [
        f"{{name: mlp_layer.0, type: layernorm, normalized_shape: {channels}}}",
        f"{{name: mlp_layer.1, type: linear, out_features: {4 * channels}}}",
        "{name: mlp_layer.2, type: gelu}",
        f"{{name: mlp_layer.3, type: linear, out_features: {channels}}}",
        "{name: mlp_layer.4, type: dropout, p: 0.0}",
    ]
    i = indent
    lines = [f"{i}- name: {kind}_attention", f"{i}  type: sequential", f"{i}  layers:"]
    lines += [f"{i}    - {{name: partition_op, type: window_partition, p: {size}}}"]
    lines += [f"{i}    - {{name: partition_swap, {swap}}}"]
    for body in (attn, mlp):
        lines += [f"{i}    - type: residual", f"{i}      body:"]
        lines += [f"{i}        - {layer}" for layer in (*body, depth)]
    lines += [f"{i}    - {{name: departition_swap, {swap}}}"]
    lines += [
        f"{i}    - {{name: departition_op, type: window_departition, p: {size}, "
        f"h_partitions: {count}, w_partitions: {count}}}"
    ]
    return lines


def maxvit_t() -> str:
    """The spec of torchvision's maxvit_t."""
    probabilities = linspace(DEPTH_P, sum(LAYERS))
    lines = [
        header(
            f"MaxViT-T (torchvision.models.maxvit_t, Tu et al. 2022), 3×{SIZE}×{SIZE}.",
            "maxvit.py",
            "models/maxvit.py",
            f"""\
Input: MaxVit_T_Weights' crop_size, {SIZE}. Each MBConv's shortcut (proj) runs before its main
path, so proj is the residual's body and the main path its shortcut: the sum is the same, and
the order too. An attention layer's StochasticDepth module runs twice, once per residual.
""",
        )
        + f"""\
name: maxvit_t
input: [3, {SIZE}, {SIZE}]
layers:
  - name: stem
    type: sequential
    layers:
      - {{name: '0.0', type: conv, out_channels: {STEM}, kernel_size: 3, stride: 2, \
padding: 1, bias: false}}
      - {{name: '0.1', type: batchnorm, {BN}}}
      - {{name: '0.2', type: gelu}}
      - {{name: '1.0', type: conv, out_channels: {STEM}, kernel_size: 3, padding: 1}}"""
    ]
    grid, index, previous = SIZE // 2, 0, STEM
    for block, (channels, count) in enumerate(zip(CHANNELS, LAYERS, strict=True)):
        grid = (grid - 1) // 2 + 1  # the first layer's stride-2 depthwise conv, 3×3 padding 1
        lines += [f"  - name: blocks.{block}", "    type: sequential", "    layers:"]
        for layer in range(count):
            p = probabilities[index]
            stride, in_ch = (2, previous) if layer == 0 else (1, channels)
            lines += [f"      - name: layers.{layer}.layers", "        type: sequential"]
            lines += ["        layers:"]
            lines += mbconv(" " * 10, in_ch, channels, stride, p)
            lines += attention(" " * 10, "window", channels, grid, p)
            lines += attention(" " * 10, "grid", channels, grid, p)
            index += 1
        previous = channels
    last = CHANNELS[-1]
    lines.append(
        f"""\
  - name: classifier
    type: sequential
    layers:
      - {{name: '0', type: adaptive_avgpool, output_size: 1}}
      - {{name: '1', type: flatten}}
      - {{name: '2', type: layernorm, normalized_shape: {last}}}
      - {{name: '3', type: linear, out_features: {last}}}
      - {{name: '4', type: tanh}}
      - {{name: '5', type: linear, out_features: 1000, bias: false}}
"""
    )
    return "\n".join(lines)


GENERATED = {"maxvit_t": maxvit_t}

if __name__ == "__main__":
    run(GENERATED, "maxvit.py", __doc__.splitlines()[0])
