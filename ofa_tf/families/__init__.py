"""The network families, one folder each, and the interfaces they share.

`mobilenet_v3/`, `proxyless/` and `resnet/` each own their search space and configs, supernet, stock-Keras
materializer, PyTorch weight converter, presets, efficiency models, sampler and arch-encoding hooks and recipe rows;
`mbconv/` holds what the two MBConv families share. Family folders never import each other (`.importlinter`); the
modules beside them (`supernet.py`, `config.py`, `efficiency.py`, `encoding.py`, `spec.py`) are the interfaces and
helpers every family uses. `ofa_tf/registry.py` lists the families (`<family>/family.py`); code that starts from an
object calls its methods, code that starts from a name (a net id, predictor.json's "family", a config dict) asks the
registry.

Adding a family: a folder with the same modules, and one line in `ofa_tf.registry.FAMILIES`.
This package imports none of the families (importing it stays cheap).
"""
