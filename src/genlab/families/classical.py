"""Classical reference models: a Gaussian mixture and a Gaussian kernel density estimate.

Both are fitted with scikit-learn; their parameters are kept as torch buffers so that
log_prob, sampling, imputation and checkpoints work exactly like the neural families.
Both have closed-form conditionals, so ``impute`` is exact:

- GMM: p(x_m | x_o) = sum_k r_k(x_o) N(x_m; mu_k,m + S_k,mo S_k,oo^-1 (x_o - mu_k,o), S_k,mm - S_k,mo S_k,oo^-1 S_k,om),
  with responsibilities r_k(x_o) proportional to w_k N(x_o; mu_k,o, S_k,oo) (Bishop 2006, Sec. 2.3.1 and 9.2).
- KDE with an isotropic Gaussian kernel of bandwidth h: p(x_m | x_o) = sum_i r_i(x_o) N(x_m; x_i,m, h^2 I) with
  r_i(x_o) proportional to N(x_o; x_i,o, h^2 I): again a KDE, over the missing coordinates.

``impute(..., fill="mean")`` (the default) fills in the conditional mean, the minimum-RMSE estimate;
``fill="sample"`` draws from the conditional.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from genlab.checks import one_of, require
from genlab.errors import DataError
from genlab.families.gmm_select import select_mixture
from genlab.model import GenerativeModel, ModelConfig
from genlab.registry import bounded, register
from genlab.rng import make_generator, multinomial, randint, randn, randperm

__all__ = ["GMM", "KDE", "GMMConfig", "KDEConfig"]

_LOG2PI = math.log(2 * math.pi)


def _record(model: GenerativeModel, **info) -> None:
    model.history = [{"step": 1, **info}]


def _check_fill(fill: str) -> None:
    one_of("impute fill", fill, ("mean", "sample"))


def _mask_patterns(mask: torch.Tensor):
    """Group rows by their mask: yields (rows, observed columns, missing columns) for patterns with a gap."""
    patterns, inverse = torch.unique(mask, dim=0, return_inverse=True)
    for p, pattern in enumerate(patterns):
        m = (~pattern).nonzero().squeeze(1)
        if m.numel():
            yield (inverse == p).nonzero().squeeze(1), pattern.nonzero().squeeze(1), m


def _mvn_logpdf(x: torch.Tensor, mean: torch.Tensor, cov: torch.Tensor) -> torch.Tensor:
    """log N(x; mean, cov) for x (N, d), mean (K, d), cov (K, d, d) -> (N, K)."""
    L = torch.linalg.cholesky(cov)
    diff = x[:, None, :] - mean[None]  # (N, K, d)
    sol = torch.linalg.solve_triangular(L[None], diff.unsqueeze(-1), upper=False).squeeze(-1)
    logdet = 2 * torch.log(torch.diagonal(L, dim1=-2, dim2=-1)).sum(-1)
    return -0.5 * (sol.pow(2).sum(-1) + logdet + x.shape[1] * _LOG2PI)


@dataclass
class GMMConfig(ModelConfig):
    n_components: int = bounded(0, ge=0)  # 0 = chosen on held-out data (genlab.families.gmm_select); at most the rows
    covariance_type: str = bounded("full", choices=("full", "diag", "tied", "spherical"))  # stored as full matrices
    reg_covar: float = bounded(0.0, ge=0)  # added to covariance diagonals (standardised units); 0 = chosen on held-out data
    holdout: float = bounded(0.2, gt=0, lt=1)  # fraction of the training data held out to choose what is left at 0
    max_iter: int = bounded(200, ge=1)
    n_init: int = bounded(1, ge=1)


@register
class GMM(GenerativeModel):
    """Gaussian mixture fitted by EM (scikit-learn's GaussianMixture), size chosen on held-out data; exact likelihood."""

    name = "gmm"
    Config = GMMConfig
    likelihood = "exact"
    differentiable_log_prob = True
    _resizable_buffers = True

    def build(self) -> None:
        d = self.dim
        self.register_buffer("weights", torch.ones(1, dtype=torch.float64))
        self.register_buffer("means", torch.zeros(1, d, dtype=torch.float64))
        self.register_buffer("covariances", torch.eye(d, dtype=torch.float64)[None])

    def _fit(self, z, y, spec) -> None:
        from sklearn.mixture import GaussianMixture

        c = self.config
        z = spec.noisy(z)
        if z.shape[0] < 2:
            raise DataError(f"gmm needs at least 2 training rows, got n_samples={z.shape[0]}")
        require(c.n_components <= z.shape[0], f"n_components={c.n_components} exceeds the {z.shape[0]} training "
                                              f"rows; use n_components <= {z.shape[0]}")
        k, reg, held_out = select_mixture(z, n_components=c.n_components, reg_covar=c.reg_covar,
                                          covariance_type=c.covariance_type, max_iter=c.max_iter,
                                          holdout=c.holdout, seed=spec.seed)
        k = max(1, min(k, z.shape[0]))
        gm = GaussianMixture(k, covariance_type=c.covariance_type, reg_covar=reg, max_iter=c.max_iter,
                             n_init=c.n_init, random_state=spec.seed).fit(z.double().numpy())
        cov = torch.as_tensor(gm.covariances_, dtype=torch.float64)
        if c.covariance_type == "diag":
            cov = torch.diag_embed(cov)
        elif c.covariance_type == "tied":
            cov = cov.expand(k, -1, -1).clone()
        elif c.covariance_type == "spherical":
            cov = cov[:, None, None] * torch.eye(self.dim, dtype=torch.float64)
        self.weights = torch.as_tensor(gm.weights_, dtype=torch.float64)
        self.means = torch.as_tensor(gm.means_, dtype=torch.float64)
        self.covariances = cov
        _record(self, loss=-float(gm.lower_bound_), converged=float(gm.converged_), n_components=float(k),
                reg_covar=reg, held_out_log_lik=held_out)

    def _log_prob(self, z, y, *, generator: torch.Generator | None = None) -> torch.Tensor:  # closed form
        lp = _mvn_logpdf(z.double(), self.means, self.covariances) + torch.log(self.weights)
        return torch.logsumexp(lp, dim=1).float()

    def _sample(self, n, y, *, generator: torch.Generator) -> torch.Tensor:
        k = multinomial(self.weights, n, generator, replacement=True)
        L = torch.linalg.cholesky(self.covariances)[k]
        eps = randn((n, self.dim, 1), generator, dtype=torch.float64)
        return (self.means[k] + (L @ eps).squeeze(-1)).float()

    def _impute(self, z, mask, *, fill: str = "mean", generator: torch.Generator) -> torch.Tensor:
        _check_fill(fill)
        out = z.double().clone()
        for rows, o, m in _mask_patterns(mask):
            S = self.covariances
            mu_m = self.means[:, m].expand(rows.numel(), -1, -1)  # (R, K, dm)
            cov_m = S[:, m][:, :, m]
            logr = torch.log(self.weights).expand(rows.numel(), -1)
            if o.numel() > 0:
                xo = out[rows][:, o]
                S_oo, S_mo = S[:, o][:, :, o], S[:, m][:, :, o]
                logr = logr + _mvn_logpdf(xo, self.means[:, o], S_oo)
                gain = S_mo @ torch.linalg.inv(S_oo)  # (K, dm, do)
                resid = xo[:, None, :] - self.means[None, :, o]  # (R, K, do)
                mu_m = mu_m + (gain[None] @ resid.unsqueeze(-1)).squeeze(-1)
                cov_m = cov_m - gain @ S_mo.transpose(1, 2)
            r = torch.softmax(logr, dim=1)  # (R, K)
            if fill == "mean":
                fill = (r.unsqueeze(-1) * mu_m).sum(1)
            else:
                k = multinomial(r, 1, generator).squeeze(1)
                L = torch.linalg.cholesky(cov_m + 1e-9 * torch.eye(m.numel(), dtype=torch.float64, device=k.device))[k]
                eps = randn((rows.numel(), m.numel(), 1), generator, dtype=torch.float64)
                fill = mu_m[torch.arange(rows.numel(), device=k.device), k] + (L @ eps).squeeze(-1)
            out[rows[:, None], m[None, :]] = fill
        return out.float()


@dataclass
class KDEConfig(ModelConfig):
    bandwidth: float = bounded(0.0, ge=0)  # kernel std in standardised units; 0 = chosen by 3-fold cross-validation
    max_points: int = bounded(20000, ge=1)  # a larger training set is subsampled (memory and time of log_prob)


@register
class KDE(GenerativeModel):
    """Gaussian kernel density estimate with an isotropic bandwidth; exact likelihood of the estimate."""

    name = "kde"
    Config = KDEConfig
    likelihood = "exact"
    differentiable_log_prob = True
    eval_batch = 512
    _resizable_buffers = True

    def build(self) -> None:
        self.register_buffer("points", torch.zeros(1, self.dim))
        self.register_buffer("bandwidth", torch.ones(()))

    def _fit(self, z, y, spec) -> None:
        c = self.config
        z = spec.noisy(z)
        if not c.bandwidth and z.shape[0] < 3:
            raise DataError(f"kde needs at least 3 training rows to cross-validate its bandwidth, got {z.shape[0]}; "
                            "give it one (e.g. --set bandwidth=0.3)")
        if z.shape[0] > c.max_points:
            z = z[randperm(z.shape[0], make_generator(spec.seed, 3))[: c.max_points]]
        h = c.bandwidth or self._cv_bandwidth(z, spec.seed)
        self.points = z.clone()
        self.bandwidth = torch.tensor(float(h))
        _record(self, loss=0.0, bandwidth=float(h))

    @staticmethod
    def _cv_bandwidth(z: torch.Tensor, seed: int) -> float:
        from sklearn.model_selection import GridSearchCV
        from sklearn.neighbors import KernelDensity

        n, d = z.shape
        scott = n ** (-1.0 / (d + 4))
        grid = {"bandwidth": scott * torch.logspace(-1.3, 0.4, 12).numpy()}
        sub = z[randperm(n, make_generator(seed, 4))[:4000]].numpy()
        search = GridSearchCV(KernelDensity(kernel="gaussian"), grid, cv=3).fit(sub)
        return float(search.best_params_["bandwidth"])

    def _kernel_logits(self, x: torch.Tensor, cols: torch.Tensor | None = None) -> torch.Tensor:
        pts = self.points if cols is None else self.points[:, cols]
        h = self.bandwidth
        d2 = (x.pow(2).sum(1, keepdim=True) - 2 * x @ pts.T + pts.pow(2).sum(1)).clamp_min(0)  # smooth at x = pts
        return -0.5 * d2 / h**2 - pts.shape[1] * (torch.log(h) + 0.5 * _LOG2PI)

    def _log_prob(self, z, y, *, generator: torch.Generator | None = None) -> torch.Tensor:  # closed form
        return torch.logsumexp(self._kernel_logits(z), dim=1) - math.log(self.points.shape[0])

    def _sample(self, n, y, *, generator: torch.Generator) -> torch.Tensor:
        idx = randint(0, self.points.shape[0], (n,), generator)
        return self.points[idx] + self.bandwidth * randn((n, self.dim), generator)

    def _impute(self, z, mask, *, fill: str = "mean", generator: torch.Generator) -> torch.Tensor:
        _check_fill(fill)
        out = z.clone()
        for rows, o, m in _mask_patterns(mask):
            if o.numel() > 0:
                r = torch.softmax(self._kernel_logits(out[rows][:, o], o), dim=1)  # (R, n)
            else:
                r = torch.full((rows.numel(), self.points.shape[0]), 1.0 / self.points.shape[0], device=self.points.device)
            pts_m = self.points[:, m]
            if fill == "mean":
                fill = r @ pts_m
            else:
                i = multinomial(r, 1, generator).squeeze(1)
                fill = pts_m[i] + self.bandwidth * randn((rows.numel(), m.numel()), generator)
            out[rows[:, None], m[None, :]] = fill
        return out
