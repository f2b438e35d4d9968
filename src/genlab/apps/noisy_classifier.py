"""A noise-conditional classifier for classifier guidance (Song et al. 2021, "Score-Based Generative Modeling
through SDEs", Sec. 5 and Appendix I.4; Dhariwal & Nichol 2021, "Diffusion Models Beat GANs", Sec. 4).

By Bayes' rule on scores, the score of the class-conditional perturbed density is

    grad_x log p_sigma(x | y) = grad_x log p_sigma(x) + grad_x log p_sigma(y | x),

so an unconditional diffusion model samples class y when the gradient of a classifier of *perturbed* data is added
to its score; ``classifier_scale`` g multiplies that gradient (g = 1 is Bayes' rule, g > 1 sharpens p(y | x)^g).
The classifier here is trained on the same perturbation kernel as the model it guides: the sigma form
x = z + sigma n of the model's standardised data z (the model's own normaliser), sigma log-uniform on the model's
``sigma_range()``, with the cross-entropy loss. Its input is preconditioned as in EDM (Karras et al. 2022, Table 1):
c_in = 1 / sqrt(1 + sigma^2), and it is conditioned on log sigma.

Use::

    clf = NoisyClassifier.fit(model, x, y, steps=2000, seed=0)     # model: a fitted diffusion model
    x = model.sample(100, y=3, classifier=clf, classifier_scale=1.0)

Saved form (no pickle): ``path/classifier.safetensors`` + ``path/classifier.json``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from torch import nn

from genlab.data.validate import as_labels, as_tensor
from genlab.errors import CheckpointError, ConfigError
from genlab.nn import ConditionalMLP, FourierEmbedding
from genlab.rng import forked, rand, randn_like
from genlab.training import TrainSpec, train

__all__ = ["NoisyClassifier", "FORMAT"]

FORMAT = "genlab-noisy-classifier/1"
_WEIGHTS, _META = "classifier.safetensors", "classifier.json"


class NoisyClassifier(nn.Module):
    """log p(y | x, sigma) for x in the sigma form of a diffusion model's standardised data (module docstring)."""

    def __init__(self, shape, num_classes: int, sigma_range: tuple[float, float], *, hidden: int = 128,
                 depth: int = 2):
        super().__init__()
        if int(num_classes) < 2:
            raise ConfigError(f"a classifier needs at least 2 classes, got {num_classes}")
        self.shape, self.num_classes = tuple(int(s) for s in shape), int(num_classes)
        self.dim = math.prod(self.shape)
        self.sigma_range = (float(sigma_range[0]), float(sigma_range[1]))
        self.hidden, self.depth = int(hidden), int(depth)
        with forked(0):
            self.net = ConditionalMLP(self.dim, self.hidden, self.depth, embedding=FourierEmbedding(64, scale=1.0),
                                      emb_dim=64, out_dim=self.num_classes)
        self.register_buffer("norm_mean", torch.zeros(self.dim))
        self.register_buffer("norm_std", torch.ones(self.dim))

    # ------------------------------------------------------------------ the classifier
    def logits(self, x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """(N, K) logits of p(y | x, sigma); x (N, D) in the model's sigma form, sigma (N,)."""
        sigma = torch.as_tensor(sigma, dtype=x.dtype).expand(len(x))
        c_in = (1 + sigma**2).rsqrt()[:, None]
        return self.net(c_in * x, torch.log(sigma) / 4)

    def log_prob(self, x: torch.Tensor, sigma: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """log p(y | x, sigma), (N,)."""
        return torch.log_softmax(self.logits(x, sigma), -1).gather(1, y[:, None]).squeeze(1)

    def grad_log_prob(self, x: torch.Tensor, sigma: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """grad_x log p(y | x, sigma), (N, D): the term classifier guidance adds to the score."""
        with torch.enable_grad():
            xv = x.detach().requires_grad_(True)
            (g,) = torch.autograd.grad(self.log_prob(xv, sigma, y).sum(), xv)
        return g

    def check(self, model, y: torch.Tensor) -> None:
        """ConfigError (one line) unless this classifier fits ``model`` and the labels ``y``."""
        if tuple(model.shape) != self.shape:
            raise ConfigError(f"the classifier was trained on shape {self.shape}, the model has shape "
                              f"{tuple(model.shape)}")
        k = getattr(model, "num_classes", None)
        if k is not None and k != self.num_classes:
            raise ConfigError(f"the classifier has {self.num_classes} classes, the model was trained with {k}")
        if int(y.min()) < 0 or int(y.max()) >= self.num_classes:
            raise ConfigError(f"label {int(y.max()) if int(y.min()) >= 0 else int(y.min())} is outside the "
                              f"classifier's classes 0..{self.num_classes - 1}")
        same = (torch.allclose(model.normalizer.mean, self.norm_mean, rtol=1e-4, atol=1e-5)
                and torch.allclose(model.normalizer.std, self.norm_std, rtol=1e-4, atol=1e-5))
        if not same:
            raise ConfigError("the classifier was trained on another model's data standardisation; fit it with "
                              "NoisyClassifier.fit(model, ...) for this model")

    # ------------------------------------------------------------------ training
    @classmethod
    def fit(cls, model, x, y, *, steps: int = 2000, batch_size: int = 256, lr: float = 2e-3, hidden: int = 128,
            depth: int = 2, dequantize: bool = False, seed: int = 0, progress: bool = False) -> NoisyClassifier:
        """Train on perturbed data of ``model``'s noise process; ``dequantize`` as ``model.fit`` was given."""
        if not getattr(model, "fitted", False) or not hasattr(model, "sigma_range"):
            raise ConfigError("NoisyClassifier.fit needs a fitted diffusion model (one with sigma_range())")
        x = as_tensor(x, model.shape)
        y = as_labels(y, len(x))
        if y is None:
            raise ConfigError("NoisyClassifier.fit needs labels y")
        clf = cls(model.shape, int(y.max()) + 1, model.sigma_range(), hidden=hidden, depth=depth)
        clf.norm_mean.copy_(model.normalizer.mean)
        clf.norm_std.copy_(model.normalizer.std)
        z = model.normalizer(x.reshape(len(x), -1))
        lo, hi = math.log(clf.sigma_range[0]), math.log(clf.sigma_range[1])

        def loss(zb, yb, *, generator):
            sigma = torch.exp(lo + (hi - lo) * rand((len(zb),), generator, dtype=zb.dtype))
            xs = zb + sigma[:, None] * randn_like(zb, generator)
            return nn.functional.cross_entropy(clf.logits(xs, sigma), yb, reduction="none")

        spec = TrainSpec(steps=int(steps), batch_size=int(batch_size), lr=float(lr), seed=int(seed),
                         progress=progress, lr_schedule="cosine", label="noisy classifier",
                         dequantize=(1.0 / model.normalizer.std) if dequantize else None)
        with forked(seed):
            clf.train()
            clf.history = train(clf, loss, z, y, spec)
            clf.eval()
        return clf

    # ------------------------------------------------------------------ saving
    def save(self, path) -> Path:
        from safetensors.torch import save_file

        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        save_file({k: v.detach().contiguous() for k, v in self.state_dict().items()}, str(path / _WEIGHTS))
        meta = {"format": FORMAT, "shape": list(self.shape), "num_classes": self.num_classes,
                "sigma_range": list(self.sigma_range), "hidden": self.hidden, "depth": self.depth}
        (path / _META).write_text(json.dumps(meta, indent=2))
        return path

    @classmethod
    def load(cls, path) -> NoisyClassifier:
        from safetensors.torch import load_file

        from genlab.checkpoint import read_json

        meta = read_json(path, _META, FORMAT, "noisy classifier")
        try:
            clf = cls(meta["shape"], meta["num_classes"], meta["sigma_range"], hidden=meta["hidden"],
                      depth=meta["depth"])
            clf.load_state_dict(load_file(str(Path(path) / _WEIGHTS)))
        except (KeyError, RuntimeError, OSError) as exc:
            raise CheckpointError(f"'{path}' is not a readable noisy classifier: {exc}") from None
        return clf.eval()
