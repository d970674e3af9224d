"""Throughput of the ofa_tf.data training pipeline (images/s), to compare with a training step's.

Usage: python benchmarks/data_pipeline.py [--root FOLDER] [--images 20000] [--batch-size 64]

Reports, for the shared CIFAR-10 folder: the one-time indexing and decode-cache cost, then the training
pipeline at 32 px (cifar policy) and at ImageNet-like upscaled sizes (imagenet policy, elastic 112..144 and a
fixed 224), plus BN-calibration batches. Our supernet trains at about 70-150 images/s on this CPU.
"""
from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from ofa_tf import data as D  # noqa: E402
from ofa_tf.shared_data import shared_dir  # noqa: E402


def images_per_second(ds, n_images: int) -> tuple[float, float]:
    """(images per wall-clock second, images per CPU-second of this process)."""
    it = iter(ds)
    next(it)  # warm-up: tracing, autotune ramp-up
    start, cpu_start, seen = time.perf_counter(), time.process_time(), 0
    for x, _ in it:
        seen += int(x.shape[0])
        if seen >= n_images:
            break
    return seen / (time.perf_counter() - start), seen / (time.process_time() - cpu_start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=str(shared_dir() / "data" / "cifar10" / "train"))
    parser.add_argument("--images", type=int, default=20000, help="images timed per 32 px run (÷4 upscaled)")
    parser.add_argument("--batch-size", type=int, default=64)
    args = parser.parse_args()

    start = time.perf_counter()
    data = D.load_dataset(args.root, validation_split=0.1, seed=0)
    print(f"index {data.num_train + data.num_validation} images: {time.perf_counter() - start:.1f} s")
    start = time.perf_counter()
    next(iter(data.train(args.batch_size, 32)))
    print(f"first batch incl. one-time decode into memory: {time.perf_counter() - start:.1f} s")

    runs = [
        ("train 32 px, cifar policy", data.train(args.batch_size, 32, policy="cifar"), args.images),
        (
            "train elastic 112..144 px (9 sizes), imagenet policy",
            data.train(args.batch_size, D.resolution_candidates(112, 144), policy="imagenet", repeat=True),
            args.images // 4,
        ),
        ("train 128 px, imagenet policy", data.train(args.batch_size, 128, policy="imagenet", repeat=True), args.images // 4),
        ("train 224 px, imagenet policy", data.train(args.batch_size, 224, policy="imagenet", repeat=True), args.images // 8),
        ("train 128 px, cifar policy", data.train(args.batch_size, 128, policy="cifar", repeat=True), args.images // 4),
        ("validation 128 px", data.validation(200, 128).repeat(), args.images // 4),
        ("calibration 2000 images at 128 px", data.calibration(128).repeat(), 4000),
    ]
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} (other processes slow the wall-clock rate)")
    for name, ds, n in runs:
        wall, cpu = images_per_second(ds, n)
        print(f"{name:55s} {wall:8.0f} images/s {cpu:8.0f} images/CPU-s")


if __name__ == "__main__":
    main()
