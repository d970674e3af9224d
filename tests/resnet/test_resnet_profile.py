import json

import pytest

import ofa_tf
from ofa_tf.counting import profile
from ofa_tf.counting import search_space_size

KEY = "resnet50 (OFAResNets, depth_list [0,1,2], expand_ratio_list [0.2,0.25,0.35], width_mult_list [0.65,0.8,1.0])"


@pytest.fixture(scope="module")
def net():
    return ofa_tf.ofa_net("ofa_resnet50", dropout_rate=0.0)


def test_params_and_macs_equal_reference(shared, net):
    reference = json.loads((shared / "reference" / "reference_numbers.json").read_text())
    subnets = reference["subnets"][KEY]
    space = net.search_space
    configs = {"max (d=2, e=0.35, width index 2 = 1.0)": space.max_config(),
               "min (d=0, e=0.2, width index 0 = 0.65)": space.min_config()}
    assert set(configs) == set(subnets)
    for name, config in configs.items():
        net.set_active_config(config)
        for resolution, macs in subnets[name]["macs"].items():
            counted = profile(net, int(resolution))
            assert counted["params"] == subnets[name]["params"], (name, counted)
            assert counted["macs"] == macs, (name, resolution, counted)  # float32 sums as the reference
    assert sum(int(w.numpy().size) for w in net.trainable_weights) == reference["supernet_params"]["resnet50"]


def test_search_space_size(net):
    # 2 stem choices x 3 x 3 stem widths x (3 widths x (3^2 + 3^3 + 3^4))^3 x (3 x (3^4 + 3^5 + 3^6))
    assert search_space_size(net) == 2 * 9 * (3 * 117) ** 3 * (3 * 1053) == 2_458_914_796_962
