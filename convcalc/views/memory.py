"""Memory of a network: its parameters, its input, and its activations, in bytes.

- ``params_bytes``: every parameter × the dtype's size.
- ``input_bytes``: the input's values × batch × the dtype's size (exact).
- ``forward_backward_bytes``: torchinfo 1.8.0's estimate of the activations kept for training,
  2 × (per-sample values × batch + per-forward values) × the dtype's size, summed over every
  call of a leaf module with parameters (its output, and the gradient of it); the values each
  layer type keeps are ``conventions.torchinfo.kept_values``'s. It ignores the outputs of
  layers without parameters (ReLU, pooling, ...) and of those whose parameters no leaf module
  holds (multihead attention, class token, position embedding, layer scale), and counts the
  outputs of the child modules that run inside Swin's patch merging and MaxViT's attention.
- ``peak_activation_bytes``: convcalc's own estimate of the most activation memory alive at
  once during inference, with no in-place reuse: while a layer runs, its input and its output,
  plus, for every block it is inside, the block's input (kept for the shortcut, the other
  branches or the gate) and the outputs of the block's paths that are already done (kept for
  the merge, or for a graph's later path that reads them); at a merge, every path's output and
  the merged output. The largest such sum.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from convcalc.errors import ConvcalcError

if TYPE_CHECKING:
    from convcalc.records import Entry, Report

DTYPES = {"float32": 4, "float16": 2, "bfloat16": 2, "float64": 8, "int8": 1}


@dataclass(frozen=True)
class Memory:
    """The byte counts of one report for one batch size and dtype (module docstring)."""

    batch: int
    dtype: str
    params_bytes: int
    input_bytes: int
    forward_backward_bytes: int
    peak_activation_bytes: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "batch": self.batch,
            "dtype": self.dtype,
            "input_bytes": self.input_bytes,
            "params_bytes": self.params_bytes,
            "forward_backward_bytes": self.forward_backward_bytes,
            "peak_activation_bytes": self.peak_activation_bytes,
        }


def memory(report: Report, batch: int = 1, dtype: str = "float32") -> Memory:
    """The memory of ``report`` for ``batch`` samples of ``dtype`` values."""
    if dtype not in DTYPES:
        raise ConvcalcError(f"unknown dtype {dtype!r}: choose one of {', '.join(DTYPES)}")
    size = DTYPES[dtype]
    per_sample = batch * size
    from convcalc.views.conventions.torchinfo import kept_values  # not at start-up: DTYPES

    kept = [kept_values(e) for e in report.leaves()]
    sample_values, forward_values = sum(k[0] for k in kept), sum(k[1] for k in kept)
    return Memory(
        batch=batch,
        dtype=dtype,
        params_bytes=report.total_params * size,
        input_bytes=math.prod(report.input_shape) * per_sample,
        forward_backward_bytes=2 * (sample_values * batch + forward_values) * size,
        peak_activation_bytes=_peak_values(report) * per_sample,
    )


def _peak_values(report: Report) -> int:
    """The largest number of activation values alive at once (module docstring)."""
    peak = 0
    for entry in report.layers:
        if entry.is_block:
            peak = max(peak, _block_peak(entry, 0))
        else:
            peak = max(peak, math.prod(entry.input_shape) + math.prod(entry.output_shape))
    return peak


def _block_peak(block: Entry, held: int) -> int:
    """The peak inside a block and its nested blocks, iteratively: each nested block is visited
    with the values held around it."""
    peak = 0
    todo: list[tuple[Entry, int]] = [(block, held)]
    while todo:
        current, around = todo.pop()
        x = math.prod(current.input_shape)
        done = 0  # outputs of this block's paths already computed
        outputs = current.layer.path_outputs(current.input_shape, current.children)  # type: ignore[attr-defined]
        for (_, children), last in zip(current.children, outputs, strict=True):
            inside = around + x + done
            for child in children:
                if child.is_block:
                    todo.append((child, inside))
                else:
                    size_in = math.prod(child.input_shape)
                    size_out = math.prod(child.output_shape)
                    peak = max(peak, inside + size_in + size_out)
            done += math.prod(last)
        peak = max(peak, around + done + math.prod(current.output_shape))
    return peak


def human(size: int) -> str:
    """Bytes in megabytes (10⁶ bytes, as torchinfo), two decimals."""
    return f"{size / 1e6:,.2f} MB"
