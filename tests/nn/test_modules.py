"""Neuron / Layer / MLP: construction, sharing, naming, saving, and the PyTorch bridge."""

from __future__ import annotations

import json
import math
import multiprocessing
import os
import resource
import stat
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from conftest import require_torch

from autograd_bp import Value
from autograd_bp.nn.losses import half_sse
from autograd_bp.nn.model_file import MAX_MODEL_BYTES
from autograd_bp.nn.modules import MLP, Layer, ModelFileError, Neuron


def seed_network() -> tuple[MLP, dict[str, Value]]:
    p = {
        f"w{i}": Value(v, label=f"w{i}")
        for i, v in enumerate([0.15, 0.20, 0.25, 0.30, 0.40, 0.45, 0.50, 0.55], start=1)
    }
    p["b1"], p["b2"] = Value(0.35, label="b1"), Value(0.60, label="b2")
    net = MLP(
        2,
        [2, 2],
        activation="sigmoid",
        output_activation="sigmoid",
        weights=[
            [[p["w1"], p["w2"]], [p["w3"], p["w4"]]],
            [[p["w5"], p["w6"]], [p["w7"], p["w8"]]],
        ],
        biases=[[p["b1"], p["b1"]], [p["b2"], p["b2"]]],
    )
    return net, p


def test_shared_biases_are_one_parameter_each() -> None:
    net, p = seed_network()
    params = net.parameters()
    assert len(params) == 10 and {v.label for v in params} == set(p)
    names = [n for n, _ in net.named_parameters()]
    assert names[0] == "layers.0.neurons.0.w.0" and "layers.0.neurons.0.b" in names
    assert "layers.0.neurons.1.b" not in names  # shared: listed once, at first use


def test_shared_bias_gradient_sums_over_its_uses() -> None:
    net, p = seed_network()
    out = net([0.05, 0.10])
    half_sse(out, [0.01, 0.99]).backward()
    o1, o2 = out
    # dE/db2 = delta_o1 + delta_o2, each delta = (out - y) * out * (1 - out)
    d1 = (o1.data - 0.01) * o1.data * (1 - o1.data)
    d2 = (o2.data - 0.99) * o2.data * (1 - o2.data)
    assert math.isclose(p["b2"].grad, d1 + d2, rel_tol=1e-12)


def test_layer_returns_value_for_one_neuron_else_list() -> None:
    assert isinstance(Layer(2, 1, seed=0)([1.0, 2.0]), Value)
    assert len(Layer(2, 3, seed=0)([1.0, 2.0])) == 3


def test_activations_by_name_callable_and_per_layer() -> None:
    square = lambda z: z * z  # Nielsen's exercise: any f
    n = Neuron(1, square, weights=[2.0], bias=1.0)
    assert n([3.0]).data == 49.0
    net = MLP(2, [3, 2, 1], activation=["relu", "linear", "sigmoid"], seed=0)
    assert [a.__name__ for a in net.activations] == ["relu", "_linear", "sigmoid"]
    linear_net = MLP(2, [3, 1], activation="linear", seed=3)
    x = [0.3, -0.7]
    # all-linear network = one affine map: output is linear in the input
    a, b = linear_net(x).data, linear_net([2 * v for v in x]).data
    zero = linear_net([0.0, 0.0]).data
    assert math.isclose(b - zero, 2 * (a - zero), rel_tol=1e-12)


@pytest.mark.parametrize(
    "build, words",
    [
        (lambda: MLP(2, [3], activation="swish"), ["swish", "known"]),
        (lambda: MLP(2, [0]), ["nout"]),
        (lambda: Neuron(0), ["nin"]),
        (lambda: MLP(2, [3], init="he"), ["init"]),
        (lambda: Layer(2, 2, weights=[[1.0, 2.0]]), ["weight rows"]),
        (lambda: MLP(2, [3, 1], activation=["tanh"]), ["activations"]),
        (lambda: MLP(2, [3])([1.0]), ["expected 2 inputs"]),
    ],
)
def test_bad_arguments_are_named(build, words) -> None:
    with pytest.raises(ValueError) as info:
        build()
    for w in words:
        assert w in str(info.value)


@pytest.mark.parametrize("init", ["uniform", "normal", "scaled_normal"])
def test_init_is_reproducible_with_seed_and_has_the_right_spread(init: str) -> None:
    a = MLP(200, [50], init=init, seed=7).state_dict()
    assert a == MLP(200, [50], init=init, seed=7).state_dict()
    assert a != MLP(200, [50], init=init, seed=8).state_dict()
    w = np.array([v for k, v in a.items() if ".w." in k])
    expected_std = {"uniform": 1 / math.sqrt(3), "normal": 1.0, "scaled_normal": 1 / math.sqrt(200)}
    assert abs(w.std() / expected_std[init] - 1) < 0.05
    if init == "uniform":
        assert w.min() >= -1 and w.max() <= 1


def test_save_load_round_trips_bit_exactly(tmp_path) -> None:
    net = MLP(3, [4, 2], seed=1)
    path = net.save(tmp_path / "m.json")
    other = MLP(3, [4, 2], seed=2)
    other.load(path)
    assert other.state_dict() == net.state_dict()
    rebuilt = MLP.from_file(path)
    assert rebuilt.state_dict() == net.state_dict()
    assert json.loads(path.read_text())["version"] == 1
    assert not list(tmp_path.glob(".*tmp"))  # no temp file left behind


@pytest.mark.parametrize(
    "content, words",
    [
        (lambda t: t[: len(t) // 2], ["not valid JSON"]),
        (lambda t: "[1, 2]", ["not an autograd_bp model"]),
        (lambda t: t.replace('"version": 1', '"version": 99'), ["version 99"]),
        (lambda t: t.replace('"layers.0.neurons.0.w.0"', '"bogus"'), ["missing", "unexpected"]),
        (
            lambda t: t.replace('"layers.0.neurons.0.b": 0.0', '"layers.0.neurons.0.b": "x"'),
            ["must be a number"],
        ),
    ],
)
def test_corrupt_files_raise_and_change_nothing(tmp_path, content, words) -> None:
    path = MLP(3, [4, 2], seed=1).save(tmp_path / "m.json")
    path.write_text(content(path.read_text()))
    net = MLP(3, [4, 2], seed=5)
    before = net.state_dict()
    with pytest.raises(ModelFileError) as info:
        net.load(path)
    for w in words:
        assert w in str(info.value)
    assert net.state_dict() == before


def test_shape_mismatch_is_refused(tmp_path) -> None:
    path = MLP(3, [4, 2], seed=1).save(tmp_path / "m.json")
    net = MLP(3, [5, 2], seed=1)
    before = net.state_dict()
    with pytest.raises(ModelFileError, match=r"different architecture: nouts \[4, 2\]"):
        net.load(path)
    assert net.state_dict() == before


def test_missing_file_is_a_model_file_error(tmp_path) -> None:
    with pytest.raises(ModelFileError, match="cannot read"):
        MLP(1, [1]).load(tmp_path / "absent.json")


def _in_a_child(work: Callable[[], str], seconds: float = 20.0) -> str:
    """``work()`` in a forked child limited to ``seconds`` and 4 GiB of address space, so a
    regression (blocking on a FIFO, reading /dev/zero forever) fails this test instead of
    hanging the suite or eating the machine's memory."""
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)

    def run() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (4 * 2**30, 4 * 2**30))
        try:
            child.send(work())
        except BaseException as e:  # report whatever happened, to be asserted on
            child.send(f"{type(e).__name__}: {e}")

    proc = ctx.Process(target=run)
    proc.start()
    try:
        if not parent.poll(seconds):
            raise AssertionError(f"still running after {seconds} s (blocked or reading on)")
        return parent.recv()
    finally:
        proc.kill()
        proc.join()


def _load_error(load: Callable[[Path], object], path: Path) -> str:
    try:
        load(path)
    except ModelFileError as e:
        return f"ModelFileError: {e}"
    return "loaded"


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
@pytest.mark.parametrize("load", [MLP.from_file, MLP(1, [1]).load], ids=["from_file", "load"])
@pytest.mark.parametrize("kind", ["fifo", "/dev/zero", "/dev/null", "directory", "loop"])
def test_loading_what_is_not_a_regular_file_is_refused_at_once(tmp_path, load, kind) -> None:
    path = {"fifo": tmp_path / "m.json", "directory": tmp_path, "loop": tmp_path / "m.json"}.get(
        kind, Path(kind)
    )
    if kind == "fifo":
        os.mkfifo(path)
    if kind == "loop":
        path.symlink_to(path.name)
    said = _in_a_child(lambda: _load_error(load, path))
    words = {"fifo": "a FIFO", "/dev/zero": "a character device", "/dev/null": "a character "
             "device", "directory": "a directory", "loop": "symbolic links"}[kind]  # fmt: skip
    assert said.startswith(f"ModelFileError: cannot read model file {str(path)!r}: ")
    assert words in said and "\n" not in said, said


def test_a_model_file_over_the_limit_is_refused_unread(tmp_path) -> None:
    path = MLP(1, [1]).save(tmp_path / "m.json")
    with open(path, "ab") as f:  # a valid file, then a sparse run of spaces... or zeros
        f.truncate(MAX_MODEL_BYTES + 1)
    with pytest.raises(ModelFileError, match=r"over the limit of 67,108,864 bytes"):
        MLP.from_file(path)
    with open(path, "ab") as f:
        f.truncate(MAX_MODEL_BYTES)
    with pytest.raises(ModelFileError, match="not valid JSON"):  # read: the zeros are not JSON
        MLP.from_file(path)


def test_save_writes_through_a_symlink_and_refuses_a_fifo(tmp_path) -> None:
    real = MLP(2, [1], seed=0).save(tmp_path / "real.json")
    link = tmp_path / "link.json"
    link.symlink_to(real.name)
    net = MLP(2, [1], seed=1)
    assert net.save(link) == link and link.is_symlink()
    assert MLP.from_file(real).state_dict() == net.state_dict()
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(OSError, match="pipe.*FIFO"):
        net.save(tmp_path / "pipe")
    assert stat.S_ISFIFO(os.lstat(tmp_path / "pipe").st_mode)


@pytest.mark.parametrize(
    "acts", [["tanh", "linear"], ["relu", "sigmoid"], ["softplus", "leaky_relu"]]
)
def test_to_torch_and_back_agree_in_outputs_and_gradients(acts) -> None:
    torch = require_torch()
    net = MLP(3, [5, 2], activation=acts, seed=4)
    tnet = net.to_torch()
    x = [0.3, -1.2, 0.8]
    out = net(x)
    loss = half_sse(out, [0.5, -0.5])
    loss.backward()
    tout = tnet(torch.tensor([x], dtype=torch.float64))
    (0.5 * ((tout - torch.tensor([[0.5, -0.5]], dtype=torch.float64)) ** 2).sum()).backward()
    for a, b in zip(out, tout[0].tolist()):
        assert math.isclose(a.data, b, rel_tol=1e-10, abs_tol=1e-12)
    linears = [m for m in tnet if isinstance(m, torch.nn.Linear)]
    for layer, lin in zip(net.layers, linears):
        for j, n in enumerate(layer.neurons):
            for k, w in enumerate(n.w):
                assert math.isclose(
                    w.grad, lin.weight.grad[j, k].item(), rel_tol=1e-10, abs_tol=1e-12
                )
            assert math.isclose(n.b.grad, lin.bias.grad[j].item(), rel_tol=1e-10, abs_tol=1e-12)
    back = MLP.from_torch(tnet)
    assert back.state_dict() == net.state_dict()
    assert [a.__name__ for a in back.activations] == [a.__name__ for a in net.activations]


def test_parameters_are_labelled_with_their_names_unless_the_user_labelled_them() -> None:
    net = MLP(2, [2, 1], seed=0)
    labels = [p.label for p in net.parameters()]  # Nielsen's names, layer 1 = the inputs
    assert labels == ["w2_1_1", "w2_1_2", "b2_1", "w2_2_1", "w2_2_2", "b2_2",
                      "w3_1_1", "w3_1_2", "b3_1"]  # fmt: skip
    assert [n for n, _ in net.named_parameters()][-1] == "layers.1.neurons.0.b"  # keys stay
    lone = Neuron(3, seed=0)
    assert [p.label for p in lone.parameters()] == ["w.0", "w.1", "w.2", "b"]
    mine = Value(0.1, label="my_w")
    unnamed = Value(0.2)
    shared = Value(0.3)  # one bias shared by a layer: named once, at first use
    layer_net = MLP(2, [2], weights=[[[mine, unnamed], [0.5, 0.6]]], biases=[shared])
    assert mine.label == "my_w"
    assert unnamed.label == "w2_1_2"
    assert shared.label == "b2"  # the bias layer 2 shares, as Mazur's b1 is
    assert len({p.label for p in layer_net.parameters()}) == len(layer_net.parameters())


def test_the_worked_example_keeps_its_hand_labels() -> None:
    from autograd_bp.textbook.worked import SEED_PARAMETERS, build_network

    net, params = build_network()
    assert sorted(p.label for p in net.parameters()) == sorted(SEED_PARAMETERS)


def _saved(tmp_path, **kwargs):
    net = MLP(2, [3, 1], seed=1, **kwargs)
    return net, net.save(tmp_path / "m.json")


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity", "1e999", "-1e999"])
def test_a_non_finite_weight_in_a_file_is_refused(tmp_path, token) -> None:
    _, path = _saved(tmp_path)
    text = path.read_text()
    value = json.dumps(json.loads(text)["state"]["layers.0.neurons.0.w.0"])
    path.write_text(text.replace(value, token, 1))
    net = MLP(2, [3, 1], seed=5)
    before = net.state_dict()
    for load in (net.load, MLP.from_file):
        with pytest.raises(ModelFileError, match="m.json") as info:
            load(path)
        assert "non-finite" in str(info.value) or "too large" in str(info.value)
    assert net.state_dict() == before


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_load_state_dict_refuses_non_finite_values(bad) -> None:
    net = MLP(1, [1], seed=0)
    state = dict(net.state_dict(), **{"layers.0.neurons.0.b": bad})
    with pytest.raises(ModelFileError, match="must be finite"):
        net.load_state_dict(state)


def test_save_refuses_a_nan_parameter_and_keeps_the_old_file(tmp_path) -> None:
    net, path = _saved(tmp_path)
    before = path.read_bytes()
    net.layers[1].neurons[0].b.data = math.nan
    with pytest.raises(ValueError, match=r"layers\.1\.neurons\.0\.b.*nan"):
        net.save(path)
    assert path.read_bytes() == before and len(list(tmp_path.iterdir())) == 1


def test_save_accepts_numpy_sizes(tmp_path) -> None:
    net = MLP(np.int64(2), np.array([3, 1]), seed=0)
    assert MLP.from_file(net.save(tmp_path / "m.json")).state_dict() == net.state_dict()


def test_load_refuses_a_file_saved_from_another_activation(tmp_path) -> None:
    _, path = _saved(tmp_path, activation="relu")
    tanh_net = MLP(2, [3, 1], seed=5)
    before = tanh_net.state_dict()
    with pytest.raises(ModelFileError, match=r"activations \['relu', 'linear'\].*from_file"):
        tanh_net.load(path)
    assert tanh_net.state_dict() == before
    assert [a.__name__ for a in MLP.from_file(path).activations] == ["relu", "_linear"]


def _corrupt(tmp_path, text: str | bytes):
    path = tmp_path / "m.json"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def _model_doc(config: dict, state: dict) -> str:
    doc = {"format": "autograd_bp.model", "version": 1, "model": "MLP", "config": config}
    return json.dumps(dict(doc, state=state))


@pytest.mark.parametrize(
    "text, words",
    [
        ("[" * 100_000 + "]" * 100_000, ["nested too deeply"]),
        ('{"a": ' * 5000 + "1" + "}" * 5000, ["nested too deeply"]),
        (b'{"format": "\xff\xfe"}', ["not UTF-8"]),
        ('{"version": ' + "9" * 5000 + "}", ["digits"]),
        ('{"format": "autograd_bp.model", "format": "x"}', ["'format' twice"]),
        (
            _model_doc(
                {"nin": 100_000_000, "nouts": [1], "activations": ["linear"], "bias": True},
                {"layers.0.neurons.0.w.0": 0.5},
            ),
            ["100000001 parameters", "state has 1"],
        ),  # fmt: skip
        (
            _model_doc(
                {"nin": 10**17, "nouts": [10**17], "activations": ["tanh"], "bias": True}, {}
            ),
            ["parameters"],
        ),  # fmt: skip
        (
            _model_doc({"nin": 2, "nouts": [[1]], "activations": ["tanh"], "bias": True}, {}),
            ["bad architecture"],
        ),  # fmt: skip
        (
            _model_doc({"nin": 2, "nouts": [1], "activations": [[1]], "bias": True}, {}),
            ["bad architecture"],
        ),  # fmt: skip
        (
            _model_doc({"nin": True, "nouts": [1], "activations": ["tanh"], "bias": 1}, {}),
            ["bad architecture"],
        ),  # fmt: skip
        (
            _model_doc(
                {"nin": 1, "nouts": [1], "activations": ["tanh"], "bias": True},
                {"layers.0.neurons.0.w.0": 1, "layers.0.neurons.0.b": [1]},
            ),
            ["must be a number"],
        ),  # fmt: skip
    ],
)
def test_every_model_file_failure_is_a_model_file_error_naming_the_file(tmp_path, text, words):
    path = _corrupt(tmp_path, text)
    for load in (MLP(1, [1]).load, MLP.from_file):
        with pytest.raises(ModelFileError) as info:
            load(path)
        assert str(path) in str(info.value) and len(str(info.value)) < 400
    for w in words:
        assert w in str(info.value)


def test_from_torch_refuses_a_leaky_relu_with_another_slope() -> None:
    torch = require_torch()
    module = torch.nn.Sequential(torch.nn.Linear(2, 1), torch.nn.LeakyReLU(0.2))
    with pytest.raises(ValueError, match="cannot map"):
        MLP.from_torch(module)


def test_micrograds_nonlin_names_relu_or_linear_and_conflicts_are_refused():
    from autograd_bp.nn.modules import Layer

    assert Neuron(2, nonlin=True).activation.__name__ == "relu"
    assert Neuron(2, False).activation.__name__ == "_linear"  # micrograd's positional nonlin
    assert {n.activation.__name__ for n in Layer(2, 3, nonlin=False).neurons} == {"_linear"}
    assert Neuron(2).activation.__name__ == "tanh"  # ours unless micrograd's init is asked
    assert [a.__name__ for a in MLP(2, [3, 1], init="micrograd").activations] == ["relu", "_linear"]
    with pytest.raises(ValueError, match="activation or micrograd's nonlin, not both"):
        Neuron(2, "tanh", nonlin=True)
    with pytest.raises(TypeError, match="nonlin must be True or False, got str"):
        Layer(2, 2, nonlin="yes")


def test_init_micrograd_follows_pythons_random_seed():
    import random

    random.seed(5)
    a = [p.data for p in MLP(3, [4, 1], init="micrograd").parameters()]
    random.seed(5)
    b = [p.data for p in MLP(3, [4, 1], init="micrograd", seed=123).parameters()]
    assert a == b and len(set(a)) > 2  # numpy's seed plays no part; Python's random does
    assert all(-1 <= w <= 1 for w in a)
