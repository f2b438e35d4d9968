"""Classifier guidance by Bayes' rule on scores: known answers with an exact mixture score and an exact classifier,
the noise-conditional classifier, and bad input."""

from __future__ import annotations

import pytest
import torch

import genlab
from conftest import ExactEps
from genlab.apps import NoisyClassifier
from genlab.errors import ConfigError
from genlab.figures.mixture import GaussianMixture

MIX = GaussianMixture((0.5, 0.5), ((-1.0, -1.0), (1.0, 1.0)), 0.6)  # overlapping: p(x | y) differs from p(x)


class ExactClassifier:
    """p(y | x, sigma) of the mixture in the sigma form: the Bayes posterior of the components."""

    def grad_log_prob(self, x, sigma, y):
        return MIX.class_grad(x, sigma, y)

    def check(self, model, y):
        pass


def _exact_model(name="vp_sde"):
    # unstandardised data: the samplers' grid must start far above the data's scale (the default 5 assumes std 1)
    m = genlab.create(name, (2,), normalize=False, sample_sigma_max=80.0, sample_sigma_min=0.0)
    m.fitted = True  # an exact noise predictor set by hand, not an unfitted network
    return m.set_backbone(ExactEps(m.sde, MIX.score))


@pytest.mark.parametrize("sampler,steps", [("heun", 40), ("euler_maruyama", 400)])
def test_bayes_rule_gives_the_class_conditional(sampler, steps):
    """g = 1 with exact scores samples p(x | y = 0) = N((-1, -1), 0.36 I) (sigma form and t form); g = 0 samples
    the mixture (mean 0); a larger g concentrates on the class (smaller spread)."""
    m, clf = _exact_model(), ExactClassifier()
    x = m.sample(3000, y=0, classifier=clf, classifier_scale=1.0, sampler=sampler, steps=steps, seed=0)
    assert (x.mean(0) + 1.0).abs().max() < 0.06
    assert (x.var(0) - 0.36).abs().max() < 0.06
    plain = m.sample(3000, y=0, classifier=clf, classifier_scale=0.0, sampler=sampler, steps=steps, seed=0)
    assert plain.mean(0).abs().max() < 0.08
    sharp = m.sample(3000, y=0, classifier=clf, classifier_scale=4.0, sampler=sampler, steps=steps, seed=0)
    assert sharp.mean(0).max() < -1.0 and (sharp.sum(1) < 0).float().mean() > (x.sum(1) < 0).float().mean()


def test_noisy_classifier_learns_the_posterior_and_round_trips(tmp_path):
    g = torch.Generator().manual_seed(0)
    x, y = MIX.sample(4000, g)
    model = genlab.create("vp_sde", (2,), hidden=16, depth=1).fit(x, steps=2, progress=False)
    clf = NoisyClassifier.fit(model, x, y, steps=400, hidden=32, depth=2, seed=0)
    z = model.normalizer(x)
    lo, hi = model.sigma_range()
    with torch.no_grad():
        acc = (clf.logits(z, torch.tensor(lo)).argmax(1) == y).float().mean()
        bayes = (MIX.posterior(x).argmax(1) == y).float().mean()
        top = torch.softmax(clf.logits(z + hi * torch.randn(z.shape, generator=g), torch.tensor(hi)), 1).max(1).values
    assert acc > bayes - 0.03
    assert top.mean() < 0.6  # at sigma_max the class is (nearly) unknowable
    back = NoisyClassifier.load(clf.save(tmp_path / "clf"))
    with torch.no_grad():
        assert torch.allclose(back.logits(z[:5], torch.tensor(0.3)), clf.logits(z[:5], torch.tensor(0.3)))
    s = model.sample(50, y=1, classifier=clf, classifier_scale=2.0, sampler="heun", steps=8, seed=0)
    assert s.shape == (50, 2) and torch.isfinite(s).all()


def test_bad_input_is_a_one_line_error():
    g = torch.Generator().manual_seed(1)
    x, y = MIX.sample(600, g)
    model = genlab.create("vp_sde", (2,), hidden=16, depth=1).fit(x, steps=2, progress=False)
    clf = NoisyClassifier.fit(model, x, y, steps=2, hidden=8, depth=1)
    other = genlab.create("vp_sde", (3,), hidden=16, depth=1).fit(torch.randn(50, 3), steps=2, progress=False)
    cond = genlab.create("vp_sde", (2,), hidden=16, depth=1).fit(x, (y * 0 + torch.arange(len(y)) % 3), steps=2,
                                                                 progress=False)
    cases = [(other, dict(y=0), "shape"), (cond, dict(y=0), "classes"), (model, dict(y=5), "outside"),
             (model, dict(y=0, guidance=1.0), "not both"), (model, {}, "target class")]
    for m, kw, msg in cases:
        with pytest.raises(ConfigError, match=msg) as err:
            m.sample(4, classifier=clf, steps=2, **kw)
        assert "\n" not in str(err.value)
    with pytest.raises(ConfigError, match="NoisyClassifier"):
        model.sample(4, y=0, classifier="judge")
