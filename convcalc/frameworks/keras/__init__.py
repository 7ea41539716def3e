"""Keras 3: the export of a report as a Keras model (:mod:`~convcalc.frameworks.keras.export`)."""
