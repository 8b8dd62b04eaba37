"""Write the buggy reference engines of examples/engines/: each is micrograd_value.py or
microgpt_value.py with one classic bug put in by a small textual edit, one file per
misconception of the grader's catalogue (autograd_bp/check/catalogue.py) and dialect.

    python scripts/make_buggy_engines.py          # rewrite them
    python scripts/make_buggy_engines.py --check  # exit 1 if a committed file is stale

tests/check/test_grade.py grades every one and checks that the committed files are what
this script makes, so a reader can trust that each differs from the correct engine by the
edit named in its docstring and nothing else.
"""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

ENGINES = Path(__file__).resolve().parent.parent / "examples" / "engines"
DIALECTS = ("micrograd", "microgpt")

_TOPO_MICROGRAD = '''    def backward(self):
        # order the nodes so that each comes after everything it depends on
        topo = []
        visited = set()

        def build_topo(v):
            if v not in visited:
                visited.add(v)
                for child in v._prev:
                    build_topo(child)
                topo.append(v)

        build_topo(self)
        self.grad = 1
        for v in reversed(topo):
            v._backward()
'''
_TOPO_MICROGPT = '''    def backward(self):
        topo = []
        visited = set()

        def build_topo(v):
            if v not in visited:
                visited.add(v)
                for child in v._children:
                    build_topo(child)
                topo.append(v)

        build_topo(self)
        self.grad = 1
        for v in reversed(topo):
            for child, local_grad in zip(v._children, v._local_grads):
                child.grad += local_grad * v.grad
'''
_EQ = '''    def __eq__(self, other):  # two Values are "equal" when their numbers are
        return isinstance(other, Value) and self.data == other.data

    def __hash__(self):
        return hash(self.data)

'''
_POW_LOOP = '''        result, n = 1.0, other  # x**n by repeated multiplication
        while n != 0:
            result *= self.data
            n -= 1
'''

# id -> (what the edit does, {dialect: [(old, new), ...]}); each old text occurs exactly once
EDITS: dict[str, tuple[str, dict[str, list[tuple[str, str]]]]] = {
    "assign-instead-of-accumulate": ("every `+=` on a gradient became `=`", {
        "micrograd": [("self.grad += out.grad\n            other.grad += out.grad",
                       "self.grad = out.grad\n            other.grad = out.grad"),
                      ("self.grad += other.data * out.grad\n            other.grad += self.data",
                       "self.grad = other.data * out.grad\n            other.grad = self.data")],
        "microgpt": [("child.grad += local_grad * v.grad", "child.grad = local_grad * v.grad")]}),
    "no-topological-order": ("backward recurses from the output instead of walking a "
                             "topological order", {
        "micrograd": [(_TOPO_MICROGRAD, "    def backward(self):\n        self.grad = 1\n"
                       "        self._backprop()\n\n    def _backprop(self):\n"
                       "        self._backward()\n        for child in self._prev:\n"
                       "            child._backprop()\n")],
        "microgpt": [(_TOPO_MICROGPT, "    def backward(self):\n        self.grad = 1\n"
                      "        self._backprop()\n\n    def _backprop(self):\n"
                      "        for child, local_grad in zip(self._children, self._local_grads):\n"
                      "            child.grad += local_grad * self.grad\n"
                      "            child._backprop()\n")]}),
    "tanh-derivative-from-input": ("tanh's derivative 1 − t² uses the input instead of t", {
        "micrograd": [("(1 - t**2) * out.grad", "(1 - self.data**2) * out.grad")],
        "microgpt": [("(1 - t**2,)", "(1 - self.data**2,)")]}),
    "exp-derivative-from-input": ("exp's derivative uses the input instead of exp(input)", {
        "micrograd": [("self.grad += out.data * out.grad", "self.grad += self.data * out.grad")],
        "microgpt": [("(math.exp(self.data),))", "(self.data,))")]}),
    "pow-missing-exponent": ("the power rule lost its factor n", {
        "micrograd": [("(other * self.data ** (other - 1))", "(self.data ** (other - 1))")],
        "microgpt": [("(other * self.data ** (other - 1),)", "(self.data ** (other - 1),)")]}),
    "sub-sign": ("a − b written out with +1 passed back to b", {
        "micrograd": [("        return self + (-other)\n",
                       "        other = other if isinstance(other, Value) else Value(other)\n"
                       "        out = Value(self.data - other.data, (self, other), \"-\")\n\n"
                       "        def _backward():\n            self.grad += out.grad\n"
                       "            other.grad += out.grad\n\n"
                       "        out._backward = _backward\n        return out\n")],
        "microgpt": [("        return self + (-other)\n",
                      "        other = other if isinstance(other, Value) else Value(other)\n"
                      "        return Value(self.data - other.data, (self, other), (1, 1))\n")]}),
    "div-derivative": ("a / b written out with ∂/∂b = −1/b² (the a is missing)", {
        "micrograd": [("        return self * other**-1\n",
                       "        other = other if isinstance(other, Value) else Value(other)\n"
                       "        out = Value(self.data / other.data, (self, other), \"/\")\n\n"
                       "        def _backward():\n            self.grad += out.grad / other.data\n"
                       "            other.grad += -out.grad / other.data**2\n\n"
                       "        out._backward = _backward\n        return out\n")],
        "microgpt": [("        return self * other**-1\n",
                      "        other = other if isinstance(other, Value) else Value(other)\n"
                      "        return Value(self.data / other.data, (self, other),\n"
                      "                     (1 / other.data, -1 / other.data**2))\n")]}),
    "relu-gate": ("relu passes the gradient through everywhere", {
        "micrograd": [("self.grad += (out.data > 0) * out.grad", "self.grad += out.grad")],
        "microgpt": [("(float(self.data > 0),)", "(1.0,)")]}),
    "missing-reflected-op": ("__rsub__ and __rtruediv__ missing (micrograd) or swapped "
                             "(microgpt)", {
        "micrograd": [("    def __rsub__(self, other):  # other - self\n"
                       "        return other + (-self)\n\n", ""),
                      ("    def __rtruediv__(self, other):  # other / self\n"
                       "        return other * self**-1\n\n", "")],
        "microgpt": [("    def __rsub__(self, other):\n        return other + (-self)\n",
                      "    def __rsub__(self, other):\n        return self + (-other)\n"),
                     ("    def __rtruediv__(self, other):\n        return other * self**-1\n",
                      "    def __rtruediv__(self, other):\n        return self * other**-1\n")]}),
    "topo-by-value-equality": ("Values compare (and hash) by their number", {
        "micrograd": [("    def __repr__(self):", _EQ + "    def __repr__(self):")],
        "microgpt": [("    def backward(self):", _EQ + "    def backward(self):")]}),
    "timeout": ("** computed by a loop that never ends for a negative power", {
        "micrograd": [('        out = Value(self.data**other, (self,), f"**{other}")',
                       _POW_LOOP + '        out = Value(result, (self,), f"**{other}")')],
        "microgpt": [("        return Value(self.data**other, (self,),",
                      _POW_LOOP + "        return Value(result, (self,),")]}),
    "memory-limit": ("each + node keeps the text of its whole expression, which doubles in "
                     "length when a node is added to itself", {
        "micrograd": [("        self._op = _op\n",
                       "        self._op = _op\n"
                       "        self.text = str(data)  # what it computes\n"),
                      ('        out = Value(self.data + other.data, (self, other), "+")\n',
                       '        out = Value(self.data + other.data, (self, other), "+")\n'
                       '        out.text = f"({self.text} + {other.text})"\n')],
        "microgpt": [('__slots__ = ("data", "grad", "_children", "_local_grads")',
                      '__slots__ = ("data", "grad", "_children", "_local_grads", "text")'),
                     ("        self._local_grads = local_grads\n",
                      "        self._local_grads = local_grads\n"
                      "        self.text = str(data)  # what it computes\n"),
                     ("        return Value(self.data + other.data, (self, other), (1, 1))\n",
                      "        out = Value(self.data + other.data, (self, other), (1, 1))\n"
                      '        out.text = f"({self.text} + {other.text})"\n'
                      "        return out\n")]}),
    "crash": ("exp passes the Value itself to math.exp", {
        "micrograd": [("Value(math.exp(self.data), (self,), \"exp\")",
                       "Value(math.exp(self), (self,), \"exp\")")],
        "microgpt": [("return Value(math.exp(self.data), (self,),",
                      "return Value(math.exp(self), (self,),")]}),
}  # fmt: skip


def file_name(dialect: str, misconception: str) -> str:
    return f"{dialect}_{misconception.replace('-', '_')}.py"


def buggy_source(dialect: str, misconception: str) -> str:
    """The correct engine of ``dialect`` with the edits of ``misconception`` applied."""
    what, edits = EDITS[misconception]
    source = (ENGINES / f"{dialect}_value.py").read_text(encoding="utf-8")
    code = source.split('"""\n\n', 1)[1]  # the code after the module docstring
    for old, new in edits[dialect]:
        if code.count(old) != 1:
            raise ValueError(f"{misconception}/{dialect}: {old!r} occurs {code.count(old)} times")
        code = code.replace(old, new)
    header = [f"A {dialect}-style engine with one classic bug, for `autograd-bp grade` to name: "
              f"`{misconception}`.", "", f"Made from {dialect}_value.py by "
              f"scripts/make_buggy_engines.py; the one change: {what}."]
    wrapped = [textwrap.wrap(part, 92, break_on_hyphens=False) or [""] for part in header]
    lines = [line for part in wrapped for line in part]
    return '"""' + "\n".join(lines) + '\n"""\n\n' + code


def main(argv: list[str]) -> int:
    stale = []
    for misconception in EDITS:
        for dialect in DIALECTS:
            path = ENGINES / file_name(dialect, misconception)
            text = buggy_source(dialect, misconception)
            if "--check" in argv:
                if not path.exists() or path.read_text(encoding="utf-8") != text:
                    stale.append(path.name)
            else:
                path.write_text(text, encoding="utf-8")
    if stale:
        print("stale: " + ", ".join(stale), file=sys.stderr)
    return 1 if stale else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
