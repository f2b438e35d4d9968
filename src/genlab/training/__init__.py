"""Training: the one loop (:mod:`genlab.training.loop`), the EMA of the weights (:mod:`genlab.training.ema`),
resumable state (:mod:`genlab.training.resume`), early stopping (:mod:`genlab.training.early`) and multi-process
data parallelism (:mod:`genlab.training.distributed`)."""

from genlab.training.ema import EMA, ema_decay
from genlab.training.loop import TrainSpec, batches, train
from genlab.training.resume import Checkpointer, TrainingDiverged, TrainState

__all__ = ["TrainSpec", "train", "batches", "EMA", "ema_decay", "Checkpointer", "TrainState", "TrainingDiverged"]
