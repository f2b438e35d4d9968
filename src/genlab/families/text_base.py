"""The shared base of the text families (``gpt``, ``mdlm``, ``ngram``): strings in, strings out.

A text model is made from a ``text`` Dataset (``genlab.create("gpt", ds)``) and keeps its tokenizer
(:class:`~genlab.data.kinds.TextEncoder`, ``self.data_encoder``), from which ``build()`` reads the vocabulary size
(``schema_aware``). Text is a stream of token ids rather than rows, so the public methods read and return text:

- ``fit(x)``: ``x`` a text Dataset (its training stream), a 1-D integer stream of ids, a string or a list of
  documents (joined with ``<eot>``). The stream goes through the base class as an (N, 1) column of ids, so time
  budgets, checkpoints and seeding are the shared ones; each family reads it back with :meth:`_stream`.
- ``sample(n, prompt="", max_new_tokens=256, temperature=1.0, top_k=None, top_p=None, seed=None)``: a list of n
  strings, **each beginning with the prompt**. The model reads ``<eot>`` (the start of a document) and the prompt's
  tokens, then draws ``max_new_tokens`` tokens (an ``<eot>`` drawn decodes as a blank line; ``<unk>`` and ``<mask>``
  are never drawn). A prompt with characters outside a char vocabulary is a one-line ConfigError naming them.
- ``log_prob(text)``: (N,) nats, of each string's tokens given ``<eot>`` before them (the start of a document); the
  end of the document is not scored. ``bits_per_char(x)``: total negative log-likelihood in bits over the number of
  characters (a string, a list of documents, or a stream such as ``ds.test``; an ``<eot>`` counts as one
  character); how each family handles text longer than its context is stated in its module.
- ``impute(text)``: only families with ``infills`` (the markers: :mod:`genlab.nn.decoding`); the others raise
  a one-line ConfigError naming the models that can.

Families implement ``_nll(ids, *, generator, **opts)`` (total nats of ``ids[1:]`` given ``ids[0]``),
``_generate(ids, max_new_tokens, *, generator, temperature, top_k, top_p, **opts)`` (new ids (n, max_new_tokens))
and, for infilling, ``_fill(seq, missing, *, generator, **opts)``.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import ClassVar

import torch

from genlab.checks import available, capable, instance_of, no_labels, positive_int, require
from genlab.config import NeuralConfig
from genlab.data.dataset import Dataset
from genlab.data.kinds import TextEncoder
from genlab.errors import DataError
from genlab.model import GenerativeModel
from genlab.nn.decoding import check_options, parse_markers
from genlab.registry import MODELS, bounded, hook_options
from genlab.rng import derive_seed, forked, make_generator, randint
from genlab.training import distributed as dist
from genlab.training.loop import _progress, train

__all__ = ["TextModel", "TextNetConfig"]


@dataclass
class TextNetConfig(NeuralConfig):
    """Options of the neural text families. Defaults: nanoGPT's CPU recipe (4 layers, 4 heads, width 128, context
    64, batch 12, lr 1e-3 after 100 warm-up steps, cosine to 1e-4, AdamW decay 0.1, clip 1), except that the cosine
    ends where the fit ends (its steps or its time budget) and positions are rotary."""

    normalize: bool = False  # token ids are not standardised
    n_layer: int = bounded(4, ge=1)
    n_head: int = bounded(4, ge=1)
    n_embd: int = bounded(128, ge=1)
    context: int = bounded(64, ge=2)  # tokens the network sees at once (training window length)
    dropout: float = bounded(0.0, ge=0, lt=1)
    rope: bool = True  # rotary position embeddings (relative offsets); False: learned positions, as nanoGPT
    steps: int = bounded(2000, ge=1)
    batch_size: int = bounded(12, ge=1)  # windows per step
    lr: float = bounded(1e-3, gt=0)
    warmup: int = bounded(100, ge=0)  # linear warm-up steps of the learning rate
    min_lr: float = bounded(0.1, ge=0, le=1)  # the cosine decay's floor, as a fraction of lr
    weight_decay: float = bounded(0.1, ge=0)  # AdamW on matrices only (nanoGPT)
    grad_clip: float = bounded(1.0, ge=0)
    lr_schedule: str = bounded("cosine", choices=("constant", "cosine"))  # after the warm-up


class TextModel(GenerativeModel):
    """Base class of the text families (see the module docstring)."""

    kinds = ("text",)
    schema_aware = True
    integer_data = True
    infills: ClassVar[bool] = False  # impute() fills [MASK] spans
    window_extra: ClassVar[int] = 0  # training windows hold context + window_extra tokens (1: inputs and targets)

    def __init__(self, shape=(1,), config=None, *, data_encoder=None):
        shape = (shape,) if isinstance(shape, int) else tuple(shape)
        super().__init__(shape or (1,), config, data_encoder=data_encoder)  # one token per position

    # ------------------------------------------------------------------ the tokenizer
    @property
    def vocab(self) -> int:
        """The vocabulary size (a placeholder of 4 until the tokenizer is known, e.g. while a checkpoint loads)."""
        return 4 if self.data_encoder is None else self.data_encoder.vocab_size

    def _encoder(self):
        require(getattr(self.data_encoder, "kind", None) == "text", f"model '{self.name}' needs a tokenizer: create "
                f"it from a text Dataset, genlab.create('{self.name}', genlab.datasets.load('pydoc'))")
        return self.data_encoder

    def _special(self, name: str) -> int | None:
        try:
            return self._encoder().special(name)
        except DataError:
            return None

    def _banned(self, *names: str) -> list[int]:
        return [i for i in map(self._special, names) if i is not None]

    def _ids_of(self, x, dtype=torch.int64) -> torch.Tensor:
        """A 1-D ``dtype`` stream from a Dataset (its training split), ids, a string or a list of documents (no copy
        where the ids already have ``dtype``)."""
        if isinstance(x, Dataset):
            x = x.train
        if isinstance(x, (str, list, tuple)) and (isinstance(x, str) or all(isinstance(d, str) for d in x)):
            return self._encoder().encode(x if isinstance(x, str) else list(x), dtype)
        t = torch.as_tensor(x)
        if t.ndim != 1 or t.is_floating_point() or t.is_complex():
            raise DataError(f"text must be strings or a 1-D integer stream of token ids, got shape {tuple(t.shape)} "
                            f"and dtype {t.dtype}")
        if t.numel() and not (0 <= int(t.min()) and int(t.max()) < self.vocab):
            raise DataError(f"token ids must lie in [0, {self.vocab}), got {int(t.min())}..{int(t.max())}")
        return t.to(dtype)

    def _prompt_ids(self, prompt: str) -> torch.Tensor:
        bad = self._encoder().unknown(instance_of("prompt", prompt, str, "a string"))
        require(not bad, f"the prompt has characters outside the model's vocabulary: {' '.join(map(repr, bad))}")
        return torch.cat([torch.tensor([self._special("<eot>")]), self._encoder().encode(prompt)])

    def _n_chars(self, ids: torch.Tensor) -> int:
        """Characters that ``ids`` decode to, an <eot> counting as one."""
        enc, eot = self._encoder(), self._special("<eot>")
        if enc.one_token_per_char:
            return int(ids.numel())
        cuts = (ids == eot).nonzero().flatten().tolist()
        pieces = torch.tensor_split(ids, cuts)
        return sum(len(enc.decode(p[p != eot])) for p in pieces) + len(cuts)

    # ------------------------------------------------------------------ training on windows of the stream
    def _stream(self, z: torch.Tensor, dtype=torch.int64) -> torch.Tensor:
        """The fit's (N, 1) column of ids (the compact integers :meth:`fit` passed, unstandardised: ``integer_data``)
        as a 1-D ``dtype`` stream (None: as stored, a view)."""
        return z[:, 0] if dtype is None else z[:, 0].to(dtype)

    def _fit(self, z, y, spec) -> None:
        self._train_windows(self._stream(z, None), spec)  # int32, 4 bytes a token; each step's windows become int64

    def window_loss(self, windows: torch.Tensor, *, generator) -> torch.Tensor:
        raise NotImplementedError

    def _train_windows(self, stream: torch.Tensor, spec) -> None:
        """AdamW (decay on matrices, betas 0.9/0.99 as nanoGPT) with a linear warm-up, then cosine to ``min_lr`` of
        the rate over the steps or the time budget; each step draws ``batch_size`` window starts uniformly from the
        stream with the step's generator (made from the fit's seed), so a seed fixes every window. Under multi-process
        training the starts are the global batch's, sharded, and the gradients are averaged before the update."""
        c = self.config
        length = min(c.context + self.window_extra, stream.numel())
        if length < 2:
            raise DataError(f"model '{self.name}' needs a training stream of at least 2 tokens, got {stream.numel()}")
        params = [p for p in self.parameters() if p.requires_grad]
        groups = [{"params": [p for p in params if p.ndim >= 2], "weight_decay": c.weight_decay},
                  {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0}]
        opt = torch.optim.AdamW(groups, lr=spec.lr, betas=(0.9, 0.99))
        offsets, t0 = torch.arange(length), time.perf_counter()

        def step_fn(xb, yb, step, *, generator):
            done = _progress(step - 1, spec.steps, time.perf_counter() - t0, spec.time_budget)
            cosine = c.min_lr + (1 - c.min_lr) * 0.5 * (1 + math.cos(math.pi * done))
            decay = 1.0 if c.lr_schedule == "constant" else cosine
            lr = spec.lr * min(1.0, step / c.warmup if c.warmup else 1.0) * decay
            for g in opt.param_groups:
                g["lr"] = lr
            starts = randint(0, stream.numel() - length + 1, (spec.batch_size,), generator, device="cpu")
            windows = stream[starts[:, None] + offsets].long()
            loss = self.window_loss(windows.to(self.device), generator=generator).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            record = {"loss": dist.reduce_step(params, loss), "lr": lr}  # gradients of the global batch
            if spec.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(params, spec.grad_clip)
            opt.step()
            return record

        rows = torch.zeros(spec.batch_size, 1)  # the loop's rows are placeholders: step_fn draws the windows
        self.history = train(self, None, rows, None, spec, step_fn=step_fn, optimizers=[opt])

    # ------------------------------------------------------------------ the public contract, on text
    def fit(self, x, y=None, **kwargs):
        """Fit to text (see the module docstring); keywords as :meth:`GenerativeModel.fit`."""
        stream = self._ids_of(x, TextEncoder.compact_dtype)  # a Dataset's stream as it is: no copy
        if stream.numel() < 2:
            raise DataError(f"model '{self.name}' needs at least 2 tokens of text to fit, got {stream.numel()}")
        return super().fit(stream.unsqueeze(1), y, **kwargs)  # integer_data: the base class keeps the ids as they are

    def _run(self, device, seed, fn):
        """``fn(generator)`` in eval mode without gradients, seeded, on ``device`` (None = the model's)."""
        self._encoder()
        dev = self._place(device)
        seed = derive_seed(seed)
        with forked(seed), torch.no_grad():
            self.eval()
            return fn(make_generator(seed, target=dev))

    def sample(self, n: int = 1, *, prompt: str = "", max_new_tokens: int = 256, temperature: float = 1.0,
               top_k: int | None = None, top_p: float | None = None, seed=None, device=None, y=None, sampler=None,
               guidance: float = 0.0, **options) -> list[str]:
        """n strings, each the prompt followed by ``max_new_tokens`` drawn tokens (see the module docstring);
        ``sampler`` is the model's own (or None), and text models take neither labels nor guidance."""
        n = positive_int("n", n)
        no_labels(self.name, y is not None or float(guidance) != 0.0, "it takes no labels and no guidance")
        if sampler is not None:
            available("sampler", sampler, sorted(self.samplers()), self.name)
        max_new_tokens = positive_int("max_new_tokens", max_new_tokens)
        check_options(temperature, top_k, top_p)
        options = hook_options(self._generate, {k: v for k, v in options.items() if v is not None}, "sample",
                               self.name)
        self._check_fitted("sample")
        ids = self._prompt_ids(prompt).to(self.device).expand(n, -1)
        new = self._run(device, seed, lambda g: self._generate(ids.to(self.device), max_new_tokens, generator=g,
                                                               temperature=float(temperature), top_k=top_k,
                                                               top_p=top_p, **options))
        return [prompt + self._encoder().decode(row) for row in new.cpu()]

    def log_prob(self, x, *, y=None, seed=None, device=None, **options) -> torch.Tensor:
        """(N,) nats: of each string of ``x`` (a string, a list of strings, or one 1-D stream of ids)."""
        no_labels(self.name, y is not None)
        texts = [x] if isinstance(x, str) or isinstance(x, torch.Tensor) else list(x)
        options = hook_options(self._nll, options, "log_prob", self.name)
        self._check_fitted("log_prob")
        eot = torch.tensor([self._special("<eot>")])
        seqs = [torch.cat([eot, self._ids_of(t)]) for t in texts]
        return self._run(device, seed, lambda g: torch.stack(
            [-self._nll(s.to(self.device), generator=g, **options).double() for s in seqs]).float().cpu())

    def bits_per_char(self, x, *, seed=0, device=None, **options) -> float:
        """Total negative log-likelihood in bits / characters of ``x`` (a string, a list of documents or a stream of
        ids such as ``ds.test``), every token given ``<eot>`` before the first; labelled by ``self.likelihood``."""
        stream = self._ids_of(x)
        chars = len(x) if isinstance(x, str) else self._n_chars(stream)
        if chars == 0:
            raise DataError("no text to score")
        options = hook_options(self._nll, options, "log_prob", self.name)
        self._check_fitted("bits_per_char")
        ids = torch.cat([torch.tensor([self._special("<eot>")]), stream])
        nats = self._run(device, seed, lambda g: float(self._nll(ids.to(self.device), generator=g, **options)))
        return nats / math.log(2) / chars

    def impute(self, x, mask=None, *, seed=None, device=None, span: int = 1, **options):
        """Fill the ``[MASK]`` / ``___`` / ``[MASK:k]`` spans of a string (or of each string of a list); the text
        around them comes back unchanged (see :mod:`genlab.nn.decoding` for the markers)."""
        capable(self.infills, self.name, "cannot infill [MASK] spans",
                lambda: MODELS.names(where=lambda cls: getattr(cls, "infills", False)))
        require(mask is None, "text marks its missing spans with [MASK] markers in the string, not with a mask")
        if not isinstance(x, str):
            return [self.impute(t, seed=seed, device=device, span=span, **options) for t in x]
        pieces, spans = parse_markers(x, span)
        require(bool(spans), "no [MASK], [MASK:k] or ___ marker in the text: nothing to fill")
        options = hook_options(self._fill, options, "impute", self.name)
        self._check_fitted("impute")
        enc, mask_id = self._encoder(), self._special("<mask>")
        parts = [torch.tensor([self._special("<eot>")])]
        for piece, k in zip(pieces, spans, strict=False):  # the last piece follows
            parts += [enc.encode(piece), torch.full((k,), mask_id)]
        parts.append(enc.encode(pieces[-1]))
        seq = torch.cat(parts)
        missing = seq == mask_id
        filled = self._run(device, seed, lambda g: self._fill(seq.to(self.device), missing.to(self.device),
                                                              generator=g, **options)).cpu()
        fills = torch.split(filled[missing], spans)
        return "".join(p + enc.decode(f) for p, f in zip(pieces, fills, strict=False)) + pieces[-1]

    # ------------------------------------------------------------------ family hooks
    def _nll(self, ids: torch.Tensor, *, generator) -> torch.Tensor:
        raise NotImplementedError

    def _generate(self, ids, max_new_tokens, *, generator, temperature, top_k, top_p) -> torch.Tensor:
        raise NotImplementedError

    def _fill(self, seq, missing, *, generator) -> torch.Tensor:
        raise NotImplementedError
