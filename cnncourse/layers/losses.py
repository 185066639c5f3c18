"""Classification losses on class scores, each returning the loss and its gradient.

- ``softmax_loss``: cross-entropy of the softmax probabilities,
  ``L_i = -log(exp(s_{y_i}) / sum_j exp(s_j))``. The scores are shifted by their row
  maximum first, which changes nothing mathematically (the shift cancels in the ratio) but
  keeps ``exp`` from overflowing.
- ``svm_loss``: multiclass hinge loss, ``L_i = sum_{j != y_i} max(0, s_j - s_{y_i} + 1)``.

Both average over the batch: ``loss = mean_i L_i``, so the gradient carries a 1/N.
``scores`` is (N, C) float; ``y`` is (N,) integer labels in [0, C), of the same kind
(numpy or torch) and, for tensors, on the same device. The loss comes back as a 0-d
result: a numpy scalar of the scores' dtype, or a 0-d tensor.
"""

from __future__ import annotations

import torch

from cnncourse.layers._tensor import (
    as_tensor,
    check_ndim,
    float_inputs,
    output,
    scalar_output,
)

__all__ = ["softmax_loss", "svm_loss"]


def _check_inputs(scores, y):
    (scores,), from_numpy = float_inputs(scores=scores)
    check_ndim("scores", scores, 2, "(N, C)")
    y_t, y_numpy = as_tensor("y", y)
    if y_numpy != from_numpy:
        want = "a numpy array" if from_numpy else "a torch tensor"
        raise TypeError(f"y: expected {want} like scores, got {type(y).__name__}")
    if y_t.dtype.is_floating_point or y_t.dtype.is_complex or y_t.dtype == torch.bool:
        raise TypeError(f"y: expected integer class labels, got dtype {y_t.dtype}")
    if y_t.device != scores.device:
        raise ValueError(f"y: expected a tensor on {scores.device} like scores, got {y_t.device}")
    N, C = scores.shape
    if tuple(y_t.shape) != (N,):
        raise ValueError(
            f"y: expected shape ({N},), one label per row of scores, got {tuple(y_t.shape)}"
        )
    if N > 0:
        low, high = int(y_t.min()), int(y_t.max())
        if low < 0 or high >= C:
            bad = low if low < 0 else high
            raise ValueError(f"y: labels must lie in [0, {C}) for C = {C} classes, got {bad}")
    return scores, y_t.long(), from_numpy


def softmax_loss(scores, y):
    """Softmax (cross-entropy) loss and its gradient.

    Inputs:
    - scores: (N, C) class scores
    - y: (N,) integer labels, 0 <= y[i] < C

    Returns ``(loss, dscores)``: the mean loss over the batch (0-d) and dscores (N, C) =
    ``(softmax(scores) - one_hot(y)) / N``.
    """
    scores, y, from_numpy = _check_inputs(scores, y)
    N = scores.shape[0]
    rows = torch.arange(N, device=scores.device)
    shifted = scores - scores.max(dim=1, keepdim=True).values  # max shift against overflow
    log_probs = shifted - torch.logsumexp(shifted, dim=1, keepdim=True)
    loss = -log_probs[rows, y].mean()
    dscores = torch.exp(log_probs)
    dscores[rows, y] -= 1
    dscores /= N
    return scalar_output(loss, from_numpy), output(dscores, from_numpy)


def svm_loss(scores, y):
    """Multiclass SVM (hinge) loss with margin 1 and its gradient.

    Inputs:
    - scores: (N, C) class scores
    - y: (N,) integer labels, 0 <= y[i] < C

    Returns ``(loss, dscores)``: the mean loss over the batch (0-d) and dscores (N, C).
    Every class j != y_i with a positive margin ``s_j - s_{y_i} + 1`` adds +1/N to
    ``dscores[i, j]`` and -1/N to ``dscores[i, y_i]``.
    """
    scores, y, from_numpy = _check_inputs(scores, y)
    N = scores.shape[0]
    rows = torch.arange(N, device=scores.device)
    correct = scores[rows, y].unsqueeze(1)  # (N, 1)
    margins = torch.clamp(scores - correct + 1, min=0)
    margins[rows, y] = 0  # the correct class is not a margin
    loss = margins.sum() / N
    positive = (margins > 0).to(scores.dtype)
    dscores = positive
    dscores[rows, y] = -positive.sum(dim=1)
    dscores /= N
    return scalar_output(loss, from_numpy), output(dscores, from_numpy)
