import pytest
import torch

from fastnst.model import ModelConfig, TransformerNet


@pytest.mark.parametrize("size", [(32, 32), (33, 47), (17, 64), (5, 3), (1, 1), (2, 9)])
def test_any_size_keeps_the_input_size(size):
    model = TransformerNet().eval()
    x = torch.rand(2, 3, *size)
    with torch.no_grad():
        assert model(x).shape == x.shape


def test_architecture_is_johnson_with_instance_norm_and_no_transposed_conv():
    model = TransformerNet()
    assert len(model.res) == 5
    assert model.conv1.conv2d.kernel_size == (9, 9) and model.deconv3.conv2d.kernel_size == (9, 9)
    assert model.conv2.conv2d.stride == (2, 2) and model.conv3.conv2d.stride == (2, 2)
    assert model.res[0].conv1.conv2d.out_channels == 128
    assert not any(isinstance(m, torch.nn.ConvTranspose2d) for m in model.modules())
    assert all(m.padding_mode == "reflect" for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    assert sum(isinstance(m, torch.nn.InstanceNorm2d) for m in model.modules()) == 15


def test_gradients_reach_every_parameter():
    model = TransformerNet(ModelConfig(channels=(8, 16, 32), num_residual=2))
    model(torch.rand(1, 3, 30, 26)).mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_padding_does_not_change_results_at_multiples_of_four():
    """Odd sizes are handled by padding; an image that needs none is computed as is."""
    torch.manual_seed(0)
    model = TransformerNet().eval()
    x = torch.rand(1, 3, 36, 40)
    with torch.no_grad():
        full = model(x)
        odd = model(x[..., :35, :39])
    assert full.shape == x.shape and odd.shape == (1, 3, 35, 39)
