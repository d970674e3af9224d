"""`ofa-tf` command line: thin click wrappers over the library."""
import click


@click.group()
@click.version_option(package_name="ofa_tf")
def main():
    """Once-for-All networks for TensorFlow/Keras: train, evaluate, search, export."""


if __name__ == "__main__":
    main()
