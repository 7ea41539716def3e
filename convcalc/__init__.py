"""convcalc: exact shapes, parameters and inverse solutions for convolutional layer stacks.

The library, imported lazily so that ``import convcalc`` and ``convcalc --help`` stay fast::

    import convcalc
    spec = convcalc.load_spec("resnet18")     # a path, a bundled name, YAML text or a dict
    report = convcalc.analyse(spec)           # the report tree
    report.total_params, report.output_shape, report.to_dict()
    convcalc.solve_layer("conv", 64, 4)       # every (k, s, p, d) taking 64 to 4
    convcalc.solve_stack("five-stages", (7,)) # every assignment of a spec's unknowns
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["analyse", "load_spec", "solve_layer", "solve_stack"]

if TYPE_CHECKING:
    from convcalc.analysis import analyse
    from convcalc.solve.layer import solve_layer
    from convcalc.solve.stack import solve_stack
    from convcalc.spec.validate import load_spec

_WHERE = {
    "analyse": "convcalc.analysis",
    "load_spec": "convcalc.spec.validate",
    "solve_layer": "convcalc.solve.layer",
    "solve_stack": "convcalc.solve.stack",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        from importlib import import_module

        return getattr(import_module(_WHERE[name]), name)
    raise AttributeError(f"module 'convcalc' has no attribute {name!r}")
