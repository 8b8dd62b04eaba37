"""Handwritten digits (scikit-learn's 1,797 8×8 images) with MLP(64, [32, 10]) and softmax
cross-entropy on the scalar engine; prints test accuracy and seconds per epoch.

Run: python examples/digits.py [--epochs N] [--train-size N]
"""

import argparse

from autograd_bp.nn import MLP
from autograd_bp.nn.datasets import digits
from autograd_bp.nn.train import evaluate, fit
from autograd_bp.optim import Adam


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--train-size", type=int, default=None, help="use the first N examples")
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error(f"--epochs: must be at least 1, got {args.epochs}")
    if args.train_size is not None and args.train_size < 1:
        parser.error(f"--train-size: must be at least 1, got {args.train_size}")
    X_train, X_test, y_train, y_test = digits(0.2, seed=0)
    if args.train_size:
        X_train, y_train = X_train[: args.train_size], y_train[: args.train_size]
    net = MLP(64, [32, 10], activation="tanh", init="scaled_normal", seed=0)
    history = fit(net, X_train, y_train, loss="cross_entropy",
                  optimizer=Adam(net.parameters(), lr=0.01), epochs=args.epochs, batch_size=32,
                  progress=True)  # fmt: skip
    per_epoch = sum(history.seconds) / len(history.seconds)
    print(f"test accuracy {evaluate(net, X_test, y_test):.4f}, {per_epoch:.2f} s per epoch "
          f"({len(X_train)} training examples)")  # fmt: skip


if __name__ == "__main__":
    main()
