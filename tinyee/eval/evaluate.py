from __future__ import annotations

from pathlib import Path

import numpy as np

from tinyee.cascade import cascade, threshold_to_q
from tinyee.data import ImageSet, to_model_input
from tinyee.errors import TinyeeError
from tinyee.manifest import Manifest
from tinyee.model import MultiExitMobileViT
from tinyee.progress import progress as show_progress
from tinyee.runtime import SegmentRunner, quantize
from tinyee.train import evaluate_float


def load_data(manifest: Manifest, spec: str | None, split: str = "test", samples: int | None = None) -> ImageSet:
    """The labelled images to evaluate on: `spec` ("shipped", a dataset folder, a .npz subset), by default
    the data set the export was calibrated on; classes that do not fit the model are an error."""
    from tinyee.data import load_split

    spec = spec or manifest.data_spec
    if not spec:
        raise TinyeeError(f"model {manifest.model_id} records no data set: give --data (a dataset folder, a .npz "
                          "subset from `tinyee data-subset`, or 'shipped')")
    data = load_split(spec, split, samples)
    if (data.labels < 0).any():
        raise TinyeeError(f"{data.source} is unlabelled: evaluating needs class folders")
    names = list(manifest.class_names)
    if names != [str(i) for i in range(len(names))] and list(data.classes) != names:
        raise TinyeeError(f"{data.source} has classes {', '.join(data.classes)}, but model {manifest.model_id} was "
                          f"trained on {', '.join(names)} (in that order)")
    if data.labels.max() >= manifest.num_classes:
        raise TinyeeError(f"{data.source} has labels up to {int(data.labels.max())}, but model {manifest.model_id} has "
                          f"{manifest.num_classes} classes")
    return data


def device_inputs(manifest: Manifest, spec: str | None, samples: int) -> tuple[np.ndarray, np.ndarray | None]:
    """(int8 inputs, labels) of `samples` images of `spec` (as load_data), or random int8 inputs without labels
    for spec "random" and, by default, for models that take no images; kernels' timing and bit-exactness
    do not depend on the values."""
    if spec == "random" or (spec is None and manifest.preprocess is None):
        rng = np.random.default_rng(0)
        return rng.integers(-128, 128, (samples, *manifest.input.shape[1:]), dtype=np.int8), None
    data = load_data(manifest, spec, "test", samples)
    return quantized_inputs(manifest, data), data.labels


def quantized_inputs(manifest: Manifest, data: ImageSet) -> np.ndarray:
    """The int8 input tensors [N, H, W, C] the device receives for these images."""
    pre = manifest.preprocess
    if pre is None:
        raise TinyeeError(f"model {manifest.model_id} does not take images (its manifest has no preprocessing); "
                          "use random inputs (--data random) where a command offers them")
    x = to_model_input(data.images, pre.input_size, pre.channels).numpy().transpose(0, 2, 3, 1)
    return quantize(x * np.float32(pre.pixel_scale * 255.0), manifest.input.scale, manifest.input.zero_point)


def int8_exit_probs(export_dir: Path, manifest: Manifest, inputs_q: np.ndarray, backend: str = "tflm",
                    progress: bool = True) -> np.ndarray:
    """Run every segment on every sample: int8 softmax of each exit, [exits, N, classes].

    The feature map is handed from segment to segment as raw int8, as on the device.
    Running to the end once gives the cascade's outcome for any thresholds.
    """
    runners = [SegmentRunner((Path(export_dir) / s.file).read_bytes(), backend, s.file) for s in manifest.segments]
    out = np.empty((len(runners), len(inputs_q), manifest.num_classes), dtype=np.int8)
    items = show_progress(inputs_q, f"int8 cascade ({backend})", unit="img") if progress else inputs_q
    for n, x in enumerate(items):
        for k, runner in enumerate(runners):
            out[k, n], x = runner.run(x)
    return out


def _float_cascade(probs: np.ndarray, thresholds: list[float], criterion: str) -> tuple[np.ndarray, np.ndarray]:
    if criterion == "max_softmax":
        conf = probs.max(axis=2)
    else:  # negated entropy in nats, thresholds are maximum entropies
        conf = (probs * np.log(np.clip(probs, 1e-12, None))).sum(axis=2)
        thresholds = [-t for t in thresholds]
    confident = np.vstack([conf[:-1] >= np.array(thresholds)[:, None], np.ones((1, conf.shape[1]), bool)])
    exit_idx = confident.argmax(axis=0)
    return exit_idx, probs.argmax(axis=2)[exit_idx, np.arange(probs.shape[1])]


def _cascade_summary(exit_idx, preds, labels, seg_macs) -> dict:
    exits = len(seg_macs)
    cum = np.cumsum(seg_macs)
    counts = np.bincount(exit_idx, minlength=exits)
    return {
        "accuracy": float((preds == labels).mean()),
        "exit_counts": counts.tolist(),
        "exit_fractions": (counts / len(labels)).tolist(),
        "expected_macs": float(cum[exit_idx].mean()),
        "expected_macs_relative": float(cum[exit_idx].mean() / cum[-1]),
    }


def evaluate(export_dir: Path, manifest: Manifest, data: ImageSet, thresholds: list[float],
             model: MultiExitMobileViT | None, runtimes: tuple[str, ...] = ("tflm", "litert")) -> dict:
    """Per-exit float/int8 accuracy and agreement, and the cascade at the given thresholds."""
    labels = data.labels
    inputs_q = quantized_inputs(manifest, data)
    int8 = {rt: int8_exit_probs(export_dir, manifest, inputs_q, rt) for rt in runtimes}
    ref = int8[runtimes[0]]
    ref_preds = ref.argmax(axis=2)
    fl = evaluate_float(model, data) if model is not None else None
    exits = []
    for k in range(ref.shape[0]):
        row = {"exit": k, "int8_accuracy": float((ref_preds[k] == labels).mean())}
        if fl is not None:
            fpred = fl[k].argmax(-1)
            row["float_accuracy"] = float((fpred == labels).mean())
            row["float_int8_agreement"] = float((fpred == ref_preds[k]).mean())
        for rt in runtimes[1:]:
            row[f"{rt}_accuracy"] = float((int8[rt][k].argmax(-1) == labels).mean())
            row[f"{rt}_agreement"] = float((int8[rt][k].argmax(-1) == ref_preds[k]).mean())
            row[f"{rt}_bitexact_fraction"] = float((int8[rt][k] == ref[k]).all(axis=1).mean())
        exits.append(row)
    seg_macs = [s.macs for s in manifest.segments]
    criterion = manifest.criterion
    exit_idx, preds = cascade(ref, thresholds, criterion)
    report = {
        "model_id": manifest.model_id, "data": data.source, "samples": int(len(labels)),
        "reference_runtime": runtimes[0], "runtimes": list(runtimes),
        "criterion": criterion, "thresholds": list(thresholds),
        "thresholds_q": [threshold_to_q(t, criterion) for t in thresholds],
        "segment_macs": seg_macs, "exits": exits,
        "cascade": {"int8": _cascade_summary(exit_idx, preds, labels, seg_macs) | {
            "exit_index": exit_idx.tolist(), "predictions": preds.tolist()}},
    }
    if fl is not None:
        report["cascade"]["float"] = _cascade_summary(*_float_cascade(fl, thresholds, criterion), labels, seg_macs)
    return report
