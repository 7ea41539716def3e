"""The layer-type reference, docs/reference/layers.md, generated from the registry and the models;
and the Keras dialect's, docs/reference/keras-layers.md, from convcalc/spec/keras.py's table.

    python docs/gen_reference.py            # print the pages
    python docs/gen_reference.py --write    # write docs/reference/layers.md and keras-layers.md
    python docs/gen_reference.py --check    # exit 1 if either page is not what is written here

Every type of ``convcalc.layers.registry.KINDS`` gets a section, in its category, with PyTorch's
class and a table of its fields read from the pydantic model's JSON Schema (type, default,
required), so that the page cannot drift from the code: a new type or field appears by
itself. What a field means beyond its type is the hand-written note of :data:`NOTES`, and the
fields a type accepts but ignores (they change no shape and no count) are listed there; the
tests check that every type has a note and that every field a note names exists. The site's
build runs :func:`page` again (docs/hooks.py), so the site is always the registry's. The Keras
page (:func:`keras_page`) is made the same way: a section per builder of
``convcalc.spec.keras.CLASSES`` with its Keras classes, the note of :data:`KERAS_NOTES` (what it
becomes, the rule, what is refused) and the arguments read from each class's pydantic model.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "reference" / "layers.md"

TITLES = {
    "conv": "Convolutions",
    "pool": "Pooling",
    "norm": "Normalisation",
    "activation": "Activations",
    "linear": "Linear layers and embeddings",
    "attention": "Attention",
    "token": "Token sequences",
    "reshape": "Reshaping, padding and resampling",
    "dropout": "Dropout",
    "block": "Composite blocks",
}


@dataclass(frozen=True)
class Note:
    """What a type does beyond its fields' types, and the fields it accepts but ignores."""

    text: str
    ignored: tuple[str, ...] = ()


_ACT = "Shape-preserving, no parameters."
NOTES: dict[str, Note] = {
    "conv": Note(
        "`padding` is an int, a list, `same` or `valid`; `padding_mode` `reflect` needs "
        "padding < L and `circular` ≤ L, as PyTorch pads first. `padding: same` needs stride 1."
    ),
    "conv_transpose": Note(
        "`output_padding` must be below max(stride, dilation).", ignored=("padding_mode",)
    ),
    "maxpool": Note(
        "`stride` defaults to the kernel; the padding is at most half the kernel.",
        ignored=("return_indices",),
    ),
    "avgpool": Note(
        "`stride` defaults to the kernel; the padding is at most half the kernel.",
        ignored=("count_include_pad", "divisor_override"),
    ),
    "max_unpool": Note(
        "`nn.MaxUnpool{n}d` after a max-pool run with `return_indices`: out = (L − 1)·s − 2p + k, "
        "or `output_size` as its forward takes it (each size strictly within s of that)."
    ),
    "adaptive_avgpool": Note(
        "`output_size` is an int or a list; a `null` entry keeps that input size (2-D and 3-D "
        "only, as in PyTorch)."
    ),
    "adaptive_maxpool": Note(
        "`output_size` is an int or a list; a `null` entry keeps that input size (2-D and 3-D "
        "only, as in PyTorch).",
        ignored=("return_indices",),
    ),
    "batchnorm": Note(
        "2·C learnable parameters when affine; the running statistics are buffers, not parameters.",
        ignored=("eps", "momentum"),
    ),
    "groupnorm": Note("`num_groups` must divide C.", ignored=("eps",)),
    "instancenorm": Note(
        "Without `track_running_stats`, more than one spatial value per channel is needed.",
        ignored=("eps", "momentum"),
    ),
    "layernorm": Note("`normalized_shape` is the input's trailing dimensions.", ignored=("eps",)),
    "layernorm2d": Note(
        "torchvision's `LayerNorm2d` (ConvNeXt): a layer norm over the channels of `[C, H, W]`, "
        "each position alone; `normalized_shape` is C (the trailing size once the channels are "
        "moved last); 2·C parameters.",
        ignored=("eps",),
    ),
    "local_response_norm": Note("No parameters.", ignored=("alpha", "beta", "k")),
    "linear": Note("Acts on the last dimension, as in PyTorch."),
    "multihead_attention": Note(
        "`nn.MultiheadAttention` as self-attention, `attention(x, x, x)`, on a sequence "
        "`[L, E]` (`embed_dim` is E, from the input): `num_heads` must divide E; output "
        "`[L, E]`, 4E² + 4E parameters with bias (`in_proj_weight` 3E×E, `in_proj_bias`, "
        "`out_proj`), + 2E with `add_bias_kv`. `kdim`/`vdim` other than E are refused: they "
        "take keys and values from another input. The export always writes batch-first.",
        ignored=("batch_first", "kdim", "vdim"),
    ),
    "class_token": Note(
        "torchvision ViT's learnt class token (1×1×E) put first: `[L, E]` → `[L+1, E]`, "
        "E parameters."
    ),
    "position_embedding": Note(
        "ViT's learnt position embedding (1×L×E, `pos_embedding`), added: `[L, E]` kept, "
        "L·E parameters."
    ),
    "select": Note(
        "`x.select(dim, index)`, ViT's `x[:, 0]` (the class token out); `dim` counts without "
        "the batch. The dimension is removed (not the last one left: a shape keeps a "
        "dimension)."
    ),
    "layer_scale": Note(
        "ConvNeXt's learnt per-channel factor (torchvision CNBlock's `layer_scale`, C×1×1): "
        "`[C, *spatial]` kept, C parameters; `layer_scale` is its initial value.",
        ignored=("layer_scale",),
    ),
    "shifted_window_attention": Note(
        "torchvision Swin's `ShiftedWindowAttention` on a channels-last grid `[H, W, C]` "
        "(`dim` is C, from the input): `window_size` and `shift_size` take 2 values each, "
        "`num_heads` must divide C; shape kept; qkv 3C×C, proj C×C and the relative position "
        "bias table (2·Wh − 1)·(2·Ww − 1) × heads.",
        ignored=("attention_dropout", "dropout"),
    ),
    "shifted_window_attention_v2": Note(
        "Swin V2's `ShiftedWindowAttentionV2`: the same fields and shapes as "
        "`shifted_window_attention`; a `logit_scale` (heads×1×1) and a position-bias MLP "
        "(2 → 512 → heads) instead of the table.",
        ignored=("attention_dropout", "dropout"),
    ),
    "patch_merging": Note(
        "Swin's `PatchMerging`: each 2×2 block of tokens joined, then LayerNorm(4C) and "
        "Linear 4C → 2C without bias: `[..., H, W, C]` → `[..., ⌈H/2⌉, ⌈W/2⌉, 2C]`."
    ),
    "patch_merging_v2": Note(
        "Swin V2's `PatchMergingV2`: as `patch_merging`, the Linear first, LayerNorm(2C) after."
    ),
    "window_partition": Note(
        "MaxViT's `WindowPartition` with `p` (must divide H and W): `[C, H, W]` → "
        "`[(H/p)·(W/p), p², C]`."
    ),
    "window_departition": Note(
        "MaxViT's `WindowDepartition`: `[G, P, C]` → `[C, h_partitions·p, w_partitions·p]`; "
        "G·P must be h_partitions·w_partitions·p²."
    ),
    "relative_position_attention": Note(
        "MaxViT's `RelativePositionalMultiHeadAttention` on `[G, P, D]` (`feat_dim` is D, from "
        "the input): `head_dim` must divide D, `max_seq_len` is P, a perfect square (see the "
        "size rules); shape kept; to_qkv D → 3D, merge D → D (with biases) and the bias table "
        "(2·⌊√max_seq_len⌋ − 1)² × heads."
    ),
    "flatten": Note(
        "Dimensions count without the batch: the defaults (0, −1) flatten everything, as "
        "PyTorch's `nn.Flatten()` does with the batch."
    ),
    "unflatten": Note("One entry of `unflattened_size` may be −1; `dim` counts without the batch."),
    "reshape": Note("One entry of `shape` may be −1; the shape leaves out the batch."),
    "permute": Note("`dims` count without the batch."),
    "embedding": Note(
        "Indices `[...]` give `[..., embedding_dim]`.",
        ignored=("max_norm", "norm_type", "scale_grad_by_freq", "sparse"),
    ),
    "channel_shuffle": Note("`groups` must divide C."),
    "pixel_shuffle": Note(
        "`upscale_factor` r: the last three dimensions (C·r², H, W) → (C, H·r, W·r), as "
        "`nn.PixelShuffle` (more leading dimensions are kept)."
    ),
    "pixel_unshuffle": Note(
        "`downscale_factor` r: (C, H·r, W·r) → (C·r², H, W), as `nn.PixelUnshuffle`."
    ),
    "unfold": Note(
        "`nn.Unfold` (im2col) on `[C, H, W]` → `[C·kh·kw, L]`, L the number of blocks (the "
        "conv's size rule per dimension, multiplied)."
    ),
    "fold": Note(
        "`nn.Fold` (col2im) on `[C·kh·kw, L]` → `[C, *output_size]`; L must be the number of "
        "blocks `output_size` holds."
    ),
    "select_channels": Note(
        "The listed channels, in that order, as `x[:, channels]` (repeats allowed, negative "
        "indices from the end)."
    ),
    "pad": Note(
        "`padding`: an int (every spatial dimension, both sides), or pairs for the last "
        "dimensions, last first, as `F.pad` reads them (`[left, right, top, bottom]`; constant "
        "mode may pad the channels too); negative values crop. `reflect` needs padding < L, "
        "`circular` padding ≤ L. `value` is for constant mode only.",
        ignored=("value",),
    ),
    "upsample": Note(
        "Exactly one of `size` and `scale_factor` (out = floor(L · scale); a factor of 0 is "
        "none, as in `nn.Upsample`); `align_corners` for the interpolating modes only; "
        "`recompute_scale_factor` is refused with a `size`.",
        ignored=("recompute_scale_factor",),
    ),
    "dropout": Note("0 ≤ p ≤ 1.", ignored=("inplace",)),
    "dropout1d": Note("Takes `[C]` or `[C, L]`.", ignored=("inplace",)),
    "dropout2d": Note(
        "Takes any input (PyTorch warns outside its rank, and runs).", ignored=("inplace",)
    ),
    "dropout3d": Note(
        "Takes any input (PyTorch warns outside its rank, and runs).", ignored=("inplace",)
    ),
    "stochastic_depth": Note("torchvision's: `p` and `mode` (`row` or `batch`) both required."),
    "relu": Note(_ACT, ignored=("inplace",)),
    "relu6": Note(_ACT, ignored=("inplace",)),
    "prelu": Note("`num_parameters` is 1 or C.", ignored=("init",)),
    "leaky_relu": Note(_ACT, ignored=("inplace", "negative_slope")),
    "elu": Note(_ACT, ignored=("inplace", "alpha")),
    "gelu": Note(_ACT, ignored=("approximate",)),
    "silu": Note(_ACT, ignored=("inplace",)),
    "mish": Note(_ACT, ignored=("inplace",)),
    "hardtanh": Note(
        _ACT + " `max_val` must exceed `min_val`, as PyTorch asserts.",
        ignored=("inplace", "min_val", "max_val"),
    ),
    "hardswish": Note(_ACT, ignored=("inplace",)),
    "hardsigmoid": Note(_ACT, ignored=("inplace",)),
    "sigmoid": Note(_ACT),
    "tanh": Note(_ACT),
    "softplus": Note(_ACT, ignored=("beta", "threshold")),
    "softmax": Note(
        _ACT + " `dim` may be any dimension valid with or without the batch (`dim: 1` as "
        "written for a batch, `dim: 0` for one sample), since the shape is kept either way. "
        "The exports write `dim` as given, and their modules take a batch: there `dim: 0` is "
        "the batch, so write `dim: 1` or a negative dimension for the channels.",
        ignored=("dim",),
    ),
    "log_softmax": Note(_ACT + " `dim` as for `softmax`.", ignored=("dim",)),
    "identity": Note(_ACT),
    "sequential": Note("The layers in order: a named group, such as ResNet's `layer2`."),
    "repeat": Note(
        "`layers` run `times` times over; each repetition is a layer of its own, with its own "
        "parameters."
    ),
    "residual": Note(
        "body(x) + shortcut(x), broadcast as torch does (each dimension equal or 1 in one of "
        "them; `lint` warns where they differ); an empty shortcut is the identity. "
        "`join` names another element-wise op of the two: `subtract` (body − shortcut, "
        "`torch.sub`), `multiply`, `average` ((a + b) / 2), `maximum`, `minimum` "
        "(`torch.maximum`, `torch.minimum`); no op counts a multiply-add, in any convention."
    ),
    "concat": Note(
        "Every branch sees x; the outputs are joined along the channels, every other dimension "
        "equal; an empty branch is the identity, as in DenseNet's layers and U-Net's skips."
    ),
    "split": Note(
        "Exactly one of `chunks` (as `x.chunk(chunks, dim=1)`: slices of ⌈C / chunks⌉, the "
        "last what is left) and `sizes` (as `x.split(sizes, dim=1)`: a list adding up to C, "
        "a 0 an empty slice; or one size, slices of it); one branch per slice. Each branch "
        "sees its own slice of the channels; the outputs are joined along the channels, as "
        "`concat`; an empty branch passes its slice on (ShuffleNetV2's "
        "`x1, x2 = x.chunk(2, dim=1)`), and is the only branch an empty slice may have."
    ),
    "scale": Note(
        "x · body(x), squeeze-and-excitation: each dimension of the body's output must equal "
        "x's or be 1."
    ),
    "graph": Note(
        "`paths` run in the order written, each `{name, from, layers}` on x or on an earlier "
        "path's output (`from`); the `output` paths (by default those no other path reads) "
        "are added, subtracted (the first minus the others), multiplied, averaged, or their "
        "maximum or minimum taken (`join`; broadcast as torch does: each dimension equal or 1 "
        "in one of them), or joined along the channels (`concat`). LR-ASPP's head, "
        "`low_classifier(low) + high_classifier(cbr(high) · scale(high))`."
    ),
}

# what every layer takes (convcalc.layers.base.Layer), said once at the top of the page
COMMON = ("type", "name", "functional", "trainable")
# PyTorch's arguments that every layer with parameters takes and convcalc ignores
WITH_PARAMETERS = ("device", "dtype")


def kind_of(schema: dict[str, Any], defs: dict[str, Any]) -> str:
    """A JSON Schema fragment as a short phrase: ``int ≥ 1 or a list of 1–3 of them``."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        fields = ", ".join(defs.get(name, {}).get("properties", {}))
        return f"`{{{fields}}}`"
    if "anyOf" in schema:
        return " or ".join(kind_of(part, defs) for part in schema["anyOf"])
    if "const" in schema:
        return f"`{schema['const']}`"
    if "enum" in schema:
        return ", ".join(f"`{value}`" for value in schema["enum"])
    kind = schema.get("type")
    if kind == "array":
        items = schema.get("items")
        low, high = schema.get("minItems"), schema.get("maxItems")
        count = f"{low}–{high} " if low is not None and high is not None else ""
        if items == {}:
            return "a list of layers"
        if items is None:
            return "a list"
        inner = kind_of(items, defs)
        if inner == "a list of layers":
            return "a list of lists of layers"
        return f"a list of {count}({inner})"
    words = {"integer": "int", "number": "number", "boolean": "bool", "string": "text"}
    text = words.get(str(kind), str(kind))
    bounds = []
    if "minimum" in schema:
        bounds.append(f"≥ {schema['minimum']}")
    if "maximum" in schema:
        bounds.append(f"≤ {schema['maximum']}")
    if "pattern" in schema:
        bounds.append("such as `cpu`, `cuda:0`")
    return " ".join([text, *bounds]) if kind != "null" else "`null`"


def default_of(value: Any) -> str:
    """A default as YAML writes it."""
    if value is None:
        return "`null`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def torch_names(pattern: str) -> str:
    """``Conv{n}d`` → ``nn.Conv1d``, ``nn.Conv2d``, ``nn.Conv3d``."""
    if "{n}" in pattern:
        return ", ".join(f"`nn.{pattern.format(n=n)}`" for n in (1, 2, 3))
    return f"`nn.{pattern}`"


def section(name: str) -> list[str]:
    """One type's section: heading, PyTorch's class, the note, the fields' table."""
    from convcalc.layers.registry import KINDS, layer_class

    # a type without its note still gets its section (the tests ask for the note)
    kind, cls, note = KINDS[name], layer_class(name), NOTES.get(name, Note(""))
    schema = cls.model_json_schema()
    defs, required = schema.get("$defs", {}), set(schema.get("required", ()))
    lines = [f"### `{name}`", ""]
    if kind.torch:
        lines.append(f"PyTorch: {torch_names(kind.torch)}. {note.text}")
    else:
        lines.append(note.text)
    lines.append("")
    own = {
        field: part
        for field, part in schema["properties"].items()
        if field not in COMMON and field not in WITH_PARAMETERS
    }
    if own:
        lines += ["| field | type | default |", "|---|---|---|"]
        for field, part in own.items():
            default = "required" if field in required else default_of(part.get("default"))
            mark = " (ignored)" if field in note.ignored else ""
            lines.append(f"| `{field}`{mark} | {kind_of(part, defs)} | {default} |")
        lines.append("")
    else:
        lines += ["No fields of its own.", ""]
    extra = []
    if cls.from_input:
        taken = ", ".join(f"`{field}`" for field in cls.from_input)
        extra.append(
            f"Taken from the input: {taken} (leave it out, or write it as PyTorch's code does: "
            "it must then be what the previous layer gives)."
        )
    ignored = [field for field in WITH_PARAMETERS if field in schema["properties"]]
    if ignored:
        extra.append(f"Also accepted and ignored: {', '.join(f'`{field}`' for field in ignored)}.")
    if extra:
        lines += [" ".join(extra), ""]
    return lines


def page() -> str:
    """The whole page, Markdown."""
    from convcalc.layers.registry import CATEGORIES, KINDS

    lines = [
        "# Layer types",
        "",
        "<!-- generated by docs/gen_reference.py from convcalc/layers/registry.py and the "
        "layers' models: do not edit -->",
        "",
        f"Every one of the {len(KINDS)} layer types a spec may use, by category, with its "
        "fields as PyTorch names them and their defaults (PyTorch's). Every layer also takes "
        "`name` (shown in the table and the JSON), `functional` (the PyTorch code calls it as "
        "a function) and `trainable` (false freezes it): see [Spec files](../specs.md). An "
        "integer applies to every spatial dimension, a list gives one value per spatial "
        "dimension. A field marked *(ignored)* is accepted and type-checked, but changes no "
        "shape and no count. The size rules are written out in "
        "[Size rules](../size-rules.md).",
        "",
    ]
    for category in CATEGORIES:
        names = [name for name, kind in KINDS.items() if kind.category == category]
        if not names:
            continue
        lines += [f"## {TITLES[category]}", ""]
        for name in names:
            lines += section(name)
    return "\n".join(lines).rstrip("\n") + "\n"


# --- the Keras dialect's classes: docs/reference/keras-layers.md ------------------------------

KERAS_PAGE = ROOT / "docs" / "reference" / "keras-layers.md"

# the builder kinds of convcalc.spec.keras.CLASSES, by section (a kind not listed here still
# gets its section, under "Other layers": the tests ask for it to be listed)
KERAS_SECTIONS: dict[str, tuple[str, ...]] = {
    "Convolutions": ("conv", "transpose", "depthwise", "separable"),
    "Pooling": ("maxpool", "avgpool", "global_avg", "global_max"),
    "Core and normalisation": ("dense", "batchnorm", "layernorm", "normalization", "rescaling"),
    "Tokens and attention": ("embedding", "attention"),
    "Activations": ("activation", "relu", "prelu", "leaky_relu", "elu", "softmax"),
    "Reshaping, padding and resampling": (
        "flatten",
        "reshape",
        "permute",
        "pad",
        "crop",
        "upsample",
    ),
    "Dropout": ("dropout", "spatial_dropout"),
    "Merges and blocks": (
        "sequential",
        "residual",
        "concat",
        "scale",
        "graph",
        "repeat",
        "constant",
        "layer_scale",
    ),
}

_SAME = (
    "`same` for every stride: out = ⌈n/s⌉, padded max((out − 1)·s + d·(k − 1) + 1 − n, 0), "
    "the extra one at the end; `valid`: ⌊(n − d·(k − 1) − 1)/s⌋ + 1, refused where the "
    "(dilated) kernel is longer than the input."
)
_SHAPE_KEPT = "Shape kept, no parameters."
KERAS_NOTES: dict[str, Note] = {
    "conv": Note(
        "A `conv` (`filters` → `out_channels`, `strides` → `stride`, `dilation_rate` → "
        f"`dilation`, `use_bias` → `bias`). {_SAME} `causal` (Conv1D only) pads d·(k − 1) "
        "before. Refused as Keras refuses: `strides` > 1 together with `dilation_rate` > 1; "
        "`filters` or the input's channels not divisible by `groups`."
    ),
    "transpose": Note(
        "A `conv_transpose`: `valid` out = (n − 1)·s + max(d·(k − 1) + 1, s), `same` out = n·s; "
        "with `output_padding` (below the stride, else refused) (n − 1)·s + d·(k − 1) + 1 + op "
        "(`valid`) or (n − 1)·s + (d·(k − 1) + 1) mod 2 + op (`same`). Refused as Keras "
        "refuses: `strides` > 1 together with `dilation_rate` > 1."
    ),
    "depthwise": Note(
        "A `conv` with groups = C and C·`depth_multiplier` output channels; sizes as Conv2D's."
    ),
    "separable": Note(
        "A depthwise convolution without bias (C·`depth_multiplier` channels), then a 1×1 "
        "`conv` to `filters` (with `use_bias`): one row, two steps; sizes as Conv2D's."
    ),
    "maxpool": Note(
        "A `maxpool`; `strides` defaults to `pool_size`. `valid`: ⌊(n − k)/s⌋ + 1, refused "
        "where the pool is longer than the input; `same`: ⌈n/s⌉, padded as Conv2D's."
    ),
    "avgpool": Note(
        "An `avgpool`; sizes as MaxPooling's (`same` averages the values inside the input only)."
    ),
    "global_avg": Note(
        "One value per channel: (…, C) → (C), or (1, …, 1, C) with `keepdims`. No parameters."
    ),
    "global_max": Note("As GlobalAveragePooling, with the maximum."),
    "dense": Note(
        "On the last axis: a `linear` on (features); on (…, C) channels-last, a 1×1 `conv` of "
        "the channels. `units` → `out_features`; `units`·(in + 1) parameters with `use_bias`."
    ),
    "embedding": Note(
        "Integer ids in, so the first layer only (fed the spec's input): ids (L) → "
        "(L, `output_dim`), any shape of ids likewise; `input_dim`·`output_dim` parameters "
        "(Keras' `embeddings`). PyTorch's `embedding` in the records. Refused: `lora_rank`.",
        ignored=("mask_zero", "input_length", "lora_alpha"),
    ),
    "attention": Note(
        "Self-attention, `mha(x, x)` (query = key = value = x), on (L, E) only: (L, E_out), "
        "E_out = `output_shape` else E. Weights: query and key kernels (E, h, `key_dim`), value "
        "kernel (E, h, `value_dim`), biases (h, ·) with `use_bias`, output kernel (h, "
        "`value_dim`, E_out) and bias (E_out). Multiply-adds: L × the kernels' sizes + "
        "L²·h·(`key_dim` + `value_dim`). Refused: another rank, `attention_axes`, `use_gate`, "
        "an `output_shape` of several sizes.",
        ignored=("dropout", "sliding_window", "flash_attention"),
    ),
    "batchnorm": Note(
        "Over `axis` of size n (the channels by default; another axis is moved first, "
        "normalised and moved back): γ (with `scale`) and β (with `center`) train, and the "
        "moving mean and variance are parameters that never train: 4·n parameters, 2·n of "
        "them non-trainable (PyTorch counts 2·C and buffers). The batch axis is refused, as "
        "Keras refuses it.",
        ignored=("momentum", "epsilon", "synchronized"),
    ),
    "layernorm": Note(
        "Over `axis`, an axis or a list (Keras sorts it; γ and β have its axes' sizes in that "
        "order): 2·∏ sizes parameters (∏ sizes without `center`, none without either); axes "
        "other than the last moved last, normalised together and moved back. Refused: the "
        "batch axis, an axis given twice (Keras builds it, squared), `center` without "
        "`scale`, `rms_scaling`.",
        ignored=("epsilon",),
    ),
    "normalization": Note(
        "(x − mean)/√variance over the axes `axis` keeps (`null`: one mean for everything). "
        "Without `mean` and `variance` (to be adapted) Keras holds them, one value per position "
        "of the kept axes, and a count: 2·∏ sizes + 1 parameters that never train; given "
        "them (numbers or lists that broadcast), none. Refused: one of `mean` and `variance` "
        "without the other, an axis given twice, the batch axis.",
        ignored=("invert",),
    ),
    "rescaling": Note(
        "x·`scale` + `offset` (numbers or lists of numbers): shape kept, no parameters.",
        ignored=("scale", "offset"),
    ),
    "activation": Note(
        "The activation named (`activation`, any of the names below): shape kept, no "
        "parameters; another name is refused."
    ),
    "relu": Note(
        f"`relu`, `relu6` with `max_value: 6`, `leaky_relu` with a `negative_slope`, "
        f"`hardtanh` (0, m) with another `max_value` m > 0; with a `threshold` t (or a "
        f"`negative_slope` and a `max_value`) Keras' own: x where x > t else 0, clipped at "
        f"`max_value`, minus `negative_slope`·max(t − x, 0). {_SHAPE_KEPT} Each argument ≥ 0, "
        "as Keras requires."
    ),
    "prelu": Note(
        "max(x, 0) + α·min(x, 0), α of the input's shape with 1 along `shared_axes` (counted "
        "with the batch, as Keras': i sets size i − 1, so 0 is the last): ∏ α's sizes "
        "parameters. PyTorch's `prelu` where α is one value or one per channel, else α of "
        "Keras' shape. Refused: an axis out of range (Keras' IndexError)."
    ),
    "leaky_relu": Note(_SHAPE_KEPT, ignored=("negative_slope",)),
    "elu": Note(_SHAPE_KEPT, ignored=("alpha",)),
    "softmax": Note(
        _SHAPE_KEPT + " `axis` counts with the batch, as Keras' (−1 the last, 0 refused).",
        ignored=("axis",),
    ),
    "flatten": Note("Everything but the batch into one axis, in Keras' order."),
    "reshape": Note(
        "`target_shape` without the batch, in Keras' order; one entry may be −1; the sizes "
        "must hold the input's values."
    ),
    "permute": Note("`dims` an ordering of 1 … rank (the batch is 0 and stays first)."),
    "pad": Note(
        "`padding`: an int (every spatial axis, both sides), one per spatial axis, or "
        "(before, after) pairs; each ≥ 0."
    ),
    "crop": Note(
        "`cropping` as ZeroPadding's `padding`; refused where it crops the whole axis or more."
    ),
    "upsample": Note(
        "Each spatial size times `size` (whole factors); `bilinear` for UpSampling2D only."
    ),
    "dropout": Note(_SHAPE_KEPT, ignored=("rate", "noise_shape", "seed")),
    "spatial_dropout": Note(_SHAPE_KEPT, ignored=("rate", "seed")),
    "sequential": Note(
        "A model used as a layer: its `layers` in order (a `sequential` block, one row)."
    ),
    "residual": Note(
        "body(x) + shortcut(x), broadcast as Keras does (aligned from the last axis, each "
        "equal or 1 in one of them); an empty `shortcut` is x itself (a "
        "`residual` block). `Subtract`: body(x) − shortcut(x); `Average`, `Maximum`, "
        "`Minimum`: their mean, maximum, minimum (a `residual` with that `join`)."
    ),
    "concat": Note(
        "Every branch sees x; the outputs are joined along the channels (`axis` −1 "
        "channels-last, 1 channels-first; convcalc refuses another), the other axes equal."
    ),
    "scale": Note(
        "x · body(x), squeeze-and-excitation (a `scale` block): each axis of the body's output "
        "equal to x's or 1. With a `shortcut` too: body(x) · shortcut(x), the two shapes equal "
        "(a `residual` joined by `multiply`)."
    ),
    "graph": Note(
        "convcalc's `graph` block of Keras layers (what `convcalc import` writes where a "
        "functional model's paths fork again or reuse an earlier branch): `paths` run in "
        "order, each `{name, from, layers}` on x or on an earlier path's output; the `output` "
        "paths (by default those no path reads) joined as `join` says (`add`, `subtract`, "
        "`multiply`, `average`, `maximum`, `minimum`, `concat` along the channels, `axis` as "
        "Concatenate's), shown as that Keras merge layer."
    ),
    "repeat": Note(
        "convcalc's `repeat` (Keras has no such class): `layers`, `times` times over, each copy "
        "a layer of its own, as a Python loop builds them in Keras (a `repeat` block). Refused "
        "where a later copy would be built differently from the first (a depthwise convolution "
        "whose input channels changed): write the copies out."
    ),
    "constant": Note(
        "`x + value` or `x * value` with a number (keras.ops.add, keras.ops.multiply, as "
        "`model.to_json()` writes them): shape kept, no parameters.",
        ignored=("value",),
    ),
    "layer_scale": Note(
        "keras.applications.convnext's learnt factor per channel: C parameters; "
        "`projection_dim` must be the input's channels.",
        ignored=("init_values",),
    ),
}

# the arguments every Keras class takes, said once at the top of the page
KERAS_COMMON = ("type", "name", "trainable", "dtype")
# what an argument typed Any takes (the dialect checks it when it builds the layer)
KERAS_ANY = {
    "padding": "int ≥ 0, one per spatial axis, or (before, after) pairs",
    "cropping": "int ≥ 0, one per spatial axis, or (before, after) pairs",
    "scale": "number or a list of numbers",
    "offset": "number or a list of numbers",
    "mean": "number or a list of numbers",
    "variance": "number or a list of numbers",
}


def not_read(field: str) -> bool:
    """An initializer, regularizer or constraint: accepted, never read (no number changes)."""
    return field.endswith(("_initializer", "_regularizer", "_constraint"))


def keras_kinds() -> dict[str, list[str]]:
    """Builder kind → the Keras classes it reads, in the order of the dialect's table."""
    from convcalc.spec.keras import CLASSES

    kinds: dict[str, list[str]] = {}
    for cls_name, (_, _, kind) in CLASSES.items():
        kinds.setdefault(kind, []).append(cls_name)
    return kinds


def keras_section(kind: str, classes: list[str]) -> list[str]:
    """One builder's section: its Keras classes, the note, the arguments' table."""
    from convcalc.spec.keras import CLASSES

    models = [CLASSES[name][0] for name in classes]
    args = max(models, key=lambda model: len(model.model_fields))  # the one with every field
    note = KERAS_NOTES.get(kind, Note(""))
    schema = args.model_json_schema()
    defs, required = schema.get("$defs", {}), set(schema.get("required", ()))

    def per_class(field: str, default: str) -> str:
        """The default, or each class's where they differ (Cropping1D's 1, Cropping2D's 0)."""
        found = {
            name: model.model_fields[field]
            for name, model in zip(classes, models, strict=True)
            if field in model.model_fields
        }
        shown = {
            name: "required" if info.is_required() else default_of(info.default)
            for name, info in found.items()
        }
        text = default
        if len(set(shown.values())) > 1:
            text = ", ".join(f"{value} ({name})" for name, value in shown.items())
        if len(found) < len(classes):
            text += f"; {', '.join(found)} only"
        return text

    lines = [f"### {', '.join(f'`{name}`' for name in classes)}", "", note.text, ""]
    own = {
        field: part
        for field, part in schema["properties"].items()
        if field not in KERAS_COMMON and not not_read(field)
    }
    if own:
        lines += ["| argument | type | default |", "|---|---|---|"]
        for field, part in own.items():
            default = "required" if field in required else default_of(part.get("default"))
            plain = not any(key in part for key in ("type", "anyOf", "$ref", "enum", "const"))
            kind_text = KERAS_ANY.get(field, "any") if plain else kind_of(part, defs)
            mark = " (ignored)" if field in note.ignored else ""
            lines.append(f"| `{field}`{mark} | {kind_text} | {per_class(field, default)} |")
        lines.append("")
    else:
        lines += ["No arguments of its own.", ""]
    base = base_fields()
    extra = [field for field in schema["properties"] if not_read(field) and field not in base]
    if kind == "activation":
        lines += [keras_activations(), ""]
    if extra:
        lines += [f"Also accepted and not read: {', '.join(f'`{field}`' for field in extra)}.", ""]
    return lines


def base_fields() -> set[str]:
    """The arguments of every Keras class (convcalc.spec.keras.Args)."""
    from convcalc.spec.keras import Args

    return set(Args.model_fields)


def keras_activations() -> str:
    """Keras' activation names and the convcalc types they are read as."""
    from convcalc.spec.keras import ACTIVATIONS

    pairs = [f"`{name}` → `{kind}`" for name, kind in ACTIVATIONS.items()]
    return "Activation names (here and in every `activation=` argument): " + ", ".join(pairs) + "."


def keras_page() -> str:
    """docs/reference/keras-layers.md: every Keras class the dialect reads, Markdown."""
    from convcalc.spec.keras import CLASSES

    kinds = keras_kinds()
    listed = {kind for kinds_ in KERAS_SECTIONS.values() for kind in kinds_}
    sections = dict(KERAS_SECTIONS)
    rest = tuple(kind for kind in kinds if kind not in listed)
    if rest:
        sections["Other layers"] = rest
    common = sorted(field for field in base_fields() if field not in KERAS_COMMON)
    lines = [
        "# Keras layers",
        "",
        "<!-- generated by docs/gen_reference.py from convcalc/spec/keras.py's table: "
        "do not edit -->",
        "",
        f"Every one of the {len(CLASSES)} Keras 3 classes a Keras spec (`framework: keras`, see "
        "[Keras](../keras.md)) may use, with the arguments convcalc reads, as Keras names them, "
        "and their defaults (Keras'), and what each becomes in convcalc's records. Every class "
        "also takes `name` (shown in the tables and `model.summary()`), `trainable` (false: "
        "its parameters are counted as non-trainable) and `dtype`, and accepts "
        + ", ".join(f"`{field}`" for field in common)
        + " without reading them (they change no number). An integer applies to every spatial "
        "axis, a list gives one value per spatial axis. An argument marked *(ignored)* is "
        "accepted and type-checked, but changes no shape and no count. Any other argument, a "
        "PyTorch name (`out_channels`, `stride`) or another class is refused with the file, "
        "line, layer and argument.",
        "",
    ]
    for title, kinds_ in sections.items():
        present = [kind for kind in kinds_ if kind in kinds]
        if not present:
            continue
        lines += [f"## {title}", ""]
        for kind in present:
            lines += keras_section(kind, kinds[kind])
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(ROOT))
    pages = {PAGE: page(), KERAS_PAGE: keras_page()}
    stale = 0
    for path, text in pages.items():
        if "--write" in argv:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        elif "--check" in argv:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                print(f"{path} is not current: run python docs/gen_reference.py --write")
                stale = 1
        else:
            sys.stdout.write(text)
    return stale


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
