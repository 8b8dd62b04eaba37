"""A tiny character-level transformer written on scalar Values, trained with Adam.

Token + position embeddings, RMSNorm, causal multi-head self-attention, a ReLU MLP and
softmax cross-entropy — every number a :class:`~autograd_bp.Value`, every gradient the
chain rule of chapter 2 of Michael Nielsen's "Neural Networks and Deep Learning"
(http://neuralnetworksanddeeplearning.com/chap2.html) applied node by node, as in Matt
Mazur's "A Step by Step Backpropagation Example"
(https://mattmazur.com/2015/03/17/a-step-by-step-backpropagation-example/), only with a
few tens of thousands of nodes per step. The corpus is built in (no download).

The model is written against a small :class:`Engine` (how to sum, take a dot product,
exponentiate, ...), so the benchmarks run the very same code on a closure-per-node
engine of micrograd's design and check that both produce the same losses.

Run: python examples/transformer.py [--steps N] [--seed S]
"""

from __future__ import annotations

import argparse
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from autograd_bp import Value, dot, no_grad, sum_values
from autograd_bp.losses import logsumexp

CORPUS = """\
twinkle twinkle little star
how i wonder what you are
up above the world so high
like a diamond in the sky
when the blazing sun is gone
when he nothing shines upon
then you show your little light
twinkle twinkle all the night
"""


@dataclass(frozen=True)
class Engine:
    """The few operations the model needs, for one autodiff engine."""

    leaf: Callable[[float], Any]
    total: Callable[[list[Any]], Any]  # Σ of a list
    dot: Callable[[Sequence[Any], Sequence[Any]], Any]  # Σ w_i·x_i
    exp: Callable[[Any], Any]
    logsumexp: Callable[[list[Any]], Any]  # log Σ e^z, stable


AUTOGRAD_BP = Engine(Value, sum_values, dot, lambda v: v.exp(), logsumexp)


@dataclass(frozen=True)
class Config:
    """Sizes of the model."""

    n_embd: int = 48
    n_head: int = 4
    block: int = 8  # context length
    mlp: int = 96  # hidden units of the MLP


def vocabulary(text: str = CORPUS) -> list[str]:
    """The characters of the corpus, sorted."""
    return sorted(set(text))


def init_weights(vocab: int, cfg: Config, seed: int = 0) -> dict[str, list[list[float]]]:
    """Plain-float weights (so every engine starts from the same numbers)."""
    rng = random.Random(seed)

    def matrix(rows: int, cols: int, scale: float) -> list[list[float]]:
        return [[rng.gauss(0.0, scale) for _ in range(cols)] for _ in range(rows)]

    d = cfg.n_embd
    return {
        "wte": matrix(vocab, d, 0.3), "wpe": matrix(cfg.block, d, 0.3),
        "wq": matrix(d, d, d**-0.5), "wk": matrix(d, d, d**-0.5), "wv": matrix(d, d, d**-0.5),
        "wo": matrix(d, d, d**-0.5), "fc1": matrix(cfg.mlp, d, d**-0.5),
        "fc2": matrix(d, cfg.mlp, cfg.mlp**-0.5), "head": matrix(vocab, d, d**-0.5),
    }  # fmt: skip


def as_values(weights: dict[str, list[list[float]]], E: Engine) -> dict[str, list[list[Any]]]:
    """The weights as leaves of engine ``E``."""
    return {name: [[E.leaf(v) for v in row] for row in W] for name, W in weights.items()}


def rmsnorm(x: list[Any], E: Engine) -> list[Any]:
    """x / sqrt(mean(x²) + ε)."""
    scale = (E.dot(x, x) * (1.0 / len(x)) + 1e-5) ** -0.5
    return [v * scale for v in x]


def linear(W: list[list[Any]], x: list[Any], E: Engine) -> list[Any]:
    """W·x, one dot product per row."""
    return [E.dot(row, x) for row in W]


def attention(x: list[list[Any]], P: dict[str, Any], cfg: Config, E: Engine) -> list[list[Any]]:
    """Causal multi-head self-attention over the positions of ``x``."""
    q = [linear(P["wq"], h, E) for h in x]
    k = [linear(P["wk"], h, E) for h in x]
    v = [linear(P["wv"], h, E) for h in x]
    size = cfg.n_embd // cfg.n_head
    out = []
    for t in range(len(x)):
        heads: list[Any] = []
        for h in range(cfg.n_head):
            cols = slice(h * size, (h + 1) * size)
            scores = [E.dot(q[t][cols], k[s][cols]) * size**-0.5 for s in range(t + 1)]
            norm = E.logsumexp(scores)
            weights = [E.exp(a - norm) for a in scores]  # softmax over the past
            heads += [E.dot(weights, [v[s][c] for s in range(t + 1)])
                      for c in range(cols.start, cols.stop)]  # fmt: skip
        out.append(linear(P["wo"], heads, E))
    return out


def logits(tokens: Sequence[int], P: dict[str, Any], cfg: Config, E: Engine) -> list[list[Any]]:
    """The next-character logits at every position of ``tokens``."""
    x = [[a + b for a, b in zip(P["wte"][tok], P["wpe"][t])] for t, tok in enumerate(tokens)]
    x = [[a + b for a, b in zip(h, r)]
         for h, r in zip(x, attention([rmsnorm(h, E) for h in x], P, cfg, E))]  # fmt: skip
    for t, h in enumerate(x):
        hidden = [u.relu() for u in linear(P["fc1"], rmsnorm(h, E), E)]
        x[t] = [a + b for a, b in zip(h, linear(P["fc2"], hidden, E))]
    return [linear(P["head"], rmsnorm(h, E), E) for h in x]


def loss(tokens: Sequence[int], targets: Sequence[int], P: dict[str, Any], cfg: Config,
         E: Engine) -> Any:  # fmt: skip
    """Mean softmax cross-entropy of the next character over the positions."""
    terms = [E.logsumexp(z) - z[y] for z, y in zip(logits(tokens, P, cfg, E), targets)]
    return E.total(terms) * (1.0 / len(terms))


def adam(params: list[Any], state: list[np.ndarray], step: int, lr: float = 0.01,
         betas: tuple[float, float] = (0.9, 0.99), eps: float = 1e-8) -> None:  # fmt: skip
    """One Adam step on anything with ``.data`` and ``.grad`` (both engines alike), the
    arithmetic on arrays: the optimizer is not what this example measures."""
    m, v = state
    b1, b2 = betas
    g = np.fromiter([p.grad for p in params], float, len(params))
    data = np.fromiter([p.data for p in params], float, len(params))
    m *= b1
    m += (1 - b1) * g
    v *= b2
    v += (1 - b2) * g * g
    data -= lr * (m / (1 - b1**step)) / (np.sqrt(v / (1 - b2**step)) + eps)
    for p, d in zip(params, data.tolist()):
        p.data = d


def windows(text: str, chars: list[str], block: int, steps: int,
            seed: int) -> list[tuple[list[int], list[int]]]:  # fmt: skip
    """``steps`` random (context, next characters) pairs from the text."""
    rng = random.Random(seed)
    ids = [chars.index(c) for c in text]
    starts = [rng.randrange(len(ids) - block) for _ in range(steps)]
    return [(ids[s : s + block], ids[s + 1 : s + block + 1]) for s in starts]


def train(E: Engine, steps: int, seed: int = 0,
          cfg: Config = Config()) -> tuple[list[float], Any]:  # fmt: skip
    """Train for ``steps`` steps of one window each; returns the losses and the weights."""
    chars = vocabulary()
    P = as_values(init_weights(len(chars), cfg, seed), E)
    params = [p for W in P.values() for row in W for p in row]
    state = [np.zeros(len(params)), np.zeros(len(params))]
    losses = []
    for step, (x, y) in enumerate(windows(CORPUS, chars, cfg.block, steps, seed), start=1):
        out = loss(x, y, P, cfg, E)
        for p in params:
            p.grad = 0.0
        out.backward()
        adam(params, state, step)
        losses.append(out.data)
    return losses, P


def sample(P: dict[str, Any], cfg: Config, prompt: str = "tw", n: int = 40) -> str:
    """Greedy continuation of ``prompt`` (no graph is recorded)."""
    chars = vocabulary()
    ids = [chars.index(c) for c in prompt]
    with no_grad():
        for _ in range(n):
            z = logits(ids[-cfg.block :], P, cfg, AUTOGRAD_BP)[-1]
            ids.append(max(range(len(z)), key=lambda i: z[i].data))
    return "".join(chars[i] for i in ids)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200, help="Adam steps (default 200)")
    parser.add_argument("--seed", type=int, default=0, help="initialisation seed")
    args = parser.parse_args(argv)
    if args.steps < 1:
        parser.error(f"--steps: must be at least 1, got {args.steps}")
    losses, P = train(AUTOGRAD_BP, args.steps, args.seed)
    k = max(1, len(losses) // 10)
    steps = "step" if k == 1 else f"{k} steps"
    print(f"loss: first {steps} {sum(losses[:k]) / k:.3f}, last {steps} "
          f"{sum(losses[-k:]) / k:.3f}")  # fmt: skip
    print(f"sample: {sample(P, Config())!r}")


if __name__ == "__main__":
    main()
