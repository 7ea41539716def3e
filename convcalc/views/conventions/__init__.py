"""How each popular tool counts multiply-adds, one module per tool.

Every module has ``mult_adds(entry, batch) -> int`` for one leaf of the report (a block counts
its leaves) and, in its docstring, the table of its rules by layer type, read from the tool's
own source. Nothing here imports the tools: they are test oracles only.

- :mod:`~convcalc.views.conventions.convcalc`: convcalc's own (the default): every multiply-add
  of every matrix product, PyTorch's ``FlopCounterMode`` ÷ 2
- :mod:`~convcalc.views.conventions.torchinfo`: torchinfo 1.8.0
- :mod:`~convcalc.views.conventions.fvcore`: fvcore 0.1.5 (``FlopCountAnalysis``, eval mode)
- :mod:`~convcalc.views.conventions.ptflops`: ptflops 0.7.5 (``backend="pytorch"``)
- :mod:`~convcalc.views.conventions.thop`: thop 0.1.1
"""

CONVENTIONS = {
    "convcalc": "convcalc.views.conventions.convcalc",
    "torchinfo": "convcalc.views.conventions.torchinfo",
    "fvcore": "convcalc.views.conventions.fvcore",
    "ptflops": "convcalc.views.conventions.ptflops",
    "thop": "convcalc.views.conventions.thop",
}
