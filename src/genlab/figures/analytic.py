"""Figures with exact scores (no training): Langevin vs annealed Langevin, perturbed densities, forward SDE paths,
reverse SDE and probability-flow ODE paths, and the ODE likelihood against the exact one.

Every function takes the output folder, writes ``NAME.png`` there and returns the figure's numbers (a dict).
The scores are those of :class:`genlab.figures.mixture.GaussianMixture` under the process in question.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from genlab.diffusion import VPSDE, NoiseLadder, ald, euler_maruyama, geometric_sigmas, langevin, ode_log_likelihood
from genlab.diffusion.samplers.sde import ode
from genlab.figures.mixture import EIGHT_MODES, TWO_MODES, GaussianMixture
from genlab.metrics import sliced_wasserstein
from genlab.plots import _figure, _save
from genlab.rng import make_generator, rand, randn_like

__all__ = ["langevin_figure", "perturbation_figure", "sde_paths_figure", "reverse_paths_figure", "likelihood_figure",
           "gaussian_likelihood_error", "GAUSSIAN"]

DT = torch.float64
LIM = 3.5
#: the Gaussian of the likelihood check: N((1, -0.5), 0.5^2 I)
GAUSSIAN = GaussianMixture((1.0,), ((1.0, -0.5),), 0.5)


def _weights(mix: GaussianMixture, x: torch.Tensor) -> list[float]:
    """Fraction of points assigned (by posterior argmax) to each component."""
    k = mix.posterior(x).argmax(1)
    return [round(float((k == i).double().mean()), 4) for i in range(len(mix.weights))]


def _scatter(ax, x, title, lim=9.0, c="C0"):
    x = x.numpy()
    ax.scatter(x[:, 0], x[:, 1], s=2, alpha=0.4, c=c, linewidths=0)
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    ax.set_aspect("equal")
    ax.set_title(title, fontsize=9)


def langevin_figure(out: Path, n: int = 2000, seed: int = 0) -> dict:
    """Song & Ermon 2019, Fig. 3: 0.2 N((-5,-5), I) + 0.8 N((5,5), I) from a uniform start on [-8, 8]^2. Plain
    Langevin at sigma = 1 (1000 steps) cannot cross the empty gap and keeps the start's split; annealed Langevin
    over 20 -> 1 (L = 10, 100 steps each, same last-level step) recovers the weights."""
    mix, g = TWO_MODES, make_generator(seed)
    x0 = rand((n, 2), g, dtype=DT) * 16 - 8
    ladder = NoiseLadder(geometric_sigmas(1.0, 20.0, 10).to(DT))
    plain = langevin(lambda x: mix.score(x, 1.0), x0.clone(), steps=1000, step_size=0.3, generator=g)
    annealed = ald(lambda x, s: mix.score(x, s), x0.clone(), ladder, generator=g, n_steps_each=100, step_lr=0.3,
                   denoise=False)
    truth = mix.sample(n, generator=g, dtype=DT)[0]
    res = {"true_weights": list(mix.weights), "langevin_weights": _weights(mix, plain),
           "annealed_weights": _weights(mix, annealed), "n": n,
           "setup": "uniform start on [-8, 8]^2; Langevin: 1000 steps at sigma = 1, step 0.3; annealed: ladder "
                    "20 -> 1 (L = 10), 100 steps per level, step 0.3 sigma_i^2"}
    fig = _figure(12, 4)
    for i, (x, title) in enumerate([(truth, f"exact samples, weights {res['true_weights']}"),
                                    (plain, f"Langevin, weights {res['langevin_weights']}"),
                                    (annealed, f"annealed Langevin, weights {res['annealed_weights']}")]):
        _scatter(fig.add_subplot(1, 3, i + 1), x, title)
    fig.tight_layout()
    _save(fig, out / "langevin.png")
    return res


def _grid(lim: float, m: int, dtype=DT) -> tuple[torch.Tensor, np.ndarray]:
    xs = torch.linspace(-lim, lim, m, dtype=dtype)
    gx, gy = torch.meshgrid(xs, xs, indexing="xy")
    return torch.stack([gx.reshape(-1), gy.reshape(-1)], 1), xs.numpy()


def perturbation_figure(out: Path, sigmas=(0.0, 0.25, 0.5, 1.0, 2.0)) -> dict:
    """Densities of the 8-mode mixture perturbed by N(0, sigma^2 I): the modes merge and the gaps between them fill
    in as sigma grows, which is what lets scores at high noise carry samples between modes."""
    mix = EIGHT_MODES
    pts, _ = _grid(LIM + 1, 161)
    centre = torch.zeros(1, 2, dtype=DT)
    mode = torch.tensor([mix.means[0]], dtype=DT)
    fig = _figure(3.2 * len(sigmas), 3.4)
    res = {"sigmas": list(sigmas), "peak_density": [], "centre_over_mode": []}
    for i, s in enumerate(sigmas):
        dens = mix.log_prob(pts, s).exp().reshape(161, 161)
        res["peak_density"].append(round(float(dens.max()), 5))
        res["centre_over_mode"].append(float(mix.log_prob(centre, s).exp() / mix.log_prob(mode, s).exp()))
        ax = fig.add_subplot(1, len(sigmas), i + 1)
        ax.imshow(dens.numpy(), origin="lower", extent=(-LIM - 1, LIM + 1, -LIM - 1, LIM + 1), cmap="viridis")
        ax.set_title(f"sigma = {s}", fontsize=9)
        ax.set_axis_off()
    fig.tight_layout()
    _save(fig, out / "perturbation.png")
    return res


def sde_paths_figure(out: Path, n: int = 1000, steps: int = 200, seed: int = 0) -> dict:
    """Forward VP SDE (Song et al. 2021, Eq. 32) from the 8-mode mixture: the data diffuse into the N(0, I) prior."""
    sde, g = VPSDE(), make_generator(seed)
    x = EIGHT_MODES.sample(n, generator=g, dtype=DT)[0]
    ts = torch.linspace(0, 1, steps + 1, dtype=DT)
    path = [x]
    for i in range(steps):
        f, G = sde.discretize(x, ts[i + 1], float(ts[i + 1] - ts[i]))
        x = x + f + G * randn_like(x, g)
        path.append(x)
    path = torch.stack(path)  # (steps + 1, n, 2)
    res = {"sde": repr(sde), "steps": steps, "final_mean": [round(float(v), 4) for v in x.mean(0)],
           "final_var": [round(float(v), 4) for v in x.var(0)], "prior_mean": [0.0, 0.0], "prior_var": [1.0, 1.0]}
    fig = _figure(12, 4)
    ax = fig.add_subplot(1, 3, (1, 2))
    ax.plot(ts.numpy(), path[:, :60, 0].numpy(), lw=0.6, alpha=0.6)
    ax.set_xlabel("t")
    ax.set_ylabel("x_1")
    ax.set_title("forward VP SDE: 60 paths of the first coordinate", fontsize=9)
    ax = fig.add_subplot(1, 3, 3)
    for k, c in zip([0, steps // 20, steps // 5, steps], ["C0", "C1", "C2", "C3"], strict=True):
        p = path[k].numpy()
        ax.scatter(p[:, 0], p[:, 1], s=2, alpha=0.5, c=c, linewidths=0, label=f"t = {float(ts[k]):.2f}")
    ax.set_aspect("equal")
    ax.legend(fontsize=7, markerscale=4)
    fig.tight_layout()
    _save(fig, out / "sde_paths.png")
    return res


def reverse_paths_figure(out: Path, n: int = 1000, steps: int = 200, seed: int = 0) -> dict:
    """Reverse-time SDE (Euler-Maruyama, Eq. 6) and probability-flow ODE (Eq. 13, fixed-step Euler in t) with the
    exact score of the 8-mode mixture under the VP SDE, from the same prior draws; both reach the data."""
    sde, mix, g = VPSDE(), EIGHT_MODES, make_generator(seed)
    score = mix.t_score(sde)
    x0 = sde.prior_sample((n, 2), g, dtype=DT)
    paths = {"sde": [x0], "ode": [x0]}
    x_sde = euler_maruyama(score, x0.clone(), sde, steps=steps, generator=g,
                           callback=lambda s: paths["sde"].append(s["x"].clone()))
    x_ode = ode(score, x0.clone(), sde, steps=steps, method="euler",
                callback=lambda s: paths["ode"].append(s["x"].clone()))
    truth = mix.sample(4000, generator=make_generator(seed, 1), dtype=DT)[0]
    res = {"steps": steps, "n": n, "sw1_reverse_sde": sliced_wasserstein(x_sde, truth),
           "sw1_probability_flow_ode": sliced_wasserstein(x_ode, truth),
           "sw1_two_exact_sample_sets": sliced_wasserstein(mix.sample(n, generator=make_generator(seed, 2), dtype=DT)[0], truth)}
    fig = _figure(10, 5)
    for i, (key, final, title) in enumerate([("sde", x_sde, "reverse SDE"), ("ode", x_ode, "probability-flow ODE")]):
        ax = fig.add_subplot(1, 2, i + 1)
        p = torch.stack(paths[key])[:, :80].numpy()
        ax.plot(p[:, :, 0], p[:, :, 1], lw=0.4, alpha=0.35, c="C0")
        f = final.numpy()
        ax.scatter(f[:, 0], f[:, 1], s=3, c="C3", linewidths=0)
        ax.set_xlim(-LIM, LIM)
        ax.set_ylim(-LIM, LIM)
        ax.set_aspect("equal")
        ax.set_title(f"{title}: SW1 to data {res['sw1_' + ('reverse_sde' if key == 'sde' else 'probability_flow_ode')]:.3f}",
                     fontsize=9)
    fig.tight_layout()
    _save(fig, out / "reverse_paths.png")
    return res


def _ode_vs_exact(mix: GaussianMixture, x: torch.Tensor, sde, eps: float) -> tuple[torch.Tensor, torch.Tensor,
                                                                                     torch.Tensor]:
    """(exact log p_eps(x), ODE log-likelihood with the N(0, I) prior, with the true marginal p_T as prior)."""
    res = ode_log_likelihood(mix.t_score(sde), sde, x, eps=eps, rtol=1e-6, atol=1e-6)
    a_eps, s_eps = sde.marginal_coeffs(torch.tensor(eps, dtype=DT))
    a_T, s_T = sde.marginal_coeffs(torch.tensor(sde.T, dtype=DT))
    exact = mix.log_prob(x, s_eps, a_eps)
    return exact, res.logp, res.delta_logp + mix.log_prob(res.z, s_T, a_T)


def gaussian_likelihood_error(eps: float = 1e-5, n: int = 200, seed: int = 0) -> float:
    """Largest |ODE log-likelihood - analytic log p_eps| (nats) for :data:`GAUSSIAN` under the VP SDE, with the
    true marginal at T as the prior (so only the ODE solve and its divergence are tested)."""
    x = GAUSSIAN.sample(n, generator=make_generator(seed), dtype=DT)[0]
    exact, _, true_prior = _ode_vs_exact(GAUSSIAN, x, VPSDE(), eps)
    return float((true_prior - exact).abs().max())


def likelihood_figure(out: Path, n: int = 300, eps: float = 1e-5, seed: int = 0) -> dict:
    """Probability-flow ODE log-likelihood (Song et al. 2021, Sec. 4.3) with the exact score of the 8-mode mixture
    under the VP SDE, against the exact log-density at t = eps, for data points and for points off the data."""
    sde, mix, g = VPSDE(), EIGHT_MODES, make_generator(seed)
    x = torch.cat([mix.sample(n, generator=g, dtype=DT)[0], (rand((n // 3, 2), g, dtype=DT) * 2 - 1) * LIM])
    exact, std_prior, true_prior = _ode_vs_exact(mix, x, sde, eps)
    res = {"eps": eps, "n_points": len(x), "max_abs_error_nats": float((std_prior - exact).abs().max()),
           "mean_abs_error_nats": float((std_prior - exact).abs().mean()),
           "max_abs_error_true_prior_nats": float((true_prior - exact).abs().max()),
           "gaussian_max_abs_error_true_prior_nats": gaussian_likelihood_error(eps, seed=seed)}
    fig = _figure(10, 4.5)
    ax = fig.add_subplot(1, 2, 1)
    e, o = exact.numpy(), std_prior.numpy()
    ax.scatter(e, o, s=4, alpha=0.6, linewidths=0)
    ax.plot([e.min(), e.max()], [e.min(), e.max()], c="k", lw=0.8)
    ax.set_xlabel("exact log p_eps(x)")
    ax.set_ylabel("ODE log-likelihood")
    ax.set_title(f"max |error| {res['max_abs_error_nats']:.1e} nats (N(0, I) prior at T)", fontsize=9)
    ax = fig.add_subplot(1, 2, 2)
    ax.hist(o - e, bins=40)
    ax.set_xlabel("ODE - exact (nats)")
    ax.set_title(f"with the true p_T as prior: max |error| {res['max_abs_error_true_prior_nats']:.1e}", fontsize=9)
    fig.tight_layout()
    _save(fig, out / "likelihood.png")
    return res
