"""What the mixed-type table families (``table_ar``, ``table_diffusion``) share: the variables of an encoded row.

:class:`TableLayout` reads a fitted :class:`genlab.data.kinds.TableEncoder` and splits its encoded row into
variables, in column order:

- a :class:`Discrete` variable per categorical column (K categories, plus one class "missing" when the column has
  missing cells), per boolean column (False, True[, missing]) and per missing flag of a numeric/integer column
  (present, missing; it comes just before its value). A class is the encoded pattern it writes into its dimensions
  (``patterns``), so reading, writing and "which classes agree with the observed dimensions" are one code path for
  every discrete variable.
- a :class:`Continuous` variable per numeric/integer column: the quantile-normal z value (0 where the cell is
  missing). An integer column's value v decodes from every z in its cell [Phi^-1(F(v - 1/2)), Phi^-1(F(v + 1/2)))
  (the whole tail below the lowest and above the highest value; +-1e4 stands for infinity), so the probability of an integer value is the
  model's mass on that cell (:meth:`TableLayout.cell`).

:func:`mixture_log_prob` / :func:`mixture_sample` are the 1-D Gaussian mixture head (a density, or the mass of a
cell), as MADE-MoG's conditionals (Papamakarios et al. 2017, Sec. 4).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch.special import log_ndtr, ndtri

from genlab.checks import in_range, require
from genlab.rng import multinomial, randn

__all__ = ["Discrete", "Continuous", "TableLayout", "table_layout", "mixture_log_prob", "mixture_sample", "sampling_temperature",
           "masked_categorical"]

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)
_FAR = 1e4  # stands for an infinite cell edge (finite, so that gradients stay finite)


@dataclass(frozen=True, eq=False)
class Discrete:
    """A categorical variable over ``classes``: class k writes ``patterns[k]`` into the encoded ``dims``."""

    name: str
    dims: tuple[int, ...]
    patterns: torch.Tensor  # (classes, len(dims)) float32

    @property
    def classes(self) -> int:
        return self.patterns.shape[0]


@dataclass(frozen=True, eq=False)
class Continuous:
    """The z value of a numeric/integer column at encoded dimension ``dim``; ``flag`` is the index (in
    ``TableLayout.variables``) of its missing flag, or None; integer columns carry their knots and CDF."""

    name: str
    dim: int
    flag: int | None
    integer: bool
    knots: torch.Tensor  # float64
    cdf: torch.Tensor
    lo: float
    hi: float


class TableLayout:
    """The variables of a :class:`TableEncoder`'s rows, in column order (see the module docstring)."""

    def __init__(self, encoder):
        self.dim = encoder.shape[0]
        self.variables: list[Discrete | Continuous] = []
        for col, part in zip(encoder.columns, encoder.slices().values(), strict=True):
            start, miss = part.start, col.missing
            if col.type in ("categorical", "boolean"):
                if col.type == "categorical":
                    k = len(col.categories)
                    pats = torch.eye(k + int(miss), k + int(miss))  # one-hot; "missing" sets the flag only
                else:
                    pats = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])[: 2 + int(miss), : 1 + int(miss)]
                self.variables.append(Discrete(col.name, tuple(range(start, part.stop)), pats))
                continue
            flag = None
            if miss:
                flag = len(self.variables)
                self.variables.append(Discrete(f"{col.name}:missing", (part.stop - 1,), torch.tensor([[0.0], [1.0]])))
            self.variables.append(Continuous(col.name, start, flag, col.type == "integer",
                                             torch.tensor(col.knots, dtype=torch.float64),
                                             torch.tensor(col.cdf, dtype=torch.float64), col.lo, col.hi))
        self.degrees = torch.zeros(self.dim, dtype=torch.int64)  # encoded dim -> 1-based position of its variable
        for j, v in enumerate(self.variables):
            self.degrees[list(v.dims) if isinstance(v, Discrete) else [v.dim]] = j + 1

    @property
    def discrete(self) -> list[Discrete]:
        return [v for v in self.variables if isinstance(v, Discrete)]

    @property
    def continuous(self) -> list[Continuous]:
        return [v for v in self.variables if isinstance(v, Continuous)]

    # ------------------------------------------------------------------ discrete variables
    def read(self, x: torch.Tensor, var: Discrete) -> torch.Tensor:
        """(N,) the class whose pattern is nearest to the row's dims (exact for encoded rows)."""
        pats = var.patterns.to(x)
        return torch.cdist(x[:, list(var.dims)], pats).argmin(1)

    def write(self, x: torch.Tensor, var: Discrete, k: torch.Tensor, rows: torch.Tensor | None = None) -> None:
        """Set the dims of ``var`` to class ``k`` (N,) in place (only where ``rows`` (N,) bool is True)."""
        new = var.patterns.to(x)[k]
        dims = list(var.dims)
        x[:, dims] = new if rows is None else torch.where(rows[:, None], new, x[:, dims])

    def allowed(self, x: torch.Tensor, mask: torch.Tensor, var: Discrete) -> torch.Tensor:
        """(N, classes) bool: the classes whose pattern agrees with the observed dims (mask True) of each row; all
        classes where nothing is observed (or where nothing agrees)."""
        dims = list(var.dims)
        agree = (var.patterns.to(x)[None] == x[:, None, dims]) | ~mask[:, None, dims]
        ok = agree.all(-1)
        return ok | ~ok.any(1, keepdim=True)

    # ------------------------------------------------------------------ continuous variables
    def present(self, x: torch.Tensor, var: Continuous) -> torch.Tensor:
        """(N,) bool: the cell holds a value (its missing flag, if any, reads "present")."""
        if var.flag is None:
            return torch.ones(x.shape[0], dtype=torch.bool, device=x.device)
        return self.read(x, self.variables[var.flag]) == 0

    def cell(self, z: torch.Tensor, var: Continuous) -> tuple[torch.Tensor, torch.Tensor]:
        """(lo, hi): the z-interval of the integer value that ``z`` (N,) decodes to (infinite at the ends)."""
        knots, cdf = var.knots.to(z.device), var.cdf.to(z.device)
        v = torch.round(_interp(torch.special.ndtr(z.double()), cdf, knots)).clamp(var.lo, var.hi)
        lo = ndtri(_interp(v - 0.5, knots, cdf)).masked_fill(v <= var.lo, -_FAR)
        hi = ndtri(_interp(v + 0.5, knots, cdf)).masked_fill(v >= var.hi, _FAR)
        return lo.to(z.dtype), hi.to(z.dtype)


def table_layout(model) -> TableLayout:
    """The layout of ``model.data_encoder`` (ConfigError naming the way to make a table model otherwise; the
    model's config keeps ``normalize`` False, a bound of its field)."""
    enc = model.data_encoder
    require(getattr(enc, "kind", None) == "table", f"model '{model.name}' models tables: create it with "
                                                   f"genlab.create('{model.name}', dataframe_or_table_dataset)")
    return TableLayout(enc)


def _interp(x: torch.Tensor, xp: torch.Tensor, fp: torch.Tensor) -> torch.Tensor:
    """numpy.interp in torch (clamped at the ends), for increasing ``xp``."""
    i = torch.searchsorted(xp, x.contiguous()).clamp(1, len(xp) - 1)
    x0, x1, f0, f1 = xp[i - 1], xp[i], fp[i - 1], fp[i]
    w = ((x - x0) / (x1 - x0)).clamp(0, 1)
    return f0 + w * (f1 - f0)


# ---------------------------------------------------------------------------- the Gaussian mixture head
def _mixture_params(params: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    log_pi, mu, raw = params.unflatten(-1, (3, -1)).unbind(-2)
    return torch.log_softmax(log_pi, -1), mu, 7.0 * torch.tanh(raw / 7.0)  # log sigma softly within (-7, 7)


def mixture_log_prob(params: torch.Tensor, z: torch.Tensor, cell: tuple[torch.Tensor, torch.Tensor] | None = None
                     ) -> torch.Tensor:
    """log p(z) (N,) of the mixture ``params`` (N, 3K) = (logits, means, raw log sigmas); with ``cell`` = (lo, hi),
    the log of the mass on [lo, hi) instead (a discretized mixture, as PixelCNN++'s)."""
    log_pi, mu, log_sigma = _mixture_params(params)
    if cell is None:
        u = (z[:, None] - mu) * torch.exp(-log_sigma)
        return torch.logsumexp(log_pi - 0.5 * u.pow(2) - log_sigma - _LOG_SQRT_2PI, -1)
    a = (cell[0][:, None] - mu) * torch.exp(-log_sigma)
    b = (cell[1][:, None] - mu) * torch.exp(-log_sigma)
    flip = (a + b) > 0  # in the upper tail use Phi(b) - Phi(a) = Phi(-a) - Phi(-b): both terms stay resolvable
    a, b = torch.where(flip, -b, a).clamp(-40, 40), torch.where(flip, -a, b).clamp(-40, 40)  # log_ndtr's backward
    la, lb = log_ndtr(a), log_ndtr(b)
    mass = lb + torch.log(-torch.expm1((la - lb).clamp(max=-1e-12)))
    return torch.logsumexp(log_pi + mass, -1)


def mixture_sample(params: torch.Tensor, generator, temperature: float = 1.0) -> torch.Tensor:
    """(N,) draws from the mixtures ``params`` (N, 3K); at ``temperature`` tau the weights are pi^(1/tau)
    (renormalised) and every component's sigma is tau * sigma (reduced-temperature sampling, as Glow's; Kingma &
    Dhariwal 2018, Sec. 5)."""
    log_pi, mu, log_sigma = _mixture_params(params)
    k = multinomial(torch.softmax(log_pi / temperature, -1), 1, generator).squeeze(1)
    rows = torch.arange(params.shape[0], device=params.device)
    noise = randn((params.shape[0],), generator, device=params.device)
    return mu[rows, k] + temperature * log_sigma[rows, k].exp() * noise


def sampling_temperature(value) -> float:
    """``temperature`` checked (a positive number; ConfigError in one line otherwise) as a float."""
    return float(in_range("temperature", value, gt=0))


def masked_categorical(logits: torch.Tensor, allowed: torch.Tensor, generator) -> tuple[torch.Tensor, torch.Tensor]:
    """(class draws (N,), log P(allowed) (N,)) from softmax(``logits``) restricted to the ``allowed`` classes."""
    logp = torch.log_softmax(logits, -1).masked_fill(~allowed, -math.inf)
    mass = torch.logsumexp(logp, -1)
    return multinomial(torch.exp(logp - mass[:, None]), 1, generator).squeeze(1), mass
