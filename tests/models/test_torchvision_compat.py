"""torchvision's state_dicts load into the zoo's models (strict) and give the same outputs.

torchvision does not import beside the course's torch 2.13.0, so these tests run in their
own environment (``make test-torchvision``: torch 2.14.1 and torchvision 0.29.1) and skip
elsewhere. Weights are torchvision's random initialization (``weights=None``): what is
checked is the architecture and the names, not a download. Inputs are as small as each
model allows, batch 1, in eval mode without gradients.
"""

from __future__ import annotations

import pytest
import torch

tv_models = pytest.importorskip(
    "torchvision.models",
    reason="torchvision is not installed here (it needs torch 2.14.1; run make test-torchvision)",
)

from cnncourse.models import get_model  # noqa: E402

# name -> (our builder's kwargs, torchvision builder's kwargs, input side)
CASES = {
    "alexnet": ({}, {}, 63),
    "vgg11": ({"init_weights": False}, {}, 32),
    "vgg11_bn": ({"init_weights": False}, {}, 32),
    "vgg13": ({"init_weights": False}, {}, 32),
    "vgg13_bn": ({"init_weights": False}, {}, 32),
    "vgg16": ({"init_weights": False}, {}, 32),
    "vgg16_bn": ({"init_weights": False}, {}, 32),
    "vgg19": ({"init_weights": False}, {}, 32),
    "vgg19_bn": ({"init_weights": False}, {}, 32),
    "googlenet": ({"init_weights": False}, {"aux_logits": False, "init_weights": True}, 64),
    "resnet18": ({}, {}, 32),
    "resnet34": ({}, {}, 32),
    "resnet50": ({}, {}, 32),
    "resnet101": ({}, {}, 32),
    "resnet152": ({}, {}, 32),
}


def randomize_batch_norm_statistics(model: torch.nn.Module) -> None:
    """Fresh batch norm layers compute the identity in eval mode; make them do something."""
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 1.5)
            module.weight.data.uniform_(0.5, 1.5)
            module.bias.data.uniform_(-0.5, 0.5)


@pytest.mark.parametrize("name", list(CASES))
def test_torchvision_state_dict_loads_strictly_and_gives_the_same_output(name):
    ours, theirs, side = CASES[name]
    torch.manual_seed(1)
    reference = getattr(tv_models, name)(weights=None, **theirs).eval()
    randomize_batch_norm_statistics(reference)
    model = get_model(name, **ours).eval()
    model.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(1, 3, side, side)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("transform_input", [False, True])
def test_googlenet_with_aux_logits_matches_torchvision_in_training(transform_input):
    torch.manual_seed(2)
    options = {"aux_logits": True, "transform_input": transform_input}
    reference = tv_models.googlenet(weights=None, init_weights=True, **options).train()
    model = get_model("googlenet", init_weights=False, **options).train()
    model.load_state_dict(reference.state_dict(), strict=True)
    x = torch.randn(2, 3, 64, 64)
    torch.manual_seed(3)  # the same dropout masks: both draw them in the same order
    theirs = reference(x)
    torch.manual_seed(3)
    ours = model(x)
    assert ours._fields == theirs._fields
    for field, a, b in zip(ours._fields, ours, theirs, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6, msg=f"{field} differs")


def test_googlenet_transform_input_matches_torchvision_in_eval():
    torch.manual_seed(4)
    reference = tv_models.googlenet(
        weights=None, aux_logits=False, transform_input=True, init_weights=True
    ).eval()
    randomize_batch_norm_statistics(reference)
    model = get_model("googlenet", transform_input=True, init_weights=False).eval()
    model.load_state_dict(reference.state_dict(), strict=True)
    x = torch.rand(1, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", list(CASES))
def test_parameter_names_and_shapes_are_torchvisions(name):
    ours, theirs, _ = CASES[name]
    with torch.device("meta"):
        reference = getattr(tv_models, name)(weights=None, **theirs)
        model = get_model(name, **ours)
    want = {k: tuple(v.shape) for k, v in reference.state_dict().items()}
    got = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert got == want, f"{name}: only ours {sorted(got.keys() - want.keys())[:5]}, " + (
        f"only torchvision's {sorted(want.keys() - got.keys())[:5]}"
    )
