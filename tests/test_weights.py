import numpy as np
import pytest
from keras.ops import convert_to_numpy as to_numpy

from quant_snn.architecture import VGG
from quant_snn.errors import UserError
from quant_snn.model import build_network
from quant_snn.quant_config import FP32, QuantConfig
from quant_snn.weights import load_npz, model_params, read_npz, save_npz

K1B2 = QuantConfig(1, 2)


def randomize(model, seed=0):
    rng = np.random.default_rng(seed)
    for variable in model.weights:
        variable.assign(rng.normal(size=variable.shape).astype(np.float32)
                        + (2.0 if "variance" in variable.path else 0))


@pytest.fixture(scope="module")
def trained_like():
    model = build_network(10, K1B2)
    randomize(model)
    return model


def test_npz_contract_order_and_ternary_values(tmp_path, trained_like):
    path = tmp_path / "w.npz"
    save_npz(path, trained_like, dataset="cifar10", quant=K1B2, epochs=3, test_accuracy=0.5)
    with np.load(path, allow_pickle=True) as f:  # exactly how the original reader opens it
        params = list(f["params"])
        assert int(f["k"]) == 1 and float(f["B"]) == 2.0 and str(f["dataset"]) == "cifar10"
    assert len(params) == 12 * 5 + 1
    assert params[0].shape == (3, 3, 3, 64) and not np.isin(params[0], (-1, 0, 1)).all()  # conv00 stays float
    bn00 = trained_like.get_layer("bn00")
    for offset, name in enumerate(("beta", "gamma", "moving_mean", "moving_variance"), start=1):
        np.testing.assert_array_equal(params[offset], to_numpy(getattr(bn00, name)))
    for i, spec in enumerate(VGG.convs[1:], start=1):
        kernel = params[5 * i]
        assert kernel.shape[-1] == spec.filters and np.isin(kernel, (-1.0, 0.0, 1.0)).all()
        assert set(np.unique(kernel)) == {-1.0, 0.0, 1.0}
    assert params[-1].shape == (512, 10)


def test_round_trip_gives_the_same_network(tmp_path, trained_like):
    path = tmp_path / "w.npz"
    save_npz(path, trained_like, dataset="cifar10", quant=K1B2, epochs=3, test_accuracy=None)
    fresh = build_network(10, K1B2)
    _, info = load_npz(path, fresh, dataset="cifar10", quant=K1B2)
    assert info.epochs == 3 and info.quant == K1B2 and info.test_accuracy is None
    x = np.random.default_rng(1).normal(size=(4, 24, 24, 3)).astype(np.float32)
    np.testing.assert_array_equal(to_numpy(fresh(x)), to_numpy(trained_like(x)))
    for a, b in zip(model_params(fresh), model_params(trained_like)):
        np.testing.assert_array_equal(a, b)


def original_format(path, params):
    packed = np.empty(len(params), dtype=object)
    for i, p in enumerate(params):
        packed[i] = p
    np.savez(path, params=packed)


def test_original_format_without_metadata_is_accepted_with_a_warning(tmp_path, trained_like, capsys):
    path = tmp_path / "model_cifar_10.npz"
    original_format(path, model_params(trained_like))
    params, info = read_npz(path)
    assert info.quant is None and info.dataset is None
    capsys.readouterr()
    load_npz(path, build_network(10, K1B2), dataset="cifar10", quant=K1B2)
    assert capsys.readouterr().err == (f"warning: weights file {path} has no metadata (the original's format): nothing "
                                       "in it confirms that it holds a k1B2 network; "
                                       "it is evaluated as the flags say\n")


def test_refuses_mismatched_metadata(tmp_path, trained_like):
    path = tmp_path / "w.npz"
    save_npz(path, trained_like, dataset="cifar10", quant=K1B2, epochs=1, test_accuracy=0.1)
    with pytest.raises(UserError, match="holds a k1B2 network but the flags ask for k0B2"):
        load_npz(path, build_network(10, QuantConfig(0, 2)), dataset="cifar10", quant=QuantConfig(0, 2))
    with pytest.raises(UserError, match="trained on cifar10, not cifar100"):
        load_npz(path, build_network(100, K1B2), dataset="cifar100", quant=K1B2)


def test_refuses_wrong_shapes_and_counts(tmp_path, trained_like):
    params = model_params(trained_like)
    path = tmp_path / "short.npz"
    original_format(path, params[:-1])
    with pytest.raises(UserError, match="60 arrays"):
        load_npz(path, build_network(10, K1B2), dataset="cifar10", quant=K1B2)
    original_format(path, params)
    with pytest.raises(UserError, match=r"params\[60\] has shape \(512, 10\).*wrong number of classes"):
        load_npz(path, build_network(100, K1B2), dataset="cifar100", quant=K1B2)


def test_refuses_fp32_weights_as_quantized(tmp_path):
    fp32 = build_network(10, FP32)
    randomize(fp32, seed=3)
    path = tmp_path / "fp32.npz"
    original_format(path, model_params(fp32))
    with pytest.raises(UserError, match="non-ternary"):
        load_npz(path, build_network(10, K1B2), dataset="cifar10", quant=K1B2)
    load_npz(path, build_network(10, FP32), dataset="cifar10", quant=FP32)


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 broken zip"])
def test_unreadable_file_is_one_clear_error(tmp_path, content):
    path = tmp_path / "bad.npz"
    path.write_bytes(content)
    with pytest.raises(UserError, match="cannot be read"):
        read_npz(path)
    with pytest.raises(UserError, match="not found"):
        read_npz(tmp_path / "absent.npz")


def test_the_description_gives_the_model_s_npz_layout(trained_like):
    shapes = VGG.param_shapes(10)
    assert [p.shape for p in model_params(trained_like)] == shapes
    assert sum(int(np.prod(s)) for s in shapes) == 5_079_232  # every kernel and batch-norm vector of the VGG-Net
