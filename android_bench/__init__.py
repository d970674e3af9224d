"""Benchmark TFLite models on Android phones (adb + ``benchmark_model``) or on the host, into a SQLite store.

Example:
    >>> from android_bench import BenchmarkOptions, benchmark
    >>> results = benchmark(["net.tflite"], "host", options=BenchmarkOptions(threads=1, runs=20))  # doctest: +SKIP
    >>> results[0].avg_us  # doctest: +SKIP
"""

from android_bench.adb import Adb as Adb
from android_bench.adb import AdbError as AdbError
from android_bench.adb import DeviceDisconnectedError as DeviceDisconnectedError
from android_bench.android_target import AndroidTarget as AndroidTarget
from android_bench.device import CpuLayout as CpuLayout
from android_bench.device import DeviceInfo as DeviceInfo
from android_bench.device import host_device as host_device
from android_bench.device import probe_device as probe_device
from android_bench.host_target import HostBinaryTarget as HostBinaryTarget
from android_bench.host_target import HostInterpreterTarget as HostInterpreterTarget
from android_bench.options import DELEGATES as DELEGATES
from android_bench.options import BenchmarkOptions as BenchmarkOptions
from android_bench.output_parser import BenchmarkOutput as BenchmarkOutput
from android_bench.output_parser import parse_benchmark_output as parse_benchmark_output
from android_bench.profiles import DEVICE_PROFILES as DEVICE_PROFILES
from android_bench.profiles import match_profile as match_profile
from android_bench.result import Result as Result
from android_bench.session import NothingToResumeError as NothingToResumeError
from android_bench.session import SessionInterruptedError as SessionInterruptedError
from android_bench.session import benchmark as benchmark
from android_bench.session import check_model as check_model
from android_bench.session import make_target as make_target
from android_bench.store import ResultStore as ResultStore
from android_bench.target import BenchmarkFailedError as BenchmarkFailedError
