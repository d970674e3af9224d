"""The metadata an exported model carries: a JSON entry in the TFLite flatbuffer's `metadata` table."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import flatbuffers
import numpy as np
from ai_edge_litert import schema_py_generated as schema

METADATA_NAME = "ofa_tf"
FORMAT = "ofa_tf.tflite_metadata/1"
_FILE_IDENTIFIER = b"TFL3"
_BUFFER_ALIGNMENT = 16  # the schema's `force_align: 16` on Buffer.data, which the Python object API ignores


@dataclasses.dataclass(frozen=True)
class ModelMetadata:
    """What a phone app needs to run an exported subnet (or specialized network) without side files.

    Inputs are NHWC RGB images at `resolution`; preprocess as `(pixel / pixel_scale - mean) / std` per channel
    (then quantize with the input tensor's scale/zero point when `input_dtype` is an integer type).

    Args:
        resolution: input height and width.
        batch_size: fixed batch dimension of the input.
        mean, std: per-channel normalization constants (RGB, on the [0, 1] scale).
        pixel_scale: divisor turning raw pixels into [0, 1].
        labels: class names in output order, when known.
        subnet_config: the `SubnetConfig` dict the model was materialized from (empty for a specialized network).
        net_id: id of the supernet (`ofa_tf.net_ids()`) or of the specialized network
            (`ofa_tf.specialized_ids()`), when known.
        quantization: export mode (`none`, `float16`, `dynamic`, `int8`, `qat`).
        input_dtype, output_dtype: numpy dtype names of the model's input and output.
        n_classes: number of outputs (logits).
        extra: free-form additions (e.g. BN calibration details).
        net_config: the reference network config (`net.config`) a specialized network was built from.
    """

    resolution: int
    batch_size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    subnet_config: dict
    quantization: str
    input_dtype: str
    output_dtype: str
    n_classes: int
    labels: tuple[str, ...] | None = None
    net_id: str | None = None
    pixel_scale: float = 255.0
    layout: str = "NHWC"
    color: str = "RGB"
    output: str = "logits"
    ofa_tf_version: str | None = None
    extra: dict = dataclasses.field(default_factory=dict)
    net_config: dict | None = None

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["mean"], data["std"] = list(self.mean), list(self.std)
        data["labels"] = None if self.labels is None else list(self.labels)
        return {"format": FORMAT, **data}

    @classmethod
    def from_dict(cls, data: dict) -> ModelMetadata:
        data = dict(data)
        found = data.pop("format", None)
        if found != FORMAT:
            raise ValueError(f"Unsupported ofa_tf metadata format {found!r}; this version reads {FORMAT!r}.")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"Unknown ofa_tf metadata keys {unknown}; known keys are {sorted(known)}.")
        data["mean"], data["std"] = tuple(data["mean"]), tuple(data["std"])
        if data.get("labels") is not None:
            data["labels"] = tuple(data["labels"])
        return cls(**data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)


def embed_metadata(model: bytes, metadata: ModelMetadata, name: str = METADATA_NAME) -> bytes:
    """Returns `model` with `metadata` as JSON in a buffer referenced by the metadata entry `name`.

    An existing entry of the same name is replaced; the converter's own entries are kept.
    """
    root = schema.ModelT.InitFromObj(schema.Model.GetRootAs(_check_tflite(model), 0))
    payload = np.frombuffer(metadata.to_json().encode("utf-8"), np.uint8)
    root.buffers = [_AlignedBuffer(b.data, b.offset, b.size) for b in (root.buffers or [])]
    root.buffers.append(_AlignedBuffer(payload))
    entry = schema.MetadataT()
    entry.name = name
    entry.buffer = len(root.buffers) - 1
    root.metadata = [m for m in (root.metadata or []) if _decode(m.name) != name] + [entry]
    builder = flatbuffers.Builder(len(model) + 1024)
    builder.Finish(root.Pack(builder), file_identifier=_FILE_IDENTIFIER)
    return bytes(builder.Output())


def metadata_entries(model: bytes) -> dict[str, bytes]:
    """All `metadata` table entries of a TFLite flatbuffer: name → raw buffer bytes."""
    root = schema.Model.GetRootAs(_check_tflite(model), 0)
    out = {}
    for i in range(root.MetadataLength()):
        entry = root.Metadata(i)
        buffer = root.Buffers(entry.Buffer())
        out[_decode(entry.Name())] = buffer.DataAsNumpy().tobytes() if buffer.DataLength() else b""
    return out


def read_metadata(model: bytes | str | Path) -> ModelMetadata | None:
    """The `ModelMetadata` embedded by `embed_metadata`, or None when the model has none."""
    if not isinstance(model, (bytes, bytearray)):
        model = Path(model).read_bytes()
    raw = metadata_entries(model).get(METADATA_NAME)
    if raw is None:
        return None
    return ModelMetadata.from_dict(json.loads(raw.decode("utf-8")))


class _AlignedBuffer(schema.BufferT):
    """A `BufferT` whose data vector is 16-byte aligned, as the converter writes it."""

    def Pack(self, builder):  # noqa: N802 (flatbuffers object API)
        data = None
        if self.data is not None:
            raw = np.ascontiguousarray(self.data, np.uint8).tobytes()
            builder.StartVector(1, len(raw), _BUFFER_ALIGNMENT)
            builder.head = builder.head - len(raw)
            builder.Bytes[builder.head : builder.head + len(raw)] = raw
            builder.vectorNumElems = len(raw)
            data = builder.EndVector()
        schema.BufferStart(builder)
        if data is not None:
            schema.BufferAddData(builder, data)
        schema.BufferAddOffset(builder, self.offset)
        schema.BufferAddSize(builder, self.size)
        return schema.BufferEnd(builder)


def _check_tflite(model: bytes) -> bytes:
    if len(model) < 8 or model[4:8] != _FILE_IDENTIFIER:
        raise ValueError("Not a TFLite flatbuffer: the file identifier 'TFL3' is missing at bytes 4-8.")
    return model


def _decode(name) -> str:
    return name.decode("utf-8") if isinstance(name, bytes) else str(name)
