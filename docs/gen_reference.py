"""The layer-type reference, docs/reference/layers.md, generated from the registry and the models.

    python docs/gen_reference.py            # print the page
    python docs/gen_reference.py --write    # write docs/reference/layers.md
    python docs/gen_reference.py --check    # exit 1 if docs/reference/layers.md is not this page

Every type of ``convcalc.layers.registry.KINDS`` gets a section, in its category, with PyTorch's
class and a table of its fields read from the pydantic model's JSON Schema (type, default,
required), so that the page cannot drift from the code: a new type or field appears by
itself. What a field means beyond its type is the hand-written note of :data:`NOTES`, and the
fields a type accepts but ignores (they change no shape and no count) are listed there; the
tests check that every type has a note and that every field a note names exists. The site's
build runs :func:`page` again (docs/hooks.py), so the site is always the registry's.
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
        "body(x) + shortcut(x); the shapes must be equal; an empty shortcut is the identity."
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
        "are added or multiplied (broadcast as torch does: each dimension equal or 1 in one "
        "of them) or joined along the channels. LR-ASPP's head, "
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


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(ROOT))
    text = page()
    if "--write" in argv:
        PAGE.parent.mkdir(parents=True, exist_ok=True)
        PAGE.write_text(text, encoding="utf-8")
    elif "--check" in argv:
        if not PAGE.exists() or PAGE.read_text(encoding="utf-8") != text:
            print(f"{PAGE} is not current: run python docs/gen_reference.py --write")
            return 1
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
