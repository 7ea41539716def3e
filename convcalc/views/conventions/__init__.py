"""How each popular tool counts multiply-adds, one module per tool.

Every module has ``mult_adds(entry, batch) -> int`` for one leaf of the report (a block counts
its leaves) and, in its docstring, the table of its rules by layer type, read from the tool's
own source. Nothing here imports the tools: they are test oracles only.

- :mod:`~convcalc.views.conventions.torchinfo`: torchinfo 1.8.0 (the default)
- :mod:`~convcalc.views.conventions.fvcore`: fvcore 0.1.5 (``FlopCountAnalysis``, eval mode)
- :mod:`~convcalc.views.conventions.ptflops`: ptflops 0.7.5 (``backend="pytorch"``)
- :mod:`~convcalc.views.conventions.thop`: thop 0.1.1
"""

CONVENTIONS = {
    "torchinfo": "convcalc.views.conventions.torchinfo",
    "fvcore": "convcalc.views.conventions.fvcore",
    "ptflops": "convcalc.views.conventions.ptflops",
    "thop": "convcalc.views.conventions.thop",
}
