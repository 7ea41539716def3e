"""Interchange with the frameworks: PyTorch (:mod:`~convcalc.frameworks.torch.export` writes a
module, :mod:`~convcalc.frameworks.torch.importer` reads ``print(model)`` text), Keras
(:mod:`~convcalc.frameworks.keras.export`), and :mod:`~convcalc.frameworks.pysource`, the
Python source writer and export error both share.
"""
