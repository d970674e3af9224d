"""Latency lookup tables of OFA supernets: key formats (`keys`), the Keras models of the entries to time (`entries`),
the table file (`table`), prediction and calibration (`predict`).

Two key formats (granularities) exist:

- `block` (default): one entry per piece the TFLite interpreter runs back to back in a whole subnet: the `stem`
  (first conv + the fixed first block), every elastic `mbconv` block with its SE and residual, keyed by input
  size, channels, kernel, expand ratio, stride, activation, SE and skip, and the `head` (final expand, pool,
  feature mix, classifier). A subnet sums 2 + (active blocks) entries.
- `layer`: the reference's `MBv3LatencyTable` keys (`Conv-input:224x224x3-output:112x112x16`,
  `expanded_conv-input:...-hs:0`, `Conv_1-...`, `AvgPool2D-...`, `Conv_2-...`, `Logits-...`), 6 fixed entries
  plus the active blocks; reference tables (`once-for-all` `ofa/nas/efficiency_predictor/latency_lookup_table.py`)
  load and predict as they are.

An entry is `{mean, count, var}` in ms (the reference's fields), optionally with `median` and `min`. Each entry is
timed as a model of its own and so carries the per-invoke cost a whole model pays once: the table's `OVERHEAD_KEY`
entry (a near-empty model) is subtracted for every entry but one. A table may carry a `calibration` (header) fitted
on a few measured whole subnets (`Calibration.fit`), which the predictor applies by default.

Files are YAML (`.yaml`/`.yml`) or JSON: `{"header": {...}, "table": {key: entry}}`, or a bare reference table.
A table covers the resolutions it was measured at (`LatencyTable.resolutions`); given several tables, the predictor
uses for a subnet at r the table measured at r, as the reference tutorial's `LatencyTable` does with its
`<r>_lookup_table.yaml` files (`ofa/tutorial/latency_table.py`): one key may be measured in several files with
different means, and merging them would keep only one.
"""
from ofa_tf.lazy import lazy_exports

_NAMES = {  # submodule -> the public names it defines
    ".keys": ("GRANULARITIES", "OVERHEAD_KEY", "latency_table_keys", "detect_granularity"),
    ".entries": ("TableLayer", "check_resolutions", "table_layers"),
    ".table": ("TABLE_FORMAT", "PARTIAL", "STATISTICS", "LatencyTable", "entry_from_timings"),
    ".predict": ("CALIBRATION_METHODS", "network_shape", "LatencyTableModel", "Calibration", "LatencyPredictor"),
}
_EXPORTS = {name: module for module, names in _NAMES.items() for name in names}

__all__ = sorted(_EXPORTS)

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
