"""The reference's 58 specialized networks (`ofa_specialized`) and their folder layout.

A specialized network is a folder `<net id>/` holding `net.config` (the JSON of a static `MobileNetV3`,
`ProxylessNASNets` or `ResNets` with every layer's config), `run.config` (training settings, among them
`image_size`) and `init` (`torch.save({"state_dict": ...})`), as ofa/model_zoo.py downloads them.
"""
from __future__ import annotations

import dataclasses
import json
import re
import urllib.error
from pathlib import Path

FILES = ("net.config", "run.config", "init")

# Published figures of every released id: the "OFA Specialized Networks" table of the reference's README.md
# (id, top-1 %, top-5 %, params, MACs); the id list and its order are `specialized_network_list` in
# eval_specialized_net.py.
_TABLE = """
flops@595M_top1@80.0_finetune@75 80.0 94.9 9.1M 595M
flops@482M_top1@79.6_finetune@75 79.6 94.8 9.1M 482M
flops@389M_top1@79.1_finetune@75 79.1 94.5 8.4M 389M
resnet50D_MAC@4.1B_top1@79.8 79.8 94.7 30.9M 4.1B
resnet50D_MAC@3.7B_top1@79.7 79.7 94.7 26.5M 3.7B
resnet50D_MAC@3.0B_top1@79.3 79.3 94.5 28.7M 3.0B
resnet50D_MAC@2.4B_top1@79.0 79.0 94.2 29.0M 2.4B
resnet50D_MAC@1.8B_top1@78.3 78.3 94.0 20.7M 1.8B
resnet50D_MAC@1.2B_top1@77.1_finetune@25 77.1 93.3 19.3M 1.2B
resnet50D_MAC@0.9B_top1@76.3_finetune@25 76.3 92.9 14.5M 0.9B
resnet50D_MAC@0.6B_top1@75.0_finetune@25 75.0 92.1 9.6M 0.6B
pixel1_lat@143ms_top1@80.1_finetune@75 80.1 95.0 9.2M 642M
pixel1_lat@132ms_top1@79.8_finetune@75 79.8 94.9 9.2M 593M
pixel1_lat@79ms_top1@78.7_finetune@75 78.7 94.2 8.2M 356M
pixel1_lat@58ms_top1@76.9_finetune@75 76.9 93.3 5.8M 230M
pixel1_lat@40ms_top1@74.9_finetune@25 74.9 92.1 6.0M 162M
pixel1_lat@28ms_top1@73.3_finetune@25 73.3 91.0 5.2M 109M
pixel1_lat@20ms_top1@71.4_finetune@25 71.4 89.8 4.3M 77M
pixel2_lat@62ms_top1@75.8_finetune@25 75.8 92.7 5.8M 208M
pixel2_lat@50ms_top1@74.7_finetune@25 74.7 91.9 4.7M 166M
pixel2_lat@35ms_top1@73.4_finetune@25 73.4 91.1 5.1M 113M
pixel2_lat@25ms_top1@71.5_finetune@25 71.5 90.1 4.1M 79M
note10_lat@64ms_top1@80.2_finetune@75 80.2 95.1 9.1M 743M
note10_lat@50ms_top1@79.7_finetune@75 79.7 94.9 9.1M 554M
note10_lat@41ms_top1@79.3_finetune@75 79.3 94.5 9.0M 457M
note10_lat@30ms_top1@78.4_finetune@75 78.4 94.2 7.5M 339M
note10_lat@22ms_top1@76.6_finetune@25 76.6 93.1 5.9M 237M
note10_lat@16ms_top1@75.5_finetune@25 75.5 92.3 4.9M 163M
note10_lat@11ms_top1@73.6_finetune@25 73.6 91.2 4.3M 110M
note10_lat@8ms_top1@71.4_finetune@25 71.4 89.8 3.8M 79M
note8_lat@65ms_top1@76.1_finetune@25 76.1 92.7 5.3M 220M
note8_lat@49ms_top1@74.9_finetune@25 74.9 92.1 6.0M 164M
note8_lat@31ms_top1@72.8_finetune@25 72.8 90.8 4.6M 101M
note8_lat@22ms_top1@70.4_finetune@25 70.4 89.3 4.3M 67M
s7edge_lat@88ms_top1@76.3_finetune@25 76.3 92.9 6.4M 219M
s7edge_lat@58ms_top1@74.7_finetune@25 74.7 92.0 4.6M 145M
s7edge_lat@41ms_top1@73.1_finetune@25 73.1 91.0 4.7M 96M
s7edge_lat@29ms_top1@70.5_finetune@25 70.5 89.5 3.8M 66M
LG-G8_lat@24ms_top1@76.4_finetune@25 76.4 93.0 5.8M 230M
LG-G8_lat@16ms_top1@74.7_finetune@25 74.7 92.0 5.8M 151M
LG-G8_lat@11ms_top1@73.0_finetune@25 73.0 91.1 5.0M 103M
LG-G8_lat@8ms_top1@71.1_finetune@25 71.1 89.7 4.1M 74M
1080ti_gpu64@27ms_top1@76.4_finetune@25 76.4 93.0 6.5M 397M
1080ti_gpu64@22ms_top1@75.3_finetune@25 75.3 92.4 5.2M 313M
1080ti_gpu64@15ms_top1@73.8_finetune@25 73.8 91.3 6.0M 226M
1080ti_gpu64@12ms_top1@72.6_finetune@25 72.6 90.9 5.9M 165M
v100_gpu64@11ms_top1@76.1_finetune@25 76.1 92.7 6.2M 352M
v100_gpu64@9ms_top1@75.3_finetune@25 75.3 92.4 5.2M 313M
v100_gpu64@6ms_top1@73.0_finetune@25 73.0 91.1 4.9M 179M
v100_gpu64@5ms_top1@71.6_finetune@25 71.6 90.3 5.2M 141M
tx2_gpu16@96ms_top1@75.8_finetune@25 75.8 92.7 6.2M 349M
tx2_gpu16@80ms_top1@75.4_finetune@25 75.4 92.4 5.2M 313M
tx2_gpu16@47ms_top1@72.9_finetune@25 72.9 91.1 4.9M 179M
tx2_gpu16@35ms_top1@70.3_finetune@25 70.3 89.4 4.3M 121M
cpu_lat@17ms_top1@75.7_finetune@25 75.7 92.6 4.9M 365M
cpu_lat@15ms_top1@74.6_finetune@25 74.6 92.0 4.9M 301M
cpu_lat@11ms_top1@72.0_finetune@25 72.0 90.4 4.4M 160M
cpu_lat@10ms_top1@71.1_finetune@25 71.1 89.9 4.2M 143M
"""
_DEVICES = {  # id prefix -> target (section titles of the README table)
    "flops": "MACs budget",
    "resnet50D_MAC": "MACs budget (ResNet50-D space)",
    "pixel1_lat": "Google Pixel1",
    "pixel2_lat": "Google Pixel2",
    "note10_lat": "Samsung Note10",
    "note8_lat": "Samsung Note8",
    "s7edge_lat": "Samsung S7 Edge",
    "LG-G8_lat": "LG G8",
    "1080ti_gpu64": "NVIDIA GTX 1080 Ti (batch 64)",
    "v100_gpu64": "NVIDIA V100 (batch 64)",
    "tx2_gpu16": "NVIDIA Jetson TX2 (batch 16)",
    "cpu_lat": "Intel Xeon + MKL-DNN (batch 1)",
}


@dataclasses.dataclass(frozen=True)
class SpecializedNet:
    """A released specialized network and its published figures (ImageNet, the reference's README).

    Args:
        net_id: the id (`ofa_specialized(net_id)`).
        device: the hardware it was searched for, or the MACs budget it was searched under.
        latency_ms: its latency budget on `device` (None for MACs-budget nets).
        top1, top5: published ImageNet accuracy (%).
        params, macs: published parameter and MAC counts (rounded as published: 0.1M params, 1M / 0.1B MACs).
        finetune_epochs: fine-tuning epochs after the search (0: none).
    """

    net_id: str
    device: str
    latency_ms: float | None
    top1: float
    top5: float
    params: int
    macs: int
    finetune_epochs: int

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def _count(text: str) -> int:
    return round(float(text[:-1]) * {"M": 1e6, "B": 1e9}[text[-1]])


def _parse(line: str) -> SpecializedNet:
    net_id, top1, top5, params, macs = line.split()
    prefix = net_id.split("@")[0]
    latency = re.search(r"@(\d+)ms_", net_id)
    finetune = re.search(r"_finetune@(\d+)$", net_id)
    return SpecializedNet(net_id, _DEVICES[prefix], float(latency.group(1)) if latency else None, float(top1),
                          float(top5), _count(params), _count(macs), int(finetune.group(1)) if finetune else 0)


SPECIALIZED = {net.net_id: net for net in map(_parse, _TABLE.strip().splitlines())}


def specialized_ids() -> list[SpecializedNet]:
    """The 58 released specialized networks, in the reference's order (eval_specialized_net.py)."""
    return list(SPECIALIZED.values())


def specialized_url(net_id: str, file: str) -> str:
    """Where the reference publishes `file` of `net_id` (ofa/model_zoo.py: '@' becomes '-')."""
    from ofa_tf.download import files_url

    return f"{files_url()}/ofa_specialized/{net_id.replace('@', '-')}/{file}"


def download_specialized(net_id: str, files=FILES) -> Path:
    """Fetches `files` of a released net into `cache_dir()/ofa_specialized/<id>/` (kept); returns that folder."""
    from ofa_tf.download import BrokenDownloadError
    from ofa_tf.download import cache_dir
    from ofa_tf.download import fetch

    _check_released(net_id)
    folder_name = net_id.replace("@", "-")
    folder = cache_dir() / "ofa_specialized" / folder_name
    for file in files:
        try:
            fetch(f"ofa_specialized/{folder_name}/{file}", folder / file, _VERIFY[file])
        except BrokenDownloadError as err:
            raise ConnectionError(f"Could not download {file} of {net_id}: {err}. Retry when the server is fixed, or "
                                  f"pass a folder holding {', '.join(files)}: weights='FOLDER' / `--weights "
                                  "FOLDER`.") from err
        except (urllib.error.URLError, OSError, ValueError) as err:
            raise ConnectionError(
                f"Could not download {file} of {net_id} from {specialized_url(net_id, file)} ({err}). Offline? "
                f"Download {', '.join(files)} from {specialized_url(net_id, '')} on a machine with internet "
                f"into one folder and pass it: ofa_specialized({net_id!r}, weights='FOLDER') or "
                f"`--weights FOLDER`."
            ) from err
    return folder


def read_folder(folder: str | Path, with_weights: bool = True) -> tuple[dict, int, dict | None]:
    """`(net_config, image_size, state_dict)` of a specialized-network folder (state dict None without weights)."""
    folder = Path(folder)
    needed = FILES if with_weights else FILES[:2]
    missing = [f for f in needed if not (folder / f).is_file()]
    if missing:
        raise FileNotFoundError(f"{folder} is not a specialized-network folder: missing {', '.join(missing)} "
                                f"(it needs {', '.join(needed)}, as the reference publishes them).")
    net_config = _read_json(folder / "net.config")
    run_config = _read_json(folder / "run.config")
    image_size = run_config.get("image_size")
    if isinstance(image_size, list) and len(image_size) == 1:
        image_size = image_size[0]
    if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size < 1:
        raise ValueError(f"{folder / 'run.config'}: image_size={run_config.get('image_size')!r} must be a "
                         "positive int.")
    state_dict = None
    if with_weights:
        from ofa_tf.torch_checkpoint import read_state_dict

        state_dict = read_state_dict(folder / "init")
    return net_config, image_size, state_dict


def ofa_specialized(net_id: str, pretrained: bool = False, weights: str | Path | None = None):
    """A specialized network as a Keras model of stock layers, and the image size it runs at.

    As the reference's `ofa_specialized` (ofa/model_zoo.py): with `pretrained=True` the three files of a
    released id are downloaded (once, into `~/.keras/ofa_tf/ofa_specialized/`); without weights the
    architecture is built with fresh weights from the downloaded `net.config`.

    Args:
        net_id: one of `specialized_ids()` (any name with `weights=`).
        pretrained: download and load the released weights.
        weights: a folder with `net.config`, `run.config` and `init` (no download).

    Returns:
        `(model, image_size)`; the model takes NHWC images (normalized with the ImageNet mean/std) of any size.
    """
    from ofa_tf.layer_config import build_network

    folder = specialized_folder(net_id, pretrained, weights)
    net_config, image_size, state_dict = read_folder(folder, with_weights=pretrained or weights is not None)
    model = build_network(net_config, state_dict, name=_model_name(net_id), source=str(folder / "init"))
    return model, image_size


def specialized_folder(net_id: str, pretrained: bool = False, weights: str | Path | None = None) -> Path:
    """The folder `ofa_specialized` reads: `weights`, or the download cache (all three files when `pretrained`,
    else the two configs)."""
    if pretrained and weights is not None:
        raise ValueError("Pass either pretrained=True or weights=FOLDER, not both.")
    if weights is None:
        return download_specialized(net_id, FILES if pretrained else FILES[:2])
    folder = Path(weights)
    if not folder.is_dir():
        raise FileNotFoundError(f"weights={str(weights)!r} is not a folder; pass the folder holding "
                                f"{', '.join(FILES)}.")
    return folder


def _check_released(net_id: str) -> None:
    if net_id not in SPECIALIZED:
        raise ValueError(f"Unknown specialized net id {net_id!r}: released ids are listed by "
                         "`ofa_tf.specialized_ids()` / `ofa-tf zoo` (pass weights=FOLDER for other networks).")


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except ValueError as err:
        raise ValueError(f"{path} is not valid JSON: {err}") from err
    if not isinstance(data, dict):
        raise ValueError(f"{path} must hold a JSON object; received {type(data).__name__}.")
    return data


def _model_name(net_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_]", "_", net_id)


def _read_init(path: Path) -> None:
    from ofa_tf.torch_checkpoint import read_state_dict

    read_state_dict(path)


# How each downloaded file is checked before it enters the cache (`ofa_tf.download.fetch`): it must read.
_VERIFY = {"net.config": _read_json, "run.config": _read_json, "init": _read_init}
