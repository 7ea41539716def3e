"""The mutations :mod:`run` applies, one at a time: each a plausible bug in one module.

A mutation is a snippet of a file and what it becomes. The list covers the core arithmetic, the
costs and memory, receptive fields, lint, the grader and its mistakes, the quiz, the import and
export, the Keras dialect, the schema and the closed-form solve; the first group is the bugs that
once passed the whole suite unnoticed, kept so that they stay caught. A mutation that cannot
change anything a user sees is marked ``equivalent`` with the reason (none is, today). Each is
killed by the quick set (the default ``pytest``), which :mod:`run` runs.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mutation:
    name: str
    file: str
    old: str
    new: str
    why: str
    equivalent: str = ""


MUTATIONS = [
    # the bugs that once passed every test
    Mutation(
        "quiz-solve-swapped",
        "convcalc/teach/quiz.py",
        "right = f\"k = {data['k']}, s = {data['s']}\"",
        "right = f\"k = {data['s']}, s = {data['k']}\"",
        "the quiz's inverse-problem answer with k and s swapped",
    ),
    Mutation(
        "quiz-mult-adds-batch",
        "convcalc/teach/quiz.py",
        "_per_position(entry, 1, bias)",
        "_per_position(entry, 2, bias)",
        "the quiz's multiply-add working shown for a batch of 2",
    ),
    Mutation(
        "export-softplus-arguments",
        "convcalc/frameworks/torch/export.py",
        '"softplus": _Leaf(keywords=("beta", "threshold")),',
        '"softplus": _Leaf(),',
        "the PyTorch export never writes Softplus' beta and threshold",
    ),
    Mutation(
        "keras-momentum",
        "convcalc/frameworks/keras/export.py",
        '{"momentum": 1 - layer.momentum,',
        '{"momentum": layer.momentum,',
        "the Keras export does not invert BatchNorm's momentum",
    ),
    Mutation(
        "import-leaky-slope",
        "convcalc/frameworks/torch/importer.py",
        'DROPPED = {"inplace", "count_include_pad", "divisor_override", "return_indices"}',
        'DROPPED = {"inplace", "count_include_pad", "divisor_override", "return_indices",'
        ' "negative_slope"}',
        "the importer drops LeakyReLU's negative_slope (it changes no shape)",
    ),
    Mutation(
        "import-norm-eps",
        "convcalc/frameworks/torch/importer.py",
        'DROPPED = {"inplace", "count_include_pad", "divisor_override", "return_indices"}',
        'DROPPED = {"inplace", "count_include_pad", "divisor_override", "return_indices", "eps"}',
        "the importer drops the norms' eps (it changes no shape)",
    ),
    Mutation(
        "receptive-merge-first",
        "convcalc/views/receptive.py",
        "return Field(size, widest.jump, widest.start, misaligned)",
        "return Field(size, first.jump, first.start, misaligned)",
        "a block's receptive field takes the first path's jump and start, not the widest's",
    ),
    Mutation(
        "mistake-no-jumps",
        "convcalc/teach/mistakes.py",
        "size = [r + w.kernel - 1 for r, w in zip(size, windows, strict=True)]",
        "size = [r + w.kernel for r, w in zip(size, windows, strict=True)]",
        "the grader's 'jumps left out' value off by one per layer",
    ),
    Mutation(
        "lint-fix-dilation",
        "convcalc/views/lint.py",
        "kernel, padding = dim.kernel + rem // dim.dilation, dim.left + x",
        "kernel, padding = dim.kernel + rem, dim.left + x",
        "lint's suggested kernel ignores the dilation",
    ),
    Mutation(
        "memory-concat-held",
        "convcalc/views/memory.py",
        "            done += math.prod(last)\n",
        "",
        "a block's earlier paths' outputs are not held while the later ones run",
    ),
    # the arithmetic
    Mutation(
        "conv-padding-once",
        "convcalc/arith.py",
        "    return (length + 2 * p - k_eff) // s + 1\n",
        "    return (length + p - k_eff) // s + 1\n",
        "a convolution's padding counted on one side only",
    ),
    Mutation(
        "conv-no-plus-one",
        "convcalc/arith.py",
        "    return (length + 2 * p - k_eff) // s + 1\n",
        "    return (length + 2 * p - k_eff) // s\n",
        "a convolution's + 1 forgotten",
    ),
    Mutation(
        "pool-ceil-rule",
        "convcalc/arith.py",
        "    if ceil_mode and (out - 1) * s >= length + p:",
        "    if ceil_mode and (out - 1) * s > length + p:",
        "ceil mode's rule dropping a last window that starts in the right padding, off by one",
    ),
    Mutation(
        "transpose-output-padding",
        "convcalc/arith.py",
        "    out = (length - 1) * s - 2 * p + d * (k - 1) + op + 1\n",
        "    out = (length - 1) * s - 2 * p + d * (k - 1) + 1\n",
        "a transposed convolution's output_padding left out",
    ),
    # the costs
    Mutation(
        "torchinfo-conv-positions",
        "convcalc/views/conventions/torchinfo.py",
        "        positions *= math.prod(entry.output_shape[1:])\n    return",
        "        positions *= math.prod(entry.output_shape[2:])\n    return",
        "torchinfo's convention drops one output dimension of a convolution",
    ),
    # receptive fields
    Mutation(
        "receptive-transposed-jump",
        "convcalc/views/receptive.py",
        "            jump.append(j / w.stride)",
        "            jump.append(j * w.stride)",
        "a transposed window multiplies the jump instead of dividing it",
    ),
    Mutation(
        "receptive-start-padding",
        "convcalc/views/receptive.py",
        "            start.append(c + ((w.kernel - 1) / 2 - w.pad_left) * j)",
        "            start.append(c + ((w.kernel - 1) / 2) * j)",
        "the padding left out of the receptive field's start",
    ),
    # costs and memory
    Mutation(
        "thop-conv-groups",
        "convcalc/views/conventions/thop.py",
        "* (entry.input_shape[0] // groups) * kernel",
        "* entry.input_shape[0] * kernel",
        "thop's convention forgets a grouped convolution's groups",
    ),
    Mutation(
        "fvcore-transposed-grid",
        "convcalc/views/conventions/fvcore.py",
        'return math.prod(entry.tensors["weight"]) * math.prod(entry.input_shape[1:])',
        'return math.prod(entry.tensors["weight"]) * math.prod(entry.output_shape[1:])',
        "fvcore's transposed convolution counted over its output grid, not its input's",
    ),
    Mutation(
        "memory-training-once",
        "convcalc/views/memory.py",
        "forward_backward_bytes=2 * (sample_values * batch + forward_values) * size,",
        "forward_backward_bytes=(sample_values * batch + forward_values) * size,",
        "torchinfo's forward/backward estimate without the gradients",
    ),
    # the grader
    Mutation(
        "grade-carried-credit",
        "convcalc/teach/grade.py",
        "CARRIED = 0.5  #",
        "CARRIED = 1.0  #",
        "an error carried forward given full credit",
    ),
    # hostile input
    Mutation(
        "csv-at-formula",
        "convcalc/escape.py",
        '_FORMULA_START = ("=", "+", "-", "@", "\\t", "\\r")',
        '_FORMULA_START = ("=", "+", "-", "\\t", "\\r")',
        "a CSV cell starting with @ left a formula",
    ),
    Mutation(
        "paths-outside-folder",
        "convcalc/paths.py",
        "    if not target.is_relative_to(root):",
        "    if False:",
        "a path leading out of the allowed folder read",
    ),
    Mutation(
        "budget-never-stops",
        "convcalc/budget.py",
        "        if self.spent > self.limit:",
        "        if self.spent > 1000 * self.limit:",
        "the work budget a thousand times too large",
    ),
    # the Keras dialect
    Mutation(
        "keras-merge-records-order",
        "convcalc/layers/blocks.py",
        "        out = broadcast(self.shown_shape(first), self.shown_shape(second))\n",
        "        out = broadcast(first, second)\n",
        "a Keras merge broadcasts the channels-first records, not Keras' (H, W, C)",
    ),
    Mutation(
        "keras-attention-key-unread",
        "convcalc/frameworks/keras/importer.py",
        '    for role in ("query", "value", "key"):',
        '    for role in ("query", "value"):',
        "the importer reads MultiHeadAttention's key unchecked: mha(x, x, y) taken as mha(x, x)",
    ),
    Mutation(
        "keras-transpose-same-crop",
        "convcalc/arith.py",
        "    start = max(total // 2, 0)\n",
        "    start = max(total - total // 2, 0)\n",
        "Keras' transposed same crops the odd one at the start, not at the end",
    ),
    Mutation(
        "keras-transpose-same-op",
        "convcalc/arith.py",
        "out = length * s if op is None else (length - 1) * s + k_eff % 2 + op",
        "out = length * s if op is None else (length - 1) * s + op",
        "Keras' transposed same with output_padding forgets an odd kernel's k_eff mod 2",
    ),
    # the schema and the closed-form solve
    Mutation(
        "schema-dispatch-off-by-one",
        "convcalc/spec/schema.py",
        '"enum": [name for name, _ in refs[:half]]',
        '"enum": [name for name, _ in refs[: half - 1]]',
        "the schema's type tree sends the last type of each first half to the other half",
    ),
    Mutation(
        "closed-count-sum",
        "convcalc/solve/closed.py",
        "count = sum(math.prod(size_count(s) for s in box) for box in boxes)",
        "count = sum(sum(size_count(s) for s in box) for box in boxes)",
        "the closed form counts a box's tuples as the sum of its dimensions' sizes, not the "
        "product",
    ),
    Mutation(
        "closed-fixed-size-kept",
        "convcalc/solve/closed.py",
        "return SizeSet(self.fixed + 1, 1, (), (self.fixed,)) if self.fixed in sizes else None",
        "return SizeSet(self.fixed + 1, 1, (), (self.fixed,)) if self.fixed in sizes else sizes",
        "a fixed input size the network refuses keeps the dimension's whole set",
    ),
]
