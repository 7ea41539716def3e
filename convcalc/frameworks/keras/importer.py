"""A Keras spec from the JSON ``model.to_json()`` writes: what ``convcalc import model.json`` does.

The JSON is read as data, never evaluated, and Keras is not needed. Each layer's class and
arguments become a leaf of a Keras spec (``framework: keras``, :mod:`convcalc.spec.keras`):
its class as the ``type``, its name, and the arguments that change a number and differ from
Keras' defaults (initializers, regularizers, constraints and the dtype policy change none and
are left out). A Sequential model is its list of layers; a model used as a layer (ConvNeXt's
stem) is a ``Sequential`` block.

A functional model is a graph of layers; convcalc's blocks are series-parallel. The graph is
taken apart between each merge (``Add``, ``Subtract``, ``Multiply``, ``Average``, ``Maximum``,
``Minimum``, ``Concatenate``, and ``x + y`` or ``x * y`` between tensors) and its immediate
dominator, the last layer every path from the input to the merge passes through. Merges are
reduced in topological order, so the layers between a merge and its dominator form a tree of
single-input layers by then (each merge before it is one node already, its block). A star of
chains is a nested block: a residual (``Add``, ``Average``, ``Maximum``, ``Minimum`` of two:
``body`` and ``shortcut`` the shorter path, empty for the dominator itself; ``Subtract``: body
minus shortcut, in the merge's order; ``Multiply`` of two chains), a concat (``Concatenate``:
``branches`` in the merge's order) or a scale (``Multiply`` of the dominator and a ``body``).
Any other tree (paths that fork again before they meet, a joined layer read on another path
as well, three or more tensors added) is a ``graph`` block: the tree cut into named paths at
each fork and at each joined layer, each path reading the block's input or the path that
ends where it starts, ``output`` the joined paths in the merge's order. A layer whose output
is also read outside the region its merge closes (two merges whose paths cross, as in
NASNet's cells) forms no block and is refused at the layer, saying why. Dominators are found
in one pass in topological order (a node's immediate dominator is the nearest common
dominator of its inputs), with explicit loops throughout: no recursion for a deep model to
exhaust, and every step paid from one :class:`~convcalc.budget.Budget`.

A ``MultiHeadAttention`` called on one tensor is one layer on it, self-attention as the
dialect reads it: ``mha(x, x)``, ``mha(x, x, x)``, ``mha(query=x, value=x, key=x)`` (its call's
arguments named by Keras' signature, in order or by keyword), ``use_causal_mask`` and
``training`` read as changing no size; its config's ``value_dim`` equal to ``key_dim`` and
``attention_axes`` ``[1]`` (what Keras writes for the defaults) left out. Refused at the layer:
cross-attention (value or key another tensor than the query), a mask tensor, and
``return_attention_scores=True`` (a second output).

A model of several inputs or several outputs is refused, naming them: convcalc's networks
have one input and one output (a model of each output, ``keras.Model(inputs, output)``,
imports on its own).

Refused, each at its layer: a class or an argument convcalc does not read, a layer called
more than once (shared weights), several inputs or outputs, a layer off every path from the
input to the output, a cycle in ``inbound_nodes``, attention across tensors, and JSON that is
not a Keras model.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from convcalc.budget import Budget, WorkLimit
from convcalc.errors import ConvcalcError, SpecError, shown

__all__ = ["KerasImportError", "from_json", "is_keras_json", "to_yaml"]

Spec = dict[str, Any]
STEPS = 2_000_000  # the import's budget: far beyond the largest Keras application

MODELS = ("Sequential", "Functional", "Model")
MERGES = ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate")
JOINS = {  # a merge's join in a graph block (convcalc.layers.blocks.JOINS)
    "Add": "add",
    "Subtract": "subtract",
    "Multiply": "multiply",
    "Average": "average",
    "Maximum": "maximum",
    "Minimum": "minimum",
    "Concatenate": "concat",
}
OPS = "keras.src.ops.numpy"  # the module of ``x + y`` and ``x * 3.0`` in a functional model
# arguments a layer's config holds that the spec's classes do not take, with the values that
# change nothing (None: any value)
IGNORED: dict[str, Any] = {
    "quantization_config": None,
    "lora_rank": None,
    "lora_alpha": None,
    "renorm": False,
    "renorm_clipping": None,
    "renorm_momentum": ...,
    "build_input_shape": ...,
    "sparse": False,
    "ragged": False,
    "optional": False,
    "seed": ...,
}
LARGEST = (1 << 31) - 1  # the largest size of an imported shape
# fields Keras writes as a tuple of one value per spatial dimension, which a spec may write once
DIMS = ("kernel_size", "strides", "dilation_rate", "pool_size", "size")


class KerasImportError(ConvcalcError):
    """JSON that cannot be read as a Keras spec exactly: ``where`` names the layer (its
    position in the model's list, its name and class) and the argument, if one is at fault."""

    def __init__(self, message: str, where: str = "") -> None:
        self.reason = message
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)


def is_keras_json(text: str) -> bool:
    """Whether ``convcalc import`` reads ``text`` as ``model.to_json()`` rather than as
    ``print(model)`` text: any JSON document (an object, a list, a number...), which
    :func:`from_json` reads or refuses as no Keras model. ``print(model)`` text starts with a
    module's class name, so it is never JSON."""
    if text.lstrip()[:1] in ("{", "["):
        return True
    try:
        json.loads(text)
    except (ValueError, RecursionError):
        return False
    return True


@dataclass
class _Node:
    """One layer of a functional model: where it is, what it reads, what it became."""

    name: str
    where: str
    kind: str
    sources: list[str] = field(default_factory=list)
    constants: list[float] = field(default_factory=list)
    items: list[Spec] = field(default_factory=list)
    entry: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Job:
    """A model to read into ``into`` (the spec's layers, or a nested Sequential block's)."""

    entry: dict[str, Any]
    into: list[Spec]
    where: str
    top: bool = False


class _Reader:
    def __init__(self, budget: Budget) -> None:
        self.budget = budget
        self.input: list[int | None] | None = None
        self.formats: set[str] = set()

    # --- one layer ---------------------------------------------------------------------------

    def leaf(self, entry: dict[str, Any], where: str) -> Spec:
        """A layer's spec item: its class, name and the arguments that matter."""
        from convcalc.spec.keras import CLASSES

        cls = entry["class_name"]
        config = entry.get("config")
        if not isinstance(config, dict):
            raise KerasImportError("its config must be a JSON object", where)
        if cls not in CLASSES or cls in MERGES or cls == "Sequential":
            from convcalc.spec.keras import unknown_class

            raise KerasImportError(unknown_class(cls), where)
        model = CLASSES[cls][0]
        if cls == "MultiHeadAttention":
            config = _attention_config(config)
        item: Spec = {"type": cls}
        name = config.get("name")
        if isinstance(name, str):
            item["name"] = name
        for key, value in config.items():
            self.budget.spend()
            if key in ("name", "dtype") or key.endswith(
                ("_initializer", "_regularizer", "_constraint")
            ):
                continue
            if key == "data_format" and isinstance(value, str):
                self.formats.add(value)
                continue
            if key in model.model_fields and key != "type":
                value = _collapse(key, value, cls)
                info = model.model_fields[key]
                if not info.is_required() and _same(value, info.default):
                    continue
                if key == "activation" and value == "linear" and cls != "Activation":
                    continue
                item[key] = value
            elif key in IGNORED and (IGNORED[key] is ... or _same(value, IGNORED[key])):
                continue
            else:
                raise KerasImportError(
                    f"argument {shown(key)} = {_short(value)} is not read by convcalc", where
                )
        return item

    def model_item(self, entry: dict[str, Any], where: str) -> tuple[Spec, _Job]:
        """A model used as a layer: a Sequential block, its layers read by a later job."""
        config = entry.get("config")
        config = config if isinstance(config, dict) else {}
        item: Spec = {"type": "Sequential"}
        if isinstance(config.get("name"), str):
            item["name"] = config["name"]
        item["layers"] = []
        return item, _Job(entry, item["layers"], where)

    # --- a model -----------------------------------------------------------------------------

    def run(self, entry: dict[str, Any]) -> list[Spec]:
        """The spec's layers of the top-level model; nested models read with a queue of jobs."""
        layers: list[Spec] = []
        jobs = [_Job(entry, layers, "", top=True)]
        while jobs:
            job = jobs.pop()
            kind = job.entry.get("class_name")
            if kind == "Sequential":
                jobs.extend(self.sequential(job))
            else:
                jobs.extend(self.functional(job))
        return layers

    def sequential(self, job: _Job) -> Iterator[_Job]:
        config = _config(job.entry, job.where)
        entries = config.get("layers")
        if not isinstance(entries, list):
            raise KerasImportError("a Sequential model's config needs a list of layers", job.where)
        for i, layer in enumerate(entries):
            self.budget.spend()
            where = _where(job.where, i, layer)
            cls = _class(layer, where)
            if cls == "InputLayer":
                if i:
                    raise KerasImportError("an InputLayer after the first layer", where)
                if job.top:
                    self.input = _batch_shape(layer, where)
                continue
            if cls in MODELS:
                item, nested = self.model_item(layer, where)
                job.into.append(item)
                yield nested
            else:
                job.into.append(self.leaf(layer, where))
        shape = config.get("build_input_shape")
        if job.top and self.input is None and isinstance(shape, list):
            self.input = _shape(shape, job.where or "the model", "build_input_shape")

    def functional(self, job: _Job) -> Iterator[_Job]:
        config = _config(job.entry, job.where)
        entries = config.get("layers")
        if not isinstance(entries, list) or not entries:
            raise KerasImportError("a functional model's config needs a list of layers", job.where)
        nodes: dict[str, _Node] = {}
        for i, layer in enumerate(entries):
            self.budget.spend()
            where = _where(job.where, i, layer)
            cls = _class(layer, where)
            name = layer.get("name")
            if name is None:  # older JSON names a layer in its config only
                config_of = layer.get("config")
                name = config_of.get("name") if isinstance(config_of, dict) else None
            if not isinstance(name, str):
                raise KerasImportError("a layer needs its name", where)
            if name in nodes:
                raise KerasImportError(
                    f"the name {shown(name)!r} is taken by an earlier layer", where
                )
            node = _Node(name, where, cls, entry=layer)
            node.sources, node.constants = _inbound(layer, where, self.budget)
            nodes[name] = node
        first = _endpoint(config.get("input_layers"), "input_layers", nodes, job.where)
        last = _endpoint(config.get("output_layers"), "output_layers", nodes, job.where)
        for node in nodes.values():
            for source in node.sources:
                if source not in nodes:
                    raise KerasImportError(
                        f"reads {shown(source)!r}, which is no layer", node.where
                    )
        start = nodes[first]
        if start.kind != "InputLayer":
            raise KerasImportError("the model's input must be an InputLayer", start.where)
        if job.top:
            self.input = _batch_shape(start.entry, start.where)
        nested: list[_Job] = []
        for node in nodes.values():
            self.describe(node, nested)
        job.into.extend(_decompose(nodes, first, last, self.budget))
        return iter(nested)

    def describe(self, node: _Node, nested: list[_Job]) -> None:
        """A node's own item (a leaf, a nested model's block, an op on a number); merges are
        made when their region is reduced."""
        tensors, constants = len(node.sources), len(node.constants)
        module = node.entry.get("module")
        if node.kind == "InputLayer":
            if tensors:
                raise KerasImportError("an InputLayer reads no tensor", node.where)
            return
        if not tensors:
            raise KerasImportError("is called on no tensor: every layer reads one", node.where)
        op = module == OPS or node.kind in MERGES
        if op and node.kind in ("Add", "Multiply") and tensors == 1 and constants == 1:
            item = {"type": f"ops.{node.kind.lower()}", "name": node.name}
            node.items = [item | {"value": node.constants[0]}]
            return
        if constants:
            raise KerasImportError(
                f"reads numbers as well as tensors ({_short(node.constants)}): convcalc reads "
                "an Add or a Multiply of one tensor and one number",
                node.where,
            )
        if node.kind in MERGES and (op or tensors > 1):
            if tensors < 2:
                raise KerasImportError(
                    f"a {node.kind} of one tensor: it joins two or more", node.where
                )
            return
        if tensors > 1:
            raise KerasImportError(
                f"reads {tensors} tensors: convcalc joins tensors with {', '.join(MERGES)} only",
                node.where,
            )
        if node.kind in MODELS:
            item, job = self.model_item(node.entry, node.where)
            node.items = [item]
            nested.append(job)
        else:
            node.items = [self.leaf(node.entry, node.where)]


# --- the graph: merges reduced between them and their dominators ------------------------------


def _decompose(nodes: dict[str, _Node], first: str, last: str, budget: Budget) -> list[Spec]:
    """The chain of spec items from ``first`` (the input, left out) to ``last``: each merge,
    in topological order, made the block of the region between it and its dominator."""
    consumers: dict[str, list[str]] = {name: [] for name in nodes}
    for node in nodes.values():
        for source in node.sources:
            consumers[source].append(node.name)
    order = _topological(nodes, consumers, budget)
    _connected(nodes, consumers, first, last, budget)
    idom = _dominators(nodes, order, first, budget)
    rank = {name: i for i, name in enumerate(nodes)}  # the model's order
    parent: dict[str, str] = {}
    for name in order:
        node = nodes[name]
        if name == first:
            continue
        if len(node.sources) == 1:
            parent[name] = node.sources[0]
            continue
        _reduce(node, idom[name], nodes, parent, consumers, rank, budget)
    items: list[Spec] = []
    name = first
    while name != last:
        budget.spend()
        after = sorted(set(consumers[name]))
        if len(after) != 1:  # a fork left open: every path reaches the output through a merge
            raise KerasImportError(
                "its output is read by several layers never joined", nodes[name].where
            )
        name = after[0]
        items.extend(nodes[name].items)
    return items


def _reduce(
    merge: _Node,
    top: str,
    nodes: dict[str, _Node],
    parent: dict[str, str],
    consumers: dict[str, list[str]],
    rank: dict[str, int],
    budget: Budget,
) -> None:
    """Make ``merge`` the block of the region between it and its dominator ``top``: a
    residual, concat or scale where its inputs are chains back to ``top`` that meet nowhere
    else, a graph block where they fork again or one is read by another; refused where a
    layer of the region is read outside it (a block has one input and one output). The
    region is put in the model's order by ``rank``: O(r log r) for r layers, whatever the
    model's size."""
    region: set[str] = set()
    chains: list[list[str]] | None = []
    for source in merge.sources:
        chain: list[str] = []
        name = source
        while name != top:
            budget.spend()
            if name in region:  # two inputs meet before top: no star of chains
                chains = None
            region.add(name)
            chain.append(name)
            if name not in parent:
                raise KerasImportError(
                    f"is reached from the input around {shown(top)!r}", merge.where
                )  # pragma: no cover - the dominator is on every path
            name = parent[name]
        if chains is not None:
            chains.append(chain[::-1])
    if len(set(merge.sources)) != len(merge.sources):
        chains = None  # one tensor joined twice: the graph's paths name it twice
    inner = sorted(region, key=rank.__getitem__)  # the region, in the model's order
    joined = set(merge.sources)
    for name in inner:
        budget.spend()
        outside = [c for c in consumers[name] if c != merge.name and c not in region]
        if outside:
            raise KerasImportError(
                f"its output is read by {shown(outside[0])!r} as well, outside the block "
                f"that {shown(merge.name)!r} closes (from {shown(top)!r}): a block has one "
                "input and one output, and a graph block joins its paths once, at its end; "
                "paths shared by two merges that do not nest are not expressible as blocks",
                nodes[name].where,
            )
        if chains is not None and name in joined and consumers[name] != [merge.name]:
            chains = None  # joined, and read on another path as well
    item = _block(merge, chains, nodes) if chains is not None else None
    merge.items = [item if item is not None else _graph(merge, top, inner, nodes, parent)]
    parent[merge.name] = top
    kept = [c for c in consumers[top] if c not in region and c != merge.name]
    consumers[top] = [*kept, merge.name]
    for name in inner:
        del nodes[name]
        del consumers[name]


def _block(merge: _Node, chains: list[list[str]], nodes: dict[str, _Node]) -> Spec | None:
    """The nested block a merge closes, its chains (one per input, in order) as lists of
    items: Concatenate's branches; Add, Average, Maximum, Minimum of two: body (the longer)
    and shortcut; Subtract of two: body minus shortcut; Multiply of the input and a chain: a
    scale's body, of two chains: body and shortcut. None where only a graph fits."""
    lists = [[item for name in chain for item in nodes[name].items] for chain in chains]
    item: Spec = {"type": merge.kind, "name": merge.name}
    if merge.kind == "Concatenate":
        _axis(merge, item)
        item["branches"] = lists
        return item
    if len(lists) != 2:
        return None
    if merge.kind == "Multiply" and not all(lists):
        item["body"] = lists[0] or lists[1]
        return item
    long = 0 if merge.kind == "Subtract" or len(lists[0]) > len(lists[1]) else 1
    item["body"] = lists[long]
    if lists[1 - long]:
        item["shortcut"] = lists[1 - long]
    return item


def _axis(merge: _Node, item: Spec) -> None:
    """A Concatenate's ``axis``, written where it is not the default -1."""
    config = merge.entry.get("config")
    axis = config.get("axis") if isinstance(config, dict) else None
    if axis is not None and axis != -1:
        item["axis"] = axis


def _graph(
    merge: _Node, top: str, inner: list[str], nodes: dict[str, _Node], parent: dict[str, str]
) -> Spec:
    """The graph block a merge closes: the region's layers (a tree from ``top``, each merge
    in it one node by now) cut into paths at each fork and at each input of the merge; a
    path is named after its last layer and reads the path ending where it starts (or the
    block's input); ``output`` lists the paths the merge joins, in its order (the block's
    input itself an empty path named after ``top``)."""
    kids: dict[str, list[str]] = {name: [] for name in [top, *inner]}
    for name in inner:
        kids[parent[name]].append(name)
    joined = set(merge.sources)
    paths: list[Spec] = []
    if top in joined:
        paths.append({"name": top, "layers": []})
    todo: list[tuple[str, str | None]] = [(kid, None) for kid in reversed(kids[top])]
    while todo:
        name, source = todo.pop()
        layers: list[Spec] = []
        while True:
            layers.extend(nodes[name].items)
            if len(kids[name]) != 1 or name in joined:
                break
            name = kids[name][0]
        path: Spec = {"name": name}
        if source is not None:
            path["from"] = source
        path["layers"] = layers
        paths.append(path)
        todo.extend((kid, name) for kid in reversed(kids[name]))
    names = {path["name"] for path in paths}
    output: list[str] = []
    taken: set[str] = set()  # the paths in output so far
    for source in merge.sources:
        if source in taken:  # the same tensor joined again: an empty path reading it
            copy, k = source, 1
            while copy in names:
                k += 1
                copy = f"{source}_{k}"
            names.add(copy)
            paths.append({"name": copy, "from": source, "layers": []})
            source = copy
        output.append(source)
        taken.add(source)
    item: Spec = {"type": "graph", "name": merge.name, "join": JOINS[merge.kind]}
    if merge.kind == "Concatenate":
        _axis(merge, item)
    item["paths"] = paths
    item["output"] = output
    return item


def _topological(
    nodes: dict[str, _Node], consumers: dict[str, list[str]], budget: Budget
) -> list[str]:
    """The layers in an order where each comes after what it reads (Kahn's); a cycle in
    ``inbound_nodes`` is refused at a layer on it."""
    waiting = {name: len(node.sources) for name, node in nodes.items()}
    ready = [name for name, count in waiting.items() if count == 0]
    order: list[str] = []
    while ready:
        budget.spend()
        name = ready.pop()
        order.append(name)
        for after in consumers[name]:
            waiting[after] -= 1
            if waiting[after] == 0:
                ready.append(after)
    if len(order) != len(nodes):
        stuck = next(name for name, count in waiting.items() if count)
        raise KerasImportError(
            "is on a cycle of inbound_nodes: a layer reads its own output", nodes[stuck].where
        )
    return order


def _connected(
    nodes: dict[str, _Node], consumers: dict[str, list[str]], first: str, last: str, budget: Budget
) -> None:
    """Every layer on a path from the input to the output."""
    forward, stack = {first}, [first]
    while stack:
        budget.spend()
        for after in consumers[stack.pop()]:
            if after not in forward:
                forward.add(after)
                stack.append(after)
    backward, stack = {last}, [last]
    while stack:
        budget.spend()
        for before in nodes[stack.pop()].sources:
            if before not in backward:
                backward.add(before)
                stack.append(before)
    for name, node in nodes.items():
        if name not in forward:
            raise KerasImportError("is not reached from the model's input", node.where)
        if name not in backward:
            raise KerasImportError("does not lead to the model's output", node.where)


def _dominators(
    nodes: dict[str, _Node], order: list[str], first: str, budget: Budget
) -> dict[str, str]:
    """Each layer's immediate dominator, in topological order: the nearest common dominator
    of its inputs, found by climbing the dominator tree from the deeper of two at a time."""
    idom: dict[str, str] = {first: first}
    depth = {first: 0}
    for name in order:
        if name == first:
            continue
        sources = nodes[name].sources
        common = sources[0]
        for other in sources[1:]:
            a, b = common, other
            while a != b:
                budget.spend()
                if depth[a] >= depth[b]:
                    a = idom[a]
                else:
                    b = idom[b]
            common = a
        idom[name] = common
        depth[name] = depth[common] + 1
    return idom


# --- the JSON ------------------------------------------------------------------------------


def _class(entry: Any, where: str) -> str:
    if not isinstance(entry, dict) or not isinstance(entry.get("class_name"), str):
        raise KerasImportError("a layer must be a JSON object with a class_name", where)
    return str(entry["class_name"])


def _config(entry: dict[str, Any], where: str) -> dict[str, Any]:
    config = entry.get("config")
    if not isinstance(config, dict):
        raise KerasImportError("a model's config must be a JSON object", where or "the model")
    return config


def _where(outer: str, index: int, entry: Any) -> str:
    """``layers[12] 'conv1' (Conv2D)``, inside its model's own place if nested."""
    name = cls = None
    if isinstance(entry, dict):
        config = entry.get("config")
        name = entry.get("name") or (config.get("name") if isinstance(config, dict) else None)
        cls = entry.get("class_name")
    text = f"layers[{index}]"
    if isinstance(name, str):
        text += f" {shown(name, 60)!r}"
    if isinstance(cls, str):
        text += f" ({shown(cls, 60)})"
    return f"{outer} › {text}" if outer else text


def _tensor(value: Any, where: str) -> str | None:
    """The layer a serialized tensor comes from (Keras 3's ``__keras_tensor__``), or None."""
    if not isinstance(value, dict) or value.get("class_name") != "__keras_tensor__":
        return None
    config = value.get("config")
    history = config.get("keras_history") if isinstance(config, dict) else None
    if not isinstance(history, list) or len(history) != 3 or not isinstance(history[0], str):
        raise KerasImportError("a tensor's keras_history must be [layer, node, index]", where)
    if history[1:] != [0, 0]:
        raise KerasImportError(
            f"reads output {history[2]} of call {history[1]} of {shown(history[0])!r}: convcalc "
            "reads layers called once, with one output",
            where,
        )
    return history[0]


def _inbound(entry: dict[str, Any], where: str, budget: Budget) -> tuple[list[str], list[float]]:
    """The layers a layer reads (in order) and the numbers it is given, from its one call in
    ``inbound_nodes`` (Keras 3's ``{"args": ..., "kwargs": ...}``, or tf.keras' lists of
    ``[layer, node, index, kwargs]``)."""
    calls = entry.get("inbound_nodes", [])
    if not isinstance(calls, list):
        raise KerasImportError("inbound_nodes must be a list", where)
    if len(calls) > 1:
        raise KerasImportError(
            f"is called {len(calls)} times (one layer, shared weights): convcalc reads a layer "
            "called once",
            where,
        )
    if not calls:
        return [], []
    call = calls[0]
    sources: list[str] = []
    constants: list[float] = []
    if isinstance(call, list) and entry.get("class_name") == "MultiHeadAttention":
        call = _tf_keras_call(call, where)
    if isinstance(call, list):  # tf.keras: [[name, node, index, kwargs], ...]
        for ref in call:
            budget.spend()
            if not isinstance(ref, list) or len(ref) < 3 or not isinstance(ref[0], str):
                raise KerasImportError(
                    "an inbound node must be [layer, node, index, kwargs]", where
                )
            sources.append(str(_tensor(_history(ref[:3]), where)))
        return sources, constants
    if not isinstance(call, dict) or not isinstance(call.get("args", []), list):
        raise KerasImportError("an inbound node must be {args: [...], kwargs: {...}}", where)
    if entry.get("class_name") == "MultiHeadAttention":
        return [_attention_call(call, where, budget)], constants
    args: list[Any] = list(call.get("args", []))
    if args and isinstance(args[0], list):  # a merge: its tensors as one list
        args = [*args[0], *args[1:]]
    for value in args:
        budget.spend()
        source = _tensor(value, where)
        if source is not None:
            sources.append(source)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise KerasImportError(f"is given the number {value}: not finite", where)
            constants.append(float(value))
        else:
            raise KerasImportError(f"is called on {_short(value)}: not a tensor or a number", where)
    kwargs = call.get("kwargs", {})
    if not isinstance(kwargs, dict):
        raise KerasImportError("an inbound node's kwargs must be a JSON object", where)
    for key, value in kwargs.items():
        budget.spend()
        if _tensor(value, where) is not None or isinstance(value, list):
            raise KerasImportError(
                f"is given a tensor as {shown(key)}=: convcalc reads tensors passed in order", where
            )
    return sources, constants


# MultiHeadAttention.call's arguments, in order: the tensors, the masks, the flags
ATTENTION_CALL = (
    "query",
    "value",
    "key",
    "query_mask",
    "value_mask",
    "key_mask",
    "attention_mask",
    "return_attention_scores",
    "training",
    "use_causal_mask",
)


def _attention_call(call: dict[str, Any], where: str, budget: Budget) -> str:
    """The one tensor a MultiHeadAttention call reads: ``mha(x, x)``, ``mha(x, x, x)`` or
    ``mha(query=x, value=x, key=x)``, positional arguments named by ``ATTENTION_CALL`` (Keras'
    signature). Read: query = value (= key) one tensor, ``use_causal_mask`` and ``training``
    (they change no size). Refused: cross-attention (another tensor as value or key), a
    mask tensor (another input), ``return_attention_scores=True`` (a second output)."""
    args, kwargs = call.get("args", []), call.get("kwargs", {})
    if not isinstance(kwargs, dict):
        raise KerasImportError("an inbound node's kwargs must be a JSON object", where)
    if len(args) > len(ATTENTION_CALL):
        raise KerasImportError(
            f"is called with {len(args)} arguments: MultiHeadAttention takes at most "
            f"{len(ATTENTION_CALL)} ({', '.join(ATTENTION_CALL)})",
            where,
        )
    given: dict[str, Any] = dict(zip(ATTENTION_CALL, args, strict=False))
    for key, value in kwargs.items():
        budget.spend()
        if key not in ATTENTION_CALL:
            raise KerasImportError(
                f"is given {shown(key)}=, which MultiHeadAttention's call does not take", where
            )
        if key in given:
            raise KerasImportError(f"is given {key} twice, in order and as {key}=", where)
        given[key] = value
    tensors: dict[str, str] = {}
    for role in ("query", "value", "key"):
        value = given.get(role)
        if value is None:
            continue
        source = _tensor(value, where)
        if source is None:
            raise KerasImportError(f"is given {_short(value)} as its {role}: not a tensor", where)
        tensors[role] = source
    if "query" not in tensors or "value" not in tensors:
        raise KerasImportError("is called without its query and value tensors", where)
    if len(set(tensors.values())) > 1:
        roles = " and ".join(f"{role} {shown(name)!r}" for role, name in tensors.items())
        raise KerasImportError(
            f"attends across tensors ({roles}): convcalc's MultiHeadAttention is "
            "self-attention, query = value = key one tensor (mha(x, x)); cross-attention "
            "is not read",
            where,
        )
    for mask in ("query_mask", "value_mask", "key_mask", "attention_mask"):
        if given.get(mask) is not None:
            raise KerasImportError(
                f"is given {mask}= (a tensor besides the query): convcalc reads "
                "MultiHeadAttention on one tensor, without masks (use_causal_mask=True is "
                "read: it changes no size)",
                where,
            )
    scores = given.get("return_attention_scores")
    if scores is not None and scores is not False:
        raise KerasImportError(
            f"return_attention_scores = {_short(scores)}: the attention scores are a second "
            "output, and convcalc reads one output a layer",
            where,
        )
    for flag in ("use_causal_mask", "training"):
        value = given.get(flag)
        if value is not None and not isinstance(value, bool):
            raise KerasImportError(f"{flag} = {_short(value)}: true or false", where)
    return tensors["query"]


def _tf_keras_call(call: list[Any], where: str) -> dict[str, Any]:
    """A tf.keras MultiHeadAttention call (``[[query, node, index, kwargs]]``, tensors in
    ``kwargs`` as ``[layer, node, index]``) in Keras 3's form, ``{args, kwargs}``."""
    refs = []
    kwargs: dict[str, Any] = {}
    for ref in call:
        if not isinstance(ref, list) or len(ref) < 3 or not isinstance(ref[0], str):
            raise KerasImportError("an inbound node must be [layer, node, index, kwargs]", where)
        refs.append(_history(ref[:3]))
        extra = ref[3] if len(ref) > 3 else {}
        if not isinstance(extra, dict):
            raise KerasImportError("an inbound node's kwargs must be a JSON object", where)
        for key, value in extra.items():
            tensor = isinstance(value, list) and len(value) == 3 and isinstance(value[0], str)
            kwargs[key] = _history(value) if tensor else value
    return {"args": refs, "kwargs": kwargs}


def _history(ref: list[Any]) -> dict[str, Any]:
    """A ``[layer, node, index]`` reference as Keras 3 writes a tensor."""
    return {"class_name": "__keras_tensor__", "config": {"keras_history": ref}}


def _endpoint(value: Any, key: str, nodes: dict[str, _Node], where: str) -> str:
    """The one layer ``input_layers`` or ``output_layers`` names."""
    refs = value
    if isinstance(refs, list) and refs and isinstance(refs[0], str):
        refs = [refs]
    if not isinstance(refs, list) or not refs:
        raise KerasImportError(f"{key} must name the model's layer", where or "the model")
    if len(refs) != 1:
        what = "inputs" if key == "input_layers" else "outputs"
        names = [shown(str(r[0]), 40) if isinstance(r, list) and r else "?" for r in refs]
        extra = ", ".join(repr(n) for n in names[1:4]) + (", ..." if len(names) > 4 else "")
        raise KerasImportError(
            f"the model has {len(refs)} {what} ({names[0]!r}, and {extra} besides): convcalc "
            "reads a model of one input and one output (make a model of each output, "
            "keras.Model(inputs, output), and import it on its own)",
            where or "the model",
        )
    ref = refs[0]
    if not isinstance(ref, list) or len(ref) != 3 or not isinstance(ref[0], str):
        raise KerasImportError(f"{key} must be [layer, node, index]", where or "the model")
    if ref[0] not in nodes:
        raise KerasImportError(
            f"{key} names {shown(ref[0])!r}, which is no layer", where or "the model"
        )
    return ref[0]


def _batch_shape(entry: dict[str, Any], where: str) -> list[int | None]:
    config = entry.get("config")
    shape = None
    if isinstance(config, dict):
        shape = config.get("batch_shape", config.get("batch_input_shape"))
    if not isinstance(shape, list):
        raise KerasImportError("an InputLayer needs its batch_shape", where)
    return _shape(shape, where, "batch_shape")


def _shape(shape: list[Any], where: str, key: str) -> list[int | None]:
    """A batch shape without its batch: each size a positive integer or None (unknown)."""
    sizes = shape[1:]
    integer = [v for v in sizes if isinstance(v, int) and not isinstance(v, bool)]
    if not sizes or not all(v is None or (v in integer and v > 0) for v in sizes):
        raise KerasImportError(f"{key} {_short(shape)} must be sizes ≥ 1 (or null)", where)
    if large := [v for v in integer if v > LARGEST]:
        raise KerasImportError(
            f"{key} {_short(shape)}: {_short(large[0])} is too large (an imported size is at "
            f"most 2^31 − 1 = {LARGEST:,})",
            where,
        )
    return list(sizes)


def _collapse(key: str, value: Any, cls: str) -> Any:
    """A value as a spec writes it: a tuple of equal sizes once (``[3, 3]`` → 3), an axis
    given as a list of one (``[-1]`` → -1)."""
    if (
        key in DIMS
        and isinstance(value, list)
        and value
        and all(v == value[0] for v in value)
        and isinstance(value[0], int)
        and not isinstance(value[0], bool)
    ):
        return value[0]
    if key == "axis" and isinstance(value, list) and len(value) == 1:
        return value[0]
    return value


def _attention_config(config: dict[str, Any]) -> dict[str, Any]:
    """A built MultiHeadAttention's config as the dialect's arguments: Keras writes
    ``value_dim`` = ``key_dim`` and ``attention_axes`` = ``[1]`` (the steps of a (batch,
    steps, features) query, the only query the dialect reads) where they were left out, and
    ``output_shape`` as a list; those defaults are left out, an output size of one written
    once."""
    config = dict(config)
    if "key_dim" in config and _same(config.get("value_dim"), config["key_dim"]):
        del config["value_dim"]
    axes = config.get("attention_axes")
    if isinstance(axes, list) and len(axes) == 1:
        axes = axes[0]
    if "attention_axes" in config and _same(axes, 1):
        del config["attention_axes"]
    out = config.get("output_shape")
    if isinstance(out, list) and len(out) == 1:
        config["output_shape"] = out[0]
    return config


def _same(value: Any, default: Any) -> bool:
    """Whether a value is the default: equal, and a number only to a number (True is not 1)."""
    if isinstance(value, bool) or isinstance(default, bool):
        return value is default
    if isinstance(value, int | float) and isinstance(default, int | float):
        return value == default
    return type(value) is type(default) and bool(value == default)


def _short(value: Any) -> str:
    text = json.dumps(value) if not isinstance(value, str) else repr(value)
    return shown(text, 60)


# --- the whole -------------------------------------------------------------------------------


def from_json(
    text: str,
    name: str,
    input_shape: tuple[int, ...] | None = None,
    budget: Budget | None = None,
) -> Spec:
    """The Keras spec of ``model.to_json()``'s text: ``framework: keras``, its name, its input
    (Keras' shape without the batch; ``input_shape`` fills or overrides it), its layers.
    :class:`KerasImportError` names the layer and says why where the JSON cannot be read
    exactly; :class:`~convcalc.budget.WorkLimit` past the budget."""
    budget = budget or Budget(STEPS, "the model is too large to import")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise KerasImportError(
            f"not JSON: {exc.msg}", f"line {exc.lineno}, column {exc.colno}"
        ) from None
    except (RecursionError, ValueError) as exc:
        why = "nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise KerasImportError(f"not JSON convcalc reads: {shown(why, 120)}") from None
    if not isinstance(data, dict) or data.get("class_name") not in MODELS:
        kind = data.get("class_name") if isinstance(data, dict) else None
        what = f", not {_short(kind)}" if kind is not None else ""
        if not isinstance(data, dict):
            what = f"; this JSON is {_JSON_KINDS.get(type(data), 'a value')}, not an object"
        raise KerasImportError(
            "not a Keras model: model.to_json() writes an object whose class_name is "
            f"{', '.join(MODELS)}{what}"
        )
    reader = _Reader(budget)
    try:
        layers = reader.run(data)
    except WorkLimit:
        raise
    except RecursionError:  # pragma: no cover - every walk here is a loop
        raise KerasImportError("nested too deeply") from None
    shape = list(reader.input or [])
    if input_shape is not None:
        if shape and len(input_shape) != len(shape):
            raise KerasImportError(
                f"--input has {len(input_shape)} sizes, but the model's input has {len(shape)}"
            )
        shape = list(input_shape)
    if not shape or any(v is None for v in shape):
        raise KerasImportError(
            f"the model's input {_short(shape)} leaves sizes open: give them (--input 224,224,3)"
        )
    spec: Spec = {"name": name, "framework": "keras"}
    if reader.formats == {"channels_first"}:
        spec["data_format"] = "channels_first"
    spec["input"] = shape
    spec["layers"] = layers
    _check_values(spec)
    _check(spec)
    return spec


_JSON_KINDS = {list: "a list", str: "a string", int: "a number", float: "a number"}
_JSON_KINDS |= {bool: "true or false", type(None): "null"}


def values(spec: Any, stop: int | None = None) -> int:
    """How many values the spec's YAML holds, as the reader counts them
    (:data:`~convcalc.spec.document.MAX_NODES`): one per scalar, key, list and mapping;
    counting stops once past ``stop``."""
    count, todo = 0, [spec]
    while todo and (stop is None or count <= stop):
        item = todo.pop()
        count += 1
        if isinstance(item, dict):
            count += len(item)  # the keys
            todo.extend(item.values())
        elif isinstance(item, list | tuple):
            todo.extend(item)
    return count


def _check_values(spec: Spec) -> None:
    """Refuse a spec too large for the reader to read back: more than
    :data:`~convcalc.spec.document.MAX_NODES` values (:func:`values`)."""
    from convcalc.spec.document import MAX_NODES

    if values(spec, MAX_NODES) > MAX_NODES:
        raise KerasImportError(
            f"the spec would hold more than {MAX_NODES:,} values ({len(spec['layers']):,} "
            "layers at the top), more than convcalc reads from a spec file: it could not be "
            "read back"
        )


def _check(spec: Spec) -> None:
    """The spec analysed, a refusal named by the Keras layer it comes from."""
    from convcalc.analysis import analyse
    from convcalc.spec.validate import load_spec

    try:
        analyse(load_spec(spec))
    except SpecError as exc:
        where = _layer_at(spec, exc.path)
        field = f", argument {exc.field}" if exc.field else ""
        raise KerasImportError(exc.message, f"{where}{field}" if where else "") from None


def _layer_at(spec: Spec, path: str | None) -> str:
    """The name and class of the item a spec path (``layers[3].body[2]``) names."""
    if not path:
        return ""
    item: Any = spec
    for part in path.replace("]", "").replace("[", ".").split("."):
        if not part:
            continue
        try:
            item = item[int(part)] if part.lstrip("-").isdigit() else item[part]
        except (KeyError, IndexError, TypeError):
            break
    if isinstance(item, dict) and "type" in item:
        name = item.get("name")
        label = f"{shown(str(name), 60)!r} " if name else ""
        return f"layer {label}({shown(str(item['type']), 60)})"
    return path


HEADER = """\
# Imported by convcalc from a Keras model's JSON (model.to_json()): each layer with its name
# and the arguments that change a shape or a parameter count (initializers, regularizers,
# constraints and dtypes are left out); a functional model's merges as blocks (Add, Subtract,
# Average, Maximum, Minimum: body and shortcut, Concatenate: branches, Multiply: body), each
# closing the paths from the layer every path to it passes through, or as a graph block of
# named paths where those paths fork again or reuse an earlier branch.
"""


def to_yaml(spec: Spec, header: str = HEADER) -> str:
    """The spec as YAML text: the ``header`` comment, name, framework, input, then one layer
    per line in flow style, blocks in block style with their lists indented beneath (an
    explicit stack)."""
    from convcalc.frameworks.torch.importer import spec_yaml

    return spec_yaml(spec, header, lists=_lists, note=lambda item: "")


def _lists(item: Any) -> tuple[str, ...]:
    """The fields of an imported item that hold lists of layers (a Sequential's, a merge's)."""
    return tuple(key for key in ("layers", "body", "shortcut", "branches", "paths") if key in item)
