"""Training: the one loop (:mod:`genlab.training.loop`) and the EMA of the weights (:mod:`genlab.training.ema`)."""

from genlab.training.ema import EMA, ema_decay
from genlab.training.loop import TrainSpec, batches, train

__all__ = ["TrainSpec", "train", "batches", "EMA", "ema_decay"]
