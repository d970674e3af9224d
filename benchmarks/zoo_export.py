"""Specialized networks of the model zoo: Keras and float32 .tflite parity with the reference logits, then size
and host latency (LiteRT interpreter, this machine) of each export mode.

    python benchmarks/zoo_export.py [--folders DIR ...] [--modes none,float16,dynamic,int8] [--threads 1]

Default folders: the three fixture networks in ../shared/reference/zoo/specialized (random weights, released
layouts). int8 calibrates on --data (default 'digits'; only the activation ranges matter here).
"""
from __future__ import annotations

import tempfile
from pathlib import Path

import ofa_tf  # noqa: F401  (before TensorFlow: applies ofa_tf's TensorFlow settings)
import click
import numpy as np

from ofa_tf.shared_data import shared_dir
from ofa_tf.specialized import ofa_specialized
from ofa_tf_tools import export_specialized
from ofa_tf_tools import predict
from ofa_tf_tools import run_tflite


@click.command()
@click.option("--folders", multiple=True, type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Specialized-network folders (net.config, run.config, init[, logits.npz]).")
@click.option("--modes", default="none,float16,dynamic,int8", show_default=True)
@click.option("--data", default="digits", show_default=True, help="Representative images for int8.")
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--runs", type=click.IntRange(min=1), default=50, show_default=True)
def main(folders, modes, data, threads, runs):
    folders = folders or sorted((shared_dir() / "reference" / "zoo" / "specialized").iterdir())
    out = Path(tempfile.mkdtemp())
    click.echo(f"| network | image size | mode | size (KiB) | host latency ms, {threads} thread(s) (mean / p50) "
               "| max abs error vs reference (rel. to max logit) |")
    click.echo("|---|---|---|---|---|---|")
    for folder in folders:
        reference = np.load(folder / "logits.npz") if (folder / "logits.npz").is_file() else None
        model, image_size = ofa_specialized(folder.name, weights=folder)
        scale = None if reference is None else float(np.abs(reference["logits"]).max())
        if reference is not None:
            error = np.abs(model(reference["input"]).numpy() - reference["logits"]).max() / scale
            click.echo(f"| {folder.name} | {image_size} | Keras | - | - | {error:.1e} |")
        for mode in modes.split(","):
            result = export_specialized(folder.name, out / f"{folder.name}_{mode}.tflite", weights=folder,
                                        quantize=mode, data=data if mode == "int8" else None)
            run = run_tflite(result.path, threads=threads, runs=runs)
            error = "-"
            if reference is not None:
                error = f"{np.abs(predict(result.path, reference['input']) - reference['logits']).max() / scale:.1e}"
            click.echo(f"| {folder.name} | {image_size} | {mode} | {result.size_bytes / 1024:.0f} | "
                       f"{run.mean_us / 1e3:.2f} / {run.p50_us / 1e3:.2f} | {error} |")
    click.echo(f"Exports written to {out}.")


if __name__ == "__main__":
    main()
