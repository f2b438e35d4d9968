"""Generative adversarial network (Goodfellow et al. 2014) with the non-saturating loss and an R1 penalty.

Players. A generator G: R^k -> R^D (MLP) pushes the latent prior N(0, I_k) forward; a discriminator
D: R^D -> R (MLP) returns a logit. Objective (Mescheder, Geiger & Nowozin 2018, "Which training methods for GANs
do actually converge?", Eq. 9 with the non-saturating generator loss of Goodfellow et al. 2014, Sec. 3):

    L_D = E_x[softplus(-D(x))] + E_w[softplus(D(G(w)))] + (γ/2) E_x[|∇_x D(x)|²]     (R1 on real data)
    L_G = E_w[softplus(-D(G(w)))]

One D step then one G step per batch, each with its own Adam (betas ``betas`` = (0.5, 0.9)), run through the
shared loop :func:`genlab.training.train` with a ``step_fn`` (so time budget, seeding, EMA and history are shared).
The EMA of the weights (default decay 0.99; Yazıcı et al. 2019, "The unusual effectiveness of averaging in GAN
training") is what sampling uses.
``likelihood = "none"``: a GAN defines no density, so ``log_prob`` raises ConfigError.

Sampling: G(w), w ~ N(0, I_k). Imputation: for each row, optimise the latent code w (Adam, ``steps`` steps,
``restarts`` random starts, step ``lr``) to minimise

    Σ_observed (G(w)_i - z_i)² + ``prior`` · |w|² + ``realism`` · softplus(-D(G(w)))

(the squared error of the observed entries in standardised units, a small Gaussian-prior penalty on w, and the
discriminator's "prior loss" of Yeh et al. 2017, "Semantic image inpainting with deep generative models", Eq. 3-5,
which keeps G(w) off the low-density bridges a continuous generator draws between separated modes), keep the
restart with the smallest objective, and fill the missing entries from G(w*).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from genlab.checks import in_range, positive_int
from genlab.model import GenerativeModel, NeuralConfig
from genlab.nn import MLP
from genlab.registry import bounded, register
from genlab.rng import randn
from genlab.training import distributed as dist
from genlab.training import train

__all__ = ["GAN", "GANConfig"]


@dataclass
class GANConfig(NeuralConfig):
    latent_dim: int = bounded(16, ge=1)
    hidden: int = 128
    depth: int = 3
    activation: str = "silu"
    r1: float = bounded(2.0, ge=0)  # γ of the R1 penalty (data are standardised)
    ema: float = 0.99  # EMA of the weights: damps the players' oscillation, much better samples
    beta1: float = 0.5
    beta2: float = 0.9


@register
class GAN(GenerativeModel):
    """MLP generator and discriminator, non-saturating loss with R1 penalty; sampling only (no likelihood)."""

    name = "gan"
    Config = GANConfig
    likelihood = "none"
    given_route = "rejection"  # sample(given=) on tables: closer than its impute (benchmarks/table_given.py)
    smoke = {"fit": {"steps": 30}, "impute": {"steps": 20}}

    def build(self) -> None:
        c = self.config
        self.generator = MLP(c.latent_dim, self.dim, c.hidden, c.depth, c.activation)
        self.discriminator = MLP(self.dim, 1, c.hidden, c.depth, c.activation)

    def _fit(self, z, y, spec) -> None:
        c = self.config
        betas = (c.beta1, c.beta2)
        opt_g = torch.optim.Adam(self.generator.parameters(), lr=spec.lr, betas=betas)
        opt_d = torch.optim.Adam(self.discriminator.parameters(), lr=spec.lr, betas=betas)
        G, D = self.generator, self.discriminator

        def update(opt: torch.optim.Optimizer, module: nn.Module, loss: torch.Tensor) -> None:
            opt.zero_grad(set_to_none=True)
            loss.backward()
            dist.reduce_gradients(module.parameters())  # torchrun: the update of the global batch
            if spec.grad_clip > 0:
                nn.utils.clip_grad_norm_(module.parameters(), spec.grad_clip)
            opt.step()

        def step(xb, yb, i, *, generator):
            # discriminator: logistic loss on real vs fake, R1 penalty on real data
            x = xb.detach().requires_grad_(True)
            d_real = D(x).squeeze(-1)
            (grad,) = torch.autograd.grad(d_real.sum(), x, create_graph=True)
            r1 = grad.pow(2).sum(1).mean()
            with torch.no_grad():
                fake = G(randn((xb.shape[0], c.latent_dim), generator, device=xb.device))
            d_fake = D(fake).squeeze(-1)
            loss_d = nn.functional.softplus(-d_real).mean() + nn.functional.softplus(d_fake).mean() + 0.5 * c.r1 * r1
            update(opt_d, D, loss_d)
            # generator: non-saturating loss
            D.requires_grad_(False)
            w = randn((xb.shape[0], c.latent_dim), generator, device=xb.device)
            loss_g = nn.functional.softplus(-D(G(w))).mean()
            update(opt_g, G, loss_g)
            D.requires_grad_(True)
            return {"loss": loss_d.item(), "loss_g": loss_g.item(), "r1": r1.item()}

        self.history = train(self, None, z, y, spec, step_fn=step, optimizers=[opt_g, opt_d])

    def _sample(self, n, y, *, generator: torch.Generator) -> torch.Tensor:
        with torch.no_grad():
            return self.generator(randn((n, self.config.latent_dim), generator))

    def _impute(self, z, mask, steps: int = 200, restarts: int = 8, lr: float = 0.05, prior: float = 0.01,
                realism: float = 1.0, *, generator: torch.Generator) -> torch.Tensor:
        steps, restarts = positive_int("gan impute steps", steps), positive_int("gan impute restarts", restarts)
        in_range("gan impute lr", lr, gt=0), in_range("gan impute prior", prior, ge=0)
        in_range("gan impute realism", realism, ge=0)
        n, r, k = z.shape[0], int(restarts), self.config.latent_dim
        target = z.repeat_interleave(r, 0)
        m = mask.repeat_interleave(r, 0).to(z.dtype)
        w = randn((n * r, k), generator, device=z.device).requires_grad_(True)
        opt = torch.optim.Adam([w], lr=float(lr))
        self.requires_grad_(False)

        def objective() -> torch.Tensor:
            g = self.generator(w)
            return (((g - target) * m).pow(2).sum(1) + prior * w.pow(2).sum(1)
                    + realism * nn.functional.softplus(-self.discriminator(g).squeeze(-1)))

        try:
            with torch.enable_grad():
                for _ in range(int(steps)):
                    opt.zero_grad(set_to_none=True)
                    objective().sum().backward()
                    opt.step()
        finally:
            self.requires_grad_(True)
        with torch.no_grad():
            best = objective().reshape(n, r).argmin(1)
            w_best = w.detach().reshape(n, r, k)[torch.arange(n, device=best.device), best]
            return torch.where(mask, z, self.generator(w_best))
