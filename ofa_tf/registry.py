"""The one table of network families (`ofa_tf/families/<family>/family.py`) and lookups by name.

Code that starts from an object (a supernet, a search space, a config, a batch) calls its methods; code that starts
from a name (a net id, predictor.json's "family", a config dict read from a file) asks this module. Adding a family is
one folder under `ofa_tf/families/` and one line in `FAMILIES` (the timm / keras-hub pattern: an architecture and its
presets with their pretrained files, one downloader, `ofa_tf.download`).
"""
from __future__ import annotations

from collections.abc import Mapping

from ofa_tf.families.mobilenet_v3.family import FAMILY as MOBILENET_V3
from ofa_tf.families.proxyless.family import FAMILY as PROXYLESS
from ofa_tf.families.resnet.family import FAMILY as RESNET
from ofa_tf.families.spec import Family

FAMILIES: tuple[Family, ...] = (MOBILENET_V3, PROXYLESS, RESNET)

PRESETS: dict[str, object] = {net_id: preset for family in FAMILIES for net_id, preset in family.presets.items()}
"""Every family's presets by net id (`ofa_tf.zoo.PRESETS` is this dict)."""


def family(name: str) -> Family:
    for entry in FAMILIES:
        if entry.name == name:
            return entry
    raise ValueError(f"Unknown family {name!r}; known families: {', '.join(f.name for f in FAMILIES)}.")


def net_ids() -> list[str]:
    return sorted(PRESETS)


def preset(net_id: str):
    """The preset of `net_id`; raises naming the known ids."""
    if net_id not in PRESETS:
        raise ValueError(f"Unknown net_id {net_id!r}. Known ids: {', '.join(net_ids())}.")
    return PRESETS[net_id]


def space_kinds() -> dict[str, type]:
    """predictor.json's "family" values -> search space class ("mobilenet" serves both MBConv families)."""
    return {entry.space_type.kind: entry.space_type for entry in FAMILIES}


def space_type(kind: str, source: str = "predictor.json") -> type:
    """The search space class of a predictor.json "family" value; raises listing the allowed values."""
    kinds = space_kinds()
    if kind not in kinds:
        raise ValueError(f"{source} has family={kind!r}; allowed are {sorted(kinds)}.")
    return kinds[kind]


def config_from_dict(data: Mapping):
    """The config a dict describes, by the keys only one family's configs have (`config_type.KEY`):
    `{"d", "e", "w"}` is an OFA-ResNet config, else `{"ks", "e", "d"}`."""
    types = []
    for entry in FAMILIES:
        if entry.config_type not in types:
            types.append(entry.config_type)
    for config_type in reversed(types):
        if config_type.KEY in data:
            return config_type.from_dict(data)
    return types[0].from_dict(data)
