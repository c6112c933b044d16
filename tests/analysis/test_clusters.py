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


COMPILED = """
import os
from core.analysis.clusters import compile_kernels
compile_kernels()
from umap import umap_
kernels = [umap_.fast_knn_indices, umap_.smooth_knn_dist, umap_.compute_membership_strengths]
print([(len(k.signatures) > 0, os.path.exists(k._cache._cache_file._index_path)) for k in kernels])
"""


def test_compile_kernels_leaves_the_kernels_of_a_projection_on_disk():
    """What scripts/setup.sh runs: a tiny projection whose kernels numba writes to its cache."""
    done = subprocess.run([sys.executable, "-c", COMPILED], capture_output=True, text=True,
                          check=True, timeout=600)  # fmt: skip
    assert done.stdout.splitlines()[-1] == str([(True, True)] * 3)
