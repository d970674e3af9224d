"""Forward time of the max and min subnets at 224: elastic supernet (one trace) vs materialized subnet.

Usage: python benchmarks/forward_time.py [--batch 1] [--runs 20] [--net ofa_mbv3_d234_e346_k357_w1.0]
"""
import argparse
import time

import ofa_tf  # (before TensorFlow: applies ofa_tf's TensorFlow settings)
import numpy as np
import tensorflow as tf


def _time(fn, x, runs):
    fn(x)  # trace / warm up
    fn(x)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn(x).numpy()
        times.append(time.perf_counter() - start)
    return 1000 * np.median(times), 1000 * np.std(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--net", default="ofa_mbv3_d234_e346_k357_w1.0")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--resolution", type=int, default=224)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    net = ofa_tf.ofa_net(args.net, dropout_rate=0.0)
    x = tf.random.normal([args.batch, args.resolution, args.resolution, 3])
    supernet_fn = tf.function(lambda x: net(x, training=False), input_signature=[tf.TensorSpec([None, None, None, 3])])
    print(f"{args.net}, batch {args.batch}, {args.resolution}x{args.resolution}, median of {args.runs} runs (ms)")
    print(f"{'subnet':8s} {'MACs':>8s} {'supernet':>12s} {'materialized':>14s}")
    for name, (k, e, d) in {"max": (7, 6, 4), "min": (3, 3, 2)}.items():
        net.set_active_subnet(ks=k, e=e, d=d)
        macs = ofa_tf.profile(net, args.resolution)["macs"]
        sup, sup_std = _time(supernet_fn, x, args.runs)
        subnet = net.get_active_subnet(resolution=args.resolution)
        sub_fn = tf.function(lambda x, m=subnet: m(x, training=False))
        mat, mat_std = _time(sub_fn, x, args.runs)
        print(f"{name:8s} {macs / 1e6:7.1f}M {sup:8.1f}±{sup_std:<4.1f} {mat:9.1f}±{mat_std:<4.1f}")
    print(f"supernet traces: {supernet_fn.experimental_get_tracing_count()}")


if __name__ == "__main__":
    main()
