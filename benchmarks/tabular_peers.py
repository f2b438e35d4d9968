"""The peers of benchmarks/tabular.py, written here (SDV is BSL-licensed: no sdv import), each with
``fit(frame, budget, seed)`` and ``sample(n, seed) -> DataFrame``, and genlab's table models behind the same two calls.

All three share :class:`VarSpace`: genlab's TableEncoder (fitted on the training rows only) and its TableLayout read
a row as variables -- one class per categorical / boolean column and per missing flag, one quantile-normal value z
per numeric / integer column -- and write them back (decode: inverse empirical CDF, rounding, clipping to the range).

- ``gaussian_copula`` (as SDV's GaussianCopulaSynthesizer): each number's normal score z = Phi^-1(F(x)) with F its
  empirical CDF (the encoder's z); each class variable through SDV's frequency encoding (classes ordered by
  frequency, class k owns [c_k-1, c_k) of (0, 1), a row's u uniform in its class's interval, z = Phi^-1(u)); one
  correlation matrix of all the z; samples z ~ N(0, R) inverted column by column.
- ``ctgan`` (Xu et al. 2019, Sec. 4.2): a conditional WGAN-GP (lambda 10, pac 10, Adam 2e-4, betas (0.5, 0.9)) with
  the conditional vector and training-by-sampling (a class variable drawn uniformly, its class by log-frequency; the
  real rows drawn to match; the generator's cross-entropy on the asked class) and Gumbel-softmax (tau 0.2) outputs.
  Simplified: the quantile-normal z replaces mode-specific normalisation (a variational Gaussian mixture per column),
  the generator is a two-layer MLP (256, batch norm, ReLU) instead of residual layers.
- ``tvae`` (Xu et al. 2019, Sec. 4.3): encoder and decoder MLPs (128, 128), latent 128, a learned sigma per number
  (clamped to [0.01, 1]), loss 2 * reconstruction + KL, Adam 1e-3 (weight decay 1e-5), batch min(500, N) so a small
  table still trains (CTGAN #135); samples: numbers mean + sigma * noise, classes by argmax as TVAE. Simplified: z
  in place of mode-specific normalisation.
- ``marginals`` (independent columns, the floor) and ``oracle`` (the training rows themselves, the ceiling).
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import torch
from scipy.special import ndtr, ndtri
from tabular_metrics_check import references
from torch import nn
from torch.nn import functional as F

import genlab
from genlab.data.kinds import TableEncoder
from genlab.families._table import Discrete, TableLayout

__all__ = ["VarSpace", "GaussianCopula", "CTGAN", "TVAE", "Marginals", "Oracle", "Genlab", "PEERS"]


class VarSpace:
    """DataFrame <-> variable rows: one-hot classes per discrete variable, z per continuous one (layout order)."""

    def __init__(self, frame: pd.DataFrame):
        self.encoder = TableEncoder().fit(frame)
        self.layout = TableLayout(self.encoder)
        self.blocks, start = [], 0  # (variable, slice into the variable rows)
        for v in self.layout.variables:
            width = v.classes if isinstance(v, Discrete) else 1
            self.blocks.append((v, slice(start, start + width)))
            start += width
        self.width = start

    def classes(self, frame) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """(encoded rows, [class index (N,) of each discrete variable])."""
        x = self.encoder.encode(frame).float()
        return x, [self.layout.read(x, v) for v in self.layout.discrete]

    def to_vars(self, frame) -> torch.Tensor:
        x = self.encoder.encode(frame).float()
        parts = [F.one_hot(self.layout.read(x, v), v.classes).float() if isinstance(v, Discrete) else x[:, [v.dim]]
                 for v, _ in self.blocks]
        return torch.cat(parts, 1)

    def decode(self, values: list[torch.Tensor]) -> pd.DataFrame:
        """One tensor per variable (layout order): class indices (N,) or z (N,) -> the decoded table."""
        x = torch.zeros(len(values[0]), self.layout.dim)
        for (v, _), val in zip(self.blocks, values, strict=True):
            if isinstance(v, Discrete):
                self.layout.write(x, v, val.long())
            else:
                x[:, v.dim] = val.float()
        return self.encoder.decode(x)

    def discrete_blocks(self) -> list[slice]:
        return [s for v, s in self.blocks if isinstance(v, Discrete)]


class GaussianCopula:
    """SDV-style Gaussian copula on the normal scores of :class:`VarSpace` (module docstring)."""

    def fit(self, frame, budget=None, seed=0):
        rng = np.random.default_rng(seed)
        self.space = VarSpace(frame)
        x, classes = self.space.classes(frame)
        it = iter(classes)
        cols, self.cuts = [], []
        for v, _ in self.space.blocks:
            if isinstance(v, Discrete):
                k = next(it).numpy()
                freq = np.bincount(k, minlength=v.classes) / len(k)
                order = np.argsort(-freq, kind="stable")  # most frequent first, as SDV's frequency encoder
                edges = np.concatenate([[0.0], np.cumsum(freq[order])])
                rank = np.argsort(order)  # class -> its position in the order
                lo, hi = edges[rank[k]], edges[rank[k] + 1]
                u = np.clip(lo + rng.random(len(k)) * (hi - lo), 1e-6, 1 - 1e-6)
                cols.append(ndtri(u))
                self.cuts.append((order, edges[1:-1]))
            else:
                cols.append(x[:, v.dim].double().numpy())
                self.cuts.append(None)
        z = np.stack(cols, 1)
        self.corr = np.corrcoef(z, rowvar=False) if z.shape[1] > 1 else np.ones((1, 1))
        self.corr = np.nan_to_num(self.corr) + 1e-6 * np.eye(len(self.corr))
        return self

    def sample(self, n, seed=0):
        z = np.random.default_rng(seed).multivariate_normal(np.zeros(len(self.corr)), self.corr, n, method="cholesky")
        values = []
        for j, cut in enumerate(self.cuts):
            if cut is None:
                values.append(torch.from_numpy(z[:, j]))
            else:
                order, inner = cut
                values.append(torch.from_numpy(order[np.searchsorted(inner, ndtr(z[:, j]), side="right")]))
        return self.space.decode(values)


class _Neural:
    """What CTGAN and TVAE share: the variable space, output activations, the decode of network outputs."""

    def _setup(self, frame, seed):
        torch.manual_seed(seed)
        self.space = VarSpace(frame)
        self.data = self.space.to_vars(frame)
        self.disc = self.space.discrete_blocks()
        self.cont = [s.start for v, s in self.space.blocks if not isinstance(v, Discrete)]

    def _values(self, out: torch.Tensor, gen, noise: torch.Tensor | None = None) -> list[torch.Tensor]:
        """Per variable: argmax of its logits, or its value (plus ``noise`` for TVAE's numbers)."""
        return [out[:, s].argmax(1) if isinstance(v, Discrete) else out[:, s.start] + (
            0 if noise is None else noise[s.start] * torch.randn(len(out), generator=gen)) for v, s in self.space.blocks]


class CTGAN(_Neural):
    """CTGAN-style conditional WGAN-GP (module docstring), trained for ``budget`` seconds."""

    def __init__(self, noise=128, hidden=256, pac=10, batch=500):
        self.noise, self.hidden, self.pac, self.batch = noise, hidden, pac, batch

    def _activate(self, raw, tau=0.2):
        return torch.cat([F.gumbel_softmax(raw[:, s], tau=tau) if isinstance(v, Discrete) else raw[:, s]
                          for v, s in self.space.blocks], 1)

    def _cond(self, n, gen):
        """(cond vectors (n, C), chosen block (n,), chosen class (n,)) by training-by-sampling."""
        which = torch.randint(len(self.disc), (n,), generator=gen)
        k = torch.zeros(n, dtype=torch.long)
        for j, s in enumerate(self.disc):
            p = torch.log1p(self.data[:, s].sum(0))
            rows = which == j
            k[rows] = torch.multinomial(p / p.sum(), int(rows.sum()), replacement=True, generator=gen)
        offsets = torch.tensor([s.stop - s.start for s in self.disc]).cumsum(0) - torch.tensor(
            [s.stop - s.start for s in self.disc])
        cond = torch.zeros(n, int(sum(s.stop - s.start for s in self.disc)))
        cond[torch.arange(n), offsets[which] + k] = 1.0
        return cond, which, k

    def fit(self, frame, budget=60.0, seed=0):
        self._setup(frame, seed)
        gen = torch.Generator().manual_seed(seed)
        c_dim = sum(s.stop - s.start for s in self.disc)
        d, h = self.space.width, self.hidden
        self.G = nn.Sequential(nn.Linear(self.noise + c_dim, h), nn.BatchNorm1d(h), nn.ReLU(),
                               nn.Linear(h, h), nn.BatchNorm1d(h), nn.ReLU(), nn.Linear(h, d))
        D = nn.Sequential(nn.Linear((d + c_dim) * self.pac, h), nn.LeakyReLU(0.2), nn.Dropout(0.5),
                          nn.Linear(h, h), nn.LeakyReLU(0.2), nn.Dropout(0.5), nn.Linear(h, 1))
        opt_g = torch.optim.Adam(self.G.parameters(), 2e-4, betas=(0.5, 0.9), weight_decay=1e-6)
        opt_d = torch.optim.Adam(D.parameters(), 2e-4, betas=(0.5, 0.9), weight_decay=1e-6)
        n = len(self.data)
        b = max(self.pac, min(self.batch, n) // self.pac * self.pac)
        member = [self.data[:, s].argmax(1) for s in self.disc]
        t0, self.steps = time.perf_counter(), 0
        while time.perf_counter() - t0 < budget:
            cond, which, k = self._cond(b, gen)
            real = torch.empty(b, d)  # real rows that have the asked class
            for j in range(len(self.disc)):
                for c in k[which == j].unique():
                    rows = ((which == j) & (k == c)).nonzero()[:, 0]
                    pool = (member[j] == c).nonzero()[:, 0]
                    real[rows] = self.data[pool[torch.randint(len(pool), (len(rows),), generator=gen)]]
            fake = self._activate(self.G(torch.cat([torch.randn(b, self.noise, generator=gen), cond], 1)))
            r, f = torch.cat([real, cond], 1), torch.cat([fake.detach(), cond], 1)
            eps = torch.rand(b // self.pac, 1, 1, generator=gen)
            mix = (eps * r.view(b // self.pac, self.pac, -1) + (1 - eps) * f.view(b // self.pac, self.pac, -1))
            mix = mix.view(b, -1).requires_grad_(True)
            grad = torch.autograd.grad(D(mix.view(b // self.pac, -1)).sum(), mix, create_graph=True)[0]
            gp = ((grad.view(b // self.pac, -1).norm(dim=1) - 1) ** 2).mean()
            loss_d = D(f.view(b // self.pac, -1)).mean() - D(r.view(b // self.pac, -1)).mean() + 10 * gp
            opt_d.zero_grad()
            loss_d.backward()
            opt_d.step()
            cond, which, k = self._cond(b, gen)
            raw = self.G(torch.cat([torch.randn(b, self.noise, generator=gen), cond], 1))
            fake = self._activate(raw)
            ce = sum(F.cross_entropy(raw[which == j][:, s], k[which == j], reduction="sum")
                     for j, s in enumerate(self.disc) if (which == j).any()) / b
            loss_g = -D(torch.cat([fake, cond], 1).view(b // self.pac, -1)).mean() + ce
            opt_g.zero_grad()
            loss_g.backward()
            opt_g.step()
            self.steps += 1
        self.G.eval()
        return self

    def sample(self, n, seed=0):
        gen = torch.Generator().manual_seed(seed)
        torch.manual_seed(seed)  # Gumbel noise
        with torch.no_grad():  # the condition drawn from the data's class frequencies (as CTGAN samples)
            which = torch.randint(len(self.disc), (n,), generator=gen)
            cond = torch.zeros(n, sum(s.stop - s.start for s in self.disc))
            start = 0
            for j, s in enumerate(self.disc):
                p = self.data[:, s].mean(0)
                rows = (which == j).nonzero()[:, 0]
                cond[rows, start + torch.multinomial(p, len(rows), replacement=True, generator=gen)] = 1.0
                start += s.stop - s.start
            raw = self.G(torch.cat([torch.randn(n, self.noise, generator=gen), cond], 1))
            return self.space.decode(self._values(self._activate(raw), gen))


class TVAE(_Neural):
    """TVAE-style VAE (module docstring), trained for ``budget`` seconds."""

    def __init__(self, latent=128, hidden=128, batch=500):
        self.latent, self.hidden, self.batch = latent, hidden, batch

    def fit(self, frame, budget=60.0, seed=0):
        self._setup(frame, seed)
        gen = torch.Generator().manual_seed(seed)
        d, h, z = self.space.width, self.hidden, self.latent
        self.enc = nn.Sequential(nn.Linear(d, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU(), nn.Linear(h, 2 * z))
        self.dec = nn.Sequential(nn.Linear(z, h), nn.ReLU(), nn.Linear(h, h), nn.ReLU(), nn.Linear(h, d))
        self.sigma = nn.Parameter(torch.full((d,), 0.1))
        params = [*self.enc.parameters(), *self.dec.parameters(), self.sigma]
        opt = torch.optim.Adam(params, 1e-3, weight_decay=1e-5)
        n, b = len(self.data), min(self.batch, len(self.data))
        cont = torch.tensor(self.cont, dtype=torch.long)
        t0, self.steps = time.perf_counter(), 0
        while time.perf_counter() - t0 < budget:
            x = self.data[torch.randint(n, (b,), generator=gen)]
            mu, logvar = self.enc(x).chunk(2, 1)
            out = self.dec(mu + torch.randn(b, z, generator=gen) * (0.5 * logvar).exp())
            sig = self.sigma.clamp(0.01, 1.0)[cont]
            rec = (((x[:, cont] - out[:, cont]) ** 2) / (2 * sig**2) + sig.log()).sum()
            rec = rec + sum(F.cross_entropy(out[:, s], x[:, s].argmax(1), reduction="sum") for s in self.disc)
            kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum()
            loss = (2 * rec + kl) / b
            opt.zero_grad()
            loss.backward()
            opt.step()
            self.steps += 1
        return self

    def sample(self, n, seed=0):
        gen = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            out = self.dec(torch.randn(n, self.latent, generator=gen))
            return self.space.decode(self._values(out, gen, noise=self.sigma.clamp(0.01, 1.0)))


class Marginals:
    """Independent columns, each resampled from the training rows (the floor)."""

    def fit(self, frame, budget=None, seed=0):
        self.frame = frame
        return self

    def sample(self, n, seed=0):
        return references(self.frame.sample(n, replace=n > len(self.frame), random_state=seed), seed)["marginals"]


class Oracle:
    """The training rows themselves (the ceiling of fidelity; every row an exact copy)."""

    def fit(self, frame, budget=None, seed=0):
        self.frame = frame.reset_index(drop=True)
        return self

    def sample(self, n, seed=0):
        return self.frame.sample(n, replace=n > len(self.frame), random_state=seed).reset_index(drop=True)


class Genlab:
    """A genlab model: ``genlab.create(name, frame, **config).fit(frame, time_budget=budget)``."""

    def __init__(self, name: str, config: dict | None = None):
        self.name, self.config = name, dict(config or {})

    def fit(self, frame, budget=60.0, seed=0):
        self.model = genlab.create(self.name, frame, **self.config)
        self.model.fit(frame, time_budget=budget, seed=seed, progress=False)
        self.steps = len(getattr(self.model, "history", []) or [])
        return self

    def sample(self, n, seed=0, **kw):
        return self.model.sample(n, seed=seed, **kw)


PEERS = {"gaussian_copula": GaussianCopula, "ctgan": CTGAN, "tvae": TVAE, "marginals": Marginals, "oracle": Oracle}
