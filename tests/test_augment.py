import keras
import numpy as np
import pytest
from keras.ops import convert_to_numpy as to_numpy

from quant_snn.augment import (
    Preprocess,
    _random_crop,
    augment,
    central_crop,
    preprocess_test,
    standardize,
    standardize_pixels,
)

pytestmark = pytest.mark.backends  # make test runs this file on TensorFlow, JAX and PyTorch


def images(n=16, seed=0, gray=False):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 255, size=(n, 32, 32, 1 if gray else 3)).astype(np.float32)
    return np.repeat(x, 3, axis=-1) if gray else x


def test_standardize_matches_per_image_definition():
    x = images(4)
    x[3] = 7.0  # constant image: std 0, the 1/sqrt(N) floor applies
    out = to_numpy(standardize(x))
    for i in range(3):
        np.testing.assert_allclose(out[i], (x[i] - x[i].mean()) / x[i].std(), rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(out[3], np.zeros_like(out[3]))


def test_test_time_is_central_crop_then_standardize():
    x = np.rint(images(3))
    np.testing.assert_array_equal(to_numpy(central_crop(x)), x[:, 4:28, 4:28])
    layer = Preprocess(seed=0)  # float32 standardization: equal up to rounding
    np.testing.assert_allclose(to_numpy(layer(x, training=False)), to_numpy(preprocess_test(x)), atol=2e-6)


def pixel_crops(seed=0):
    """Random uint8 crops, with the hard cases: flat images, one pixel off a flat image (variance below the
    1/N floor), 0/255 checkerboards and half-black/half-white images (extreme contrast)."""
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, size=(48, 24, 24, 3), dtype=np.uint8)
    x[0], x[1] = 0, 255
    x[2] = 7
    x[3] = 0
    x[3, 5, 5, 1] = 1
    x[4] = 255
    x[4, 0, 0, 0] = 254
    x[5] = (np.indices((24, 24)).sum(axis=0) % 2 * 255)[..., None]
    x[6, :12], x[6, 12:] = 0, 255
    x[7] = rng.choice(np.array([0, 255], np.uint8), size=(24, 24, 3), p=[0.999, 0.001])
    x[8:16] = rng.integers(120, 123, size=(8, 24, 24, 3))  # low contrast
    return x


def exact_reference(x):
    """numpy in float64: exact integer sums, one sqrt and one division, each correctly rounded (IEEE 754)."""
    n = x[0].size
    x = x.astype(np.int64)
    s, q = x.sum(axis=(1, 2, 3), keepdims=True), (x * x).sum(axis=(1, 2, 3), keepdims=True)
    return ((n * x - s) / np.sqrt(np.maximum(n * q - s * s, n))).astype(np.float32)


def test_pixel_standardization_is_bit_identical_on_every_backend_and_batch_size():
    """The SNN's input: on every backend (the suite runs this on all three) and for every batch split, the same
    bits as the float64 reference; float32 reductions (``standardize``) differ in the last bits."""
    x = pixel_crops()
    reference = exact_reference(x)
    full = np.random.default_rng(1).integers(0, 256, size=(len(x), 32, 32, 3), dtype=np.uint8)
    full[:, 4:28, 4:28] = x  # test images whose central crops are x
    for batch in (1, 5, 48):
        out = np.concatenate([to_numpy(preprocess_test(full[i : i + batch])) for i in range(0, len(x), batch)])
        assert out.dtype == np.float32
        np.testing.assert_array_equal(out.view(np.int32), reference.view(np.int32), err_msg=f"batch {batch}")
    np.testing.assert_array_equal(to_numpy(standardize_pixels(x.astype(np.float32))), reference)
    assert not np.any(reference[:3])  # flat images: 0
    n = x[0].size  # one pixel off a flat image: the variance is below the floor, (x - mean) * sqrt(N)
    assert reference[3, 5, 5, 1] == np.float32((n - 1) / np.sqrt(n))
    assert reference[3, 0, 0, 0] == np.float32(-1 / np.sqrt(n))
    definition = (x - x.mean(axis=(1, 2, 3), keepdims=True)) / np.maximum(x.std(axis=(1, 2, 3), keepdims=True),
                                                                         1 / np.sqrt(x[0].size))
    np.testing.assert_allclose(reference, definition, rtol=1e-6, atol=1e-6)


def test_pixel_standardization_refuses_fractional_pixels():
    with pytest.raises(ValueError, match="integer pixel"):
        standardize_pixels(np.full((1, 4, 4, 3), 0.5, np.float32))


def test_random_crop_windows_are_independent_and_in_bounds():
    x = images(32, seed=1)
    out = to_numpy(_random_crop(x, 24, keras.random.SeedGenerator(3)))
    offsets = []
    for i in range(len(x)):
        found = [(t, left) for t in range(9) for left in range(9)
                 if np.array_equal(out[i], x[i, t : t + 24, left : left + 24])]
        assert len(found) == 1
        offsets.append(found[0])
    assert len(set(offsets)) > 20  # per-image offsets, not one offset for the batch


def test_augmented_gray_image_is_a_standardized_crop_or_its_mirror():
    # brightness and contrast are affine per image when all channels are equal, so standardization undoes them
    x = images(24, seed=2, gray=True)
    layer = Preprocess(seed=5)
    out = to_numpy(layer(x, training=True))
    assert out.shape == (24, 24, 24, 3)
    flips = 0
    for i in range(len(x)):
        candidates = {
            (t, left, flip): x[i, t : t + 24, left : left + 24][:, ::-1] if flip else x[i, t : t + 24, left : left + 24]
            for t in range(9) for left in range(9) for flip in (False, True)
        }
        errors = {key: np.abs(to_numpy(standardize(c[None]))[0] - out[i]).max() for key, c in candidates.items()}
        best = min(errors, key=errors.get)
        assert errors[best] < 1e-3
        flips += best[2]
    assert 4 <= flips <= 20


def test_brightness_and_contrast_ranges():
    n = 400
    constant = np.full((n, 32, 32, 3), 100.0, np.float32)  # contrast has no effect on a flat image
    shifted = to_numpy(augment(constant, keras.random.SeedGenerator(1)))[:, 0, 0, 0] - 100.0
    assert -63 <= shifted.min() < -50 and 50 < shifted.max() <= 63 and abs(shifted.mean()) < 8
    x = images(n, seed=3)
    out = to_numpy(augment(x, keras.random.SeedGenerator(2)))
    ratio = out.std(axis=(1, 2)) / to_numpy(central_crop(x)).std(axis=(1, 2))  # crop changes std a little
    assert 0.15 < ratio.min() < 0.35 and 1.6 < ratio.max() < 1.95 and 0.9 < ratio.mean() < 1.1


def test_seeded_and_reproducible():
    x = images(8)
    a = to_numpy(Preprocess(seed=11)(x, training=True))
    b = to_numpy(Preprocess(seed=11)(x, training=True))
    c = to_numpy(Preprocess(seed=12)(x, training=True))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    layer = Preprocess(seed=11)
    first, second = to_numpy(layer(x, training=True)), to_numpy(layer(x, training=True))
    assert not np.array_equal(first, second)  # a fresh draw every batch


@pytest.mark.parametrize("training", [True, False])
def test_output_statistics(training):
    out = to_numpy(Preprocess(seed=0)(images(10), training=training))
    np.testing.assert_allclose(out.mean(axis=(1, 2, 3)), 0, atol=1e-4)
    np.testing.assert_allclose(out.std(axis=(1, 2, 3)), 1, atol=1e-3)


def test_replicas_split_the_global_batch_draws():
    """Under tf.distribute each replica augments its part of the batch; together they equal one device's result."""
    x = images(6)
    whole = to_numpy(augment(x, keras.random.SeedGenerator(5)))
    parts = [to_numpy(augment(x[i * 3 : (i + 1) * 3], keras.random.SeedGenerator(5), replicas=(i, 2))) for i in (0, 1)]
    np.testing.assert_allclose(np.concatenate(parts), whole, rtol=1e-6, atol=1e-4)
    shared = to_numpy(augment(x[3:], keras.random.SeedGenerator(5)))  # what replica 1 drew before the fix
    assert not np.allclose(shared, parts[1], atol=1e-2)
