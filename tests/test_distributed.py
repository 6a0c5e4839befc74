"""Data-parallel training with keras.distribution on several virtual CPU devices.

Runs in a subprocess with KERAS_BACKEND=jax and four XLA host devices (the backend is
fixed per process); skipped when JAX is not installed."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, sys
import keras
from helpers.train import train
text = open(sys.argv[1]).read()[:60000]
r = train(text, sys.argv[2], {"units": 32, "embed_dim": 8},
          {"epochs": 2, "steps_per_epoch": 20, "seq_len": 32, "batch_size": 32,
           "learning_rate": 1e-2, "warmup_steps": 5, "samples_per_epoch": 0, "verbose": 0},
          data_parallel=True)
dist = keras.distribution.distribution()
w = r.model.get_layer("rnn_0").cell.kernel
print(json.dumps({"devices": len(keras.distribution.list_devices()),
                  "distribution": type(dist).__name__,
                  "losses": [h["val_loss"] for h in r.history]}))
"""


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="jax not installed")
def test_data_parallel_on_four_cpu_devices(tmp_path, shakespeare):
    corpus = tmp_path / "c.txt"
    corpus.write_text(shakespeare)
    env = {**os.environ, "KERAS_BACKEND": "jax", "PYTHONPATH": str(ROOT),
           "XLA_FLAGS": "--xla_force_host_platform_device_count=4"}
    out = subprocess.run([sys.executable, "-c", CHILD, str(corpus), str(tmp_path / "run")],
                         env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["devices"] == 4 and res["distribution"] == "DataParallel"
    assert res["losses"][1] < res["losses"][0]


def test_data_parallel_needs_jax_backend():
    import keras

    from helpers.train import enable_data_parallel

    if keras.backend.backend() == "jax":
        pytest.skip("this process runs JAX")
    with pytest.raises(RuntimeError, match="KERAS_BACKEND=jax"):
        enable_data_parallel(64)
