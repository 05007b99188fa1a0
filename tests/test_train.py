import csv
import json
import os
import signal
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
from conftest import script_env
from keras.ops import convert_to_numpy as to_numpy
from synthetic import SMALL

from quant_snn.data import load_cifar
from quant_snn.datasets import CIFAR10
from quant_snn.errors import UserError
from quant_snn.quant_config import FP32, QuantConfig
from quant_snn.seeding import set_seed
from quant_snn.train import RunConfig, build_training_model, compile_model, evaluate, train
from quant_snn.weights import read_npz

K1B2 = QuantConfig(1, 2)


def run_config(tmp_path, data_dir, **kwargs):
    defaults = dict(dataset="cifar10", quant=K1B2, data_dir=data_dir, output_dir=tmp_path / "out", epochs=1,
                    batch_size=20, verbose=0, seed=3, arch=SMALL)
    return RunConfig(**{**defaults, **kwargs})


@pytest.mark.parametrize("quant", [K1B2, FP32])
def test_a_few_steps_lower_the_loss(cifar10_dir, quant):
    data = load_cifar(CIFAR10, cifar10_dir)
    x, y = data.x_train.astype(np.float32), data.y_train
    set_seed(0)  # the initial weights too: an unseeded one (test order under xdist) once gave 2.59 -> 2.31
    model, _ = build_training_model(10, quant, seed=0, arch=SMALL)
    compile_model(model, 1e-3)
    losses = model.fit(x, y, batch_size=20, epochs=6, verbose=0).history["loss"]  # training-mode loss per epoch
    assert losses[-1] < 0.7 * losses[0]


def test_resume_continues_at_the_saved_epoch_with_the_new_rate(tmp_path, cifar10_dir):
    first = train(run_config(tmp_path, cifar10_dir, epochs=2))
    assert [row["epoch"] for row in first] == [1, 2] and first[-1]["learning_rate"] == pytest.approx(1e-3)
    cfg = run_config(tmp_path, cifar10_dir, resume=True, learning_rate=1e-4)
    history = train(cfg)
    assert [row["epoch"] for row in history] == [1, 2, 3]
    assert history[2]["learning_rate"] == pytest.approx(1e-4)
    with np.load(cfg.checkpoint_path) as f:
        state = json.loads(str(f["state"][()]))
    assert state["epoch"] == 3
    with open(cfg.history_path) as f:
        assert [int(row["epoch"]) for row in csv.DictReader(f)] == [1, 2, 3]
    with np.load(cfg.npz_path, allow_pickle=True) as f:
        assert int(f["epochs"]) == 3
    assert not list(cfg.output_dir.glob("*.tmp"))
    # inference on the saved npz reproduces the last epoch's test accuracy
    loss, accuracy = evaluate(run_config(tmp_path, cifar10_dir, mode="inference"))
    assert (accuracy == pytest.approx(history[-1]["test_accuracy"])
            and loss == pytest.approx(history[-1]["test_loss"], rel=1e-4))


def test_resume_restores_optimizer_state(tmp_path, cifar10_dir):
    train(run_config(tmp_path, cifar10_dir, epochs=1))
    cfg = run_config(tmp_path, cifar10_dir, resume=True, learning_rate=5e-4)
    model, _ = build_training_model(10, K1B2, seed=3, arch=SMALL)
    optimizer = compile_model(model, cfg.learning_rate)
    from quant_snn.checkpoint import load_checkpoint

    state = load_checkpoint(cfg.checkpoint_path, model, optimizer)
    assert state["epoch"] == 1 and int(to_numpy(optimizer.iterations)) == 2  # 40 images, batch 20
    assert any(np.abs(to_numpy(v)).sum() > 0 for v in optimizer.variables[2:])  # Adam moments came back


def test_resume_without_checkpoint_and_mismatched_checkpoint(tmp_path, cifar10_dir):
    with pytest.raises(UserError, match="no checkpoint"):
        train(run_config(tmp_path, cifar10_dir, resume=True))
    train(run_config(tmp_path, cifar10_dir, quant=QuantConfig(0, 2)))
    other = run_config(tmp_path, cifar10_dir, quant=QuantConfig(0, 2), resume=True)
    os.replace(other.checkpoint_path, run_config(tmp_path, cifar10_dir).checkpoint_path)
    with pytest.raises(UserError, match="holds .* model variables|is for cifar10 k0B2|shape"):
        train(run_config(tmp_path, cifar10_dir, resume=True))


def test_fresh_start_never_overwrites_an_earlier_run(tmp_path, cifar10_dir):
    cfg = run_config(tmp_path, cifar10_dir)
    train(cfg)
    before = {p.name: p.read_bytes() for p in (cfg.checkpoint_path, cfg.npz_path, cfg.history_path)}
    with pytest.raises(UserError, match="already holds a model_cifar_10_k1B2 run .*--resume True.*--overwrite True"):
        train(cfg)
    assert {p.name: p.read_bytes() for p in (cfg.checkpoint_path, cfg.npz_path, cfg.history_path)} == before
    for _ in range(2):  # twice: each earlier run keeps its own folder
        train(run_config(tmp_path, cifar10_dir, overwrite=True))
        time.sleep(1.1)
    asides = sorted(cfg.output_dir.glob("replaced_model_cifar_10_k1B2_*"))
    assert len(asides) == 2
    assert {p.name: p.read_bytes() for p in asides[0].iterdir()} == before  # the first run, byte for byte
    cfg.checkpoint_path.unlink()  # e.g. a first epoch that ended on a full disk: npz and history, no checkpoint
    with pytest.raises(UserError, match="without a checkpoint .* move them away to start anew") as refused:
        train(cfg)
    assert "--resume True" not in str(refused.value)  # which would send the user back here


def test_killed_run_loses_at_most_the_epoch_in_progress(tmp_path, cifar10_dir):
    """A training process (the small VGG variant, as test_train's in-process runs) killed with SIGKILL."""
    out = tmp_path / "out"
    program = ("from quant_snn.quant_config import QuantConfig\nfrom quant_snn.train import RunConfig, train\n"
               "from synthetic import SMALL, SMALL_CONVS\n"
               f"train(RunConfig(dataset='cifar10', quant=QuantConfig(1, 2), data_dir={str(cifar10_dir)!r}, "
               f"output_dir={str(out)!r}, epochs=50, batch_size=4, verbose=0, seed=3, arch=SMALL))\n")
    process = subprocess.Popen([sys.executable, "-c", program], env=script_env(), stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    history = out / "history_model_cifar_10_k1B2.csv"
    deadline = time.time() + 120
    # epoch 3 in the history: epoch 2's checkpoint (written after its npz and history) is complete
    while time.time() < deadline and not (history.exists() and "\n3," in history.read_text()):
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert history.exists(), process.stdout.read()
    cfg = run_config(tmp_path, cifar10_dir, resume=True, batch_size=4)
    with np.load(cfg.checkpoint_path) as f:
        saved_epoch = json.loads(str(f["state"][()]))["epoch"]
    assert saved_epoch >= 2
    (cfg.output_dir / f".{cfg.checkpoint_path.name}.killed.tmp").write_bytes(b"half a checkpoint")  # as kill -9 leaves
    resumed = train(cfg)
    assert [row["epoch"] for row in resumed] == list(range(1, saved_epoch + 2))
    assert not list(cfg.output_dir.glob(".*.tmp"))  # the resumed run cleaned up what the killed one left


def test_kill_between_files_never_leaves_the_checkpoint_ahead(tmp_path, cifar10_dir, monkeypatch):
    """Interrupted after epoch 2's npz and history but before its checkpoint: resume redoes epoch 2, and the
    npz, history and checkpoint agree again (before, the checkpoint came first and reproduce kept a stale npz)."""
    import quant_snn.epoch_end as epoch_end
    from quant_snn.checkpoint import checkpoint_epoch
    from quant_snn.weights import read_npz

    calls = []
    original = epoch_end.save_checkpoint

    def checkpoint_then_die(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    cfg = run_config(tmp_path, cifar10_dir, epochs=3)
    with monkeypatch.context() as patch:
        patch.setattr(epoch_end, "save_checkpoint", checkpoint_then_die)
        with pytest.raises(KeyboardInterrupt):
            train(cfg)
    assert checkpoint_epoch(cfg.checkpoint_path) == 1 and read_npz(cfg.npz_path)[1].epochs == 2
    resumed = train(run_config(tmp_path, cifar10_dir, epochs=2, resume=True))
    assert [row["epoch"] for row in resumed] == [1, 2, 3]
    with open(cfg.history_path) as f:
        assert [int(r["epoch"]) for r in csv.DictReader(f)] == [1, 2, 3]
    assert checkpoint_epoch(cfg.checkpoint_path) == 3 == read_npz(cfg.npz_path)[1].epochs


def test_corrupt_checkpoint_is_one_clear_error(tmp_path, cifar10_dir):
    cfg = run_config(tmp_path, cifar10_dir, resume=True)
    cfg.output_dir.mkdir(parents=True)
    cfg.checkpoint_path.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(UserError, match="cannot be read"):
        train(cfg)


@pytest.mark.parametrize("state", [{"config": {}, "history": []}, {"epoch": "3"}, {"epoch": -1}, [1, 2],
                                   {"epoch": 2, "history": "x"}, {"epoch": 10**30},
                                   {"epoch": 2, "history": [1, 2]},  # hand-edited histories: refused before
                                   {"epoch": 2, "history": [{"epoch": 1}]},  # an epoch is trained, not after
                                   {"epoch": 1, "history": [{"epoch": 1, "loss": "low"}]},
                                   {"epoch": 1, "history": [{"epoch": 2}]}])
def test_a_checkpoint_without_a_valid_state_is_one_clear_error(tmp_path, state):
    from quant_snn.checkpoint import checkpoint_epoch

    path = tmp_path / "checkpoint.npz"
    np.savez(path, state=np.str_(json.dumps(state)))
    with pytest.raises(UserError, match="records no valid epoch count|malformed config or history"):
        checkpoint_epoch(path)


def test_a_checkpoint_is_read_within_its_stated_size(tmp_path, monkeypatch):
    """Members are refused from their declared sizes before anything is unpacked (a 2 MB checkpoint with a 2 GiB
    member once took 2.7 GB), and pickled members are refused outright."""
    import quant_snn.checkpoint as checkpoint
    from quant_snn.checkpoint import load_checkpoint

    path = tmp_path / "checkpoint.npz"
    state = np.str_(json.dumps({"epoch": 0, "config": {}, "history": []}))
    np.savez_compressed(path, state=state, model_0000=np.zeros(600, np.uint8), optimizer_0000=np.zeros(600, np.uint8))
    monkeypatch.setattr(checkpoint, "MAX_CHECKPOINT_BYTES", 1000)
    with pytest.raises(UserError, match=r"cannot be read .*more than the 1,000 allowed"):
        load_checkpoint(path, model=None, optimizer=None)
    np.savez(path, state=state, model_0000=np.array([{"a": 1}], dtype=object))
    with pytest.raises(UserError, match="cannot be read .*pickled object"):
        load_checkpoint(path, model=None, optimizer=None)


def test_several_steps_per_call_give_the_same_weights(tmp_path, cifar10_dir):
    """--steps_per_execution runs the same steps (shuffles, augmentation draws, updates) in fewer compiled calls:
    one epoch of 5 steps, 3 per call (one call of 3, one of 2), ends with the plain path's weights bit for bit.
    (TensorFlow: one compiled call; on JAX Keras loops in Python around the same compiled step.)"""
    runs = {}
    for steps in (1, 3):
        cfg = run_config(tmp_path / f"s{steps}", cifar10_dir, steps_per_execution=steps)
        history = train(cfg)
        runs[steps] = (read_npz(cfg.npz_path)[0], history[-1])
    (plain, plain_row), (fast, fast_row) = runs[1], runs[3]
    assert len(plain) == len(fast) and all(np.array_equal(a, b) for a, b in zip(plain, fast, strict=True))
    assert {k: v for k, v in plain_row.items() if k != "seconds"} == {k: v for k, v in fast_row.items()
                                                                      if k != "seconds"}


def _without_seconds(history):
    return [{k: v for k, v in row.items() if k != "seconds"} for row in history]


@pytest.mark.backends
def test_device_loop_gives_the_fit_path_weights(tmp_path, cifar10_dir, capsys):
    """--loop device (JAX) trains on the same batches, in the same order, with the same augmentation draws as
    model.fit: two epochs of 40 images at batch 15 (two full batches and a partial one each) through train() end
    with fit's weights and accuracies bit for bit at one step per call. With the two full batches in one compiled
    scan, XLA's rounding inside the loop may differ in the last places: the stated tolerance is 1e-6 absolute on
    every latent weight, with the same accuracies."""
    backend = keras.backend.backend()
    if backend != "jax":
        with pytest.raises(UserError, match=f"--loop device needs the JAX backend \\(this is {backend}\\)"):
            run_config(tmp_path, cifar10_dir, loop="device")
        if backend == "torch":
            with pytest.raises(UserError, match="--steps_per_execution above 1 needs the TensorFlow or JAX backend"):
                run_config(tmp_path, cifar10_dir, steps_per_execution=3)
        return
    with pytest.raises(UserError, match="--loop device trains on one device"):
        run_config(tmp_path, cifar10_dir, loop="device", distribute=True)
    from quant_snn.device_loop import fit_on_device
    from quant_snn.weights import model_params

    data = load_cifar(CIFAR10, cifar10_dir)
    trained = {}
    for steps in (None, 2):  # None: model.fit, as train() calls it, with train()'s seeds
        set_seed(3)
        model, core = build_training_model(10, K1B2, seed=3, arch=SMALL)
        compile_model(model, 1e-3)
        if steps is None:
            accuracies = model.fit(data.x_train.astype(np.float32), data.y_train, batch_size=15, epochs=2,
                                   verbose=0).history["accuracy"]
        else:
            fit_on_device(model, data.x_train, data.y_train, batch_size=15, epochs=2, steps_per_call=steps, verbose=0)
            assert "note: 2 steps per compiled call on a CPU" in capsys.readouterr().out  # said once, then trained
            accuracies = [float(model.get_metrics_result()["accuracy"])]
        trained[steps] = ([to_numpy(v) for v in model.trainable_variables], model_params(core), accuracies)
    (latent, params, accuracies), (scanned, _, scanned_accuracies) = trained[None], trained[2]
    cfg = run_config(tmp_path, cifar10_dir, loop="device", batch_size=15, epochs=2)
    history = train(cfg)
    device_params = read_npz(cfg.npz_path)[0]
    assert len(device_params) == len(params) and all(
        np.array_equal(a, b) for a, b in zip(device_params, params, strict=True))
    assert [row["accuracy"] for row in history] == accuracies
    assert all(np.allclose(a, b, rtol=0, atol=1e-6) for a, b in zip(latent, scanned, strict=True))
    assert scanned_accuracies == accuracies[-1:]
