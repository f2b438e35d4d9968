"""The figures' numbers where the answer is known (exact mixture scores), the mixture helper itself, and the
``genlab figures`` command."""

from __future__ import annotations

import json

import pytest
import torch

from genlab.cli.app import main
from genlab.errors import ConfigError
from genlab.figures import EIGHT_MODES, TWO_MODES, GaussianMixture, names, run
from genlab.figures.analytic import gaussian_likelihood_error

DT = torch.float64


def test_mixture_score_and_class_gradient_are_the_gradients_of_its_log_densities():
    mix = GaussianMixture((0.3, 0.7), ((-1.0, 0.5), (1.5, -0.5)), 0.8)
    x = torch.randn(50, 2, generator=torch.Generator().manual_seed(0), dtype=DT).requires_grad_(True)
    sigma, alpha = torch.full((50,), 0.4, dtype=DT), torch.full((50,), 0.9, dtype=DT)
    (g,) = torch.autograd.grad(mix.log_prob(x, sigma, alpha).sum(), x)
    assert torch.allclose(mix.score(x.detach(), sigma, alpha), g, atol=1e-10)
    y = torch.arange(50) % 2
    logpost = torch.log(mix.posterior(x, sigma)).gather(1, y[:, None]).sum()
    (gc,) = torch.autograd.grad(logpost, x)
    assert torch.allclose(mix.class_grad(x.detach(), sigma, y), gc, atol=1e-10)


def test_mixture_density_integrates_to_one_and_samples_match_weights():
    xs = torch.linspace(-6, 6, 401, dtype=DT)
    gx, gy = torch.meshgrid(xs, xs, indexing="xy")
    pts = torch.stack([gx.reshape(-1), gy.reshape(-1)], 1)
    mass = EIGHT_MODES.log_prob(pts, 0.5).exp().sum() * (xs[1] - xs[0]) ** 2
    assert abs(mass.item() - 1.0) < 1e-3
    _, labels = TWO_MODES.sample(20000, torch.Generator().manual_seed(0))
    assert abs(labels.double().mean().item() - 0.8) < 0.01


def test_annealed_langevin_recovers_the_weights_plain_langevin_does_not(tmp_path):
    res = run(["langevin"], tmp_path)["langevin"]
    assert res["true_weights"] == [0.2, 0.8]
    assert max(abs(a - t) for a, t in zip(res["annealed_weights"], res["true_weights"], strict=True)) < 0.05
    assert max(abs(a - t) for a, t in zip(res["langevin_weights"], res["true_weights"], strict=True)) > 0.15
    assert json.loads((tmp_path / "langevin.json").read_text())["annealed_weights"] == res["annealed_weights"]
    assert (tmp_path / "langevin.png").stat().st_size > 1000


def test_learned_score_is_worse_where_the_density_is_low(tmp_path):
    res = run(["score_field"], tmp_path)["score_field"]
    dec = res["error_by_density_decile"]
    assert len(dec) == 10 and dec[0] == res["error_lowest_density_decile"]
    assert res["error_lowest_density_decile"] > res["error_highest_density_decile"]


def test_ode_likelihood_of_a_gaussian_matches_the_analytic_value():
    """True marginal at T as the prior, log p at t = eps: within 0.01 nats (measured ~1e-6)."""
    assert gaussian_likelihood_error(n=50) < 0.01


def test_unknown_figure_is_a_clear_error(tmp_path, capsys):
    with pytest.raises(ConfigError, match="unknown figure 'nope'"):
        run(["nope"], tmp_path)
    assert main(["figures", "--out", str(tmp_path), "--only", "nope"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("genlab: error: unknown figure") and "\n" not in err


def test_cli_writes_the_named_figures(tmp_path, capsys):
    assert main(["figures", "--out", str(tmp_path / "figs"), "--only", "perturbation,sde_paths"]) == 0
    for name in ("perturbation", "sde_paths"):
        assert (tmp_path / "figs" / f"{name}.png").is_file()
        numbers = json.loads((tmp_path / "figs" / f"{name}.json").read_text())
        assert numbers["figure"] == f"{name}.png"
    sde = json.loads((tmp_path / "figs" / "sde_paths.json").read_text())
    assert max(abs(v) for v in sde["final_mean"]) < 0.15 and max(abs(v - 1) for v in sde["final_var"]) < 0.15
    assert "2 figures" in capsys.readouterr().out


@pytest.mark.slow
def test_every_figure(tmp_path):
    res = run(None, tmp_path)
    assert set(res) == set(names())
    for name in names():
        assert (tmp_path / f"{name}.png").is_file() and (tmp_path / f"{name}.json").is_file()
    acc = [r["accuracy"] for r in res["classifier_guidance"]["classifier_g"]]
    assert acc[-1] > acc[0]


def test_the_claims_page_links_every_figure_and_results_file():
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    page = (root / "docs" / "claims.md").read_text()
    links = set(re.findall(r"\]\(([^)#]+)\)", page))
    for name in names():
        for ext in ("png", "json"):
            assert f"figures/theory/{name}.{ext}" in links, f"docs/claims.md does not link {name}.{ext}"
    results = {link for link in links if "benchmarks/results/" in link}
    for claim in ("claim1_quality", "claim2_backbone", "claim3_likelihood", "claim4_inverse"):
        assert f"../benchmarks/results/{claim}.json" in results
    for link in links - results:  # every linked figure is in the repository (results files come from benchmarks)
        if not link.startswith("http"):
            assert (root / "docs" / link).is_file(), link
