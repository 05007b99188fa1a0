import pytest

from quant_snn.datasets import dataset_spec
from quant_snn.errors import UserError
from quant_snn.quant_config import FP32, QuantConfig


@pytest.mark.parametrize("k,B,levels,tag",
                         [(0, 1, 1, "k0B1"), (1, 2, 4, "k1B2"), (1, 4, 8, "k1B4"), (2, 0.5, 2, "k2B0.5")])
def test_levels_and_tag(k, B, levels, tag):
    quant = QuantConfig(k, B)
    assert quant.n_thresholds == levels
    assert quant.tag == tag
    assert quant.quantized


@pytest.mark.parametrize("k,B", [(-1, 2), (1, 0), (1, -2), (0, 1.5), (1, 0.25), (1.5, 2), (1, float("nan")), (None, 2)])
def test_impossible_k_B_are_refused(k, B):
    with pytest.raises(UserError):
        QuantConfig(k, B)


def test_fp32_has_no_levels():
    assert FP32.tag == "fp32" and not FP32.quantized
    with pytest.raises(ValueError):
        _ = FP32.n_thresholds


def test_unknown_dataset():
    with pytest.raises(UserError, match="unknown dataset"):
        dataset_spec("svhn")


@pytest.mark.parametrize("tag,expected", [("fp32", FP32), ("k1B2", QuantConfig(1, 2)), ("k2B0.5", QuantConfig(2, 0.5))])
def test_parse_tag_round_trips(tag, expected):
    from quant_snn.quant_config import parse_tag

    assert parse_tag(tag) == expected and parse_tag(tag).tag == tag
    with pytest.raises(UserError):
        parse_tag("k1")
