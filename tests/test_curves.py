"""Training-curve figure from history CSVs: drawn from what the files hold, refusals in one line."""

import pytest
from conftest import REPO

from quant_snn.curves import read_history, split_name, training_figure
from quant_snn.epoch_end import write_history_csv
from quant_snn.errors import UserError


def rows(accuracies):
    return [{"epoch": i + 1, "learning_rate": 1e-3, "loss": 1.0, "accuracy": 0.5, "test_loss": 1.0,
             "test_accuracy": a, "seconds": 1.0} for i, a in enumerate(accuracies)]


def test_training_figure_from_histories(tmp_path):
    histories = tmp_path / "histories"
    histories.mkdir()
    write_history_csv(histories / "k1B2_fast.csv", rows([0.5, 0.7, 0.8]))
    write_history_csv(histories / "k1B2_original.csv", rows([0.4, 0.6]))
    write_history_csv(histories / "fp32_fast.csv", rows([0.6, 0.8, 0.85]))
    assert read_history(histories / "k1B2_fast.csv") == ([1, 2, 3], [0.5, 0.7, 0.8])
    assert split_name(histories / "k1B2_adam_cosine.csv") == ("k1B2", "adam_cosine")
    paths = training_figure(histories, tmp_path)
    assert [p.name for p in paths] == ["training.png", "training.svg"]
    svg = paths[1].read_text()
    assert "original (2 ep: 60.00%)" in svg and "fp32 (85.00%)" in svg  # legends come from the files' last rows


def test_training_figure_refusals(tmp_path):
    with pytest.raises(UserError, match="no history CSVs"):
        training_figure(tmp_path, tmp_path)
    (tmp_path / "k1B2_fast.csv").write_text("epoch,loss\n1,2\n")
    with pytest.raises(UserError, match="cannot be read"):
        training_figure(tmp_path, tmp_path)
    (tmp_path / "k1B2_fast.csv").write_text("epoch,learning_rate,loss,accuracy,test_loss,test_accuracy,seconds\n")
    with pytest.raises(UserError, match="holds no epoch"):
        training_figure(tmp_path, tmp_path)


@pytest.mark.parametrize("value", ["inf", "nan", "1.5"])
def test_an_impossible_accuracy_is_one_error_line(tmp_path, value):
    (tmp_path / "k1B2_fast.csv").write_text("epoch,test_accuracy\n1,0.5\n2," + value + "\n")
    with pytest.raises(UserError, match=f"row 2: epoch 2, test accuracy {value} is no epoch's accuracy"):
        training_figure(tmp_path, tmp_path)


def test_committed_histories_plot():
    histories = REPO / "CIFAR10" / "histories"
    if not any(histories.glob("*.csv")):
        pytest.skip("no committed CIFAR-10 histories")
    for path in histories.glob("*.csv"):
        epochs, accuracy = read_history(path)
        assert epochs == list(range(1, len(epochs) + 1)) and all(0 <= a <= 1 for a in accuracy)


def test_the_right_panel_shows_by_default_the_recipe_most_configurations_share(tmp_path):
    for name in ("k1B2_fast", "k1B2_fast60", "k1B2_original", "k0B1_fast60", "fp32_fast60"):
        write_history_csv(tmp_path / f"{name}.csv", rows([0.5, 0.6 + len(name) / 100]))
    svg = training_figure(tmp_path, tmp_path)[1].read_text()
    assert "recipe fast60: test accuracy per epoch" in svg and "k0B1 (71.00%)" in svg
    assert "recipe fast:" in training_figure(tmp_path, tmp_path, recipe="fast")[1].read_text()
