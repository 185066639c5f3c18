"""Reference layers: forward/backward pairs for every layer in the slides.

Every layer is two pure functions, ``*_forward(...) -> (out, cache)`` and
``*_backward(dout, cache) -> gradients in input order``. Inputs may be numpy arrays or
torch tensors (float32 or float64); results come back as the same kind, on the same
device, in the same dtype. The arithmetic runs in torch, so the same code runs on a GPU.
See ``docs/layers.md`` for the conventions.
"""

from cnncourse.layers.activations import (
    elu_backward,
    elu_forward,
    leaky_relu_backward,
    leaky_relu_forward,
    maxout_backward,
    maxout_forward,
    relu_backward,
    relu_forward,
    sigmoid_backward,
    sigmoid_forward,
    tanh_backward,
    tanh_forward,
)
from cnncourse.layers.affine import affine_backward, affine_forward
from cnncourse.layers.batchnorm import (
    batchnorm_backward,
    batchnorm_backward_alt,
    batchnorm_forward,
    spatial_batchnorm_backward,
    spatial_batchnorm_forward,
)
from cnncourse.layers.conv import (
    col2im,
    conv_backward,
    conv_backward_naive,
    conv_forward,
    conv_forward_naive,
    conv_output_size,
    im2col,
)
from cnncourse.layers.dropout import dropout_backward, dropout_forward
from cnncourse.layers.losses import softmax_loss, svm_loss
from cnncourse.layers.pool import (
    avg_pool_backward,
    avg_pool_forward,
    max_pool_backward,
    max_pool_backward_naive,
    max_pool_forward,
    max_pool_forward_naive,
)

__all__ = [
    "affine_backward",
    "affine_forward",
    "avg_pool_backward",
    "avg_pool_forward",
    "batchnorm_backward",
    "batchnorm_backward_alt",
    "batchnorm_forward",
    "col2im",
    "conv_backward",
    "conv_backward_naive",
    "conv_forward",
    "conv_forward_naive",
    "conv_output_size",
    "dropout_backward",
    "dropout_forward",
    "elu_backward",
    "elu_forward",
    "im2col",
    "leaky_relu_backward",
    "leaky_relu_forward",
    "max_pool_backward",
    "max_pool_backward_naive",
    "max_pool_forward",
    "max_pool_forward_naive",
    "maxout_backward",
    "maxout_forward",
    "relu_backward",
    "relu_forward",
    "sigmoid_backward",
    "sigmoid_forward",
    "softmax_loss",
    "spatial_batchnorm_backward",
    "spatial_batchnorm_forward",
    "svm_loss",
    "tanh_backward",
    "tanh_forward",
]
