"""Side-by-side benchmarks: autograd_bp vs micrograd 0.1.0 vs PyTorch 0-d tensors.

Run ``python -m benchmarks`` (or ``make bench``); ``--quick`` is a small smoke run.
"""

import os

# Same thread count for every engine: PyTorch is set to one thread when the suite starts;
# numpy's BLAS reads this before numpy is first imported.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
