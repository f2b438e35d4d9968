"""Pre-train a caption encoder before the denoiser, then freeze it (issue 27: "trained first on the captions and
frozen").

What a caption must tell a denoiser is what the clean image looks like where the noise hides it: at the largest
noise levels the optimal denoiser is the conditional mean E[x | caption] (Tweedie; Karras et al. 2022, Eq. 3 as
sigma -> infinity). :func:`pretrain_caption_encoder` fits the encoder to exactly that: a throw-away two-layer head
maps its pooled embedding to the (standardised) image, trained by the mean squared error on the training pairs,
the regression stage of a regression-then-diffusion pair (CorrDiff, Mardani et al. 2023, Sec. 3). The head is
dropped afterwards; the encoder keeps what it learned about the words that change the image (synonyms, word order).

Why (2026-12-06, ``docs/captions.md``): trained jointly from the denoising loss alone, the char-level caption
encoder did not reach the DiT's output in 15 minutes on 2 cores (every attribute at chance); with this pre-training
(50 s of a 300 s budget) a DiT's joint accuracy on seen prompts was 0.59 at guidance 2
(``benchmarks/results/prompt_probes_2026-12-06.txt``).
"""

from __future__ import annotations

import time

import torch
from torch import nn

from genlab.nn.text_encoder import TEXT_DEFAULTS
from genlab.rng import make_generator, randint

__all__ = ["keep_frozen", "pretrain_caption_encoder", "pretrain_for_fit"]


def pretrain_caption_encoder(encoder: nn.Module, z: torch.Tensor, ids: torch.Tensor, *, steps: int,
                             batch_size: int, lr: float, seed: int, time_budget: float | None = None,
                             freeze: bool = True, relabel=None) -> dict:
    """Fit ``encoder`` (:class:`genlab.nn.text_encoder.CaptionEncoder`) so that a head on its pooled embedding
    predicts the rows ``z`` (N, D) from their caption ids (N, L): ``steps`` Adam steps (fewer when ``time_budget``
    seconds run out) of batches of ``batch_size`` drawn from a generator made from ``seed``; ``relabel(ids,
    generator)``, when given, edits each batch's ids (classifier-free guidance's null captions, whose target is then
    the mean image). With ``freeze`` the encoder's parameters stop taking gradients. Returns ``{"steps", "seconds", "loss"}`` (the last batch's loss)."""
    dev = next(encoder.parameters()).device
    head = nn.Sequential(nn.Linear(encoder.dim, 256), nn.SiLU(), nn.Linear(256, z[0].numel())).to(dev)
    opt = torch.optim.Adam([*encoder.parameters(), *head.parameters()], lr=lr)
    g, start, step, loss = make_generator(seed, 27), time.perf_counter(), 0, torch.zeros(())
    encoder.train()
    while step < steps and (time_budget is None or time.perf_counter() - start < time_budget):
        idx = randint(0, len(z), (min(batch_size, len(z)),), g)
        target, batch = z[idx].reshape(len(idx), -1).to(dev), ids[idx].to(dev)
        batch = batch if relabel is None else relabel(batch, g)
        loss = (head(encoder(batch).pooled) - target).pow(2).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
    if freeze:
        encoder.requires_grad_(False)
    return {"steps": step, "seconds": time.perf_counter() - start, "loss": float(loss.detach())}


def _options(model) -> dict:
    return {**TEXT_DEFAULTS, **dict(model.config.text_encoder or {})}


def pretrain_for_fit(model, z: torch.Tensor, ids: torch.Tensor, spec) -> dict | None:
    """Pre-train ``model.net.text`` by :func:`pretrain_caption_encoder` before the denoiser's fit, once per model
    (``model.text_pretrained``), by the ``text_encoder`` options ``pretrain_steps`` and ``freeze``: at most the
    fit's own number of steps (``spec.steps``), or a sixth of its time budget, which the denoiser's training then has
    less of (``spec.time_budget`` is reduced by the seconds spent). Returns the record (also
    ``model.pretrain_record``), or None when nothing was done."""
    opts = _options(model)
    steps = int(opts["pretrain_steps"]) if spec.steps is None else min(int(opts["pretrain_steps"]), spec.steps)
    if getattr(model, "text_pretrained", False) or steps <= 0:
        return None
    budget = None if spec.time_budget is None else spec.time_budget / 6
    model.pretrain_record = pretrain_caption_encoder(
        model.net.text, z, ids, steps=steps, batch_size=spec.batch_size, lr=spec.lr, seed=spec.seed,
        time_budget=budget, freeze=bool(int(opts["freeze"])), relabel=model._drop_labels)
    model.text_pretrained = True
    if spec.time_budget is not None:
        spec.time_budget = max(spec.time_budget - model.pretrain_record["seconds"], 1e-3)
    return model.pretrain_record


def keep_frozen(model) -> None:
    """After loading: a model whose encoder was pre-trained with ``freeze`` keeps it frozen, so a fit that resumes
    does not train it."""
    if getattr(model, "text_pretrained", False) and int(_options(model)["freeze"]):
        model.net.text.requires_grad_(False)
