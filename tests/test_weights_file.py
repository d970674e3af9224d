"""`.weights.h5` files of every supernet family carry what they belong to; loading into another network fails."""
import pytest

from ofa_tf.families.resnet.supernet import OFAResNets
from ofa_tf.weights_file import read_identity
from ofa_tf.zoo import ofa_net


def test_resnet_weights_carry_and_check_their_network(tmp_path):
    path = tmp_path / "resnet.weights.h5"
    net = ofa_net("ofa_resnet50_tiny", n_classes=10)
    net.save_weights(path)
    stored = read_identity(path)
    assert stored["class"] == "OFAResNets" and stored["net_id"] == "ofa_resnet50_tiny"
    assert stored["width_mult_list"] == [0.15, 0.2, 0.25] and stored["n_classes"] == 10

    ofa_net("ofa_resnet50_tiny", n_classes=10).load_weights(path)  # the same network loads

    wider = OFAResNets(n_classes=10, width_mult_list=(0.2, 0.25, 0.35), resolutions=(24, 28, 32))
    with pytest.raises(ValueError, match=r"belong to ofa_resnet50_tiny with 10 classes.*width_mult_list"):
        wider.load_weights(path)
    with pytest.raises(ValueError, match=r"not to ofa_resnet50_tiny with 3 classes"):
        ofa_net("ofa_resnet50_tiny", n_classes=3).load_weights(path)


def test_mobilenet_weights_refuse_a_resnet(tmp_path):
    path = tmp_path / "mbv3.weights.h5"
    ofa_net("ofa_mbv3_tiny_d234_e346_k357_w0.5", n_classes=10).save_weights(path)
    with pytest.raises(ValueError, match=r"belong to ofa_mbv3_tiny_d234_e346_k357_w0.5 with 10 classes.*class"):
        ofa_net("ofa_resnet50_tiny", n_classes=10).load_weights(path)


def test_non_finite_weights_are_refused_naming_file_and_variable(tmp_path):
    """Weights of a diverged run (NaN or inf) are refused on load instead of evaluating at chance (issue 26)."""
    import numpy as np

    net = ofa_net("ofa_mbv3_tiny_d234_e346_k357_w0.5", n_classes=10)
    variable = next(v for v in net.weights if v.path.endswith("kernel"))
    value = variable.numpy()
    value.flat[:3] = [np.nan, np.inf, -np.inf]
    variable.assign(value)
    path = tmp_path / "diverged.weights.h5"
    net.save_weights(path)
    with pytest.raises(ValueError) as err:
        ofa_net("ofa_mbv3_tiny_d234_e346_k357_w0.5", n_classes=10, weights=path)
    assert str(err.value) == (f"The weights in {path} are not finite: {variable.path} holds 3 NaN or inf value(s) of "
                              f"{value.size} (a training run that diverged writes such weights): pass weights of a "
                              "run that trained without diverging.")


def test_non_finite_pytorch_checkpoints_are_refused(tmp_path):
    torch = pytest.importorskip("torch", reason="reading .pth needs the torch extra")
    from ofa_tf.torch_checkpoint import read_state_dict

    path = tmp_path / "nan.pth"
    torch.save({"state_dict": {"a.weight": torch.ones(4), "b.bias": torch.tensor([0.0, float("nan")]),
                               "b.num_batches_tracked": torch.tensor(3)}}, path)
    with pytest.raises(ValueError, match=rf"The weights in {path} are not finite: b.bias holds 1 NaN or inf value"):
        read_state_dict(path)
