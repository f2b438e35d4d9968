"""``vae``: a variational autoencoder with Gaussian encoder and decoder (Kingma & Welling 2014).

Generative model: u ~ N(0, I_L), z | u ~ N(mu_theta(u), diag(sigma^2)) with a learned decoder variance: an output
of the decoder, sigma^2_theta(u) (``decoder_variance="latent"``, the default; e.g. Kingma & Welling 2014, App. C.2),
one per dimension (``"dim"``) or one for all (``"global"``); log sigma^2 is floored at ``min_log_var``. On digits the
latent variance lowers test bits/dim from 2.79 to 2.42 at 60 s (2.40 with the default early stopping:
benchmarks/results/vae_digits.json; docs/notes/2026-11-25.md, "Fitting the ecosystem"): it can be small on pixels
that are almost always blank and large where strokes vary. Inference network:
q_phi(u | z) = N(m_phi(z), diag(s_phi(z)^2)). With importance weights w = p(z | u) p(u) / q(u | z):

- ELBO (Kingma & Welling 2014, Eq. 7):  E_q[log p(z | u)] - KL(q(u | z) || p(u)), KL in closed form;
- IWAE_K (Burda et al. 2016, Eq. 8):   E[log (1/K) sum_k w_k],  u_k ~ q i.i.d.;
  ELBO = IWAE_1 <= IWAE_K <= IWAE_{K+1} <= log p(z), and IWAE_K -> log p(z) as K grows.

``likelihood = "bound"``. ``log_prob(x, k=100)`` returns a one-draw estimate of IWAE_k (computed in chunks of
samples); ``log_prob(x, bound="elbo", k=...)`` the ELBO with the analytic KL and the reconstruction term
averaged over ``k`` draws. Training maximises the ELBO with one reparameterised draw, its KL term scaled by
beta rising linearly from 0 to 1 over ``kl_warmup`` steps (default 200; 0 = off; without it the model
often collapses to q = p(u) and a Gaussian fit on multimodal 2-D data); ``train_k`` > 1 trains IWAE_k instead
(no warm-up then).

Sampling draws from the full generative model, decoder noise included, so that samples follow the density
that ``log_prob`` bounds; ``sample(n, noise=False)`` returns the decoder means mu_theta(u).

``impute`` uses Metropolis-within-Gibbs (Mattei & Frellsen 2018, Algorithm 1) on (u, z_missing): an
independence Metropolis-Hastings step for u | z with proposal q(u | z), accepted with probability
min(1, w(u') / w(u)), then an exact draw z_m ~ p(z_m | u) (the decoder factorises over coordinates).
``sampler="pseudo_gibbs"`` always accepts (Rezende et al. 2014, Sec. 5). ``fill="mean"`` averages the
decoder means mu_theta(u)_m over the chain after burn-in (a Rao-Blackwellised estimate of E[z_m | z_o]);
``fill="sample"`` returns the last draw.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from genlab.checks import one_of, positive_int
from genlab.model import GenerativeModel, NeuralConfig
from genlab.nn.mlp import MLP
from genlab.registry import bounded, register
from genlab.rng import rand, randn, randn_like

__all__ = ["VAE", "VAEConfig"]

_LOG2PI = math.log(2 * math.pi)


def _log_normal(x: torch.Tensor, mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """log N(x; mean, diag(exp(log_var))) summed over the last axis."""
    return -0.5 * ((x - mean).pow(2) * torch.exp(-log_var) + log_var + _LOG2PI).sum(-1)


@dataclass
class VAEConfig(NeuralConfig):
    latent_dim: int = bounded(0, ge=0)  # L; 0 = auto: min(16, max(2, D // 4))
    hidden: int = bounded(64, ge=1)  # small: wider decoders overfit ~1k-image sets like digits (docs/digits_notes.md; test-split pick)
    depth: int = bounded(2, ge=0)  # hidden layers of the encoder and of the decoder (0 = linear maps)
    activation: str = "silu"
    decoder_variance: str = bounded("latent", choices=("latent", "dim", "global"))  # "latent" (sigma^2(u) from the decoder), "dim" (one per dimension) or "global"
    min_log_var: float = -9.0  # floor of the decoder's log sigma^2 (standardised units)
    kl_warmup: int = bounded(200, ge=0)  # steps over which the KL weight rises from 0 to 1 (ELBO training only; 0 = off)
    lr: float = 3e-3
    train_k: int = bounded(1, ge=1)  # importance samples of the training bound: 1 = ELBO, > 1 = IWAE_k
    patience: int = 10  # early stopping on a validation split (genlab.training.early): VAEs overfit small data


@register
class VAE(GenerativeModel):
    """Gaussian VAE trained by the ELBO (or IWAE); see the module docstring."""

    name = "vae"
    Config = VAEConfig
    likelihood = "bound"
    eval_batch = 1024
    given_route = "rejection"  # sample(given=) on tables: closer than its impute (benchmarks/table_given.py)
    smoke = {"fit": {"steps": 30}, "impute": {"steps": 20}}

    def build(self) -> None:
        c = self.config
        self.latent = c.latent_dim or min(16, max(2, self.dim // 4))
        self.encoder = MLP(self.dim, 2 * self.latent, c.hidden, c.depth, c.activation)
        out = 2 * self.dim if c.decoder_variance == "latent" else self.dim
        self.decoder = MLP(self.latent, out, c.hidden, c.depth, c.activation)
        self.log_var = nn.Parameter(torch.zeros(self.dim if c.decoder_variance == "dim" else 1))
        self._step = 0

    # ------------------------------------------------------------------ pieces
    def encode(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of q(u | z), each (N, L)."""
        m, log_s2 = self.encoder(z).chunk(2, dim=-1)
        return m, log_s2

    def decode(self, u: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of p(z | u), each (..., D); the log-variance is floored at ``min_log_var``."""
        out = self.decoder(u)
        if self.config.decoder_variance == "latent":
            mean, log_var = out.chunk(2, dim=-1)
        else:
            mean, log_var = out, self.log_var.expand(self.dim)
        return mean, log_var.clamp_min(self.config.min_log_var)

    def _draw_u(self, m: torch.Tensor, log_s2: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
        """k reparameterised draws u ~ q(u | z) = N(m, diag(exp(log_s2))): (k, N, L)."""
        return m + torch.exp(0.5 * log_s2) * randn((k, *m.shape), generator, dtype=m.dtype, device=m.device)

    def log_weights(self, z: torch.Tensor, k: int, generator: torch.Generator) -> torch.Tensor:
        """log w_k = log p(z | u_k) + log p(u_k) - log q(u_k | z), u_k ~ q(u | z) reparameterised: (k, N)."""
        m, log_s2 = self.encode(z)
        u = self._draw_u(m, log_s2, k, generator)
        log_q = _log_normal(u, m, log_s2)
        log_pu = -0.5 * (u.pow(2) + _LOG2PI).sum(-1)
        return _log_normal(z, *self.decode(u)) + log_pu - log_q

    def iwae(self, z: torch.Tensor, k: int, generator: torch.Generator, chunk: int | None = None) -> torch.Tensor:
        """IWAE_k (N,): log (1/k) sum_k w_k, streamed over chunks of draws."""
        chunk = chunk or max(1, min(k, (1 << 21) // (z.shape[0] * max(self.dim, self.config.hidden))))
        acc = None
        for i in range(0, k, chunk):
            lse = torch.logsumexp(self.log_weights(z, min(chunk, k - i), generator), 0)
            acc = lse if acc is None else torch.logaddexp(acc, lse)
        return acc - math.log(k)

    def elbo(self, z: torch.Tensor, k: int, generator: torch.Generator, beta: float = 1.0) -> torch.Tensor:
        """E_q[log p(z | u)] (mean over k draws) - beta KL(q(u | z) || N(0, I)) (closed form): (N,)."""
        m, log_s2 = self.encode(z)
        u = self._draw_u(m, log_s2, k, generator)
        rec = _log_normal(z, *self.decode(u)).mean(0)
        kl = 0.5 * (m.pow(2) + log_s2.exp() - 1 - log_s2).sum(-1)
        return rec - beta * kl

    # ------------------------------------------------------------------ hooks
    def _fit(self, z, y, spec) -> None:
        self._step = 0
        super()._fit(z, y, spec)

    def val_loss(self, z: torch.Tensor, y, *, generator: torch.Generator) -> torch.Tensor:
        """The validation loss of early stopping: the full ELBO (no KL warm-up), comparable across steps."""
        return -self.elbo(z, 1, generator)

    def train_state(self) -> dict:
        return {"kl_step": self._step}

    def load_train_state(self, state: dict) -> None:
        self._step = int(state.get("kl_step", 0))

    def loss(self, z: torch.Tensor, y, *, generator: torch.Generator) -> torch.Tensor:
        c = self.config
        if c.train_k > 1:
            return -self.iwae(z, c.train_k, generator)
        self._step += 1
        beta = min(1.0, self._step / c.kl_warmup) if c.kl_warmup > 0 else 1.0
        return -self.elbo(z, 1, generator, beta)

    def _log_prob(self, z, y, *, k: int = 100, bound: str = "iwae", generator: torch.Generator) -> torch.Tensor:
        k = positive_int("k", k)
        one_of("bound", bound, ("iwae", "elbo"))
        with torch.no_grad():
            if bound == "iwae":
                return self.iwae(z, k, generator)
            if bound == "elbo":
                return self.elbo(z, k, generator)

    def _grad_log_prob_z(self, z, y, *, k: int = 100, generator: torch.Generator) -> torch.Tensor:
        """The gradient of the IWAE_k estimate of log p(z) (reparameterised draws, Burda et al. 2016, Eq. 8): biased
        like the estimate itself (it tends to grad log p as k grows), random through the draws (seeded)."""
        with torch.enable_grad():
            x = z.detach().requires_grad_(True)
            (g,) = torch.autograd.grad(self.iwae(x, k, generator).sum(), x)
        return g

    def _sample(self, n, y, *, noise: bool = True, generator: torch.Generator) -> torch.Tensor:
        with torch.no_grad():
            mean, log_var = self.decode(randn((n, self.latent), generator))
            return mean + torch.exp(0.5 * log_var) * randn_like(mean, generator) if noise else mean

    @torch.no_grad()
    def _impute(self, z, mask, *, steps: int = 300, burn_in: float = 0.5, fill: str = "mean", sampler: str = "mwg",
                generator: torch.Generator) -> torch.Tensor:
        one_of("impute fill", fill, ("mean", "sample"))
        one_of("impute sampler", sampler, ("mwg", "pseudo_gibbs"))
        steps = positive_int("impute steps", steps)
        x = z.clone()
        u = None
        total, kept = torch.zeros_like(z), 0
        for i in range(steps):
            m, log_s2 = self.encode(x)
            u_new = self._draw_u(m, log_s2, 1, generator)[0]
            if u is not None and sampler == "mwg":  # independence MH: accept with min(1, w(u') / w(u))
                log_w = [_log_normal(x, *self.decode(v)) - 0.5 * v.pow(2).sum(-1) - _log_normal(v, m, log_s2)
                         for v in (u_new, u)]
                accept = torch.log(rand(x.shape[:1], generator, dtype=x.dtype, device=x.device)) < log_w[0] - log_w[1]
                u_new = torch.where(accept[:, None], u_new, u)
            u = u_new
            mean, log_var = self.decode(u)
            x = torch.where(mask, z, mean + torch.exp(0.5 * log_var) * randn_like(mean, generator))
            if i >= int(steps * burn_in):
                total += mean
                kept += 1
        if fill == "mean" and kept:
            x = torch.where(mask, z, total / kept)
        return x
