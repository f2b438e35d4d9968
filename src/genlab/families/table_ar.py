"""table_ar: an autoregressive model of mixed-type table rows, one column after another.

The row is split into variables in column order (:class:`genlab.families._table.TableLayout`): a categorical or
boolean column is one discrete variable ("missing" is one more class); a numeric or integer column is its missing
flag (a Bernoulli, when the column has missing cells) followed by its quantile-normal value z. Then

    p(row) = prod_j p(v_j | v_<j)                                         (Germain et al. 2015, Eq. 1)

with every conditional's parameters from one pass of a MADE-style masked MLP (hidden units get cyclic degrees over
the variables, plus direct input-to-output connections; Germain et al. 2015, Eq. 12-13) whose input is the encoded
row. Heads: a softmax for a discrete variable; a K-component Gaussian mixture on z for a numeric value (MADE-MoG,
Papamakarios et al. 2017, Sec. 4); for an integer value the mixture's mass on the z-interval that decodes to it (a
discretized mixture, as PixelCNN++'s; :meth:`TableLayout.cell`). A value whose flag says "missing" adds nothing.

**Likelihood: exact** -- a proper likelihood of the records as encoded: log_prob(row) = the log-probabilities of
the categorical, boolean and missing-flag cells + log P(value) of each integer cell (probabilities: these terms sum
to 1 over all values) + the log-density of each numeric cell's z = Phi^-1(F(x)) **in encoded units** (per unit of
z). The encoder's log-Jacobian log dz/dx is *not* added: it depends only on x and the encoder (so comparisons of
models on one encoder are unaffected), and decoding clips to the training range, so decoded values have atoms at the
range's ends where no density in x units exists.

Sampling is ancestral, one network pass per variable (``last_nfe`` = the number of variables), every draw from the
caller's generator; ``sample(n, temperature=tau)`` draws classes from softmax(logits / tau) and values from the
mixtures with weights pi^(1/tau) and sigmas tau * sigma (Glow's reduced temperature, Kingma & Dhariwal 2018, Sec. 5). ``impute`` (and ``sample(n, given=...)``, which imputes) runs the same ancestral pass with the
observed cells fixed (a partly observed discrete variable -- e.g. "not missing, category unknown" -- is drawn from
its conditional restricted to the classes that agree) and weights each draw by the likelihood of the observed cells
that follow its first unobserved one: sampling-importance-resampling with ``draws`` particles per row. It is
**exact** for a row whose observed cells all come before its unobserved ones in column order (then one particle is
drawn: the weights are equal); otherwise an approximation that becomes exact as ``draws`` grows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import nn

from genlab.checks import positive_int
from genlab.families._exact import MaximumLikelihood, check_network
from genlab.families._table import (
    Discrete,
    masked_categorical,
    mixture_log_prob,
    mixture_sample,
    sampling_temperature,
    table_layout,
)
from genlab.families.made import MaskedLinear
from genlab.model import GenerativeModel, NeuralConfig
from genlab.nn.mlp import make_activation
from genlab.registry import bounded, register
from genlab.rng import multinomial

__all__ = ["TableAR", "TableARConfig", "ColumnMADE"]


class ColumnMADE(nn.Module):
    """A masked MLP whose output of degree d sees only inputs of degree < d (Germain et al. 2015, Eq. 12-13): here
    a degree is the 1-based position of a variable, shared by all dims that encode it or its parameters."""

    def __init__(self, in_degrees: torch.Tensor, out_degrees: torch.Tensor, hidden: tuple[int, ...],
                 activation: str = "relu", dropout: float = 0.0):
        super().__init__()
        m = int(in_degrees.max())
        degrees = [in_degrees] + [torch.arange(h) % max(m - 1, 1) + 1 for h in hidden]
        layers: list[nn.Module] = []
        for d_in, d_out in zip(degrees[:-1], degrees[1:], strict=True):
            layers += [MaskedLinear(d_out[:, None] >= d_in[None, :]), make_activation(activation)]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
        self.body = nn.Sequential(*layers)
        self.head = MaskedLinear(out_degrees[:, None] > degrees[-1][None, :])
        self.direct = MaskedLinear(out_degrees[:, None] > in_degrees[None, :])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x)) + self.direct(x)


@dataclass
class TableARConfig(NeuralConfig):
    normalize: bool = bounded(False, choices=(False,))  # the encoded rows modelled as they are (one-hot cells, z values)
    n_components: int = bounded(8, ge=1)  # K Gaussians per numeric/integer conditional
    hidden_features: tuple[int, ...] = (256, 256)
    activation: str = "relu"
    dropout: float = 0.1
    steps: int = 2000
    weight_decay: float = 1e-5
    grad_clip: float = 5.0


@register
class TableAR(MaximumLikelihood, GenerativeModel):
    """Autoregressive model over a table's columns: softmax and Gaussian-mixture heads (exact mixed-type likelihood)."""

    name = "table_ar"
    Config = TableARConfig
    likelihood = "exact"
    differentiable_log_prob = False  # class reads are not differentiable: no grad_log_prob for tables
    kinds = ("table",)
    schema_aware = True
    smoke = {"fit": {"steps": 30}, "impute": {"draws": 8}}
    # nn.Dropout draws each process's masks from its own global RNG: N processes with batch B train as 1 with batch
    # N B only without it (tests/test_distributed.py)
    data_parallel_config: ClassVar[dict] = {"dropout": 0.0}

    def build(self) -> None:
        self.layout = None
        if self.data_encoder is None:  # made from a shape: fit refuses; a checkpoint's encoder rebuilds it on load
            return
        c = self.config
        check_network(c)
        layout = table_layout(self)
        widths = [v.classes if isinstance(v, Discrete) else 3 * c.n_components for v in layout.variables]
        out_degrees = torch.arange(1, len(widths) + 1).repeat_interleave(torch.tensor(widths))
        self.net = ColumnMADE(layout.degrees, out_degrees, tuple(c.hidden_features), c.activation, c.dropout)
        ends = torch.tensor(widths).cumsum(0).tolist()
        self.heads = [slice(e - w, e) for e, w in zip(ends, widths, strict=True)]
        self.layout = layout

    def _need_table(self):
        return self.layout if self.layout is not None else table_layout(self)  # table_layout raises the error

    def _fit(self, z, y, spec) -> None:
        self._need_table()
        super()._fit(z, y, spec)

    # ------------------------------------------------------------------ likelihood
    def log_prob_terms(self, z: torch.Tensor) -> torch.Tensor:
        """log p(v_j | v_<j), (N, variables): the terms of the log-likelihood (see the module docstring)."""
        layout, out = self._need_table(), self.net(z)
        terms = []
        for v, part in zip(layout.variables, self.heads, strict=True):
            if isinstance(v, Discrete):
                k = layout.read(z, v)
                terms.append(torch.log_softmax(out[:, part], -1).gather(1, k[:, None]).squeeze(1))
            else:
                cell = layout.cell(z[:, v.dim], v) if v.integer else None
                lp = mixture_log_prob(out[:, part], z[:, v.dim], cell)
                terms.append(torch.where(layout.present(z, v), lp, torch.zeros((), device=z.device)))
        return torch.stack(terms, 1)

    def _logp(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return self.log_prob_terms(z).sum(1)

    # ------------------------------------------------------------------ sampling and imputation
    @torch.no_grad()
    def _ancestral(self, x: torch.Tensor, mask: torch.Tensor, generator, temperature: float = 1.0
                   ) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw every unobserved variable from p(v_j | v_<j) in order, observed cells (mask True) fixed; returns the
        rows and log w (N,), the log-likelihood of the observed information (see the module docstring). At
        ``temperature`` tau a discrete variable is drawn from softmax(logits / tau) and a value by
        :func:`mixture_sample` at tau (sampling only: imputation keeps tau = 1)."""
        layout, x = self._need_table(), x.clone()
        log_w = torch.zeros(x.shape[0], device=x.device)
        for v, part in zip(layout.variables, self.heads, strict=True):
            params = self.net(x)[:, part]
            if isinstance(v, Discrete):
                k, mass = masked_categorical(params / temperature, layout.allowed(x, mask, v), generator)
                log_w += mass
                layout.write(x, v, k)
                continue
            seen, present = mask[:, v.dim], layout.present(x, v)
            if seen.any():
                cell = layout.cell(x[:, v.dim], v) if v.integer else None
                log_w += torch.where(seen & present, mixture_log_prob(params, x[:, v.dim], cell), 0.0)
            draw = mixture_sample(params, generator, temperature)
            x[:, v.dim] = torch.where(seen, x[:, v.dim], torch.where(present, draw, 0.0))
        self.last_nfe = len(layout.variables)
        return x, log_w

    def _sample(self, n, y, temperature: float = 1.0, *, generator) -> torch.Tensor:
        layout, temperature = self._need_table(), sampling_temperature(temperature)
        x = torch.zeros(n, layout.dim, device=self.device)
        return self._ancestral(x, torch.zeros_like(x, dtype=torch.bool), generator, temperature)[0]

    def _exact_rows(self, mask: torch.Tensor) -> torch.Tensor:
        """(N,) bool: no observed information follows the row's first not fully observed variable."""
        dims = [list(v.dims) if isinstance(v, Discrete) else [v.dim] for v in self._need_table().variables]
        full = torch.stack([mask[:, d].all(1) for d in dims], 1)
        seen = torch.stack([mask[:, d].any(1) for d in dims], 1)
        open_before = (torch.cumsum((~full).int(), 1) - (~full).int()) > 0
        return ~(seen & open_before).any(1)

    def _impute(self, z, mask, draws: int = 100, *, generator) -> torch.Tensor:
        draws = positive_int("impute draws", draws)
        n = z.shape[0]
        p = 1 if bool(self._exact_rows(mask).all()) else int(draws)
        x, log_w = self._ancestral(z.repeat(p, 1), mask.repeat(p, 1), generator)
        pick = multinomial(torch.softmax(log_w.clamp(min=-1e30).view(p, n).T, -1), 1, generator).squeeze(1)  # resample one per row
        self.last_nfe *= p
        return x.view(p, n, -1)[pick, torch.arange(n, device=z.device)]
