"""`tinyee validate`: the model on a board (emulated or real) against the host, sample by sample and
tensor by tensor; a JSON report, and exit code 4 on any mismatch."""

from __future__ import annotations

import tempfile
from pathlib import Path

from tinyee.commands.console import json_output, log, result, write_json
from tinyee.errors import DeviceMismatchError
from tinyee.fileio import check_writable


def run(export_dir: Path, board_name: str, port: str | None, flash: bool, data: str | None, samples: int,
        tensor_samples: int, out: Path, kernels: str, json_out: str | None = None) -> dict:
    from tinyee.bench.validate import validate_on_board
    from tinyee.boards import load_board
    from tinyee.compile import compile_export
    from tinyee.eval.evaluate import device_inputs, int8_exit_probs
    from tinyee.manifest import Manifest
    from tinyee.targets import open_target

    json_output(json_out)
    check_writable(out)
    board = load_board(board_name)
    manifest = Manifest.load(export_dir)
    inputs, labels = device_inputs(manifest, data, samples)
    host_probs = int8_exit_probs(export_dir, manifest, inputs, "tflm")
    with open_target(board, port) as target:
        if port is None or flash:
            image = target.build(export_dir, manifest, out / "firmware", kernels)
            elf, segments = image.elf, image.segments
        else:  # the firmware is on the board already: the same compilation gives its arena plan
            with tempfile.TemporaryDirectory(prefix="tinyee-validate-") as tmp:
                elf, segments = None, compile_export(export_dir, manifest, Path(tmp), kernels)
        link = target.connect(elf, model_id=manifest.model_id)
        with log.status(f"validating {len(inputs)} samples on {board.name}"):
            report = validate_on_board(link, manifest, segments, inputs, labels, host_probs, tensor_samples)
    report["board"] = board.name
    for row in report["per_exit"]:
        acc = (f", accuracy device {100 * row['device_accuracy']:.2f}% / host {100 * row['host_accuracy']:.2f}%"
               if "device_accuracy" in row else "")
        result(f"exit {row['exit']}: class agreement {100 * row['device_host_class_agreement']:.2f}%{acc}")
    c = report["cascade"]
    equal = sum(t["bytes_equal"] for t in report["tensors"])
    result(f"cascade: exit/class/confidence agreement {100 * c['exit_class_confidence_agreement']:.2f}% on "
           f"{report['samples']} samples; exit softmax tensors byte-equal {equal}/{len(report['tensors'])}; "
           + ("PASSED" if report["passed"] else "FAILED"))
    write_json(report, str(out / "validate.json"))
    write_json(report, json_out)
    if not report["passed"]:
        raise DeviceMismatchError(f"{board.name} disagrees with the host (details in {out / 'validate.json'})")
    return report
