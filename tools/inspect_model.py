"""What is inside a `.tflite` file: metadata, op histogram, tensor types, inputs/outputs, size."""
from __future__ import annotations

import collections
import dataclasses
import struct
from pathlib import Path

from ai_edge_litert import schema_py_generated as schema

from .tflite_metadata import ModelMetadata
from .tflite_metadata import metadata_entries
from .tflite_metadata import read_metadata

_OP_NAMES = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
_TYPE_NAMES = {v: k.lower() for k, v in vars(schema.TensorType).items() if not k.startswith("_")}
FLOAT_TYPES = ("float32", "float16", "float64", "bfloat16")
# Ops that only move values between float and integer: allowed at the edges of an integer model.
CONVERSION_OPS = ("QUANTIZE", "DEQUANTIZE")


@dataclasses.dataclass(frozen=True)
class TensorInfo:
    """An input or output tensor: name, shape, type and (for integer tensors) its quantization."""

    name: str
    shape: tuple[int, ...]
    dtype: str
    scale: float | None = None
    zero_point: int | None = None


@dataclasses.dataclass(frozen=True)
class OpInfo:
    """One operator of the main subgraph with its input/output tensor types (constants included)."""

    index: int
    op: str
    input_types: tuple[str, ...]
    output_types: tuple[str, ...]

    @property
    def computes_in_float(self) -> bool:
        """True for a compute op with a float input or output (QUANTIZE/DEQUANTIZE excluded)."""
        if self.op in CONVERSION_OPS:
            return False
        return any(t in FLOAT_TYPES for t in self.input_types + self.output_types)


@dataclasses.dataclass(frozen=True)
class ModelReport:
    """Everything `ofa-tf inspect` prints."""

    path: str
    size_bytes: int
    metadata: ModelMetadata | None
    metadata_entries: tuple[str, ...]
    op_histogram: dict[str, int]
    ops: tuple[OpInfo, ...]
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]

    @property
    def float_compute_ops(self) -> list[OpInfo]:
        return [op for op in self.ops if op.computes_in_float]

    def to_dict(self) -> dict:
        return {
            "path": self.path,
            "size_bytes": self.size_bytes,
            "metadata": None if self.metadata is None else self.metadata.to_dict(),
            "metadata_entries": list(self.metadata_entries),
            "op_histogram": dict(self.op_histogram),
            "float_compute_ops": [op.op for op in self.float_compute_ops],
            "inputs": [dataclasses.asdict(t) for t in self.inputs],
            "outputs": [dataclasses.asdict(t) for t in self.outputs],
        }


def _op_name(model, operator) -> str:
    code = model.OperatorCodes(operator.OpcodeIndex())
    builtin = max(code.BuiltinCode(), code.DeprecatedBuiltinCode())
    if builtin == schema.BuiltinOperator.CUSTOM:
        custom = code.CustomCode()
        custom = custom.decode() if isinstance(custom, bytes) else str(custom)
        return custom if custom.startswith("Flex") else f"CUSTOM:{custom}"
    return _OP_NAMES.get(builtin, f"BUILTIN_{builtin}")


def _root(flatbuffer: bytes):
    if len(flatbuffer) < 8 or flatbuffer[4:8] != b"TFL3":
        raise ValueError("Not a TFLite flatbuffer: the file identifier 'TFL3' is missing at bytes 4-8.")
    return schema.Model.GetRootAs(flatbuffer, 0)


def list_ops(flatbuffer: bytes) -> list[OpInfo]:
    """Operators of the main subgraph in execution order, with tensor types (from the flatbuffer)."""
    model = _root(flatbuffer)
    graph = model.Subgraphs(0)

    def types(indices):
        return tuple(_TYPE_NAMES[graph.Tensors(int(i)).Type()] for i in indices if i >= 0)

    ops = []
    for i in range(graph.OperatorsLength()):
        op = graph.Operators(i)
        inputs = op.InputsAsNumpy() if op.InputsLength() else []
        outputs = op.OutputsAsNumpy() if op.OutputsLength() else []
        ops.append(OpInfo(i, _op_name(model, op), types(inputs), types(outputs)))
    return ops


def op_histogram(flatbuffer: bytes) -> dict[str, int]:
    """Op name → count over all subgraphs; Flex ops keep their `Flex…` name, other custom ops `CUSTOM:<code>`."""
    model = _root(flatbuffer)
    counts = collections.Counter()
    for g in range(model.SubgraphsLength()):
        graph = model.Subgraphs(g)
        for i in range(graph.OperatorsLength()):
            counts[_op_name(model, graph.Operators(i))] += 1
    return dict(sorted(counts.items()))


def _tensors(graph, indices) -> tuple[TensorInfo, ...]:
    out = []
    for i in indices:
        tensor = graph.Tensors(int(i))
        quant = tensor.Quantization()
        scale = zero_point = None
        if quant is not None and quant.ScaleLength() == 1:
            scale, zero_point = float(quant.Scale(0)), int(quant.ZeroPoint(0))
        name = tensor.Name().decode() if tensor.Name() else ""
        shape = tuple(int(v) for v in tensor.ShapeAsNumpy()) if tensor.ShapeLength() else ()
        out.append(TensorInfo(name, shape, _TYPE_NAMES[tensor.Type()], scale, zero_point))
    return tuple(out)


def io_tensors(flatbuffer: bytes) -> tuple[tuple[TensorInfo, ...], tuple[TensorInfo, ...]]:
    """(inputs, outputs) of the main subgraph."""
    graph = _root(flatbuffer).Subgraphs(0)
    return _tensors(graph, graph.InputsAsNumpy()), _tensors(graph, graph.OutputsAsNumpy())


def inspect_tflite(path: str | Path) -> ModelReport:
    """Reads a `.tflite` file (no interpreter needed)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"TFLite model not found: {path}")
    flatbuffer = path.read_bytes()
    model = _root(flatbuffer)
    try:
        graph = model.Subgraphs(0)
        return ModelReport(
            path=str(path),
            size_bytes=len(flatbuffer),
            metadata=read_metadata(flatbuffer),
            metadata_entries=tuple(metadata_entries(flatbuffer)),
            op_histogram=op_histogram(flatbuffer),
            ops=tuple(list_ops(flatbuffer)),
            inputs=_tensors(graph, graph.InputsAsNumpy()),
            outputs=_tensors(graph, graph.OutputsAsNumpy()),
        )
    except (struct.error, IndexError, AttributeError, TypeError, UnicodeDecodeError) as err:
        # the flatbuffer's offsets point outside the file: truncated, or bytes that only start like a model
        raise ValueError(f"Not a complete TFLite model ({len(flatbuffer)} bytes; reading it failed with "
                         f"{type(err).__name__}: {err}): truncated or corrupt, export it again.") from err
