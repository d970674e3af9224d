"""``python -m android_bench``."""

from android_bench.cli import main

main(prog_name="android-bench")
