"""Your own data end to end: a model trained on an image folder is exported, calibrated, evaluated and
benched on that folder by default (never on the shipped Fashion-MNIST subset), with the folder's class
names; data that does not fit a model is a clear error."""

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from tinyee.data import FASHION_MNIST_DIR, load_dataset, load_split
from tinyee.manifest import Manifest

CLASSES = {1: "trouser", 7: "sneaker", 8: "bag"}  # Fashion-MNIST labels -> folder names
TRAIN_PER_CLASS, TEST_PER_CLASS = 150, 40


def tinyee(*args):
    return subprocess.run([sys.executable, "-m", "tinyee", *map(str, args)], capture_output=True, text=True,
                          timeout=900)


def _write_folder(root, split, data, per_class):
    for label, name in CLASSES.items():
        (root / split / name).mkdir(parents=True)
        for i, img in enumerate(data.images[data.labels == label][:per_class]):
            Image.fromarray(img[..., 0]).save(root / split / name / f"{i}.png")


@pytest.fixture(scope="module")
def folder_run(tmp_path_factory):
    """An image folder of three real Fashion-MNIST classes; a model trained, exported and calibrated on it."""
    work = tmp_path_factory.mktemp("own")
    root = work / "clothes"
    _write_folder(root, "train", load_dataset(FASHION_MNIST_DIR, "train"), TRAIN_PER_CLASS)
    _write_folder(root, "test", load_dataset(FASHION_MNIST_DIR, "test"), TEST_PER_CLASS)
    steps = [("train", "--data", root, "--out", work / "run", "--epochs", 3, "--batch-size", 32),
             ("export", "--checkpoint", work / "run" / "last.pt", "--rep-data", root, "--rep-samples", 120,
              "--out", work / "export"),
             ("calibrate", "--export", work / "export", "--mode", "target", "--max-drop", 0.02, "--calib-samples", 60,
              "--apply"),
             ("eval", "--export", work / "export", "--json", work / "eval.json"),
             ("bench", "--export", work / "export", "--samples", 30, "--force-samples", 3, "--out", work / "bench")]
    for step in steps:
        r = tinyee(*step)
        assert r.returncode == 0, f"{step[0]}: {r.stderr[-3000:]}"
    return root, work


def test_the_export_records_the_folder_its_classes_and_preprocessing(folder_run):
    root, work = folder_run
    manifest = Manifest.load(work / "export")
    assert manifest.data_spec == str(root) and manifest.class_names == ("bag", "sneaker", "trouser")
    assert manifest.calibration_data == f"image-folder:{root / 'train'}" and manifest.calibration_samples == 120
    assert manifest.preprocess.input_size == 32 and manifest.preprocess.channels == 3


def test_calibrate_eval_and_bench_use_the_folder(folder_run):
    root, work = folder_run
    manifest = Manifest.load(work / "export")
    test = load_split(root, "test")
    assert len(test) == 3 * TEST_PER_CLASS
    calibration = json.loads((work / "export" / "calibration" / "calibration.json").read_text())
    assert list(manifest.thresholds) == calibration["calibration"]["thresholds"]  # applied
    held = len(test) - 60
    assert calibration["held_out"]["exit_fractions"] and sum(calibration["held_out"]["exit_fractions"]) == \
        pytest.approx(1.0)
    report = json.loads((work / "eval.json").read_text())
    assert report["data"] == f"image-folder:{root / 'test'}" and report["samples"] == len(test)
    assert report["thresholds"] == list(manifest.thresholds)
    predictions = np.asarray(report["cascade"]["int8"]["predictions"])
    assert report["cascade"]["int8"]["accuracy"] == pytest.approx(float((predictions == test.labels).mean()))
    assert report["exits"][-1]["int8_accuracy"] > 0.8  # three easy classes: far above chance (1/3)
    # The held-out part of calibrate's report: the folder's images it lists, judged by the same cascade, and
    # drawn from every class (the folder stores the images class by class).
    held_out = np.asarray(calibration["held_out_samples"])
    assert len(held_out) == held == 60 and calibration["data"] == report["data"]
    assert set(test.labels[held_out]) == {0, 1, 2}
    assert calibration["held_out"]["accuracy"] == pytest.approx(float((predictions[held_out] ==
                                                                        test.labels[held_out]).mean()))
    summary = json.loads((work / "bench" / "summary.json").read_text())
    assert summary["completed"] == 30 and summary["host_agreement"] == 1.0
    assert summary["device_accuracy"] == pytest.approx(float((predictions[:30] == test.labels[:30]).mean()))


def test_data_that_does_not_fit_the_model_is_an_error(folder_run, shipped_export):
    root, work = folder_run
    r = tinyee("eval", "--export", shipped_export[0], "--data", root, "--runtime", "tflm")
    assert r.returncode == 1 and "has classes bag, sneaker, trouser, but model" in r.stderr
    r = tinyee("calibrate", "--export", work / "export", "--mode", "target", "--calib-samples", 500)
    assert r.returncode == 1 and "has 120 images" in r.stderr
    r = tinyee("eval", "--export", work / "export", "--data", "shipped", "--samples", 10)
    assert r.returncode == 1 and "but model" in r.stderr and "(in that order)" in r.stderr


def test_a_subset_written_by_data_subset_is_data_every_command_reads(shipped_export, tmp_path):
    r = tinyee("data-subset", "--out", tmp_path / "subset.npz", "--rep", 20, "--eval", 30)
    assert r.returncode == 0, r.stderr
    subset = load_split(tmp_path / "subset.npz", "test")
    assert len(subset) == 30 and subset.spec == str(tmp_path / "subset.npz")
    r = tinyee("eval", "--export", shipped_export[0], "--data", tmp_path / "subset.npz", "--runtime", "tflm",
               "--json", tmp_path / "eval.json")
    assert r.returncode == 0, r.stderr
    report = json.loads((tmp_path / "eval.json").read_text())
    assert report["samples"] == 30 and report["data"] == "npz:subset.npz:eval"
