"""Networks: every backbone takes the data's own shape and is called ``net(x, t, y=None)``."""

from genlab.nn.backbones import (
    BACKBONES,
    MLPBackbone,
    ScalarHead,
    backbone_from_spec,
    backbone_names,
    backbone_spec,
    build_backbone,
    register_backbone,
)
from genlab.nn.dit import DiT
from genlab.nn.embedding import ConditionEmbedding, FourierEmbedding, SinusoidalEmbedding
from genlab.nn.mlp import MLP, ConditionalMLP
from genlab.nn.unet import UNet

__all__ = ["MLP", "ConditionalMLP", "FourierEmbedding", "SinusoidalEmbedding", "ConditionEmbedding", "UNet", "DiT",
           "MLPBackbone", "ScalarHead", "register_backbone", "BACKBONES", "backbone_names", "build_backbone",
           "backbone_spec", "backbone_from_spec"]
