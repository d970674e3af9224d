import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

from android_bench.cli_support import import_tensorflow  # noqa: E402
from ofa_tf.shared_data import ENV_VAR  # noqa: E402
from ofa_tf.shared_data import shared_dir  # noqa: E402

# After ofa_tf (its TensorFlow settings apply first): TensorFlow's start-up lines, printed from C++ past
# TF_CPP_MIN_LOG_LEVEL, stay out of the test workers' output.
import_tensorflow(verbose=False)


@pytest.fixture(scope="session")
def shared():
    """Path to ../shared (or $OFA_TF_SHARED); skips the test when it is absent."""
    path = shared_dir()
    if not path.is_dir():
        pytest.skip(reason=f"shared data not found at {path}; set {ENV_VAR} to the shared/ folder")
    return path


def write_tiny_specialized(folder, image_size=16, n_classes=10, seed=0):
    """A small specialized-network folder in the reference's layout (a ProxylessNASNets of two blocks, random
    weights): `net.config`, `run.config`, `init`."""
    import json

    import numpy as np
    import torch

    conv = {"name": "ConvLayer", "kernel_size": 3, "stride": 2, "dilation": 1, "groups": 1, "bias": False,
            "has_shuffle": False, "use_se": False, "in_channels": 3, "out_channels": 8, "use_bn": True,
            "act_func": "relu6", "dropout_rate": 0, "ops_order": "weight_bn_act"}
    mbconv = {"name": "MBConvLayer", "in_channels": 8, "out_channels": 8, "kernel_size": 3, "stride": 1,
              "expand_ratio": 1, "mid_channels": None, "act_func": "relu6", "use_se": False, "groups": None}
    block = {"name": "MBConvLayer", "in_channels": 8, "out_channels": 16, "kernel_size": 5, "stride": 2,
             "expand_ratio": 3, "mid_channels": 24, "act_func": "relu6", "use_se": True, "groups": None}
    net_config = {
        "name": "ProxylessNASNets", "bn": {"momentum": 0.1, "eps": 1e-3, "ws_eps": None}, "first_conv": conv,
        "blocks": [{"name": "ResidualBlock", "conv": mbconv, "shortcut": None},
                   {"name": "ResidualBlock", "conv": block, "shortcut": None}],
        "feature_mix_layer": None,
        "classifier": {"name": "LinearLayer", "in_features": 16, "out_features": n_classes, "bias": True,
                       "use_bn": False, "act_func": None, "dropout_rate": 0, "ops_order": "weight_bn_act"},
    }
    shapes = {"first_conv.conv.weight": (8, 3, 3, 3), "blocks.0.conv.depth_conv.conv.weight": (8, 1, 3, 3),
              "blocks.0.conv.point_linear.conv.weight": (8, 8, 1, 1),
              "blocks.1.conv.inverted_bottleneck.conv.weight": (24, 8, 1, 1),
              "blocks.1.conv.depth_conv.conv.weight": (24, 1, 5, 5),
              "blocks.1.conv.depth_conv.se.fc.reduce.weight": (8, 24, 1, 1),
              "blocks.1.conv.depth_conv.se.fc.reduce.bias": (8,),
              "blocks.1.conv.depth_conv.se.fc.expand.weight": (24, 8, 1, 1),
              "blocks.1.conv.depth_conv.se.fc.expand.bias": (24,),
              "blocks.1.conv.point_linear.conv.weight": (16, 24, 1, 1),
              "classifier.linear.weight": (n_classes, 16), "classifier.linear.bias": (n_classes,)}
    for prefix, channels in (("first_conv.bn", 8), ("blocks.0.conv.depth_conv.bn", 8),
                             ("blocks.0.conv.point_linear.bn", 8), ("blocks.1.conv.inverted_bottleneck.bn", 24),
                             ("blocks.1.conv.depth_conv.bn", 24), ("blocks.1.conv.point_linear.bn", 16)):
        for name in ("weight", "bias", "running_mean", "running_var"):
            shapes[f"{prefix}.{name}"] = (channels,)
    rng = np.random.default_rng(seed)
    state = {}
    for key, shape in shapes.items():
        value = rng.normal(0, 0.5, shape)
        if key.endswith(("running_var", "bn.weight")):
            value = rng.uniform(0.5, 1.5, shape)
        state[key] = torch.tensor(value, dtype=torch.float32)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "net.config").write_text(json.dumps(net_config))
    (folder / "run.config").write_text(json.dumps({"dataset": "digits", "image_size": image_size}))
    torch.save({"state_dict": state}, folder / "init")
    return folder


@pytest.fixture(scope="session")
def write_specialized():
    """`write_tiny_specialized`, for tests that need a variant of the small folder."""
    return write_tiny_specialized


@pytest.fixture(scope="session")
def tiny_specialized(tmp_path_factory):
    """Path of a small specialized-network folder (`write_tiny_specialized`), 10 classes at 16 px."""
    return write_tiny_specialized(tmp_path_factory.mktemp("specialized") / "tiny_lat@1ms_top1@10.0")


@pytest.fixture
def http_server():
    """`http_server(folder)` serves `folder` on 127.0.0.1 (a random port) and returns its base URL; the servers
    stop after the test. Downloads are tested against it, never against the network."""
    import functools
    import http.server
    import threading

    servers = []

    def serve(folder):
        handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
        handler.log_message = lambda *args: None
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        servers.append((server, thread))
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield serve
    for server, thread in servers:
        server.shutdown()
        thread.join()
        server.server_close()


@pytest.fixture(scope="session")
def digits():
    """sklearn digits (offline), 20% held out."""
    from ofa_tf.data import load_dataset

    return load_dataset("digits", validation_split=0.2, seed=0)


@pytest.fixture
def read_only_dir(tmp_path):
    """A folder no file can be created in: a chmod 0500 folder, or /proc when running as root (root ignores
    permission bits)."""
    if os.geteuid() == 0:
        yield __import__("pathlib").Path("/proc")
        return
    folder = tmp_path / "read_only"
    folder.mkdir()
    folder.chmod(0o500)
    yield folder
    folder.chmod(0o700)


TINY_NET = "ofa_mbv3_tiny_d234_e346_k357_w0.5"


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory):
    """A random-init 10-class `.weights.h5` of the tiny preset (with what it belongs to)."""
    from ofa_tf.zoo import ofa_net

    path = tmp_path_factory.mktemp("tiny_weights") / "tiny.weights.h5"
    ofa_net(TINY_NET, n_classes=10).save_weights(path)
    return path

