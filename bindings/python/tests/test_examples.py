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


@pytest.mark.skipif(not (FASHION_MNIST / "train-images-idx3-ubyte.gz").is_file(),
                    reason="Fashion-MNIST (dataset-fashion-mnist) not installed")
def test_latent_edit_fmnist_measures_every_editor(tmp_path):
    pytest.importorskip("scipy")
    pytest.importorskip("matplotlib")
    examples = PACKAGE_ROOT.parents[1] / "examples" / "flows"
    png = tmp_path / "edits.png"
    result = subprocess.run(
        [sys.executable, str(examples / "latent_edit_fmnist.py"), "--seeds", "1",
         "--ae-epochs", "1", "--classifier-epochs", "1", "--identities", "100",
         "--judge-identities", "50", "--flow-epochs", "1", "--couplings", "2", "--test", "60",
         "--limit", "2000", "--threads", "1", "--out", str(tmp_path), "--grid", str(png)],
        capture_output=True, text=True, timeout=300, env=dict(os.environ, MPLBACKEND="Agg"))
    assert result.returncode == 0, result.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = subprocess.run(
        [sys.executable, str(examples / "summarize_flows.py"), str(tmp_path / "results.jsonl")],
        capture_output=True, text=True, timeout=60)
    assert summary.returncode == 0, summary.stderr
    for editor in ("linear", "conditional", "flow", "flow+identity"):
        assert f"| {editor} | 1 |" in summary.stdout


@pytest.mark.skipif(not (FASHION_MNIST / "train-images-idx3-ubyte.gz").is_file(),
                    reason="Fashion-MNIST (dataset-fashion-mnist) not installed")
def test_inspection_pipeline_reports_every_stage(tmp_path):
    pytest.importorskip("scipy")
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    examples = PACKAGE_ROOT.parents[1] / "examples" / "pipeline"
    png = tmp_path / "pipeline.png"
    result = subprocess.run(
        [sys.executable, str(examples / "inspection_fmnist.py"), "--train", "60", "--test",
         "8", "--epochs", "1", "--width", "4", "--threads", "1", "--out", str(tmp_path),
         "--picture", str(png)],
        capture_output=True, text=True, timeout=300, env=dict(os.environ, MPLBACKEND="Agg"))
    assert result.returncode == 0, result.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = subprocess.run(
        [sys.executable, str(examples / "summarize_pipeline.py"),
         str(tmp_path / "results.jsonl")], capture_output=True, text=True, timeout=60)
    assert summary.returncode == 0, summary.stderr
    for stage in ("foreground", "items", "defects", "damage"):
        assert f"| {stage} |" in summary.stdout
