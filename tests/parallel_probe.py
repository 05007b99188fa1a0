"""Train one epoch of the small VGG variant (synthetic.SMALL_CONVS) with ``quant_snn.train.train`` on N devices
into OUT_DIR/two, then on one device into OUT_DIR/one, in this one process (the CPU split into N logical devices
first), and save the initial variables beside each checkpoint, so that a test can compare the weight
updates of the two runs.

    KERAS_BACKEND=jax python parallel_probe.py DATA_DIR OUT_DIR DEVICES CONFIG
"""

import sys
from pathlib import Path

from quant_snn.distribute import request_cpu_devices  # noqa: E402 (no Keras import yet)

if __name__ == "__main__":
    data_dir, out_dir, devices, tag = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    request_cpu_devices(devices)  # before Keras imports JAX
    import keras
    import numpy as np
    from synthetic import SMALL

    from quant_snn.quant_config import parse_tag
    from quant_snn.seeding import set_seed
    from quant_snn.train import RunConfig, build_training_model, train

    for name, distribute in (("two", True), ("one", False)):  # TensorFlow splits the CPU at the first run
        cfg = RunConfig(dataset="cifar10", quant=parse_tag(tag), data_dir=data_dir, output_dir=out_dir / name,
                        epochs=1, batch_size=20, verbose=0, seed=7, distribute=distribute,
                        cpu_devices=devices if distribute else None, arch=SMALL)
        history = train(cfg)
        set_seed(cfg.seed)  # the same draws as train() made: the initial variables
        model, _ = build_training_model(10, cfg.quant, cfg.seed, arch=SMALL)
        np.savez(cfg.output_dir / "init.npz", *[keras.ops.convert_to_numpy(v) for v in model.variables])
        print(f"{name}: test accuracy {history[-1]['test_accuracy']}")
