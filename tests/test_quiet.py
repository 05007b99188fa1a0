"""The scripts open without TensorFlow's native start-up lines, unless the user set TF_CPP_MIN_LOG_LEVEL."""

import subprocess
import sys

from conftest import REPO, script_env

from quant_snn.quiet import is_noise

NOISE_LINES = [
    b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR",
    b"I0000 00:00:1795836893.920126   11743 port.cc:153] oneDNN custom operations are on.",
    b"I0000 00:00:1795836893.953638   11743 cpu_feature_guard.cc:227] This TensorFlow binary is optimized",
    b"E0000 00:00:1795836900.634013   11743 util.cc:131] oneDNN supports DT_INT64 only on platforms with AVX-512.",
    b"To enable the following instructions: AVX2 FMA, in other operations, rebuild TensorFlow with the appropriate "
    b"compiler flags.",
    b"WARNING:tensorflow:5 out of the last 8 calls to <function TensorFlowTrainer.make_predict_function.<locals>."
    b"one_step_on_data_distributed at 0x7fd74c59cb80> triggered tf.function retracing. Tracing is expensive and the "
    b"excessive number of tracings could be due to (1) creating @tf.function repeatedly in a loop.",
]


def test_only_the_known_lines_are_noise():
    assert all(is_noise(line) for line in NOISE_LINES)
    for line in (b"error: --epochs must be at least 1, got 0", b"Traceback (most recent call last):",
                 b"E0000 00:00:1.0 1 conv_ops.cc:12] a real kernel failure", b"epoch 1: test accuracy 0.5",
                 b"WARNING:tensorflow:Model was constructed with shape (None, 32) for input"):
        assert not is_noise(line)


def run_bad_epochs(env):
    script = REPO / "CIFAR10" / "Quant_VGG_CIFAR10.py"
    return subprocess.run([sys.executable, str(script), "--epochs", "0"], env=env, capture_output=True, text=True,
                          timeout=300)


def test_an_error_is_the_only_line_on_stderr():
    env = script_env()
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    result = run_bad_epochs(env)
    assert result.returncode == 2
    assert result.stderr.splitlines() == ["error: --epochs must be at least 1, got 0"]
