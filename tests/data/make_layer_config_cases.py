"""Regenerates `layer_config_cases.npz`: the reference's logits for the configs in `layer_config_cases.json`.

The configs exercise the layer-config fields the zoo fixtures leave at their defaults (ops orders, conv bias, SE on
a ConvLayer, IdentityLayer with BN and activation, a BN'd LinearLayer, the "conv" and "avgpool_conv" downsamples,
every activation) at an odd and an even input size. Needs torch and the reference package:

    pip install --no-deps ofa        # mit-han-lab/once-for-all (MIT)
    python tests/data/make_layer_config_cases.py

(torchvision is imported by the package's data code only; empty stand-ins are enough when it is missing.)
"""
import copy
import importlib.util
import json
import sys
import types
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
SIZES = (33, 32)


def _stub_torchvision():
    if importlib.util.find_spec("torchvision") is not None:
        return
    names = ["torchvision", "torchvision.transforms", "torchvision.transforms.functional", "torchvision.datasets"]
    modules = {name: types.ModuleType(name) for name in names}
    modules["torchvision"].transforms = modules["torchvision.transforms"]
    modules["torchvision"].datasets = modules["torchvision.datasets"]
    modules["torchvision.transforms"].functional = modules["torchvision.transforms.functional"]
    placeholder = type("Unavailable", (), {"__init__": lambda self, *a, **k: None})
    modules["torchvision.transforms"].RandomResizedCrop = placeholder
    modules["torchvision.transforms"].Compose = placeholder
    modules["torchvision.transforms.functional"].InterpolationMode = placeholder
    sys.modules.update(modules)


def main():
    _stub_torchvision()
    import torch
    from ofa.imagenet_classification.networks import get_net_by_name

    torch.manual_seed(0)
    arrays = {}
    for name, config in json.loads((HERE / "layer_config_cases.json").read_text()).items():
        net = get_net_by_name(config["name"]).build_from_config(copy.deepcopy(config))
        with torch.no_grad():
            for p in net.parameters():
                p.copy_(torch.randn_like(p) * 0.3)
            for key, buffer in net.named_buffers():
                if key.endswith("running_mean"):
                    buffer.copy_(torch.randn_like(buffer) * 0.2)
                elif key.endswith("running_var"):
                    buffer.copy_(torch.rand_like(buffer) + 0.5)
        net.eval()
        for key, value in net.state_dict().items():
            if not key.endswith("num_batches_tracked"):
                arrays[f"{name}/state/{key}"] = value.numpy().astype(np.float32)
        for size in SIZES:
            x = np.random.default_rng(size).normal(size=(1, size, size, 3)).astype(np.float32)
            with torch.no_grad():
                arrays[f"{name}/input_{size}"] = x
                arrays[f"{name}/logits_{size}"] = net(torch.from_numpy(x).permute(0, 3, 1, 2)).numpy()
    np.savez_compressed(HERE / "layer_config_cases.npz", **arrays)
    print(f"Wrote {HERE / 'layer_config_cases.npz'} ({len(arrays)} arrays).")


if __name__ == "__main__":
    main()
