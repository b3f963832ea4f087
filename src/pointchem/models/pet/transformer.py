"""A pre-LayerNorm transformer whose attention fades tokens out with a cutoff weight.

Written with plain matrix products and softmax (no fused attention kernel), so that
second derivatives exist on every device: training on forces differentiates the
forces, which are themselves gradients of the energy.
"""

from __future__ import annotations

import math

import torch

__all__ = [
    "CutoffAttention",
    "CutoffTransformer",
    "TransformerLayer",
    "head_bias",
    "log_key_weights",
]

ATTENTION_ELEMENTS_PER_CHUNK = 1 << 22
"""Largest number of attention weights (atoms × heads × tokens²) formed at once;
bigger inputs are split into chunks of atoms. This bounds the transient memory of
dense systems (16 MiB of weights per chunk in float32) and keeps a chunk's
activations closer to the caches: on a 1536-atom water box (one thread) a call took
3.0 s in float32 and 7.6 s in float64 with 2²² against 3.7 s and 9.7 s with 2²⁴."""


class CutoffAttention(torch.nn.Module):
    r"""Multi-head self-attention in which each key token b carries a weight f_b.

    With ordinary attention weights α_ab = softmax_b(q_a·k_b / √d_h), the weights
    used are α̃_ab = α_ab f_b / Σ_b' α_ab' f_b', computed as
    softmax_b(q_a·k_b / √d_h + log f_b).
    A token with f_b = 0 (padding) has no influence on any other token, and as
    f_b → 0 continuously (a neighbour reaching the cutoff) its influence vanishes
    continuously. The central token has f = 1, so the normalisation never vanishes.

    Args:
        d_model: token width.
        n_heads: number of heads, dividing ``d_model``.

    Shapes:
        forward: tokens (n, T, d_model), bias (n · n_heads, 1, T) → (n, T, d_model);
        the bias is log f of the keys repeated per head (:func:`head_bias`).
    """

    def __init__(self, d_model: int, n_heads: int):
        super().__init__()
        self.n_heads = n_heads
        self.head_width = d_model // n_heads
        self.project_in = torch.nn.Linear(d_model, 3 * d_model)
        self.project_out = torch.nn.Linear(d_model, d_model)

    def forward(self, tokens: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        """Attend within each of the n token sets."""
        n, n_tokens, d_model = tokens.shape
        n_heads, width = self.n_heads, self.head_width
        # one copy into (3, n·heads, T, width); q, k, v are then plain views
        heads = self.project_in(tokens).view(n, n_tokens, 3, n_heads, width)
        heads = heads.permute(2, 0, 3, 1, 4).reshape(3, n * n_heads, n_tokens, width)
        query, key, value = heads.unbind(0)
        scores = torch.baddbmm(
            bias, query, key.transpose(1, 2), alpha=1.0 / math.sqrt(width)
        )
        mixed = torch.softmax(scores, dim=-1) @ value
        mixed = mixed.view(n, n_heads, n_tokens, width).transpose(1, 2)
        return self.project_out(mixed.reshape(n, n_tokens, d_model))


def head_bias(log_weights: torch.Tensor, n_heads: int) -> torch.Tensor:
    """(n, T) log key weights → (n · n_heads, 1, T) attention-score bias."""
    return log_weights.repeat_interleave(n_heads, 0).unsqueeze(1)


def log_key_weights(weights: torch.Tensor) -> torch.Tensor:
    """Logarithm of key weights for :class:`CutoffAttention`, −inf where f = 0.

    Where f = 0 (padding, or exactly at the cutoff) the result is −inf and no
    gradient flows; elsewhere d log f = df / f.

    Args:
        weights: key weights f in [0, 1], any shape.

    Returns:
        Same shape and dtype.
    """
    positive = weights > 0
    safe = torch.where(positive, weights, torch.ones_like(weights))
    return torch.where(positive, torch.log(safe), torch.full_like(weights, -math.inf))


class TransformerLayer(torch.nn.Module):
    """x ← x + attention(LN(x)); x ← x + FF(LN(x)), FF = Linear–SiLU–Linear.

    Args:
        d_model: token width.
        n_heads: attention heads.
        d_feedforward: hidden width of the feed-forward block.
    """

    def __init__(self, d_model: int, n_heads: int, d_feedforward: int):
        super().__init__()
        self.attention_norm = torch.nn.LayerNorm(d_model)
        self.attention = CutoffAttention(d_model, n_heads)
        self.feedforward_norm = torch.nn.LayerNorm(d_model)
        self.feedforward = torch.nn.Sequential(
            torch.nn.Linear(d_model, d_feedforward),
            torch.nn.SiLU(),
            torch.nn.Linear(d_feedforward, d_model),
        )

    def forward(self, tokens: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        """(n, T, d_model) tokens with the (n · heads, 1, T) bias → (n, T, d_model)."""
        tokens = tokens + self.attention(self.attention_norm(tokens), bias)
        return tokens + self.feedforward(self.feedforward_norm(tokens))


class CutoffTransformer(torch.nn.Module):
    """A stack of :class:`TransformerLayer` and a final LayerNorm, chunked over sets.

    Token sets (one per atom) are independent, so inputs with more than
    :data:`ATTENTION_ELEMENTS_PER_CHUNK` attention weights are processed in chunks
    of sets; results do not depend on the chunking.

    Args:
        d_model: token width.
        n_heads: attention heads.
        d_feedforward: hidden width of the feed-forward blocks.
        n_layers: number of layers.

    Shapes:
        forward: tokens (n, T, d_model), log_weights (n, T) (see
        :func:`log_key_weights`) → (n, T, d_model).
    """

    def __init__(self, d_model: int, n_heads: int, d_feedforward: int, n_layers: int):
        super().__init__()
        self.layers = torch.nn.ModuleList(
            TransformerLayer(d_model, n_heads, d_feedforward) for _ in range(n_layers)
        )
        self.final_norm = torch.nn.LayerNorm(d_model)
        self.n_heads = n_heads

    def forward(self, tokens: torch.Tensor, log_weights: torch.Tensor) -> torch.Tensor:
        """Run every layer on every token set, chunk by chunk if large."""
        n, n_tokens, _ = tokens.shape
        heads = self.n_heads
        bias = head_bias(log_weights, heads)
        chunk = max(1, ATTENTION_ELEMENTS_PER_CHUNK // (heads * n_tokens * n_tokens))
        if n <= chunk:
            return self._run(tokens, bias)
        pieces = [
            self._run(
                tokens[start : start + chunk],
                bias[start * heads : (start + chunk) * heads],
            )
            for start in range(0, n, chunk)
        ]
        return torch.cat(pieces)

    def _run(self, tokens: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            tokens = layer(tokens, bias)
        return self.final_norm(tokens)
