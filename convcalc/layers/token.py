"""The pieces of vision transformers and ConvNeXt that torchvision writes as parameters or
indexing, not modules: ViT's learnable class token and position embedding, ``select``
(``x[:, i]``: the class token taken out) and ConvNeXt's learnable per-channel ``layer_scale``."""

from typing import Literal

from convcalc.arith import Refusal, extended, kept
from convcalc.layers.base import KerasWords, Layer, dim_index, listed
from convcalc.layers.fields import AnyInt, Number
from convcalc.layers.linear import Embedding
from convcalc.records import IDENTITY, Applied, Shape, Step, Tensors, elementwise


def _sequence(shape: Shape, kind: str) -> tuple[int, int]:
    """(L, E) of a token sequence; anything else is refused."""
    if len(shape) != 2:
        raise Refusal(f"{kind} needs a sequence [length, features], not {listed(shape)}")
    return shape[0], shape[1]


class ClassToken(Layer):
    """torchvision ViT's ``class_token`` (1×1×E), prepended along the sequence: [L, E] →
    [L + 1, E], E parameters."""

    type: Literal["class_token"]

    def built_sizes(self, shape: Shape) -> tuple[tuple[str, int], ...]:
        """torchvision builds ``class_token`` as 1×1×hidden_dim, concatenated to the tokens."""
        return (("hidden_dim", shape[-1]),)

    def forward(self, shape: Shape) -> Step:
        length, embed = _sequence(shape, "class_token")
        rules = (Applied(extended, (length, 1), "L"), Applied(kept, (embed,), "E"))
        note = f"a learned class token put before the {length} tokens"
        return Step((length + 1, embed), {"class_token": (1, 1, embed)}, (IDENTITY,), rules, note)


class PositionEmbedding(Layer):
    """ViT's learnable ``pos_embedding`` (1×L×E), added: [L, E] kept, L·E parameters."""

    type: Literal["position_embedding"]

    def built_sizes(self, shape: Shape) -> tuple[tuple[str, int], ...]:
        """torchvision builds ``pos_embedding`` as 1×seq_length×hidden_dim and adds it: an
        input of another length or width is refused."""
        length, embed = _sequence(shape, "position_embedding")
        return (("seq_length", length), ("hidden_dim", embed))

    def forward(self, shape: Shape) -> Step:
        length, embed = _sequence(shape, "position_embedding")
        note = f"a learned {length}×{embed} embedding added, one vector per position; shape kept"
        return elementwise(shape, {"pos_embedding": (1, length, embed)}, note)


class Select(Layer):
    """``torch.select(x, dim, index)`` (``x[:, index]`` over a batch): that dimension is
    removed; ``dim`` counts without the batch. The last dimension cannot go: a layer's output
    keeps at least one besides the batch."""

    type: Literal["select"]
    dim: AnyInt = 0
    index: AnyInt = 0

    def forward(self, shape: Shape) -> Step:
        at = dim_index(self.dim, len(shape), "dim")
        if len(shape) == 1:
            raise Refusal(
                f"would take the only dimension of {listed(shape)} away, leaving one value "
                "per sample: convcalc's shapes keep at least one dimension",
                "dim",
            )
        if not -shape[at] <= self.index < shape[at]:
            raise Refusal(
                f"{self.index} is out of range for a dimension of size {shape[at]} "
                f"(from {-shape[at]} to {shape[at] - 1})",
                "index",
            )
        note = (
            f"entry {self.index} of dimension {self.dim} (of {shape[at]}) taken: that "
            "dimension is removed"
        )
        return Step((*shape[:at], *shape[at + 1 :]), {}, None, note=note)

    def describe(self, shape: Shape) -> str:
        return f"select {self.index} of dim {self.dim}"


class LayerScale(Layer):
    """ConvNeXt's learnable per-channel factor (torchvision CNBlock's ``layer_scale``, C×1×1,
    initialised to ``layer_scale``): [C, *spatial] kept, C parameters (a C×1×…×1 tensor, one 1
    per spatial dimension, so that it multiplies each channel)."""

    type: Literal["layer_scale"]
    layer_scale: Number = 1e-6

    def forward(self, shape: Shape) -> Step:
        note = f"each of the {shape[0]} channels multiplied by its learned factor; shape kept"
        return elementwise(shape, {"layer_scale": (shape[0], *(1 for _ in shape[1:]))}, note)


class KerasEmbedding(KerasWords, Embedding):
    """Keras' ``Embedding(input_dim, output_dim)``: integer ids of any shape in, one
    output_dim vector each out (PyTorch's embedding); its table is Keras' ``embeddings``,
    input_dim × output_dim."""

    def shown_tensors(self, tensors: Tensors) -> Tensors:
        return {"embeddings": tensors["weight"]}
