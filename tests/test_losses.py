import torch

from fastnst.loss.functional import content_loss, gram_matrix, style_loss, total_variation_loss


def test_gram_matrix_by_hand():
    # 2 channels over 2 pixels: a = (1, 2), b = (3, 4)
    f = torch.tensor([[[[1.0, 2.0]], [[3.0, 4.0]]]])  # 1 x 2 x 1 x 2
    expected = torch.tensor([[[1 + 4, 3 + 8], [3 + 8, 9 + 16]]]) / (2 * 1 * 2)
    assert torch.allclose(gram_matrix(f), expected)


def test_gram_matrix_is_size_independent_for_repeated_patterns():
    f = torch.rand(1, 4, 3, 3)
    assert torch.allclose(gram_matrix(f), gram_matrix(f.repeat(1, 1, 2, 2)), atol=1e-6)


def test_content_loss_is_mse_summed_over_layers():
    a = {"x": torch.zeros(1, 1, 2, 2), "y": torch.ones(1, 1, 1, 1)}
    b = {"x": torch.full((1, 1, 2, 2), 2.0), "y": torch.ones(1, 1, 1, 1)}
    assert content_loss(a, b).item() == 4.0


def test_style_loss_weights_each_layer_and_broadcasts_the_target():
    features = {"a": torch.ones(3, 1, 2, 2), "b": torch.zeros(3, 1, 1, 1)}
    targets = {"a": torch.zeros(1, 1, 1), "b": torch.ones(1, 1, 1)}  # gram(a)=1/1*... see below
    # gram of ones(1x2x2) normalized by C*H*W=4: sum(1*1 over 4 px)/4 = 1
    total, per_layer = style_loss(features, targets, {"a": 2.0, "b": 0.5})
    assert per_layer["a"].item() == 2.0 and per_layer["b"].item() == 0.5
    assert total.item() == 2.5


def test_total_variation_loss_by_hand():
    flat = torch.ones(1, 3, 4, 4)
    assert total_variation_loss(flat).item() == 0.0
    stripes = torch.tensor([[0.0, 1.0, 0.0, 1.0]]).expand(4, 4).reshape(1, 1, 4, 4)
    assert total_variation_loss(stripes).item() == 1.0  # every horizontal step is 1, vertical 0
