"""``mdlm``: masked (absorbing-state) discrete diffusion over the tokens of a text Dataset (likelihood: a bound).

Forward process (Austin et al. 2021; Sahoo et al. 2024 "MDLM"; Shi et al. 2024 "MD4"): each token of x is
independently replaced by the absorbing ``<mask>`` token m with probability 1 - alpha_t, here the linear schedule
alpha_t = 1 - t, t in [0, 1]. The denoiser x_theta(z_t) is a bidirectional transformer
(:class:`genlab.nn.transformer.GPT` with ``causal=False``; rotary positions, as MDLM's DiT backbone: on the tests'
toy corpus they reach 2.5 bits/char in 300 steps where learned absolute ones, which must be learned at every
offset, stay at 4.7; no time input: the share of masks carries t, MDLM Sec. 3.2) whose output never puts mass on m
and which keeps unmasked tokens (the SUBS parameterisation). The continuous-time negative ELBO (MDLM Eq. 10,
MD4 Eq. 5) with alpha_t' / (1 - alpha_t) = -1 / t is

    -log p(x) <= NELBO(x) = E_{t ~ U(0, 1)} E_{z_t} [ (1 / t) sum_{l : z_t^l = m} -log x_theta(z_t)_l[x^l] ],   (Eq. 1)

the training loss (divided by the window length; t drawn stratified over the batch, t = eps + (1 - eps) u,
eps = 1e-3, as MDLM's low-discrepancy sampler) and the ``log_prob`` (``likelihood = "bound"``): a Monte-Carlo
estimate of Eq. 1 with ``draws`` (default 16) stratified values of t per window, from the call's generator. Text
longer than the context is cut into consecutive windows of ``context`` tokens, each bounded on its own (a bound on
the likelihood of a model that treats the windows as independent); ``<eot>`` before the text is not scored. The
network and its training options are ``gpt``'s (:class:`~genlab.families.text_base.TextNetConfig`), so the two
compare at one budget.

Ancestral sampling (MDLM Eq. 7) on the grid t_k = k / K, K = ``steps`` chosen at sample time (default
``sample_steps``): from t to s < t every masked token is revealed with probability (t - s) / t, drawn from
x_theta(z_t) (temperature, top-k, top-p apply), and stays revealed; at s = 0 all are. Each window takes K network
passes (fewer when every token is revealed early); ``last_nfe`` counts those of the last call, all blocks or
windows together (K for a sample within one context). Generation longer than the context goes in blocks: each
block reads the newest ``context // 2`` tokens (all of them while shorter) and fills the rest.
``impute`` fills the marked spans of a string (:mod:`genlab.nn.decoding`: ``[MASK]`` = one token, ``[MASK:k]``
= k tokens) with the same sampler, the given tokens fixed, in windows of ``context`` tokens around the first
unfilled span; fills never hold ``<eot>``, ``<unk>`` or ``<mask>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch.nn import functional as F

from genlab.checks import positive_int
from genlab.families.text_base import TextModel, TextNetConfig
from genlab.nn.decoding import pick
from genlab.nn.transformer import GPT, GPTConfig
from genlab.registry import bounded, register
from genlab.rng import rand, sharding

__all__ = ["MDLM", "MDLMConfig", "EPS"]

EPS = 1e-3  # smallest t drawn (MDLM's sampling_eps)


@dataclass
class MDLMConfig(TextNetConfig):
    """Options of ``mdlm``: those of :class:`~genlab.families.text_base.TextNetConfig` and the sampler's default K."""

    sample_steps: int = bounded(64, ge=1)


def stratified_times(n: int, generator, device) -> torch.Tensor:
    """n times t = eps + (1 - eps) ((u + i) / N mod 1) from one uniform u (a low-discrepancy draw), N = n rows of
    every process together (this process's slice under multi-process training, :func:`genlab.rng.sharding`)."""
    whole, world, rank = sharding(generator)
    u = rand((1,), whole, device=device)
    t = EPS + (1 - EPS) * ((u + torch.arange(n * world, device=device) / (n * world)) % 1.0)
    return t[rank * n : (rank + 1) * n]


@register
class MDLM(TextModel):
    """Masked diffusion language model (see the module docstring)."""

    name = "mdlm"
    Config = MDLMConfig
    likelihood = "bound"
    infills = True
    smoke: ClassVar[dict] = {"fit": {"steps": 5}, "sample": {"steps": 4}}
    data_parallel_config: ClassVar[dict] = {"dropout": 0.0}

    def build(self) -> None:
        c = self.config
        self.net = GPT(GPTConfig(vocab_size=self.vocab, block_size=c.context, n_layer=c.n_layer, n_head=c.n_head,
                                 n_embd=c.n_embd, dropout=c.dropout, causal=False, rope=c.rope))

    def _log_x0(self, z: torch.Tensor) -> torch.Tensor:
        """log x_theta(z) (B, T, V) with no mass on <mask> (SUBS)."""
        logits = self.net(z).float()
        logits[..., self._special("<mask>")] = -torch.inf
        return F.log_softmax(logits, -1)

    def _nelbo(self, x: torch.Tensor, t: torch.Tensor, generator) -> torch.Tensor:
        """(1 / t) sum over masked positions of -log x_theta(z_t)[x], one z_t per row of x (B, T): Eq. 1's integrand."""
        masked = rand(x.shape, generator, device=x.device) < t[:, None]
        z = torch.where(masked, torch.full_like(x, self._special("<mask>")), x)
        nll = -self._log_x0(z).gather(2, x[..., None])[..., 0]
        return (nll * masked).sum(1) / t

    def window_loss(self, windows, *, generator) -> torch.Tensor:
        t = stratified_times(windows.shape[0], generator, windows.device)
        return self._nelbo(windows, t, generator) / windows.shape[1]

    def _nll(self, ids, *, generator, draws: int = 16) -> torch.Tensor:
        """Eq. 1 estimated with ``draws`` stratified times per window of ids[1:] (see the module docstring)."""
        draws = positive_int("draws", draws)
        total = torch.zeros((), dtype=torch.float64, device=ids.device)
        for chunk in torch.split(ids[1:], self.config.context):
            x = chunk.expand(draws, -1)
            total += self._nelbo(x, stratified_times(draws, generator, ids.device), generator).double().mean()
        self.last_nfe = draws
        return total

    def _denoise(self, z: torch.Tensor, steps: int, generator, **opts) -> torch.Tensor:
        """Ancestral sampling (Eq. 7 of MDLM) of the <mask> entries of z (n, T) on K = ``steps`` times."""
        mask_id, calls = self._special("<mask>"), 0
        ts = torch.linspace(1.0, 0.0, steps + 1)
        for k in range(steps):
            masked = z == mask_id
            if not masked.any():
                break
            x0 = pick(self.net(z), generator, **opts)
            calls += 1
            reveal = rand(z.shape, generator, device=z.device) < float((ts[k] - ts[k + 1]) / ts[k])
            z = torch.where(masked & reveal, x0, z)
        self.last_nfe = calls
        return z

    def _check_steps(self, steps):
        steps = self.config.sample_steps if steps is None else steps
        return positive_int("steps", steps)

    def _generate(self, ids, max_new_tokens, *, generator, temperature, top_k, top_p, steps: int | None = None):
        """``max_new_tokens`` tokens after ``ids`` (n, L), in blocks of the context (see the module docstring)."""
        steps, C, mask_id = self._check_steps(steps), self.config.context, self._special("<mask>")
        opts = {"temperature": temperature, "top_k": top_k, "top_p": top_p, "banned": self._banned("<unk>", "<mask>")}
        seq, left, nfe = ids, max_new_tokens, 0
        while left:
            keep = min(seq.shape[1], C // 2 if seq.shape[1] + left > C else C)
            block = min(left, C - keep)
            z = torch.cat([seq[:, seq.shape[1] - keep :], seq.new_full((seq.shape[0], block), mask_id)], 1)
            z = self._denoise(z, steps, generator, **opts)
            nfe += self.last_nfe
            seq, left = torch.cat([seq, z[:, keep:]], 1), left - block
        self.last_nfe = nfe
        return seq[:, ids.shape[1] :]

    def _fill(self, seq, missing, *, generator, steps: int | None = None, temperature: float = 1.0,
              top_k: int | None = None, top_p: float | None = None):
        """The <mask> entries of seq (L,) filled, in windows of the context around the first unfilled span."""
        steps, C, nfe = self._check_steps(steps), self.config.context, 0
        opts = {"temperature": temperature, "top_k": top_k, "top_p": top_p,
                "banned": self._banned("<unk>", "<mask>", "<eot>")}
        seq, mask_id = seq.clone(), self._special("<mask>")
        while (seq == mask_id).any():
            first = int((seq == mask_id).nonzero()[0])
            lo = max(0, min(first - C // 2, seq.numel() - C))
            seq[lo : lo + C] = self._denoise(seq[None, lo : lo + C], steps, generator, **opts)[0]
            nfe += self.last_nfe
        self.last_nfe = nfe
        return seq
