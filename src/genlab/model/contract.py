"""The public side of the model contract (:mod:`genlab.model`): the methods every model has (``fit``, ``sample``,
``log_prob``, ``grad_log_prob``, ``impute``, ``save``). They check the user's input, standardise it, seed the random streams, call the family's hooks
(:class:`genlab.model.family.ModelBase`) and bring the results back to the data's units; see :mod:`genlab.model`.
"""

from __future__ import annotations

import inspect
import math
import time

import torch

from genlab.checks import available, no_labels, positive_int
from genlab.data.validate import as_float_array, as_labels, as_mask, as_tensor
from genlab.data.values import UserValues, is_captions
from genlab.device import autocast, check_precision, resolve_device
from genlab.errors import ConfigError, DataError
from genlab.model.family import ModelBase
from genlab.registry import hook_options
from genlab.rng import derive_seed, forked, make_generator
from genlab.training import Checkpointer, TrainSpec

__all__ = ["GenerativeModel"]


def _patience(cfg, n: int) -> int:
    """The config's early-stopping patience, or 0 when ``n`` rows leave no validation row or nothing to train on
    (a default of early stopping must not refuse a fit to a handful of rows); None (a family decides in
    ``_before_fit``) counts as 0 here."""
    patience, k = getattr(cfg, "patience", 0) or 0, round(n * getattr(cfg, "val_fraction", 0.1))
    return patience if 1 <= k < n else 0


class GenerativeModel(UserValues, ModelBase):
    """Base class of every genlab model (the hooks: :mod:`genlab.model`; the family side: :class:`ModelBase`)."""

    # ----------------------------------------------------------------- the public contract
    def fit(self, x, y=None, *, steps=None, time_budget=None, batch_size=None, lr=None, seed=0, progress=True,
            dequantize=False, checkpoint: Checkpointer | None = None, device=None, precision="fp32"):
        """Fit to ``x`` (N, *shape); returns ``self``. ``time_budget`` is wall-clock seconds.

        ``device`` ("auto", "cpu", "cuda", ...; None = where the model is) is where it trains and then stays;
        ``precision="bf16"`` runs the training forward passes under a bfloat16 autocast (:mod:`genlab.device`).

        ``dequantize=True`` is for integer-valued (discrete) data (ConfigError otherwise): every training batch gets
        fresh uniform noise, x + U[0, 1), so the model is a density over [0, levels)^D (the convention of
        :mod:`genlab.metrics`); :meth:`impute` then reads and returns integer levels (see there).
        ``checkpoint`` (:class:`genlab.training.Checkpointer`) makes the run durable: periodic checkpoints of the
        full training state, resume from one, a checkpoint on SIGINT (see :mod:`genlab.training.resume`).
        """
        x = as_tensor(self._encoded(x), self.shape, keep_integers=self.integer_data).cpu()
        if dequantize:  # x + U[0, 1) is a density of integer levels only
            off = (x != x.round()).flatten().nonzero()
            if len(off):
                raise ConfigError(f"fit(dequantize=True) needs integer-valued data, but x holds the non-integer value "
                                  f"{x.flatten()[off[0, 0]].item()!r} (row {int(off[0, 0]) // max(1, x[0].numel())})")
        y = self._fit_captions(y, x.shape[0], seed) if is_captions(y) else as_labels(y, x.shape[0])
        y = None if y is None else y.cpu()
        no_labels(self.name, y is not None and not self.conditional, "fit it without labels")
        steps = None if steps is None else positive_int("steps", steps)
        if time_budget is not None and not (0 < float(time_budget) < math.inf):
            raise ConfigError(f"time_budget must be a positive number of seconds, got {time_budget!r}")
        dev = self.device if device is None else resolve_device(device)
        check_precision(precision, dev)
        if y is not None and self.label_encoder is None:
            k = int(y.max()) + 1
            if self.num_classes is None or self.num_classes < k:
                self._on_labels(k)
                with forked(seed):  # label embeddings change the networks: build them from the fit seed
                    self.build()
        cfg = self.config
        spec = TrainSpec(
            steps=steps if steps is not None else (None if time_budget is not None else getattr(cfg, "steps", 1000)),
            time_budget=None if time_budget is None else float(time_budget),
            batch_size=int(batch_size or getattr(cfg, "batch_size", 256)),
            lr=float(lr if lr is not None else getattr(cfg, "lr", 1e-3)),
            seed=int(seed),
            progress=bool(progress),
            ema=getattr(cfg, "ema", 0.0),
            ema_warmup=getattr(cfg, "ema_warmup", True),
            weight_decay=getattr(cfg, "weight_decay", 0.0),
            grad_clip=getattr(cfg, "grad_clip", 0.0),
            lr_schedule=getattr(cfg, "lr_schedule", "constant"),
            label=self.name,
            patience=_patience(cfg, x.shape[0]),
            val_fraction=getattr(cfg, "val_fraction", 0.1),
            val_every=getattr(cfg, "val_every", 50),
            checkpoint=checkpoint,
            precision=precision,
        )
        if spec.batch_size < 1 or not (math.isfinite(spec.lr) and spec.lr > 0):
            raise ConfigError(f"batch_size and lr must be positive and finite, got {spec.batch_size}, {spec.lr}")
        if spec.lr_schedule not in ("constant", "cosine"):
            raise ConfigError(f"lr_schedule must be 'constant' or 'cosine', got {spec.lr_schedule!r}")
        flat = x.reshape(x.shape[0], -1)
        self.dequantized = bool(dequantize)
        if dequantize:
            # statistics of x + U[0, 1): mean shifts by 1/2, variance grows by 1/12
            self.normalizer.fit(flat + 0.5, enabled=cfg.normalize)
            if cfg.normalize:
                self.normalizer.std.copy_(torch.sqrt(self.normalizer.std**2 + 1 / 12))
            spec.dequantize = 1.0 / self.normalizer.std
        else:
            self.normalizer.fit(flat, enabled=cfg.normalize)
        if self.integer_data and not cfg.normalize and not dequantize:
            z = flat  # integer ids as they are (no float copy of a large stream); the family reads them, never writes
        else:
            z = self.normalizer(flat.to(self.device)).cpu()  # the data stay on the CPU; batches move (training.loop)
        self.to(dev)
        t0 = time.perf_counter()
        with forked(seed):  # parameter initialisation and dropout draw from the global RNG, seeded from `seed`
            self.train()
            self._before_fit(z, y, spec)
            self._fit(z, y, spec)
            self._after_fit(z, y, spec)
            self.eval()
        self.to(dev)  # tensors a family's own fit set on the CPU (e.g. a GMM's statistics)
        self.fit_time = time.perf_counter() - t0
        self.trained_steps += len(self.history)
        self.fitted = True
        return self

    @classmethod
    def takes_sample_option(cls, name: str) -> bool:
        """Whether :meth:`sample` takes the family option ``name`` (e.g. table_ar's ``temperature``)."""
        return name in inspect.signature(cls._sample).parameters

    @classmethod
    def samplers(cls) -> dict[str, set[str]]:
        """Sampler names valid for this model class -> tags ("deterministic" or "stochastic", ...).

        Families with one sampling method of their own list it under ``own_sampler``; families that take a
        ``sampler=`` option list the registered samplers of the kinds they run (``genlab.diffusion.SAMPLERS``)."""
        return {cls.own_sampler: {"stochastic"}}

    def sample(self, n, *, y=None, seed=None, sampler=None, steps=None, guidance=0.0, device=None, precision="fp32",
               given=None, **sampler_options) -> torch.Tensor:
        """Draw ``n`` samples, (n, *shape), in data units, on the CPU.

        ``given={"column": value, ...}`` (a model made from a table): n rows with those cells set and the other
        columns drawn by the family's ``given_route`` (:mod:`genlab.data.kinds.given`): its :meth:`impute`, or
        rejection of unconditional draws (exact; categorical / boolean given columns).

        ``sampler`` (one of :meth:`samplers`; None = the model's default), ``steps`` (solver steps, where the sampler
        has them) and ``guidance`` (classifier-free guidance weight w with ``y``) are passed to the family.
        ``device`` (None = the model's) is where it computes; ``precision="bf16"`` runs the network evaluations
        under a bfloat16 autocast (the solver's state stays float32; samples are returned in float32)."""
        n = positive_int("n", n)
        params = inspect.signature(self._sample).parameters
        var_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
        if not ("sampler" in params or var_kw):  # else the family checks sampler and steps once, where it resolves them
            if sampler is not None:
                available("sampler", sampler, sorted(self.samplers()), self.name)
            steps = None if steps is None else positive_int("steps", steps)
        if given is not None:
            return self._sample_given(n, given, seed=seed, device=device, steps=steps, sampler=sampler,
                                      **sampler_options)
        y = self._labels_for(y, n)
        opts = dict(sampler_options)
        if sampler is not None and ("sampler" in params or var_kw):
            opts["sampler"] = sampler
        if steps is not None:
            opts["steps"] = steps
        if float(guidance) != 0.0:
            if "guidance" not in params and not var_kw:
                raise ConfigError(f"model '{self.name}' does not support classifier-free guidance")
            opts["guidance"] = float(guidance)
        options = hook_options(self._sample, opts, "sample", self.name)
        self._check_fitted("sample")
        dev = self._place(device, precision)
        y = None if y is None else y.to(dev)
        seed = derive_seed(seed)  # None: a fresh seed from OS entropy (the global RNG is never read)
        with forked(seed), autocast(dev, precision):
            self.eval()
            z = self._sample(n, y, generator=make_generator(seed, target=dev), **options)
        z = z.detach()
        if z.dtype in (torch.bfloat16, torch.float16):
            z = z.float()
        return self._decoded(self.normalizer.inverse(z.reshape(n, self.dim)).reshape(n, *self.shape).cpu())

    def log_prob(self, x, *, y=None, seed=None, device=None, **options) -> torch.Tensor:
        """Log-density (N,) in nats, in the data's own units (normalisation Jacobian included), on the CPU.

        ``device`` (None = the model's) is where it computes; always in float32."""
        if self.likelihood == "none":
            raise ConfigError(f"model '{self.name}' has no likelihood (likelihood='none'); it can only sample")
        keep = self.differentiable_log_prob and isinstance(x, torch.Tensor) and x.requires_grad
        checked = as_tensor(self._encoded(x), self.shape)
        x = x.to(torch.float32) if keep else checked  # keep the caller's graph: log_prob is differentiable in x
        y = self._labels_for(y, x.shape[0])
        options = hook_options(self._log_prob, options, "log_prob", self.name)
        self._check_fitted("log_prob")
        dev = self._place(device)
        y = None if y is None else y.to(dev)
        z = self.normalizer(x.reshape(x.shape[0], -1).to(dev))
        out = []
        seed = derive_seed(seed)
        with forked(seed), torch.set_grad_enabled(keep):
            self.eval()
            g = make_generator(seed, target=dev)
            for i in range(0, z.shape[0], self.eval_batch):
                yi = None if y is None else y[i : i + self.eval_batch]
                lp = self._log_prob(z[i : i + self.eval_batch], yi, generator=g, **options)
                out.append(lp if keep else lp.detach())
        return (torch.cat(out) + self.normalizer.log_abs_det()).cpu()

    def grad_log_prob(self, x, *, y=None, seed=None, device=None) -> torch.Tensor:
        """grad_x log p(x), (N, *shape), in the data's own units (the chain rule through the normalisation included).

        Autograd of :meth:`log_prob` for families whose log-density is a closed form or a single pass
        (``differentiable_log_prob``); otherwise the family's ``_grad_log_prob_z`` (score-based families: the
        network's score at the smallest noise level; EBM: -grad E; CNF: autograd through the ODE; VAE: the gradient of
        the IWAE estimate). ConfigError for a model with neither (a GAN).
        """
        x = as_tensor(x, self.shape)
        if self.differentiable_log_prob:
            with torch.enable_grad():
                xg = x.clone().requires_grad_(True)
                (grad,) = torch.autograd.grad(self.log_prob(xg, y=y, seed=seed, device=device).sum(), xg)
            return grad
        y = self._labels_for(y, x.shape[0])
        dev = self._place(device)
        y = None if y is None else y.to(dev)
        z = self.normalizer(x.reshape(x.shape[0], -1).to(dev))
        seed = derive_seed(seed)
        with forked(seed):
            self.eval()
            try:
                gz = self._grad_log_prob_z(z, y, generator=make_generator(seed, target=dev))
            except NotImplementedError:
                raise ConfigError(f"model '{self.name}' has neither a differentiable log-density nor a score, so "
                                  "grad_log_prob is not available") from None
        return (gz.detach() / self.normalizer.std).reshape(x.shape).cpu()  # dz/dx = 1 / std per dimension

    def impute(self, x, mask=None, *, seed=None, device=None, **options) -> torch.Tensor:
        """Fill the entries of ``x`` where ``mask`` is False (mask True = observed; default: NaN = missing); the
        result is on the CPU, computed on ``device`` (None = the model's).

        A model fitted with ``dequantize=True`` (a density of x + U[0, 1)) reads observed entries as integer levels,
        i.e. at the centres x + 1/2 of their cells, and returns fills on the same scale (cell value - 1/2), so that a
        mean fill estimates E[level] and rounding a sampled fill gives its level.
        """
        if self._user_values(x):  # a table with missing cells in, the filled table out
            t, observed = self.data_encoder.encode_observed(x)
            return self.data_encoder.decode_filled(x, self.impute(t, observed if mask is None else mask, seed=seed,
                                                                  device=device, **options))
        t = x if isinstance(x, torch.Tensor) else torch.as_tensor(as_float_array(x, what="impute input"))
        t = t.detach().to(torch.float32).cpu()
        if t.ndim < 2 or tuple(t.shape[1:]) != self.shape or t.shape[0] == 0:
            raise DataError(f"impute input has shape {tuple(t.shape)}, expected (N, {', '.join(map(str, self.shape))})")
        if isinstance(mask, torch.Tensor):
            mask = mask.cpu()
        mask = torch.isfinite(t) if mask is None else as_mask(mask, t.shape)
        if not torch.isfinite(t[mask]).all():
            raise DataError("observed entries (mask True) must be finite; mark missing entries in the mask")
        shift = 0.5 if self.dequantized else 0.0  # cell centres of integer levels (dequantized models)
        filled = torch.where(mask, t + shift, torch.zeros(()))
        options = hook_options(self._impute, options, "impute", self.name)
        self._check_fitted("impute")
        dev = self._place(device)
        flat_mask = mask.reshape(t.shape[0], -1).to(dev)
        z = self.normalizer(filled.reshape(t.shape[0], -1).to(dev))
        z = torch.where(flat_mask, z, torch.zeros((), device=dev))
        seed = derive_seed(seed)
        with forked(seed):
            self.eval()
            z = self._impute(z, flat_mask, generator=make_generator(seed, target=dev), **options).detach()
        out = self.normalizer.inverse(z).reshape(t.shape).cpu() - shift
        return torch.where(mask, t, out)

    def save(self, path) -> None:
        """Write ``path/model.safetensors`` and ``path/config.json`` (atomically)."""
        from genlab.checkpoint import save

        save(self, path)
