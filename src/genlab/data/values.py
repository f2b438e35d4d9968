"""The user's values at a model's edge: what ``fit`` / ``sample`` / ``log_prob`` / ``impute`` of
:class:`genlab.model.GenerativeModel` do with tables, strings and captions rather than tensors.

A model made from a Dataset or a DataFrame keeps the data's reversible encoder (``data_encoder``,
:mod:`genlab.data.kinds`): values in the user's own types are encoded on the way in and decoded on the way out
(a DataFrame for tables). Labels are class indices, or captions (a string, or one per row) read by a char tokenizer
fitted on the training captions (``label_encoder``). ``sample(n, given={column: value})`` of a table model takes the
family's ``given_route`` (:mod:`genlab.data.kinds.given`): "rejection" keeps the unconditional draws that hold the
given cells (exact; only for categorical / boolean given columns, else and when too few draws match it imputes, with a
warning in the latter case; impute's own options, e.g. ``draws``, do not apply to it); "impute" imputes the other columns of n rows that hold the given cells, with
``fill="sample"`` where the family's impute has a ``fill`` (its default, the conditional mean, would make n equal rows).
"""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import torch

from genlab.checks import no_labels
from genlab.data.validate import as_labels
from genlab.errors import ConfigError, DataError
from genlab.rng import derive_seed, forked

__all__ = ["UserValues", "is_captions"]


class UserValues:
    """Mixin of :class:`genlab.model.GenerativeModel` (it reads ``data_encoder``, ``label_encoder``, ``conditional``,
    ``takes_captions``, ``num_classes``, ``build`` and ``impute`` of the model)."""

    def _sample_given(self, n, given, *, seed, device, **options):
        """``sample(n, given=...)``: by the family's ``given_route`` (see the module)."""
        if self.data_encoder is None or self.data_encoder.kind != "table":
            raise ConfigError(f"given= needs a model made from a table; model '{self.name}' was not")
        from genlab.data.kinds.given import discrete, given_rows, rejection_rows

        options = {k: v for k, v in options.items() if v is not None}
        if self.given_route == "rejection" and discrete(self.data_encoder, given):
            seed = derive_seed(seed)
            params = inspect.signature(self._sample).parameters  # impute's own options (draws, fill) do not apply
            takes = {k: v for k, v in options.items() if k in params or k in ("steps", "sampler")
                     or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())}
            rows = rejection_rows(lambda m, i: self.sample(m, seed=derive_seed(seed, i), device=device, **takes),
                                  n, given)
            if rows is not None:
                return rows
            warnings.warn(f"given={given}: too few of model '{self.name}''s draws hold these values for rejection "
                          "sampling; imputing the other columns instead", stacklevel=3)
        x, mask = given_rows(self.data_encoder, n, given)
        params = inspect.signature(self._impute).parameters
        if "fill" in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
            options.setdefault("fill", "sample")  # n draws from the conditional, not n copies of its mean
        return self._decoded(self.impute(x, mask, seed=seed, device=device, **options))

    def _labels_for(self, y, n: int) -> torch.Tensor | None:
        if y is None:
            return None
        no_labels(self.name, not self.conditional)
        if is_captions(y) or self.label_encoder is not None:
            return self._caption_labels(y, n)
        if isinstance(y, int) and not isinstance(y, bool):
            y = torch.full((n,), y, dtype=torch.int64)
        y = as_labels(y, n)
        if self.num_classes is None or int(y.max()) >= self.num_classes:
            raise DataError(f"label {int(y.max())} was not seen in training (classes: {self.num_classes})")
        return y

    def _fit_captions(self, y, n: int, seed: int) -> torch.Tensor:
        """Caption ids of the training captions; the first caption fit makes the tokenizer and the networks."""
        no_labels(self.name, not self.conditional, "fit it without labels")
        if not self.takes_captions:
            raise ConfigError(f"model '{self.name}' takes class labels, not captions")
        if self.label_encoder is None:
            from genlab.data.kinds.text import TextEncoder

            self.label_encoder = TextEncoder("char").fit(list(y))
            with forked(seed):  # the caption encoder changes the networks: build them from the fit seed
                self.build()
        return self._caption_labels(y, n)

    def _caption_labels(self, y, n: int) -> torch.Tensor:
        """A caption (str, for every row) or ``n`` captions -> ids (n, L) (genlab.nn.text_encoder.caption_ids)."""
        from genlab.nn.text_encoder import caption_ids

        if self.label_encoder is None:
            raise ConfigError(f"model '{self.name}' was not fitted on captions: it takes no text (fit it on a "
                              "captioned data set, e.g. shapes, to give y as a string)")
        if not is_captions(y):
            raise ConfigError(f"model '{self.name}' was fitted on captions: give y as a string or a list of strings")
        captions = [y] * n if isinstance(y, str) else list(y)
        if len(captions) != n:
            raise DataError(f"got {len(captions)} captions for {n} samples (give one string, or one per sample)")
        return caption_ids(self.label_encoder, captions)

    def _user_values(self, x) -> bool:
        """True when ``x`` is in the user's own types (a DataFrame, strings) rather than model tensors."""
        if isinstance(x, (torch.Tensor, np.ndarray, list, tuple)) or self.data_encoder is None:
            if type(x).__name__ == "DataFrame" and self.data_encoder is None:
                raise ConfigError(f"model '{self.name}' was not made from a table: create it with "
                                  "genlab.create(name, dataframe_or_dataset) to fit or score DataFrames")
            return False
        return not self.data_encoder.tensor_values

    def _encoded(self, x):
        return self.data_encoder.encode(x) if self._user_values(x) else x

    def _decoded(self, t: torch.Tensor):
        """Model tensors -> the user's own types where the data kind has them (a DataFrame for tables)."""
        return t if self.data_encoder is None or self.data_encoder.tensor_values else self.data_encoder.decode(t)


def is_captions(y) -> bool:
    """Whether labels ``y`` are captions: a string or a non-empty list / tuple of strings."""
    return isinstance(y, str) or (isinstance(y, (list, tuple)) and len(y) > 0 and all(isinstance(c, str) for c in y))
