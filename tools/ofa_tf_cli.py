"""`ofa-tf` command line: thin click wrappers over the library, imported when a command runs."""
import importlib

import click

from android_bench.cli_support import QuietGroup

# command name -> "module:attribute" of a click command (a leading "." is relative to this package)
COMMANDS = {
    "train": ".training_cli:train_command",
    "eval": ".training_cli:eval_command",
    "finetune": ".finetune_cli:finetune_command",
    "predictor": ".nas_cli:predictor",
    "search": ".nas_cli:search",
    "specialize": ".nas_cli:specialize",
    "demo": ".nas_cli:demo",
    "export": ".cli:export_command",
    "inspect": ".cli:inspect_command",
    "zoo": ".cli:zoo_command",
}


class _LazyGroup(QuietGroup):
    def list_commands(self, ctx):
        return sorted(set(super().list_commands(ctx)) | set(COMMANDS))

    def get_command(self, ctx, name):
        if name in COMMANDS:
            module, attr = COMMANDS[name].split(":")
            return getattr(importlib.import_module(module, __package__), attr)
        return super().get_command(ctx, name)


@click.group(cls=_LazyGroup, import_tf=True, log_packages=("ofa_tf", __package__, "android_bench"))
@click.version_option(package_name="ofa_tf")
def main(verbose):
    """Once-for-All networks for TensorFlow/Keras: train, evaluate, search, export."""


if __name__ == "__main__":
    main()
