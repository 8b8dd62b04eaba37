"""micrograd's demo: moons with MLP(2, [16, 16, 1]), ReLU, hinge loss + L2, full batch.
Writes the decision boundary to a PNG.

Run: python examples/moons.py [--epochs N] [--out moons.png]
"""

import argparse

from autograd_bp.nn import MLP
from autograd_bp.nn.datasets import moons
from autograd_bp.nn.plots import plot_decision_boundary
from autograd_bp.nn.train import evaluate, fit
from autograd_bp.optim import SGD


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--out", default="moons.png")
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error(f"--epochs: must be at least 1, got {args.epochs}")
    X, y = moons(100, 0.1, seed=0, signed=True)
    net = MLP(2, [16, 16, 1], activation="relu", seed=0)
    history = fit(net, X, y, loss="hinge", optimizer=SGD(net.parameters(), lr=0.5),
                  epochs=args.epochs, l2=1e-4, progress=False)  # fmt: skip
    accuracy = evaluate(net, X, y, task="sign")
    path = plot_decision_boundary(net, X, y, args.out)
    print(f"final loss {history.loss[-1]:.4f}, training accuracy {accuracy:.2f}, plot: {path}")


if __name__ == "__main__":
    main()
