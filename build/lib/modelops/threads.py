"""Thread limits for native math libraries.

On a 2-core machine OpenMP oversubscription made HistGradientBoosting predictions
about 9x slower, so every compute step runs under an explicit limit.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager

_ENV = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


def set_thread_env(threads: int) -> None:
    """For a process about to start (before numpy/sklearn import): export the limits."""
    for var in _ENV:
        os.environ[var] = str(threads)


@contextmanager
def limit_threads(threads: int) -> Iterator[None]:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads):
        yield
