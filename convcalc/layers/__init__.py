"""The layer types a spec may use: one pydantic class per leaf type, in the module of its family
(conv, pool, norm, linear, reshape, dropout, activation, ...), the composites in
:mod:`~convcalc.layers.blocks`, the field types in :mod:`~convcalc.layers.fields`, and every
type's facts in one table, :mod:`~convcalc.layers.registry`. Nothing is imported here.
"""
