"""Seeds decide everything: a static scan of every file under ``src/`` for random draws that bypass the caller's seed.

The rule (docs/architecture.md, "Conventions"): every random draw takes a ``torch.Generator`` (or a numpy
``Generator``) made from the caller's seed, and the caller's global RNG is neither read nor changed. Where an API
takes no generator (parameter initialisation, dropout, ``torch.distributions``/zuko sampling) it runs inside
:func:`genlab.rng.forked`. The scan flags:

- torch draws (``torch.randn``, ``rand``, ``randint``, ``randperm``, ``normal``, ``bernoulli``, ``multinomial``,
  ``poisson``, the ``*_like`` forms, and in-place ``Tensor.normal_``/``uniform_``/... methods) without ``generator=``
  (``*_like`` forms take none at all: use :mod:`genlab.rng`);
- numpy's global RNG (``np.random.<draw>``), and ``np.random.default_rng()``/``SeedSequence()`` without a seed;
- Python's ``random`` module;
- ``torch.manual_seed``/``torch.seed``/``fork_rng`` and friends (global state);
- ``.sample(...)``/``.rsample(...)`` that pass neither a seed nor a generator, outside a ``with forked(...)`` block;
- draws whose generator can be None (:func:`scan_nullable`): a parameter named like a generator that defaults to
  None and reaches a draw (``generator=`` of a torch draw, the generator argument of a :mod:`genlab.rng` draw, or any
  positional argument, which by genlab's convention fills a required generator parameter) before it is rebound
  (``generator = make_generator(seed)``); a ``None`` literal as a draw's generator. torch draws with
  ``generator=None`` use the global RNG, so public helpers either require a generator or take a seed and make one.
  Forwarding by keyword (``f(..., generator=generator)``) is checked where ``f`` is defined.

Each exception is listed in ``ALLOWED`` with its justification.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src"

# (path relative to src/, enclosing function) -> why the flagged call there is fine
ALLOWED: dict[tuple[str, str], str] = {
    ("genlab/rng.py", "derive_seed"): "seed=None: a fresh seed from OS entropy (SeedSequence()), never the global RNG",
    ("genlab/rng.py", "forked"): "the one place that seeds the global RNG, inside torch.random.fork_rng",
    ("genlab/training/loop.py", "capture"): "resume state: the forked global RNG (seeded from the fit seed; dropout)",
    ("genlab/training/loop.py", "restore"): "resume: restores that forked global RNG state inside the fit's fork",
    ("genlab/nn/transformer.py", "__init__"): "parameter initialisation: models build inside rng.forked(seed)",
    ("genlab/nn/transformer.py", "_init"): "parameter initialisation: models build inside rng.forked(seed)",
}


TORCH_DRAWS = {"randn", "rand", "randint", "randperm", "normal", "bernoulli", "multinomial", "poisson",
               "binomial"}
LIKE_DRAWS = {"randn_like", "rand_like", "randint_like"}
INPLACE_DRAWS = {"normal_", "uniform_", "bernoulli_", "random_", "exponential_", "cauchy_", "log_normal_",
                 "geometric_"}
GLOBAL_STATE = {"manual_seed", "seed", "initial_seed", "set_rng_state", "get_rng_state", "fork_rng",
                "manual_seed_all", "seed_all"}
NUMPY_SEEDED = {"default_rng", "SeedSequence", "Generator", "PCG64", "Philox", "SFC64", "MT19937", "BitGenerator"}


def _dotted(node: ast.AST) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
    elif isinstance(node, ast.Call):
        parts.append(_dotted(node.func) + "()")
    return ".".join(reversed(parts))


def _has_kw(call: ast.Call, *names: str) -> bool:
    return any(k.arg in names or k.arg is None for k in call.keywords)  # k.arg None: **kwargs may carry it


def _passes_generator_positionally(call: ast.Call) -> bool:
    return any(isinstance(a, ast.Name) and (a.id in ("g", "gen", "rng") or "generator" in a.id) for a in call.args)


def _problem(call: ast.Call) -> str | None:
    name = _dotted(call.func)
    head, _, last = name.rpartition(".")
    if head in ("torch", "torch.random", "torch.cuda", "torch.mps"):
        if last in LIKE_DRAWS:
            return f"{name} takes no generator: use genlab.rng.{last}(x, generator)"
        if last in TORCH_DRAWS and not _has_kw(call, "generator"):
            return f"{name}(...) without generator="
        if last in GLOBAL_STATE:
            return f"{name} touches the global RNG"
    if isinstance(call.func, ast.Attribute) and last in INPLACE_DRAWS and not _has_kw(call, "generator"):
        return f".{last}(...) without generator="
    if head in ("np.random", "numpy.random"):
        if last not in NUMPY_SEEDED:
            return f"{name}: numpy's global RNG"
        if last in ("default_rng", "SeedSequence") and not call.args and not call.keywords:
            return f"{name}() without a seed draws OS entropy"
    if head == "random":
        return f"{name}: Python's global RNG"
    if last in ("sample", "rsample") and isinstance(call.func, ast.Attribute):
        if not _has_kw(call, "seed", "generator") and not _passes_generator_positionally(call):
            return f"{name}(...) with neither a seed nor a generator, outside `with forked(...)`"
    return None


def _in_forked(stack: list[ast.AST]) -> bool:
    return any(isinstance(n, ast.With) and any(isinstance(i.context_expr, ast.Call)
                                               and _dotted(i.context_expr.func).endswith("forked") for i in n.items)
               for n in stack)


def scan(path: Path) -> list[tuple[str, int, str, str]]:
    """(file, line, enclosing function, problem) for every flagged call in ``path``."""
    rel = path.relative_to(SRC).as_posix()
    found = []

    def visit(node: ast.AST, stack: list[ast.AST], func: str) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            func = node.name
        if isinstance(node, ast.Call):
            problem = _problem(node)
            if problem and not (problem.endswith("`with forked(...)`") and _in_forked(stack)):
                found.append((rel, node.lineno, func, problem))
        for child in ast.iter_child_nodes(node):
            visit(child, stack + [node], func)

    visit(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)), [], "<module>")
    return found


RNG_DRAWS = {"randn", "rand", "randint", "randn_like", "rand_like", "randperm", "multinomial"}  # genlab.rng's


def _generator_like(name: str) -> bool:
    return name in ("g", "gen", "rng") or "generator" in name


def _nullable_generators(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> set[str]:
    """Parameters of ``fn`` named like a generator whose default is None."""
    a = fn.args
    pos = a.posonlyargs + a.args
    pairs = list(zip(pos[len(pos) - len(a.defaults):], a.defaults, strict=True))
    pairs += [(p, d) for p, d in zip(a.kwonlyargs, a.kw_defaults, strict=True) if d is not None]
    return {p.arg for p, d in pairs if isinstance(d, ast.Constant) and d.value is None and _generator_like(p.arg)}


def _generator_args(call: ast.Call) -> tuple[list[ast.AST], bool]:
    """(the arguments that may carry a generator into ``call``, whether ``call`` itself is a draw)."""
    head, _, last = _dotted(call.func).rpartition(".")
    keyword = [k.value for k in call.keywords if k.arg == "generator"]
    if (head in ("torch", "torch.random", "torch.cuda", "torch.mps") and last in TORCH_DRAWS) or (
            isinstance(call.func, ast.Attribute) and last in INPLACE_DRAWS):
        return keyword, True
    if last in RNG_DRAWS and head in ("", "rng", "genlab.rng"):
        return keyword + list(call.args), True
    return list(call.args), False  # positionally: a required generator parameter of the callee


def scan_nullable(path: Path) -> list[tuple[str, int, str, str]]:
    """(file, line, enclosing function, problem) for every draw in ``path`` whose generator can be None."""
    return _nullable_draws(ast.parse(path.read_text(encoding="utf-8"), filename=str(path)), path.relative_to(SRC).as_posix())


def _nullable_draws(tree: ast.AST, rel: str) -> list[tuple[str, int, str, str]]:
    found = []
    for fn in ast.walk(tree):
        if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        nullable, rebound = _nullable_generators(fn), {}
        for node in ast.walk(fn):
            targets = node.targets if isinstance(node, ast.Assign) else (
                [node.target] if isinstance(node, (ast.AugAssign, ast.AnnAssign, ast.NamedExpr)) else [])
            if isinstance(node, ast.If) and any(isinstance(r, ast.Raise) for r in node.body):
                targets = [c.left for c in ast.walk(node.test) if isinstance(c, ast.Compare)  # a guard:
                           and isinstance(c.ops[0], ast.Is) and isinstance(c.comparators[0], ast.Constant)
                           and c.comparators[0].value is None]  # `if generator is None: raise ...`
            for name in (n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)):
                rebound[name] = min(rebound.get(name, node.lineno), node.lineno)
        for call in (n for n in ast.walk(fn) if isinstance(n, ast.Call)):
            args, draw = _generator_args(call)
            for a in args:
                if isinstance(a, ast.Name) and a.id in nullable and rebound.get(a.id, call.lineno + 1) > call.lineno:
                    what = "draws from" if draw else "passes on"
                    found.append((rel, call.lineno, fn.name, f"{_dotted(call.func)}(...) {what} `{a.id}`, which "
                                  "defaults to None (the global RNG): require a generator or make one from a seed"))
                elif draw and isinstance(a, ast.Constant) and a.value is None:
                    found.append((rel, call.lineno, fn.name, f"{_dotted(call.func)}(...) with a None generator"))
    return found


def _sources() -> list[Path]:
    return sorted(SRC.rglob("*.py"))


def test_the_scan_covers_all_of_src():
    files = [p.relative_to(SRC).as_posix() for p in _sources()]
    assert "genlab/model/contract.py" in files and "genlab/rng.py" in files and len(files) > 50


def test_every_random_draw_takes_a_generator():
    problems = [f"{f}:{line} in {fn}(): {msg}" for p in _sources() for f, line, fn, msg in scan(p)
                if (f, fn) not in ALLOWED]
    assert not problems, "random draws that bypass the caller's seed:\n" + "\n".join(problems)


# (path relative to src/, function) -> owner and issue: draws whose generator can be None, reported to the owner of
# the file (issue 23, deliverable 6); each entry is an xfail that turns into a failure once the draw is fixed, so the
# entry must then go
KNOWN_NULLABLE: dict[tuple[str, str], str] = {}


def test_no_draw_takes_a_generator_that_can_be_none():
    problems = [f"{f}:{line} in {fn}(): {msg}" for p in _sources() for f, line, fn, msg in scan_nullable(p)
                if (f, fn) not in KNOWN_NULLABLE]
    assert not problems, "random draws whose generator can be None:\n" + "\n".join(problems)


@pytest.mark.parametrize("key", [pytest.param(k, marks=pytest.mark.xfail(strict=True, reason=why), id=f"{k[0]}:{k[1]}")
                                 for k, why in KNOWN_NULLABLE.items()])
def test_known_draws_whose_generator_can_be_none(key):
    """A known violation (KNOWN_NULLABLE) is still there; when it is fixed this xfail fails: remove its entry."""
    assert key not in {(f, fn) for f, _, fn, _ in scan_nullable(SRC / key[0])}


@pytest.mark.parametrize("code, flagged", [
    ("def f(x, generator=None):\n    return randn_like(x, generator)", True),
    ("def f(x, *, generator=None):\n    return torch.rand(x.shape, generator=generator)", True),
    ("def f(x, g=None):\n    return x.normal_(generator=g)", True),
    ("def f(x, generator=None):\n    return _step(x, generator)", True),
    ("def f(x):\n    return torch.randn(3, generator=None)", True),
    ("def f(x, generator):\n    return randn_like(x, generator)", False),
    ("def f(x, generator=None, seed=None):\n    generator = generator or make_generator(seed)\n"
     "    return randn_like(x, generator)", False),
    ("def f(x, generator=None):\n    return run(x, generator=generator)", False),
    ("def f(x, generator=None):\n    return x", False),
    ("def f(x, eps=None, generator=None):\n    if eps is None and generator is None:\n        raise ValueError\n"
     "    return rademacher(x, generator)", False),
])
def test_the_nullable_scan_itself(code, flagged):
    assert bool(_nullable_draws(ast.parse(code), "probe.py")) == flagged


def test_allow_list_entries_are_used():
    """An allow-list entry whose call is gone must go too (it would silently allow a future violation)."""
    used = {(f, fn) for p in _sources() for f, _, fn, _ in scan(p)}
    assert not set(ALLOWED) - used, sorted(set(ALLOWED) - used)


@pytest.mark.parametrize("code, flagged", [
    ("torch.randn(3)", True), ("torch.randn(3, generator=g)", False), ("torch.randn_like(x)", True),
    ("x.normal_()", True), ("np.random.rand(3)", True), ("np.random.default_rng(0)", False),
    ("np.random.default_rng()", True), ("random.random()", True), ("torch.manual_seed(0)", True),
    ("d.sample((3,))", True), ("m.sample(3, seed=s)", False), ("f(n, g).sample(n, g)", False),
    ("randn((3,), generator)", False),
])
def test_the_scan_itself(code, flagged):
    assert (_problem(ast.parse(code).body[0].value) is not None) == flagged


def test_data_and_apps_leave_the_global_rng_alone():
    """Beyond the models (tests/test_contract.py): loading and sampling data sets, and the scikit-learn style apps,
    neither change the global torch RNG nor depend on it."""
    import torch

    import genlab

    def run(global_seed):
        torch.manual_seed(global_seed)
        state = torch.get_rng_state()
        ds = genlab.datasets.load("eight_gaussians", n_train=300, n_test=100, seed=0)
        x = ds.train
        y = (x[:, 0] > 0).long()
        clf = genlab.BayesClassifier("gmm", config={"n_components": 2}).fit(x, y)
        det = genlab.AnomalyDetector("gmm", config={"n_components": 4}).fit(x)
        out = [ds.sample(20, seed=3), torch.as_tensor(clf.predict_proba(ds.test)),
               torch.as_tensor(det.score_samples(ds.test))]
        assert torch.equal(torch.get_rng_state(), state)
        return out

    for a, b in zip(run(1), run(2), strict=True):
        assert torch.equal(a, b)


def test_helpers_called_without_a_generator_leave_the_global_rng_alone():
    """metrics.dequantize(x) and the stochastic samplers with default arguments draw from a fresh generator (OS
    entropy), never from (or advancing) the global torch RNG."""
    import torch

    from genlab import metrics
    from genlab.diffusion import SAMPLERS, VPSDE, NoiseLadder, karras_sigmas
    from genlab.diffusion.consistency import multistep

    def denoiser(x, sigma):
        return x / (1 + sigma.reshape(-1, 1) ** 2)

    def score(x, t):  # the exact score of N(0, I) under any VP perturbation
        return -x

    x, sigmas = torch.randn(16, 2), karras_sigmas(4, 0.002, 80.0)
    calls = {"dequantize": lambda: metrics.dequantize(torch.zeros(4, 3)),
             "ddim eta 1": lambda: SAMPLERS["ddim"].fn(denoiser, x, sigmas, eta=1.0),
             "heun churn": lambda: SAMPLERS["heun"].fn(denoiser, x, sigmas, s_churn=10.0),
             "multistep": lambda: multistep(denoiser, x, sigmas),
             "euler_maruyama": lambda: SAMPLERS["euler_maruyama"].fn(score, x, VPSDE(), steps=3),
             "pc": lambda: SAMPLERS["pc"].fn(score, x, VPSDE(), steps=3),
             "ald": lambda: SAMPLERS["ald"].fn(lambda v, s: -v, x, NoiseLadder([1.0, 0.1, 0.01]), n_steps_each=2)}
    for name, call in calls.items():
        state = torch.get_rng_state()
        a, b = call(), call()
        assert torch.equal(torch.get_rng_state(), state), f"{name} advanced the global torch RNG"
        assert not torch.equal(a, b), f"{name} without a generator must still be random"
    assert torch.equal(metrics.dequantize(torch.zeros(4, 3), seed=5), metrics.dequantize(torch.zeros(4, 3), seed=5))
