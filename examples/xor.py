"""XOR with MLP(2, [4, 1]), sigmoid and half_sse — the loss falls below 0.01.

Run: python examples/xor.py [--epochs N]
"""

import argparse

from autograd_bp.nn import MLP
from autograd_bp.nn.datasets import xor
from autograd_bp.nn.train import evaluate, fit
from autograd_bp.optim import SGD


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=2000)
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error(f"--epochs: must be at least 1, got {args.epochs}")
    X, y = xor()
    net = MLP(2, [4, 1], activation="sigmoid", output_activation="sigmoid", seed=0)
    history = fit(net, X, y, loss="half_sse", optimizer=SGD(net.parameters(), lr=2.0),
                  epochs=args.epochs, progress=False)  # fmt: skip
    print(f"final loss {history.loss[-1]:.5f}, accuracy {evaluate(net, X, y, task='binary')}")


if __name__ == "__main__":
    main()
