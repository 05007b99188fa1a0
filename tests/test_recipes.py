"""--recipe, --schedule, --optimizer, --init_npz in training runs: schedules per step, resume mid-schedule, refusals."""

import csv

import keras
import numpy as np
import pytest
from synthetic import SMALL

from quant_snn import train as train_module
from quant_snn.cli import recipe_settings, training_parser
from quant_snn.datasets import CIFAR10
from quant_snn.errors import UserError
from quant_snn.model import build_network, conv_layers
from quant_snn.quant_config import FP32, QuantConfig
from quant_snn.recipes import RECIPES, expand_recipe
from quant_snn.reproduce import ReproduceConfig, finished_epochs, train_recipe
from quant_snn.reproduce import run_config as reproduce_run_config
from quant_snn.schedules import schedule_value
from quant_snn.train import RunConfig, init_from_npz, train
from quant_snn.weights import save_npz

K1B2 = QuantConfig(1, 2)
STEPS = 2  # the synthetic CIFAR-10 has 40 training images; batch 20
COSINE = dict(schedule="cosine", learning_rate=0.01, epochs=3, warmup_epochs=1.0)
RESTART = {**COSINE, "epochs": 5, "restart_epoch": 3, "restart_learning_rate": 0.005}  # COSINE, then 2 more epochs


def run_config(tmp_path, data_dir, **kwargs):
    defaults = dict(dataset="cifar10", quant=K1B2, data_dir=data_dir, output_dir=tmp_path / "out", epochs=1,
                    batch_size=20, verbose=0, seed=3, arch=SMALL)
    return RunConfig(**{**defaults, **kwargs})


def parse(argv, quantized=True):
    return recipe_settings(training_parser("cifar10", quantized, __file__).parse_args(argv))


def test_no_flags_give_the_original_recipe(capsys):
    settings = parse([])
    assert settings == RECIPES["original"]
    assert settings["optimizer"] == "adam" and settings["schedule"] == "constant"
    assert settings["learning_rate"] == 0.001 and settings["epochs"] == 200
    assert capsys.readouterr().out == ""  # the original recipe is not announced


def test_fast_recipe_is_printed_and_given_flags_win(capsys):
    settings = parse(["--recipe", "fast", "--learning_rate", "0.005", "--epochs", "30"])
    assert settings == {**RECIPES["fast"], "learning_rate": 0.005, "epochs": 30}
    out = capsys.readouterr().out
    assert out.startswith("--recipe fast: --optimizer") and "--learning_rate 0.005" in out and "--epochs 30" in out


def test_unknown_recipe_is_refused():
    with pytest.raises(UserError, match="unknown --recipe"):
        expand_recipe("slow", {})


def test_default_run_compiles_the_original_optimizer_and_loss():
    cfg = RunConfig(dataset="cifar10", quant=K1B2, data_dir=".", output_dir=".")
    assert train_module.learning_rate_for(cfg, 50000) == 0.001  # a plain float, no schedule object
    model, _ = train_module.build_training_model(10, K1B2, seed=0)
    optimizer = train_module.compile_model(model, 0.001)
    assert type(optimizer) is keras.optimizers.Adam and optimizer.weight_decay is None
    assert type(model.loss) is keras.losses.SparseCategoricalCrossentropy


def learning_rates(history):
    return [row["learning_rate"] for row in history]


def expected_rates(epochs, peak=0.01, total=3, warmup=1, name="cosine"):
    # the history records the rate the next step would use, i.e. at step epoch * STEPS
    return [pytest.approx(schedule_value(name, e * STEPS, peak, total * STEPS, warmup * STEPS), abs=1e-9)
            for e in range(1, epochs + 1)]


def test_onecycle_sgd_run_follows_the_schedule_per_step(tmp_path, cifar10_dir):
    cfg = run_config(tmp_path, cifar10_dir, optimizer="sgd", schedule="onecycle", learning_rate=0.05, epochs=2,
                     warmup_epochs=1.0, weight_decay=5e-4, label_smoothing=0.1)
    history = train(cfg)
    assert learning_rates(history) == expected_rates(2, peak=0.05, total=2, name="onecycle")
    assert np.isfinite(history[-1]["loss"])


def test_resume_mid_schedule_continues_the_same_curve(tmp_path, cifar10_dir, monkeypatch):
    whole = train(run_config(tmp_path / "whole", cifar10_dir, **COSINE))
    assert [row["epoch"] for row in whole] == [1, 2, 3]  # --epochs is the schedule's length
    assert learning_rates(whole) == expected_rates(3)  # per step, as the formula says
    original_end = train_module.EpochCheckpoint.on_epoch_end

    def interrupted(self, epoch, logs=None):
        original_end(self, epoch, logs)
        if epoch == 0:
            raise KeyboardInterrupt  # killed right after the first epoch was saved

    monkeypatch.setattr(train_module.EpochCheckpoint, "on_epoch_end", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train(run_config(tmp_path / "cut", cifar10_dir, **COSINE))
    monkeypatch.setattr(train_module.EpochCheckpoint, "on_epoch_end", original_end)
    with pytest.raises(UserError, match="was trained with .*--schedule cosine.*resume with the same flags"):
        train(run_config(tmp_path / "cut", cifar10_dir, resume=True, **{**COSINE, "epochs": 4}))
    with pytest.raises(UserError, match="resume with the same flags"):
        train(run_config(tmp_path / "cut", cifar10_dir, resume=True, epochs=1))  # constant Adam onto cosine
    resumed = train(run_config(tmp_path / "cut", cifar10_dir, resume=True, **COSINE))
    assert [row["epoch"] for row in resumed] == [1, 2, 3]
    assert learning_rates(resumed) == pytest.approx(learning_rates(whole), abs=1e-9)
    with open(run_config(tmp_path / "cut", cifar10_dir, **COSINE).history_path) as f:
        assert [int(row["epoch"]) for row in csv.DictReader(f)] == [1, 2, 3]
    with pytest.raises(UserError, match="finished the 3-epoch cosine schedule"):
        train(run_config(tmp_path / "cut", cifar10_dir, resume=True, **COSINE))
    # the finished run continues into a warm restart: its checkpoint followed the first cycle step for step
    extended = train(run_config(tmp_path / "cut", cifar10_dir, resume=True, **RESTART))
    assert [row["epoch"] for row in extended] == [1, 2, 3, 4, 5]
    assert learning_rates(extended)[:3] == pytest.approx(learning_rates(whole), abs=1e-9)
    assert learning_rates(extended)[3:] == [
        pytest.approx(schedule_value("cosine", e * STEPS, 0.01, 5 * STEPS, STEPS, 3 * STEPS, 0.005), abs=1e-9)
        for e in (4, 5)]


def checkpoint_record(**training):
    cfg = RunConfig(dataset="cifar10", quant=K1B2, data_dir=".", output_dir=".", **{**COSINE, **training})
    return cfg.describe()


@pytest.mark.parametrize("saved, refusal", [
    (checkpoint_record(), None),  # the first cycle (finished, or interrupted: it goes on into the restart)
    (checkpoint_record(**RESTART), None),  # the restarted run itself, interrupted
    (checkpoint_record(learning_rate=0.02), "resume with the same flags"),  # another first cycle
    (checkpoint_record(epochs=4), "resume with the same flags"),  # a 4-epoch cosine: its epoch 3 is not the restart
    (checkpoint_record(warmup_epochs=0.5), "resume with the same flags"),
    (checkpoint_record(batch_size=100), "--batch_size 100"),  # other steps per epoch: the restart would move
])
def test_a_restart_continues_only_its_own_first_cycle(saved, refusal):
    cfg = RunConfig(dataset="cifar10", quant=K1B2, data_dir=".", output_dir=".", resume=True, **RESTART)
    if refusal is None:
        train_module.check_resumable(cfg, saved)
    else:
        with pytest.raises(UserError, match=refusal):
            train_module.check_resumable(cfg, saved)


def test_fast60_is_fast_then_a_restart(capsys):
    settings = parse(["--recipe", "fast60"])
    assert settings == {**RECIPES["fast"], "epochs": 60, "restart_epoch": 40, "restart_learning_rate": 0.001}
    assert "--restart_epoch 40 --restart_learning_rate 0.001" in capsys.readouterr().out
    fast = RunConfig(dataset="cifar10", quant=K1B2, data_dir=".", output_dir=".", **RECIPES["fast"])
    fast60 = RunConfig(dataset="cifar10", quant=K1B2, data_dir=".", output_dir=".", **settings)
    assert fast60.first_cycle_training() == fast.training()
    assert parse(["--recipe", "fast", "--restart_epoch", "30", "--restart_learning_rate", "0.0005"])[
        "restart_epoch"] == 30  # a recipe without a restart takes one from the flags
    with pytest.raises(UserError, match="continues the VGG-Net's fast recipe"):
        expand_recipe("fast60", {}, "lenet")  # the LeNet's fast recipe is 15 epochs


def save_core(path, n_classes, quant, dataset="cifar10"):
    core = build_network(n_classes, quant)
    save_npz(path, core, dataset=dataset, quant=quant, epochs=1, test_accuracy=None)
    return core


def test_init_npz_loads_fp32_weights_into_a_quantized_net(tmp_path):
    fp32 = save_core(tmp_path / "fp32.npz", 10, FP32)
    cfg = RunConfig(dataset="cifar10", quant=K1B2, data_dir=".", output_dir=tmp_path, init_npz=tmp_path / "fp32.npz")
    core = build_network(10, K1B2)
    init_from_npz(cfg, core)
    for a, b in zip(conv_layers(core), conv_layers(fp32)):  # the FP32 kernels become the latent weights
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(a.kernel), keras.ops.convert_to_numpy(b.kernel))


def test_init_npz_refuses_weights_of_another_shape(tmp_path):
    save_core(tmp_path / "hundred.npz", 100, K1B2, dataset="cifar10")  # mislabelled: 100 classes
    cfg = RunConfig(dataset="cifar10", quant=K1B2, data_dir=".", output_dir=tmp_path, init_npz=tmp_path / "hundred.npz")
    with pytest.raises(UserError, match=r"does not fit this VGG-Net: .*params\[60\] has shape \(512, 100\), "
                                        r"expected \(512, 10\)"):
        init_from_npz(cfg, build_network(10, K1B2))
    save_core(tmp_path / "c100.npz", 100, K1B2, dataset="cifar100")
    cfg = RunConfig(dataset="cifar10", quant=K1B2, data_dir=".", output_dir=tmp_path, init_npz=tmp_path / "c100.npz")
    with pytest.raises(UserError, match="was trained on cifar100"):
        init_from_npz(cfg, build_network(10, K1B2))
    with pytest.raises(UserError, match="cannot be combined with --resume"):
        RunConfig(dataset="cifar10", quant=K1B2, data_dir=".", output_dir=".", init_npz=tmp_path / "c100.npz",
                  resume=True)


def test_init_npz_run_starts_from_the_file(tmp_path, cifar10_dir):
    core = build_network(10, K1B2, arch=SMALL)
    save_npz(tmp_path / "start.npz", core, dataset="cifar10", quant=K1B2, epochs=1, test_accuracy=None)
    history = train(run_config(tmp_path, cifar10_dir, init_npz=tmp_path / "start.npz"))
    assert len(history) == 1
    with pytest.raises(UserError, match="does not fit|not found"):
        train(run_config(tmp_path / "other", cifar10_dir, init_npz=tmp_path / "missing.npz"))


@pytest.mark.parametrize("kwargs, message", [
    (dict(schedule="constant", warmup_epochs=1.0), "needs --schedule cosine or onecycle"),
    (dict(schedule="cosine", epochs=2, warmup_epochs=2.0), "--warmup_epochs must be"),
    (dict(optimizer="lion"), "unknown --optimizer"),
    (dict(label_smoothing=1.5), "--label_smoothing"),
    (dict(schedule="cosine", epochs=5, restart_epoch=3), "go together"),
    (dict(schedule="cosine", epochs=5, restart_epoch=5, restart_learning_rate=0.1), "--restart_epoch must be"),
    (dict(schedule="constant", epochs=5, restart_epoch=3, restart_learning_rate=0.1), "needs --schedule cosine"),
    (dict(schedule="cosine", epochs=5, warmup_epochs=2.0, restart_epoch=3, restart_learning_rate=0.1),
     "each cycle time to decay"),
    (dict(schedule="cosine", epochs=5, restart_epoch=3, restart_learning_rate=-1.0), "positive"),
])
def test_impossible_flags_are_refused(kwargs, message):
    with pytest.raises(UserError, match=message):
        RunConfig(dataset="cifar10", quant=K1B2, data_dir=".", output_dir=".", **kwargs)


def test_reproduce_fast_recipe_trains_one_schedule_and_reuses_returned_weights(tmp_path, cifar10_dir):
    from quant_snn.data import load_cifar
    from quant_snn.names import NetworkName

    k1b2 = NetworkName(K1B2)
    cfg = ReproduceConfig(configs=["k1B2"], noise=[0.0], epochs=2, data_dir=cifar10_dir, output_dir=tmp_path,
                          batch_size=20, recipe="fast", training={"warmup_epochs": 1.0}, arch=SMALL)
    data = load_cifar(CIFAR10, cifar10_dir)
    performed = []
    train_recipe(cfg, k1b2, data, performed)
    assert performed == ["train k1B2 1-2"]
    run = reproduce_run_config(cfg, k1b2, epochs=2)
    with open(run.history_path) as f:
        rates = [float(row["learning_rate"]) for row in csv.DictReader(f)]
    peak = RECIPES["fast"]["learning_rate"]
    assert rates == [pytest.approx(schedule_value("cosine", e * STEPS, peak, 2 * STEPS, STEPS), abs=1e-7)
                     for e in (1, 2)]
    run.checkpoint_path.unlink()  # as when only the weights come back from another machine
    assert finished_epochs(run.files) == 2
    train_recipe(cfg, k1b2, data, performed)
    assert performed == ["train k1B2 1-2"]  # nothing retrained
    longer = ReproduceConfig(configs=["k1B2"], noise=[0.0], epochs=3, data_dir=cifar10_dir, output_dir=tmp_path,
                             batch_size=20, recipe="fast", training={"warmup_epochs": 1.0}, arch=SMALL)
    with pytest.raises(UserError, match="cannot continue from weights alone"):
        train_recipe(longer, k1b2, data, performed)  # the weights alone hold no optimizer state
