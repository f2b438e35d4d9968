"""Early stopping on a fixed validation split (Prechelt 1998, "Early stopping - but when?").

With ``patience`` > 0 the training rows are split once, by a permutation drawn from the run's seed, into a
validation part (``val_fraction`` of the rows) and the rest, which is trained on. Every ``val_every`` steps the
validation loss is computed with the weights the model would keep (the EMA average when there is one), with fixed
noise (a generator and a global RNG seeded from the seed alone, the same at every check) and without changing the
family's training counters. The best weights so far are kept; after ``patience`` checks without improvement
training stops, and the best weights are restored at the end. The bookkeeping is part of the resume state, and
every process of a multi-process run computes the same loss on the same full validation set, so they agree.
"""

from __future__ import annotations

import torch

from genlab.checks import positive_int
from genlab.errors import ConfigError
from genlab.rng import derive_seed, forked, make_generator

__all__ = ["EarlyStopping", "validation_split"]

_CHUNK = 4096


def validation_split(n: int, fraction: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(train indices, validation indices) of ``n`` rows, fixed by ``seed``."""
    if not 0.0 < fraction < 1.0:
        raise ConfigError(f"val_fraction must lie in (0, 1), got {fraction}")
    k = round(n * fraction)
    if k < 1 or n - k < 1:
        raise ConfigError(f"early stopping (patience > 0) needs a validation split: {n} rows with val_fraction="
                          f"{fraction} leave {k} for validation; use more data, a larger val_fraction or patience=0")
    perm = torch.randperm(n, generator=make_generator(seed, 4))
    return perm[k:].sort().values, perm[:k].sort().values


class EarlyStopping:
    def __init__(self, patience: int, every: int, x_val: torch.Tensor, y_val: torch.Tensor | None, seed: int):
        every = positive_int("val_every", every)
        self.patience, self.every, self.x, self.y, self.seed = int(patience), int(every), x_val, y_val, seed
        self.best_loss, self.best_step, self.bad = float("inf"), 0, 0
        self.best: dict[str, torch.Tensor] = {}

    def loss(self, module, loss_fn, ema) -> float:
        """Mean validation loss (``module.val_loss`` where defined) with the kept weights and fixed noise; the
        training state is left as it was."""
        loss_fn = getattr(module, "val_loss", loss_fn)
        raw = [p.detach().clone() for p in module.parameters()] if ema is not None else None
        counters = module.train_state() if hasattr(module, "train_state") else None
        was_training = module.training
        try:
            if ema is not None:
                ema.copy_to()
            module.eval()
            total, g = 0.0, make_generator(self.seed, 5, target=self.x.device)  # draws where the data are
            with forked(derive_seed(self.seed, 5)):
                for i in range(0, self.x.shape[0], _CHUNK):
                    yb = None if self.y is None else self.y[i : i + _CHUNK]
                    total += float(loss_fn(self.x[i : i + _CHUNK], yb, generator=g).detach().sum())
            return total / self.x.shape[0]
        finally:
            module.train(was_training)
            if raw is not None:
                with torch.no_grad():
                    for p, v in zip(module.parameters(), raw, strict=True):
                        p.copy_(v)
            if counters is not None:
                module.load_train_state(counters)

    def update(self, step: int, loss: float, module, ema) -> bool:
        """Record the check at ``step``; True when training should stop."""
        if loss < self.best_loss:
            self.best_loss, self.best_step, self.bad = loss, step, 0
            self.best = {f"model.{k}": v.detach().clone() for k, v in module.state_dict().items()}
            if ema is not None:
                names = [k for k, _ in module.named_parameters()]
                self.best.update({f"ema.{k}": s.clone() for k, s in zip(names, ema.shadow, strict=True)})
        else:
            self.bad += 1
        return self.bad >= self.patience

    def restore_best(self, module, ema) -> None:
        if not self.best:
            return
        module.load_state_dict({k[6:]: v for k, v in self.best.items() if k.startswith("model.")})
        if ema is not None:
            names = [k for k, _ in module.named_parameters()]
            ema.load_state_dict({"step": ema.step, "shadow": [self.best[f"ema.{k}"] for k in names]})

    def state(self) -> tuple[dict[str, torch.Tensor], dict]:
        return ({f"best.{k}": v for k, v in self.best.items()},
                {"best_loss": self.best_loss, "best_step": self.best_step, "bad": self.bad})

    def load(self, tensors: dict[str, torch.Tensor], scalars: dict) -> None:
        self.best = dict(tensors)
        self.best_loss, self.best_step, self.bad = float(scalars["best_loss"]), int(scalars["best_step"]), int(scalars["bad"])
