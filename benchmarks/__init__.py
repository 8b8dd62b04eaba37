"""Side-by-side benchmarks: autograd_bp vs micrograd 0.1.0 vs PyTorch 0-d tensors.

Run ``python -m benchmarks`` (or ``make bench``); ``--quick`` is a small smoke run.
"""
