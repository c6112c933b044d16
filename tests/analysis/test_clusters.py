"""core.analysis.clusters: umap's numba kernels are cached on disk, so a fresh process (each map
the dashboard computes runs in one) does not compile them again."""

import subprocess
import sys

PROBE = """
import numba
from core.analysis.clusters import load_umap
load_umap()
from umap import umap_
kernels = [umap_.fast_knn_indices, umap_.smooth_knn_dist, umap_.compute_membership_strengths]
print(sorted({type(k._cache).__name__ for k in kernels}))
print(numba.njit.__module__, numba.jit.__module__)
"""


def test_umap_kernels_are_cached_and_numba_is_left_as_it_was():
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                          check=True, timeout=600)  # fmt: skip
    cache, decorators = done.stdout.splitlines()[-2:]
    assert cache == "['FunctionCache']"  # not NullCache: numba keeps the machine code
    assert decorators == "numba.core.decorators numba.core.decorators"  # restored after import
