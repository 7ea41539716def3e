"""Pure-Python forward + backward of an MNIST-sized MLP, against the same computation in NumPy.

d = 784, d_h = 256, d_o = 10: convcalc.reference.MLP.gradients against a NumPy version of the same
formulas, run in the same process (NumPy is used here only). Prints times and the ratio.
Run: ``python benchmarks/bench_reference.py`` (needs numpy).
"""

from __future__ import annotations

import random

from timing import best_of

from convcalc.reference import MLP


def main() -> None:
    import numpy as np

    d, d_h, d_o = 784, 256, 10
    model = MLP.random(d, d_h, d_o, seed=0)
    rng = random.Random(1)
    x = [rng.random() for _ in range(d)]
    y = 3

    W1, b1 = np.array(model.W1), np.array(model.b1)
    W2, b2 = np.array(model.W2), np.array(model.b2)
    xn = np.array(x)

    def numpy_pass() -> tuple[object, ...]:
        h_a = W1 @ xn + b1
        h_s = np.where(h_a > 0, h_a, np.expm1(np.minimum(h_a, 0)))
        o_a = W2 @ h_s + b2
        e = np.exp(o_a - o_a.max())
        o_s = e / e.sum()
        g_oa = o_s.copy()
        g_oa[y] -= 1
        g_hs = W2.T @ g_oa
        g_ha = g_hs * np.where(h_a > 0, 1.0, np.exp(np.minimum(h_a, 0)))
        return np.outer(g_oa, h_s), g_oa, np.outer(g_ha, xn), g_ha, W1.T @ g_ha

    ours = model.gradients(x, y)
    theirs = numpy_pass()
    assert np.allclose(theirs[2], np.array(ours.W1)) and np.allclose(theirs[4], ours.x)

    t_py = best_of(lambda: model.gradients(x, y))
    t_fw = best_of(lambda: model.forward(x))
    t_np = best_of(numpy_pass, 50)
    print(
        f"MLP 784→256→10, one forward + backward: pure Python {t_py * 1e3:.1f} ms "
        f"(forward alone {t_fw * 1e3:.1f} ms), NumPy {t_np * 1e3:.3f} ms: "
        f"ratio {t_py / t_np:.0f}×"
    )


if __name__ == "__main__":
    main()
