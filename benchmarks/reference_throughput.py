"""Images/s of the PyTorch reference's training step on this machine, to set beside `train_throughput.py`.

    pip install torch && pip install --no-deps ofa     # the official once-for-all package (MIT)
    python benchmarks/reference_throughput.py [--batch 32] [--resolution 128] [--threads 2]

The reference's `OFAMobileNetV3` (w1.0, ks 3/5/7, e 3/4/6, d 2/3/4, 1000 classes, dropout 0.1) with its own
`sample_active_subnet`, SGD (Nesterov, momentum 0.9, weight decay 3e-5) and label-smoothed cross-entropy; random,
max and min subnets, one subnet per step. The `ofa` package imports torchvision only for its data loaders;
when torchvision is missing, empty stand-in modules satisfy that import (`_ofa_reference.py`).
"""
from __future__ import annotations

import time

import click
from _ofa_reference import stub_unused_imports


@click.command()
@click.option("--batch", default=32, show_default=True)
@click.option("--resolution", default=128, show_default=True)
@click.option("--steps", default=10, show_default=True, help="Timed steps per mode (after 2 warm-up steps).")
@click.option("--threads", default=2, show_default=True, help="torch.set_num_threads.")
def main(batch, resolution, steps, threads):
    stub_unused_imports()
    try:
        import torch
        from ofa.imagenet_classification.elastic_nn.networks import OFAMobileNetV3
    except ImportError as error:
        raise click.ClickException(f"{error}: install torch and `pip install --no-deps ofa`.") from error
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    net = OFAMobileNetV3(n_classes=1000, dropout_rate=0.1, width_mult=1.0, ks_list=[3, 5, 7],
                         expand_ratio_list=[3, 4, 6], depth_list=[2, 3, 4]).train()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9, nesterov=True, weight_decay=3e-5)
    criterion = torch.nn.CrossEntropyLoss(label_smoothing=0.1)
    images = torch.randn(batch, 3, resolution, resolution)
    labels = torch.randint(0, 1000, (batch,))
    choose = {"random subnet": net.sample_active_subnet, "max subnet": net.set_max_net,
              "min subnet": lambda: net.set_active_subnet(ks=3, e=3, d=2)}
    click.echo(f"PyTorch {torch.__version__}, {threads} threads; batch {batch}, {resolution} px")
    for name, set_subnet in choose.items():
        def step():
            set_subnet()
            optimizer.zero_grad()
            criterion(net(images), labels).backward()
            optimizer.step()

        for _ in range(2):
            step()
        start = time.perf_counter()
        for _ in range(steps):
            step()
        seconds = (time.perf_counter() - start) / steps
        click.echo(f"{name:<14} {batch / seconds:8.1f} images/s ({1000 * seconds:.0f} ms/step)")


if __name__ == "__main__":
    main()
