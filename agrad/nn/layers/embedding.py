"""``Embedding``: a lookup table of rows; its gradient is a scatter-add."""

from __future__ import annotations

from typing import Any

from agrad.nn import init
from agrad.nn.functional import layers as F
from agrad.nn.module import Module, new_parameter


class Embedding(Module):
    """Rows of a ``(num_embeddings, embedding_dim)`` table, N(0, 1) initialised as in PyTorch
    (the ``padding_idx`` row starts at zero and receives no gradient)."""

    def __init__(
        self, num_embeddings: int, embedding_dim: int, padding_idx: int | None = None, dtype: Any = None
    ) -> None:
        super().__init__()
        self.num_embeddings, self.embedding_dim = num_embeddings, embedding_dim
        if padding_idx is not None and padding_idx < 0:
            padding_idx += num_embeddings
        self.padding_idx = padding_idx
        self.weight = new_parameter((num_embeddings, embedding_dim), dtype)
        init.normal_(self.weight)
        if padding_idx is not None:
            xp = self.weight._backend.xp
            rows = xp.reshape(xp.arange(num_embeddings, device=self.weight.device), (-1, 1))
            self.weight.value = xp.where(
                rows == padding_idx, xp.zeros_like(self.weight.value), self.weight.value
            )

    def forward(self, indices: Any) -> Any:
        return F.embedding(indices, self.weight, self.padding_idx)

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}"
