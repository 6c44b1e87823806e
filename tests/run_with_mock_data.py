"""Runs `train.main(argv)` in its own process on learnable mock data (see synthetic.py).

    python tests/run_with_mock_data.py [--logical-cpus N] [--examples N] -- TRAIN_FLAGS...

(`--examples 0`: no mock; the run reads files in TFDS' own format from its --data-dir.)

Tests that need a fresh process (SIGKILL or Ctrl-C and resume, a CPU split into logical
devices, several workers) start this script instead of train.py. Agents train as they would
anyway: they read no TFDS data.
"""

import argparse
import os
import signal
import sys

sys.path[:0] = [
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    os.path.dirname(__file__),
]
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--logical-cpus", type=int, default=1)
    parser.add_argument("--examples", type=int, default=256, help="0: no mock, real files")
    parser.add_argument("train_flags", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    # Tests stop this process with Ctrl-C (SIGINT). Started from a background job, it would
    # inherit SIGINT ignored and Python would never raise KeyboardInterrupt: hear it again.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    if args.logical_cpus > 1:  # must happen before TensorFlow touches the devices
        cpu = tf.config.list_physical_devices("CPU")[0]
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * args.logical_cpus
        )
    import synthetic
    import train

    flags = args.train_flags[1:] if args.train_flags[:1] == ["--"] else args.train_flags
    if args.examples == 0:  # data the test wrote in TFDS' own format (--data-dir)
        return train.main(flags)
    with synthetic.mock_learnable(args.examples):
        return train.main(flags)


if __name__ == "__main__":
    sys.exit(main())
