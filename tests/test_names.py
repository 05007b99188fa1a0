"""Network names: a configuration and an optional label, one spelling each, never mistaken for a noisy log folder."""

import pytest

from quant_snn.errors import UserError
from quant_snn.layout import RunLayout
from quant_snn.names import NetworkName, is_spiking_name, parse_name
from quant_snn.quant_config import FP32, QuantConfig
from quant_snn.spiking_logs import log_dir_name, parse_log_dir_name


@pytest.mark.parametrize("text, quant, label", [("k1B2", QuantConfig(1, 2), None),
                                                ("k1B2_fast60", QuantConfig(1, 2), "fast60"),
                                                ("k2B0.5_original", QuantConfig(2, 0.5), "original"),
                                                ("fp32_fast60", FP32, "fast60"), ("fp32", FP32, None)])
def test_a_name_reads_back_to_its_configuration_and_label(text, quant, label):
    network = parse_name(text)
    assert (network.quant, network.label, str(network)) == (quant, label, text)


@pytest.mark.parametrize("text, message", [("k1B2.0", "write the network 'k1B2.0' as 'k1B2'"),
                                           ("k1B2_", "unknown network 'k1B2_'"), ("k1B2_Fast", "network label 'Fast'"),
                                           ("k1B2_noise1", "not with 'noise'"), ("k1B2_a_b", "network label 'a_b'"),
                                           ("k9", "unknown network 'k9'"), ("k17B2_x", "impossible --k 17")])
def test_names_that_cannot_name_one_network_are_refused(text, message):
    with pytest.raises(UserError, match=message.replace("(", r"\(")):
        parse_name(text)


def test_two_networks_of_one_configuration_get_separate_files_and_log_folders():
    a, b = NetworkName(QuantConfig(1, 2), "original"), NetworkName(QuantConfig(1, 2), "fast60")
    files = [RunLayout.of("out", "cifar10", n.quant, n.label) for n in (a, b)]
    assert [f.npz.name for f in files] == ["model_cifar_10_k1B2_original.npz", "model_cifar_10_k1B2_fast60.npz"]
    assert files[0].history.name == "history_model_cifar_10_k1B2_original.csv"
    assert RunLayout.of("out", "cifar10", a.quant).npz.name == "model_cifar_10_k1B2.npz"  # the original's name
    assert [log_dir_name(str(n), 0.1) for n in (a, b)] == ["k1B2_original_noise0.1", "k1B2_fast60_noise0.1"]


@pytest.mark.parametrize("name, noise", [("k1B2_original", 0.0), ("k1B2_fast60", 0.2), ("k0B1_x", 0.1)])
def test_a_labelled_log_folder_name_reads_back(name, noise):
    assert parse_log_dir_name(log_dir_name(name, noise)) == (name, noise)


@pytest.mark.parametrize("name", ["fp32_fast60", "k1B2_Fast", "k1B2_fast60_noise", "k1B2_fast-60"])
def test_other_labelled_folder_names_are_not_log_folders(name):
    assert parse_log_dir_name(name) is None and not is_spiking_name(name)
