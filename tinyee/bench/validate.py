"""Validation on a board: the device's exits, classes and confidences against the host int8 cascade
(tflite-micro), per-exit accuracy on both, and every exit's softmax compared byte for byte through the
arena-read command on a few samples."""

from __future__ import annotations

import numpy as np

from tinyee.cascade import cascade, scores
from tinyee.compile.emit import CompiledSegment
from tinyee.device.protocol import DeviceLink
from tinyee.manifest import Manifest


def validate_on_board(link: DeviceLink, manifest: Manifest, segments: list[CompiledSegment], inputs: np.ndarray,
                      labels: np.ndarray | None, host_probs: np.ndarray, tensor_samples: int) -> dict:
    """host_probs: the tflite-micro cascade's int8 softmax per exit, [exits, N, classes]."""
    exits, n = host_probs.shape[:2]
    host_exit, host_class = cascade(host_probs, list(manifest.thresholds), manifest.criterion)
    host_conf = scores(host_probs, manifest.criterion)[host_exit, np.arange(n)]
    device = [link.infer(x.tobytes()) for x in inputs]
    forced = np.array([[link.infer(x.tobytes(), force_exit=k).cls for k in range(exits)] for x in inputs]).T
    tensors = []
    for i, x in enumerate(inputs[:tensor_samples]):
        for k, seg in enumerate(segments):
            link.infer(x.tobytes(), force_exit=k)  # exit k's softmax is in the arena until the next run
            got = np.frombuffer(link.read_arena(seg.plan.offsets[seg.probs_tensor], host_probs.shape[2]), np.int8)
            diff = np.abs(got.astype(np.int32) - host_probs[k, i].astype(np.int32))
            tensors.append({"sample": i, "exit": k, "bytes_equal": bool((diff == 0).all()),
                            "max_abs_diff": int(diff.max())})
    agree = [(d.exit, d.cls, d.confidence) == (int(e), int(c), int(s))
             for d, e, c, s in zip(device, host_exit, host_class, host_conf)]
    per_exit = []
    for k in range(exits):
        row = {"exit": k, "device_host_class_agreement": float((forced[k] == host_probs[k].argmax(-1)).mean())}
        if labels is not None:
            row["device_accuracy"] = float((forced[k] == labels).mean())
            row["host_accuracy"] = float((host_probs[k].argmax(-1) == labels).mean())
        per_exit.append(row)
    mismatches = [i for i, ok in enumerate(agree) if not ok]
    return {
        "model_id": manifest.model_id, "samples": int(n), "per_exit": per_exit,
        "cascade": {"exit_class_confidence_agreement": float(np.mean(agree)), "mismatched_samples": mismatches,
                    **({"device_accuracy": float(np.mean([d.cls == y for d, y in zip(device, labels)])),
                        "host_accuracy": float((host_class == labels).mean())} if labels is not None else {})},
        "tensors": tensors,
        "passed": not mismatches and all(t["bytes_equal"] for t in tensors)
                  and all(r["device_host_class_agreement"] == 1.0 for r in per_exit),
    }
