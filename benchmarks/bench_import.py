"""Speed of ``convcalc import`` on Keras merges, as ratios against a chain of the same
layers imported in the same run.

An ``Add`` of n branches (n 1×1 Conv2D, each reading the input), and n/2 residual blocks
(x + Conv2D(x), n layers in all), against a chain of n 1×1 Conv2D (each reading the one
before): the same number of layers, one merge or n/2 merges instead of none. Each is
imported in-process (``from_json``: read the JSON, take the graph apart, write and analyse the
spec; the best of 3), then the written spec read back and analysed as ``convcalc shape`` does
(``load_spec`` + ``analyse``). Printed per n: the seconds, the microseconds per layer, and the
wide / chain ratio. Work linear in n keeps both the per-layer time and the ratio flat as n
doubles; a quadratic step (a join that named every path before each one) shows as a ratio
that doubles with n (so did the residual chain's, when each merge scanned every layer).

Run: ``python benchmarks/bench_import.py [N...]`` (default 500 1000 2000 4000). Nothing here
is asserted; it prints.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from timing import best_of, machine_note

from convcalc.analysis import analyse
from convcalc.frameworks.keras.importer import from_json, to_yaml
from convcalc.spec.validate import load_spec


def tensor(name: str) -> dict[str, Any]:
    return {"class_name": "__keras_tensor__", "config": {"keras_history": [name, 0, 0]}}


def conv(name: str, source: str) -> dict[str, Any]:
    return {
        "class_name": "Conv2D",
        "name": name,
        "config": {"name": name, "filters": 3, "kernel_size": [1, 1]},
        "inbound_nodes": [{"args": [tensor(source)], "kwargs": {}}],
    }


def model(layers: list[dict[str, Any]], last: str) -> str:
    first = {
        "class_name": "InputLayer",
        "name": "in",
        "config": {"name": "in", "batch_shape": [None, 8, 8, 3]},
        "inbound_nodes": [],
    }
    config = {
        "name": "m",
        "layers": [first, *layers],
        "input_layers": ["in", 0, 0],
        "output_layers": [last, 0, 0],
    }
    return json.dumps({"class_name": "Functional", "config": config})


def wide(n: int) -> str:
    """An Add of n Conv2D branches on the input."""
    convs = [conv(f"c{i}", "in") for i in range(n)]
    add: dict[str, Any] = {"class_name": "Add", "name": "out", "config": {"name": "out"}}
    add["inbound_nodes"] = [{"args": [[tensor(f"c{i}") for i in range(n)]], "kwargs": {}}]
    return model([*convs, add], "out")


def chain(n: int) -> str:
    """n Conv2D, each on the one before."""
    return model([conv(f"c{i}", "in" if i == 0 else f"c{i - 1}") for i in range(n)], f"c{n - 1}")


def residual(n: int) -> str:
    """n/2 blocks x + Conv2D(x), each block's Add the next one's input."""
    items: list[dict[str, Any]] = []
    last = "in"
    for i in range(n // 2):
        items.append(conv(f"c{i}", last))
        add: dict[str, Any] = {"class_name": "Add", "name": f"a{i}", "config": {"name": f"a{i}"}}
        add["inbound_nodes"] = [{"args": [[tensor(f"c{i}"), tensor(last)]], "kwargs": {}}]
        items.append(add)
        last = f"a{i}"
    return model(items, last)


def timed(text: str) -> tuple[float, float]:
    """Seconds to import ``text``, and to read and analyse the spec written."""
    written = to_yaml(from_json(text, "net"))
    imported = best_of(lambda: from_json(text, "net"), repeat=3)
    shaped = best_of(lambda: analyse(load_spec(written)), repeat=3)
    return imported, shaped


def main(sizes: list[int]) -> None:
    print(machine_note())
    from_json(chain(10), "warm-up")  # the first import loads the Keras dialect's modules
    for merged in (wide, residual):
        print(f"{merged.__name__}: {merged.__doc__}")
        print(f"{'n':>6} {'import':>12} {'chain':>8} {'ratio':>6} {'µs/layer':>9}   "
              f"{'shape':>10} {'chain':>8} {'ratio':>6}")  # fmt: skip
        for n in sizes:
            wide_import, wide_shape = timed(merged(n))
            chain_import, chain_shape = timed(chain(n))
            ratio = wide_import / chain_import
            print(
                f"{n:>6} {wide_import:>11.3f}s {chain_import:>7.3f}s {ratio:>6.2f} "
                f"{wide_import / n * 1e6:>9.0f}   {wide_shape:>9.3f}s {chain_shape:>7.3f}s "
                f"{wide_shape / chain_shape:>6.2f}"
            )


if __name__ == "__main__":
    main([int(arg) for arg in sys.argv[1:]] or [500, 1000, 2000, 4000])
