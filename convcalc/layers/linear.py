"""Layers that mix all features at once: ``nn.Linear`` and ``nn.Embedding``."""

from typing import Literal

from convcalc.arith import Refusal, set_by
from convcalc.layers.base import KerasWords, WithParameters, keras_call
from convcalc.layers.fields import (
    AnyInt,
    Flag,
    Number,
    PositiveInt,
)
from convcalc.records import Applied, Shape, Step, Tensors


class Linear(WithParameters):
    type: Literal["linear"]
    from_input = ("in_features",)
    out_features: PositiveInt
    bias: Flag = True

    def built_sizes(self, shape: Shape) -> tuple[tuple[str, int], ...]:
        return (("in_features", shape[-1]),)

    def forward(self, shape: Shape) -> Step:
        tensors: Tensors = {"weight": (self.out_features, shape[-1])}
        if self.bias:
            tensors["bias"] = (self.out_features,)
        rule = Applied(set_by, (shape[-1], self.out_features, "out_features"), "features")
        return Step((*shape[:-1], self.out_features), tensors, None, (rule,))

    def describe(self, shape: Shape) -> str:
        return f"linear {shape[-1]} → {self.out_features}"


class KerasLinear(KerasWords, Linear):
    """Keras' Dense on the last axis of [features] or a channels-first tensor: PyTorch's
    linear; Keras' kernel is (in, units)."""

    def describe(self, shape: Shape) -> str:
        """``Dense(10)``."""
        return keras_call("Dense", self.out_features, **({} if self.bias else {"use_bias": False}))

    def shown_tensors(self, tensors: Tensors) -> Tensors:
        out, features = tensors["weight"]
        kernel: Tensors = {"kernel": (features, out)}
        return kernel | ({"bias": tensors["bias"]} if "bias" in tensors else {})


class Embedding(WithParameters):
    """Token indices in, one vector per token out: input [L] gives [L, embedding_dim]."""

    type: Literal["embedding"]
    num_embeddings: PositiveInt
    embedding_dim: PositiveInt
    padding_idx: AnyInt | None = None
    max_norm: Number | None = None
    norm_type: Number = 2.0
    scale_grad_by_freq: Flag = False
    sparse: Flag = False

    def forward(self, shape: Shape) -> Step:
        n = self.num_embeddings
        if self.padding_idx is not None and not -n <= self.padding_idx < n:
            raise Refusal(f"must be within num_embeddings ({-n} to {n - 1})", "padding_idx")
        tensors: Tensors = {"weight": (n, self.embedding_dim)}
        note = f"each index replaced by its row of the table: embedding_dim {self.embedding_dim}"
        note += " values, a new last dimension"
        return Step((*shape, self.embedding_dim), tensors, None, note=note)
