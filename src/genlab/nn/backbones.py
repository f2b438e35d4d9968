"""The backbone registry: networks ``net(x, t, y=None)`` over the data's own shape, chosen by name.

A backbone class is constructed as ``cls(shape, *, num_classes=None, **kwargs)`` and called ``net(x, t, y=None)``
with ``x`` (N, *shape), ``t`` (N,) float noise levels or times, ``y`` (N,) int64 labels or None (with
``num_classes`` the labels run over ``0..num_classes``, index ``num_classes`` being the null label of
classifier-free guidance, which ``y=None`` means). It returns a tensor of ``net.out_shape`` per sample (the input
shape unless asked otherwise: ``out_channels`` for image backbones, ``out_shape`` for ``mlp``).

Built-ins: ``mlp`` (:class:`MLPBackbone`, over the flattened input), ``unet`` (:class:`genlab.nn.unet.UNet`),
``dit`` (:class:`genlab.nn.dit.DiT`), ``video_dit`` (:class:`genlab.nn.video_dit.VideoDiT`, clips (T, C, H, W)).
They live in :data:`BACKBONES` (a :class:`~genlab.registry.Registry`); ``register_backbone(name, cls)`` adds one; a
checkpoint stores :func:`backbone_spec` (the name and its JSON keyword arguments) and :func:`backbone_from_spec`
rebuilds it, so a custom backbone is reloadable once its name is registered again.
"""

from __future__ import annotations

import inspect
import json
import math

import torch
from torch import nn

from genlab.checks import instance_of, known_options, require
from genlab.errors import ConfigError
from genlab.nn.dit import DiT
from genlab.nn.embedding import FourierEmbedding, SinusoidalEmbedding
from genlab.nn.mlp import ConditionalMLP
from genlab.nn.unet import UNet
from genlab.nn.video_dit import VideoDiT
from genlab.registry import Registry

__all__ = ["BACKBONES", "uses_backbone", "register_backbone", "backbone_names", "build_backbone", "backbone_spec",
           "backbone_from_spec", "check_backbone", "MLPBackbone", "ScalarHead", "FlatAdapter"]


class MLPBackbone(nn.Module):
    """:class:`genlab.nn.ConditionalMLP` over the flattened input, reshaped back (``out_shape`` default: ``shape``);
    ``conditioning`` "add" (the default here, as saved backbone specs were made) or "film"."""

    def __init__(self, shape, *, num_classes: int | None = None, hidden: int = 128, depth: int = 3, emb_dim: int = 64,
                 activation: str = "silu", embedding: str = "sinusoidal", conditioning: str = "add", out_shape=None):
        super().__init__()
        self.out_shape = tuple(int(s) for s in (out_shape or shape))
        embeddings = {"sinusoidal": SinusoidalEmbedding, "fourier": FourierEmbedding}
        if embedding not in embeddings:
            raise ConfigError(f"mlp embedding must be one of {', '.join(embeddings)}, got {embedding!r}")
        self.num_classes = num_classes
        self.net = ConditionalMLP(math.prod(shape), hidden, depth, embeddings[embedding](emb_dim), emb_dim,
                                  num_classes, activation, out_dim=math.prod(self.out_shape), conditioning=conditioning)

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if self.num_classes and y is None:
            y = torch.full((x.shape[0],), self.num_classes, dtype=torch.long, device=x.device)
        t = t.reshape(-1).expand(x.shape[0]) if t.numel() == 1 else t.reshape(x.shape[0])
        return self.net(x.reshape(x.shape[0], -1), t, y).reshape(x.shape[0], *self.out_shape)


class ScalarHead(nn.Module):
    """A scalar per sample from a backbone (e.g. an energy): global average pooling over the backbone's output
    positions, then a linear layer, ``(N, F, ...) -> (N,)``. ``features`` defaults to ``backbone.out_shape[0]``."""

    def __init__(self, backbone: nn.Module, features: int | None = None):
        super().__init__()
        self.backbone = backbone
        if features is None:
            if not hasattr(backbone, "out_shape"):
                raise ConfigError("ScalarHead needs features= for a backbone without an out_shape attribute")
            features = int(backbone.out_shape[0])
        self.linear = nn.Linear(features, 1)

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        h = self.backbone(x, t, y)
        h = h.flatten(2).mean(2) if h.ndim > 2 else h
        return self.linear(h).squeeze(1)


class FlatAdapter(nn.Module):
    """Calls a backbone over the data's own ``shape`` from flat rows: (N, D) -> (N, *shape) -> net -> (N, D_out)."""

    def __init__(self, backbone: nn.Module, shape: tuple[int, ...]):
        super().__init__()
        self.backbone, self.shape = backbone, tuple(shape)

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        t = t.reshape(-1).expand(x.shape[0]) if t.numel() == 1 else t
        return self.backbone(x.reshape(x.shape[0], *self.shape), t, y).reshape(x.shape[0], -1)


#: every backbone class by name; the built-ins are sealed (a user's name can be registered again, a built-in never)
BACKBONES: Registry[type] = Registry("backbone", how="register a custom one with genlab.register_backbone(name, cls)")
for _name, _cls in {"mlp": MLPBackbone, "unet": UNet, "dit": DiT, "video_dit": VideoDiT}.items():
    BACKBONES.register(_name, _cls)
BACKBONES.seal()
del _name, _cls
_REGISTRY = BACKBONES  # the name older code and tests use


def uses_backbone(config) -> bool:
    """Whether a family's config asks for a registered backbone over the data's own shape (``backbone`` other than
    "mlp", or backbone options) instead of the family's own flat network."""
    return config.backbone != "mlp" or bool(config.backbone_options)


def register_backbone(name: str, cls) -> None:
    """Register ``cls`` (constructed ``cls(shape, *, num_classes=None, **kwargs)``) under ``name``.

    Built-in names cannot be replaced; registering a user name again replaces it (e.g. a re-run notebook cell)."""
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"a backbone name must be a non-empty string, got {name!r}")
    if not callable(cls):
        raise ConfigError(f"backbone '{name}' must be a class (or callable), got {type(cls).__name__}")
    BACKBONES.register(name, cls, replace=True)


def backbone_names() -> list[str]:
    return BACKBONES.names()


def _check_kwargs(name: str, cls, kwargs: dict) -> None:
    params = inspect.signature(cls).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    accepted = [k for k, p in list(params.items())[1:] if k != "num_classes"
                and p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    known_options(kwargs, accepted, owner=f"backbone '{name}'")


def check_backbone(module, dim: int) -> nn.Module:
    """``module`` if it is a ``torch.nn.Module`` called as ``module(x (2, dim), t (2,), y=None) -> (2, dim)`` (the
    contract of a user's network, ``DiffusionModel.set_backbone``); a one-line ConfigError saying which part fails
    otherwise."""
    instance_of("a backbone", module, nn.Module, "a torch.nn.Module")
    try:
        with torch.no_grad():
            out = module(torch.zeros(2, dim), torch.full((2,), 0.5), y=None)
    except (TypeError, RuntimeError) as err:
        raise ConfigError(f"the backbone must be callable as net(x, t, y=None): {err}") from None
    require(tuple(out.shape) == (2, dim), f"backbone output has shape {tuple(out.shape)} for input (2, {dim}); "
                                          f"expected (2, {dim})")
    return module


def build_backbone(name: str, shape: tuple[int, ...], *, num_classes: int | None = None, **kwargs) -> nn.Module:
    """Construct the backbone ``name`` for data of ``shape``; unknown names or bad options raise ConfigError."""
    cls = BACKBONES.get(name)
    _check_kwargs(name, cls, kwargs)
    shape = tuple(int(s) for s in shape)
    try:
        return cls(shape, num_classes=num_classes, **kwargs)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"backbone '{name}' cannot be built for shape {shape} with {kwargs}: {exc}") from None


def backbone_spec(name: str, kwargs: dict | None = None) -> dict:
    """The JSON record of a backbone choice, ``{"name": ..., "kwargs": {...}}`` (ConfigError if not JSON-able)."""
    BACKBONES.get(name)
    try:
        kwargs = json.loads(json.dumps(dict(kwargs or {})))
    except (TypeError, ValueError):
        raise ConfigError(f"backbone '{name}' options must be JSON values (numbers, strings, lists), got {kwargs}") from None
    return {"name": name, "kwargs": kwargs}


def backbone_from_spec(spec: dict, shape: tuple[int, ...], *, num_classes: int | None = None) -> nn.Module:
    """Rebuild a backbone from :func:`backbone_spec`'s record (an unregistered name -> one-line ConfigError)."""
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
        raise ConfigError(f"not a backbone record: {spec!r}")
    if spec["name"] not in BACKBONES:
        raise ConfigError(f"backbone '{spec['name']}' is not registered: call genlab.register_backbone("
                          f"'{spec['name']}', cls) before loading (registered: {', '.join(backbone_names())})")
    return build_backbone(spec["name"], shape, num_classes=num_classes, **spec.get("kwargs", {}))
