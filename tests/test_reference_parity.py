"""Logits of the converted reference checkpoint vs the PyTorch reference (shared/reference/ofa_mbv3_w1.0)."""
import json

import numpy as np
import pytest

import ofa_tf
from ofa_tf.families.mbconv.config import SubnetConfig

pytest.importorskip("torch", reason="reading the reference .pth needs the torch extra")

NET_ID = "ofa_mbv3_d234_e346_k357_w1.0"
TOL = 1e-4  # relative to the largest |logit| (docs/families.md, Parity: measured 1.05e-6 with oneDNN, 7.2e-7 without)


@pytest.fixture(scope="module")
def reference(shared):
    folder = shared / "reference" / "ofa_mbv3_w1.0"
    if not folder.is_dir():
        pytest.skip(reason=f"reference fixture not found at {folder}")
    cases = json.loads((folder / "ofa_mbv3_w1.0_cases.json").read_text())
    arrays = np.load(folder / "ofa_mbv3_w1.0_cases.npz")
    net = ofa_tf.ofa_net(NET_ID, weights=folder / "ofa_mbv3_w1.0.pth", dropout_rate=0.0)
    return net, cases, arrays


def _rel_err(out, ref):
    return float(np.max(np.abs(np.asarray(out) - ref)) / np.max(np.abs(ref)))


@pytest.mark.parametrize("resolution", [160, 224])
def test_supernet_and_subnet_match_reference_logits(reference, resolution):
    net, cases, arrays = reference
    x = arrays[f"input_r{resolution}"]
    errors = {}
    for case in cases["configs"]:
        ref = arrays[f"logits_{case['name']}_r{resolution}"]
        config = SubnetConfig.from_dict({k: case[k] for k in ("ks", "e", "d")})
        net.set_active_config(config)
        supernet_err = _rel_err(net(x, training=False), ref)
        subnet = net.get_active_subnet()
        subnet_err = _rel_err(subnet(x, training=False), ref)
        errors[case["name"]] = (supernet_err, subnet_err)
    worst = max(max(v) for v in errors.values())
    print(f"reference parity @{resolution}: worst relative error {worst:.2e} (tolerance {TOL:.0e})")
    assert worst < TOL, errors
