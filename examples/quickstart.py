"""Build an expression, back-propagate, print every gradient.

Run: python examples/quickstart.py
"""

from autograd_bp import Value, backward_order


def main() -> None:
    x1, x2 = Value(0.05, label="x1"), Value(0.10, label="x2")
    w1, w2, b1 = Value(0.15, label="w1"), Value(0.20, label="w2"), Value(0.35, label="b1")
    net = w1 * x1 + w2 * x2 + b1
    net.label = "net_h1"
    out = net.sigmoid()
    out.label = "out_h1"
    out.backward()
    print(f"{out.label} = {out.data:.9f}")
    for node in backward_order(out):
        if node.label:
            print(f"  d{out.label}/d{node.label} = {node.grad:.9f}")


if __name__ == "__main__":
    main()
