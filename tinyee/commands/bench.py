"""`tinyee bench`: stream inputs to a board, record exits and per-exit ticks, compare with the host int8 cascade."""

from __future__ import annotations

from pathlib import Path

from tinyee.commands.console import json_output, labelled, log, result, write_json
from tinyee.errors import DeviceMismatchError, TinyeeError
from tinyee.fileio import check_writable


def run(board_name: str, export_dir: Path, elf: Path | None, port: str | None, flash: bool, data: str | None,
        samples: int | None, force_samples: int, out: Path, resume: bool, timeout: float,
        kernels: str = "optimized", json_out: str | None = None) -> dict:
    from tinyee.bench import BenchPlan, run_bench, summarize, write_outputs
    from tinyee.boards import load_board
    from tinyee.cascade import cascade
    from tinyee.eval.evaluate import int8_exit_probs, load_data, quantized_inputs
    from tinyee.manifest import Manifest
    from tinyee.progress import progress
    from tinyee.targets import open_target

    json_output(json_out)
    check_writable(out)
    board = load_board(board_name)
    manifest = Manifest.load(export_dir)
    data_set = load_data(manifest, data, "test", samples)
    inputs = quantized_inputs(manifest, data_set)
    probs = int8_exit_probs(export_dir, manifest, inputs, "tflm")
    host_exit, host_class = cascade(probs, manifest.thresholds, manifest.criterion)
    plan = BenchPlan(manifest.model_id, board.name, inputs, data_set.labels, host_exit, host_class,
                     manifest.num_exits if force_samples else 0, force_samples)
    with open_target(board, port) as target:
        image = None
        if port is None or flash:  # the image given, or one built from the export (SCons rebuilds only what
            # changed, so thresholds written by `tinyee calibrate --apply` always reach the firmware)
            image = Path(elf) if elf is not None else target.build(export_dir, manifest, out / "firmware", kernels).elf
        link = target.connect(image, timeout=timeout, model_id=manifest.model_id)
        board = _at_running_clock(board, link.info)
        bar = lambda it: progress(it, f"bench on {board.name}", unit="sample")  # noqa: E731
        try:
            records = run_bench(link, plan, out, resume, progress=bar, announce=log.print)
        except KeyboardInterrupt:
            log.print(f"interrupted; the results so far are in {out / 'results.jsonl'} (--resume continues)")
            raise
        if not target.alive():
            raise TinyeeError(f"the emulator of {board.name} exited during the bench")
    summary = summarize(records, board, manifest, probs, data_set.labels)
    summary["link"] = link.stats()
    if link.retries:
        log.print("the link resent {retries} commands ({damaged_frames} damaged frames, {silent_tries} unanswered "
                  "tries, {stale_answers} stale answers skipped)".format(**summary["link"]))
    paths = write_outputs(summary, out)
    _report(summary, board.name)
    log.print("wrote " + ", ".join(str(p) for p in [out / "results.jsonl", *paths]))
    write_json(summary, json_out)
    if summary["lost"]:
        raise DeviceMismatchError(f"{len(summary['lost'])} samples were lost (listed in summary.json); --resume retries them")
    if board.emulated and summary["disagreements"]:
        raise DeviceMismatchError(f"{len(summary['disagreements'])} samples disagree with the host int8 cascade on an emulated "
                          "board, where the firmware must be bit-exact (listed above and in summary.json)")
    return summary


def _at_running_clock(board, info: dict):
    """A real board's cycles become microseconds at the clock it reports running at: its board file's target,
    or its reset clock when the clock set-up timed out. (An emulator's tick rate is the machine's own,
    whatever the firmware's RCC writes did, so emulated boards keep their board file's clock.)"""
    running, target = int(info.get("clock", 0)), int(board.spec["clock_hz"])
    if running in (0, target):
        return board
    log.print(f"{board.name} runs at {running / 1e6:g} MHz ({info.get('clock_source', '?')}), not at the "
              f"{target / 1e6:g} MHz of its board file" + ("" if board.emulated else
                                                             "; its latencies are converted at the running clock"))
    return board if board.emulated else board.running_at(running)


def _report(summary: dict, board: str) -> None:
    from rich.table import Table

    unit = summary["latency_unit"]
    table = Table(title=f"tinyee bench: {board}, model {summary['model_id']} "
                        f"({summary['completed']} samples; latency in {unit.replace('_', ' ')})")
    for c in ("exit", "exit share", "median ticks", f"median {unit.replace('_', ' ')}", "p90 ticks", "max ticks"):
        table.add_column(c, justify="right")
    for row, frac in zip(summary["per_exit"], summary["exit_fractions"]):
        t = row.get("ticks", {})
        table.add_row(str(row["exit"]), f"{100 * frac:.1f}%", f"{t.get('median', 0):,.0f}",
                      f"{row.get(unit, {}).get('median', 0):,.0f}", f"{t.get('p90', 0):,.0f}", f"{t.get('max', 0):,.0f}")
    result(table)
    ratio = summary["average_vs_run_to_end"]  # unknown when no sample ran to the end and no exit was forced
    result(f"on-device accuracy {100 * summary['device_accuracy']:.2f}%, average ticks "
              f"{summary['average_ticks']:,.0f}"
              + (f" = {100 * ratio:.1f}% of running to the end" if ratio is not None else "")
              + f"; host/device agreement {100 * summary['host_agreement']:.2f}%"
              + (f"; LOST samples: {summary['lost']}" if summary["lost"] else ""))
    for d in summary["disagreements"]:
        result(labelled("disagreement", "red", f"sample {d['sample']}: device exit {d['exit']} class {d['cls']}, "
                  f"host exit {d['host_exit']} class {d['host_class']}"))
