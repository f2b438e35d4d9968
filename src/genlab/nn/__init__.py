"""Backbones: any ``nn.Module`` with the same call signature can replace these."""

from genlab.nn.embedding import FourierEmbedding, SinusoidalEmbedding
from genlab.nn.mlp import MLP, ConditionalMLP

__all__ = ["MLP", "ConditionalMLP", "FourierEmbedding", "SinusoidalEmbedding"]
