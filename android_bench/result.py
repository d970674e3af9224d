"""One benchmark measurement of one model on one device."""

from __future__ import annotations

import dataclasses

from android_bench.output_parser import BenchmarkOutput

STATUS_OK = "ok"
STATUS_FAILED = "failed"
TIMING_FIELDS = (
    "init_us", "first_us", "warmup_avg_us", "avg_us", "std_us", "min_us", "max_us", "p5_us", "p50_us", "p95_us",
)
MEMORY_FIELDS = ("peak_memory_mb", "memory_init_mb", "memory_overall_mb")


@dataclasses.dataclass
class Result:
    """A stored measurement; timings in microseconds, ``None`` where the tool gave no such figure."""

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
    init_us: float | None = None
    first_us: float | None = None
    warmup_avg_us: float | None = None
    avg_us: float | None = None
    std_us: float | None = None
    min_us: float | None = None
    max_us: float | None = None
    p5_us: float | None = None
    p50_us: float | None = None
    p95_us: float | None = None
    count: int | None = None
    warmup_count: int | None = None
    peak_memory_mb: float | None = None
    memory_init_mb: float | None = None
    memory_overall_mb: float | None = None
    op_profile_ms: dict[str, float] | None = None
    created_at: str = ""
    raw_output: str = dataclasses.field(default="", repr=False)
    id: int | None = None

    @property
    def ok(self) -> bool:
        return self.status == STATUS_OK

    def with_output(self, output: BenchmarkOutput) -> Result:
        """Copy the parsed figures into this result."""
        for name in TIMING_FIELDS + MEMORY_FIELDS + ("count", "warmup_count", "op_profile_ms"):
            setattr(self, name, getattr(output, name))
        return self

    def to_dict(self, include_raw: bool = False) -> dict:
        data = dataclasses.asdict(self)
        if not include_raw:
            data.pop("raw_output")
        return data
