"""The example programs run (on a small subset, one epoch) and produce their output."""
import os
import subprocess
import sys

import pytest
from conftest import FASHION_MNIST, PACKAGE_ROOT


@pytest.mark.skipif(not (FASHION_MNIST / "train-images-idx3-ubyte.gz").is_file(),
                    reason="Fashion-MNIST (dataset-fashion-mnist) not installed")
def test_train_fmnist_saves_a_learning_curve(tmp_path):
    pytest.importorskip("matplotlib")
    png = tmp_path / "curve.png"
    result = subprocess.run(
        [sys.executable, str(PACKAGE_ROOT / "examples" / "train_fmnist.py"), "--epochs", "1",
         "--limit", "1200", "--threads", "1", "--out", str(png)],
        capture_output=True, text=True, timeout=120, env=dict(os.environ, MPLBACKEND="Agg"))
    assert result.returncode == 0, result.stderr
    assert "test accuracy" in result.stdout and "validation" in result.stdout
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
