"""MADE: masked autoencoder for distribution estimation with mixture-of-Gaussians conditionals.

Germain et al. 2015 ("MADE: Masked Autoencoder for Distribution Estimation") factorise

    p(z) = prod_d p(z_d | z_<d)                                                 (Eq. 1)

and compute every conditional's parameters in one pass of an MLP whose weight matrices are masked so
that output d sees only inputs < d. With degrees m^0(d) = d for inputs (1-based), m^l(k) in
{1, ..., D-1} for hidden units and the output degree d, the masks are (Eq. 12-13)

    M^l[k, k'] = 1{ m^l(k) >= m^(l-1)(k') },        M^out[d, k] = 1{ d > m^L(k) }.

Hidden degrees are assigned cyclically (deterministic, so no mask needs storing beyond its buffer); the masked
network is :class:`genlab.nn.masked.MADENet`.
Each conditional is a K-component 1-D Gaussian mixture ("MADE MoG", Papamakarios et al. 2017, Sec. 4):

    p(z_d | z_<d) = sum_k pi_dk N(z_d; mu_dk, sigma_dk^2),   (logits, mu, log sigma)_d = MADE(z)_d.

The likelihood is exact; sampling is ancestral, one network pass per dimension (D passes).
The masked layers are genlab's own (:mod:`genlab.nn.masked`), not zuko's, because they are this family's core
and its MoG output layout is its own. In D = 1 the single conditional has no inputs: the
model is a K-component Gaussian mixture.

Imputation: rows whose missing entries are a suffix z_{>j} of the ordering are filled exactly by
ancestral sampling from p(z_{>j} | z_{<=j}) (``fill="mean"`` averages ``draws`` such samples);
other rows use MALA on the model's log-density (:func:`genlab.inverse.langevin_impute`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch

from genlab.checks import known_options, one_of, positive_int, require
from genlab.families._exact import LANGEVIN_OPTIONS, MaximumLikelihood, check_network, langevin_fill
from genlab.model import GenerativeModel, NeuralConfig
from genlab.nn.masked import MADENet, MaskedLinear, made_masks  # noqa: F401  (MaskedLinear, made_masks: old path)
from genlab.registry import bounded, register
from genlab.rng import multinomial, randn

__all__ = ["MADE", "MADEConfig"]

_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)
_MAX_LOG_SIGMA = 7.0  # log sigma is softly bounded to (-7, 7) for numerical safety


@dataclass
class MADEConfig(NeuralConfig):
    n_components: int = bounded(5, ge=1)  # K Gaussians per conditional
    hidden_features: tuple[int, ...] = (256, 256)
    activation: str = "relu"
    dropout: float = 0.5  # dropout after each hidden layer (training only); ~1,250 digits in 64-D overfit without
    steps: int = 3000
    weight_decay: float = 1e-5
    grad_clip: float = 5.0


@register
class MADE(MaximumLikelihood, GenerativeModel):
    """MADE with K-component Gaussian-mixture conditionals (Germain et al. 2015; MoG as in Papamakarios et al. 2017)."""

    name = "made"
    Config = MADEConfig
    likelihood = "exact"
    given_route = "rejection"  # sample(given=) on tables: closer than its impute (benchmarks/table_given.py)
    smoke = {"fit": {"steps": 30}, "impute": {"steps": 20}}
    # nn.Dropout draws each process's masks from its own global RNG, not from the step's sharded draws: with dropout
    # N processes with batch B train as 1 with batch N B only without it (tests/test_distributed.py)
    data_parallel_config: ClassVar[dict] = {"dropout": 0.0}

    def build(self) -> None:
        c = self.config
        check_network(c)
        K = c.n_components
        self.net = MADENet(self.dim, tuple(c.hidden_features), 3 * K, c.activation, c.dropout)
        with torch.no_grad():  # start as a mixture close to N(0, 1): means at normal quantiles, equal weights
            bias = self.net.net[-1].bias.view(self.dim, 3, K)
            q = torch.distributions.Normal(0.0, 1.0).icdf((torch.arange(K) + 0.5) / K)
            bias[:, 0] = 0.0
            bias[:, 1] = q
            bias[:, 2] = math.log(1.0 / math.sqrt(K)) if K > 1 else 0.0

    def conditionals(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(log pi, mu, log sigma), each (N, D, K): the parameters of p(z_d | z_<d) for every d."""
        out = self.net(z).view(z.shape[0], self.dim, 3, self.config.n_components)
        logits, mu, raw = out.unbind(2)
        log_sigma = _MAX_LOG_SIGMA * torch.tanh(raw / _MAX_LOG_SIGMA)
        return torch.log_softmax(logits, dim=-1), mu, log_sigma

    def _logp_dims(self, z: torch.Tensor) -> torch.Tensor:
        """log p(z_d | z_<d), (N, D)."""
        log_pi, mu, log_sigma = self.conditionals(z)
        u = (z.unsqueeze(-1) - mu) * torch.exp(-log_sigma)
        return torch.logsumexp(log_pi - 0.5 * u.pow(2) - log_sigma - _LOG_SQRT_2PI, dim=-1)

    def _logp(self, z: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:  # unconditional: y is None
        return self._logp_dims(z).sum(1)

    def to_base(self, z: torch.Tensor) -> torch.Tensor:
        """For K = 1 MADE is a one-layer MAF: u_d = (z_d - mu_d(z_<d)) / sigma_d(z_<d) ~ N(0, I) (MAF Eq. 3)."""
        require(self.config.n_components == 1, "to_base needs n_components=1 (Gaussian conditionals)")
        _, mu, log_sigma = self.conditionals(z)
        return (z - mu[..., 0]) * torch.exp(-log_sigma[..., 0])

    # ------------------------------------------------------------------ hooks

    @torch.no_grad()
    def _ancestral(self, z: torch.Tensor, start: int, generator: torch.Generator) -> torch.Tensor:
        """Sample z_d for d >= start from p(z_d | z_<d), one pass per dimension."""
        z = z.clone()
        rows = torch.arange(z.shape[0], device=z.device)
        for d in range(start, self.dim):
            log_pi, mu, log_sigma = (t[:, d] for t in self.conditionals(z))
            k = multinomial(log_pi.exp(), 1, generator).squeeze(1)
            z[:, d] = mu[rows, k] + torch.exp(log_sigma[rows, k]) * randn(z.shape[:1], generator, device=z.device)
        return z

    def _sample(self, n, y, *, generator: torch.Generator) -> torch.Tensor:
        return self._ancestral(torch.zeros(n, self.dim, device=self.device), 0, generator)

    def _impute(self, z, mask, draws: int = 100, *, generator: torch.Generator, **opts) -> torch.Tensor:
        fill = opts.get("fill", "mean")
        one_of("impute fill", fill, ("mean", "sample"))
        known_options(opts, ["draws", *sorted(LANGEVIN_OPTIONS)], what="impute")
        draws = positive_int("impute draws", draws)
        out = z.clone()
        n_obs = mask.sum(1)
        suffix = (mask == (torch.arange(self.dim, device=mask.device) < n_obs[:, None])).all(1)  # observed entries are a prefix
        if (~suffix).any():
            out[~suffix] = langevin_fill(self._logp, z[~suffix], mask[~suffix], opts, generator)
        for j in n_obs[suffix].unique().tolist():
            rows = (suffix & (n_obs == j)).nonzero().squeeze(1)
            if j == self.dim:
                continue
            if fill == "sample":
                out[rows] = self._ancestral(z[rows], j, generator)
            else:
                reps = self._ancestral(z[rows].repeat(int(draws), 1), j, generator)
                out[rows] = reps.view(int(draws), rows.numel(), self.dim).mean(0)
        return out
