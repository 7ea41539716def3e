"""The inverse problem: :mod:`~convcalc.solve.layer` for one layer (``--in N --out M``),
:mod:`~convcalc.solve.stack` for the unknowns of a whole spec, :mod:`~convcalc.solve.format`
for writing single-layer answers. Nothing is imported here: ``convcalc solve`` starts fast.
"""
