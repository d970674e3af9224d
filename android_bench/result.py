"""One benchmark measurement of one model on one device."""

from __future__ import annotations

import dataclasses

from android_bench.output_parser import BenchmarkFigures
from android_bench.output_parser import BenchmarkOutput

STATUS_OK = "ok"
STATUS_FAILED = "failed"


@dataclasses.dataclass
class _Measurement:
    """What was measured where: the fields a `Result` stores before its figures."""

    session_id: str
    target: str
    serial: str
    device: str
    device_fingerprint: str
    model_path: str
    model_sha256: str
    flags: str
    tool_version: str
    status: str
    error: str | None = None


@dataclasses.dataclass
class Result(BenchmarkFigures, _Measurement):
    """A stored measurement: the measurement's fields, then its `BenchmarkFigures` (timings in microseconds,
    ``None`` where the tool gave no such figure), then when it was stored. (A dataclass takes its bases' fields from
    the last base to the first: this order is the store's columns'.)"""

    created_at: str = ""
    raw_output: str = dataclasses.field(default="", repr=False)
    id: int | None = None

    @property
    def ok(self) -> bool:
        return self.status == STATUS_OK

    def with_output(self, output: BenchmarkOutput) -> Result:
        """Copy the parsed figures into this result."""
        for name, value in output.figures().items():
            setattr(self, name, value)
        return self

    def to_dict(self, include_raw: bool = False) -> dict:
        data = dataclasses.asdict(self)
        if not include_raw:
            data.pop("raw_output")
        return data
