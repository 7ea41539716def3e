"""convcalc: exact shapes, parameters and inverse solutions for convolutional layer stacks.

The package root imports nothing, so that ``convcalc --help`` and ``convcalc solve`` start fast.
"""

__version__ = "0.1.0"
