"""Logits of the converted reference OFAResNets checkpoint vs PyTorch (shared/reference/zoo/ofa_resnet50_small)."""
import json

import numpy as np
import pytest
import tensorflow as tf

from ofa_tf.families.resnet import OFAResNets
from ofa_tf.families.resnet import ResNetConfig
from ofa_tf.torch_checkpoint import load_state_dict
from ofa_tf.torch_checkpoint import read_state_dict

pytest.importorskip("torch", reason="reading the reference .pth needs the torch extra")

TOL = 1e-4  # relative to the largest |logit|


@pytest.fixture(scope="module")
def reference(shared):
    folder = shared / "reference" / "zoo" / "ofa_resnet50_small"
    if not folder.is_dir():
        pytest.skip(reason=f"reference fixture not found at {folder}")
    cases = json.loads((folder / "ofa_resnet50_small_cases.json").read_text())
    arrays = np.load(folder / "ofa_resnet50_small_cases.npz")
    c = cases["constructor"]
    net = OFAResNets(n_classes=c["n_classes"], depth_list=c["depth_list"], expand_list=c["expand_ratio_list"],
                     width_mult_list=c["width_mult_list"], bn_momentum=1 - c["bn_param"][0],
                     bn_epsilon=c["bn_param"][1])
    load_state_dict(net, read_state_dict(folder / "ofa_resnet50_small.pth"))
    return net, cases, arrays


def _rel_err(out, ref):
    return float(np.max(np.abs(np.asarray(out) - ref)) / np.max(np.abs(ref)))


def test_supernet_and_subnet_match_reference_logits_in_one_trace(reference):
    net, cases, arrays = reference
    forward = tf.function(lambda x: net(x, training=False), input_signature=[tf.TensorSpec([None, None, None, 3])])
    errors = {}
    for case in cases["configs"]:
        net.set_active_config(ResNetConfig.from_dict({k: case[k] for k in ("d", "e", "w")}))
        subnet = net.get_active_subnet()
        for resolution in cases["resolutions"]:
            x = arrays[f"input_r{resolution}"]
            ref = arrays[f"logits_{case['name']}_r{resolution}"]
            errors[case["name"], resolution] = (_rel_err(forward(x), ref), _rel_err(subnet(x, training=False), ref))
    worst = max(max(v) for v in errors.values())
    print(f"OFA-ResNet reference parity (8 configs @ {cases['resolutions']}): worst relative error {worst:.2e} "
          f"(supernet {max(v[0] for v in errors.values()):.2e}, subnet {max(v[1] for v in errors.values()):.2e})")
    assert len(errors) == 16
    assert worst < TOL, errors
    assert forward.experimental_get_tracing_count() == 1
