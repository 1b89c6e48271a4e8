"""The `tinyee` command line: train -> export -> eval (and `demo`, which runs them on shipped data)."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's C++ start-up chatter hides real errors

import click
from rich.console import Console

from tinyee.errors import TinyeeError

console = Console(stderr=True, soft_wrap=True)  # messages are grepped and logged: no hard wraps
REPO_ROOT = Path(__file__).resolve().parents[1]
SHIPPED_CHECKPOINT = REPO_ROOT / "models" / "mcu-fashion-mnist" / "checkpoint.pt"
KERNELS_OPTION = click.option(
    "--kernels", type=click.Choice(["optimized", "reference"]), default="optimized", show_default=True,
    help="optimized: GEMM/SIMD/table kernels, with DSP or Helium inner loops where the board's CPU has them; "
         "reference: the straightforward TFLite-Micro-style kernels (same results bit for bit).")


def _floats(text: str | None) -> list[float] | None:
    if text is None:
        return None
    try:
        return [float(v) for v in text.split(",")]
    except ValueError as e:
        raise TinyeeError(f"{text!r} is not a comma-separated list of numbers") from e


def _load_data(spec: str, split: str, limit: int | None):
    """'shipped' (the calibration/ subset) or a dataset directory."""
    from tinyee.data import load_dataset, load_shipped

    if spec == "shipped":
        data = load_shipped("rep" if split == "rep" else "eval")
    else:
        data = load_dataset(spec, "train" if split in ("rep", "train") else "test")
    return data.take(limit)


@click.group()
@click.version_option(package_name="tinyee")
def cli():
    """tinyee: early-exit MobileViT models from PyTorch to int8 microcontroller firmware."""


@cli.command()
@click.option("--data", "data_dir", required=True, type=click.Path(path_type=Path),
              help="Dataset directory (IDX, CIFAR-10 python/binary, or image folder).")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Run directory for checkpoints.")
@click.option("--preset", default="mcu", show_default=True, help="Model preset (mcu, small).")
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="Model config JSON (overrides --preset).")
@click.option("--epochs", default=10, show_default=True)
@click.option("--batch-size", default=128, show_default=True)
@click.option("--lr", default=3e-3, show_default=True)
@click.option("--exit-weights", help="Loss weight per exit, e.g. 1,1,1 (default: equal).")
@click.option("--in-channels", default=3, show_default=True, help="Model input channels (grayscale is repeated).")
@click.option("--exit-heads", help="Head per exit, e.g. bof,slvit,linear (linear, slvit, bof).")
@click.option("--init", "init_ckpt", type=click.Path(path_type=Path), help="Start from this checkpoint (fine-tuning).")
@click.option("--freeze-backbone", is_flag=True, help="Train only the intermediate exit heads.")
@click.option("--distill", default=0.0, show_default=True,
              help="Copycat weight: intermediate exits imitate the final exit (1: labels unused).")
@click.option("--temperature", default=3.0, show_default=True, help="Softening temperature for --distill.")
@click.option("--limit", type=int, help="Use only the first N training images.")
@click.option("--seed", default=0, show_default=True)
def train(data_dir, out, preset, config_path, epochs, batch_size, lr, exit_weights, in_channels, exit_heads, init_ckpt,
          freeze_backbone, distill, temperature, limit, seed):
    """Train the exits on a real dataset: jointly, or fine-tune exits of a checkpoint (frozen backbone, copycat)."""
    from tinyee.data import load_dataset
    from tinyee.model import ModelConfig, load_checkpoint
    from tinyee.model import preset as make_preset
    from tinyee.train import TrainConfig, train as run_training

    train_set = load_dataset(data_dir, "train").take(limit)
    test_set = load_dataset(data_dir, "test") if (train_set.labels >= 0).all() else None
    init_model = load_checkpoint(init_ckpt)[0] if init_ckpt else None
    cfg = ModelConfig.load(config_path) if config_path else make_preset(preset, len(train_set.classes), in_channels)
    if exit_heads and init_model is not None:  # new intermediate heads on the checkpoint's backbone
        init_model = init_model.with_exit_heads(exit_heads.split(","))
    elif exit_heads:
        cfg = ModelConfig.from_dict({**cfg.to_dict(), "exit_heads": exit_heads.split(",")})
    cfg = init_model.cfg if init_model is not None else cfg
    console.print(f"training {cfg.name} ({cfg.num_exits} exits: {', '.join(cfg.exit_heads)}) on {len(train_set)} "
                  f"images from {train_set.source}")
    tc = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, exit_weights=_floats(exit_weights), seed=seed,
                     freeze_backbone=freeze_backbone, distill=distill, temperature=temperature)
    run_training(cfg, train_set, test_set, out, tc, log=console.print, init_model=init_model)
    console.print(f"checkpoint: {out / 'last.pt'}")


def _export(checkpoint: Path, out: Path, rep: str, rep_samples: int | None, thresholds: str | None,
            criterion: str = "max_softmax") -> dict:
    from tinyee.export import export_checkpoint

    rep_set = _load_data(rep, "rep", rep_samples)
    with console.status("exporting") as status:
        manifest = export_checkpoint(checkpoint, rep_set, out, _floats(thresholds),
                                     progress=lambda msg: status.update(msg), criterion=criterion)
    for s in manifest["segments"]:
        console.print(f"  {s['file']}: {s['macs'] / 1e6:.2f} M MACs, {s['param_bytes'] / 1024:.1f} KiB weights, "
                      f"{s['tflite_bytes'] / 1024:.1f} KiB file, in {s['input']['shape']} "
                      f"(scale {s['input']['scale']:.6g}, zp {s['input']['zero_point']}), {s['export_seconds']} s")
    console.print(f"exported {len(manifest['segments'])} segments to {out} in {manifest['export_seconds']} s")
    return manifest


@cli.command()
@click.option("--checkpoint", type=click.Path(path_type=Path), default=SHIPPED_CHECKPOINT, show_default=True)
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Export directory.")
@click.option("--rep-data", default="shipped", show_default=True,
              help="'shipped' or a dataset directory (its training split) for int8 calibration.")
@click.option("--rep-samples", type=int, help="Use only the first N representative images.")
@click.option("--thresholds", help="Exit thresholds: one value or one per intermediate exit (default 0.9).")
@click.option("--criterion", type=click.Choice(["max_softmax", "entropy"]), default="max_softmax", show_default=True,
              help="Exit rule: max softmax >= threshold, or entropy (nats) <= threshold.")
def export(checkpoint, out, rep_data, rep_samples, thresholds, criterion):
    """Export one full-integer int8 TFLite model per exit segment."""
    _export(checkpoint, out, rep_data, rep_samples, thresholds, criterion)


def _eval(export_dir: Path, checkpoint: Path | None, data: str, samples: int | None, thresholds: str | None,
          runtimes: str, json_out: Path | None) -> dict:
    from tinyee.cascade import resolve_thresholds
    from tinyee.eval import evaluate, render
    from tinyee.export import load_manifest
    from tinyee.model import load_checkpoint

    manifest = load_manifest(export_dir)
    criterion = manifest.get("criterion", "max_softmax")
    thr = (resolve_thresholds(_floats(thresholds), len(manifest["segments"]), criterion) if thresholds
           else manifest["thresholds"])
    ckpt = checkpoint or Path(manifest["model"]["checkpoint"])
    model = load_checkpoint(ckpt)[0] if ckpt.exists() else None
    if model is None:
        console.print(f"[yellow]float checkpoint {ckpt} not found: int8 results only[/yellow]")
    data_set = _load_data(data, "eval", samples)
    report = evaluate(export_dir, manifest, data_set, thr, model, tuple(runtimes.split(",")))
    for table in render(report):
        Console().print(table)
    if json_out:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(json.dumps(report, indent=2) + "\n")
        console.print(f"report: {json_out}")
    return report


@cli.command(name="eval")
@click.option("--export", "export_dir", type=click.Path(path_type=Path), required=True)
@click.option("--checkpoint", type=click.Path(path_type=Path), help="Float model (default: the exported one).")
@click.option("--data", default="shipped", show_default=True, help="'shipped' or a dataset directory (test split).")
@click.option("--samples", type=int, help="Evaluate only the first N images.")
@click.option("--thresholds", help="Override the manifest's exit thresholds.")
@click.option("--runtime", "runtimes", default="tflm,litert", show_default=True,
              help="int8 runtimes; the first is the reference the cascade uses.")
@click.option("--json", "json_out", type=click.Path(path_type=Path), help="Write the full report as JSON.")
def eval_cmd(export_dir, checkpoint, data, samples, thresholds, runtimes, json_out):
    """Run the int8 cascade on the host (TFLite Micro reference) beside the float model."""
    _eval(export_dir, checkpoint, data, samples, thresholds, runtimes, json_out)


def _build(export_dir: Path, board_name: str, out: Path, opt: str, kernels: str = "optimized"):
    from tinyee.boards import load_board
    from tinyee.compile.firmware import build_firmware
    from tinyee.export import load_manifest

    board = load_board(board_name)
    manifest = load_manifest(export_dir)
    with console.status(f"building firmware for {board.name}"):
        image = build_firmware(export_dir, manifest, board, out, opt, kernels)
    console.print(f"{board.name}: {image.elf} ({kernels} kernels)")
    console.print(f"  flash {image.flash_bytes:,} of {board.flash_bytes:,} bytes ({100 * image.flash_bytes / board.flash_bytes:.1f}%), "
                  f"weights {image.weights_bytes:,}")
    console.print(f"  RAM   {image.ram_bytes:,} of {board.ram_bytes:,} bytes ({100 * image.ram_bytes / board.ram_bytes:.1f}%), "
                  f"arena {image.arena_bytes:,} (the cascade's segments share it)")
    for seg in image.memory["segments"]:
        console.print(f"    segment {seg['segment']}: peak {seg['peak_arena_bytes']:,} B; alive at its busiest step "
                      f"{seg['live_bound_bytes']:,} B; largest op {seg['largest_op_bytes']:,} B")
    return board, image


@cli.command()
@click.option("--board", "board_name", default="mps2-an386", show_default=True,
              help="Board name (boards/*.json) or a board JSON file.")
@click.option("--export", "export_dir", type=click.Path(path_type=Path),
              help="Export directory (default: export the shipped checkpoint into OUT/export).")
@click.option("--out", type=click.Path(path_type=Path), help="Build directory (default: build/<board>).")
@click.option("--opt", type=click.Choice(["-O2", "-Os", "-O3"]), default="-O2", show_default=True)
@KERNELS_OPTION
def build(board_name, export_dir, out, opt, kernels):
    """Compile the int8 segments to C and build the cascade firmware for a board."""
    out = out or Path("build") / Path(board_name).stem
    if export_dir is None:
        export_dir = out / "export"
        _export(SHIPPED_CHECKPOINT, export_dir, "shipped", None, None)
    _build(export_dir, board_name, out, opt, kernels)


def _firmware_for(board, export_dir: Path, elf: Path | None, build_dir: Path, kernels: str = "optimized") -> Path:
    """The ELF to run: the one given, or one built from the export (SCons rebuilds only what changed,
    so thresholds written by `tinyee calibrate --apply` always reach the firmware)."""
    from tinyee.compile.firmware import build_firmware
    from tinyee.export import load_manifest

    if elf is not None:
        if not Path(elf).is_file():
            raise TinyeeError(f"firmware image {elf} not found")
        return Path(elf)
    return build_firmware(export_dir, load_manifest(export_dir), board, build_dir, kernels=kernels).elf


def _bench(board_name: str, export_dir: Path, elf: Path | None, port: str | None, data: str, samples: int | None,
           force_samples: int, out: Path, resume: bool, timeout: float, kernels: str = "optimized") -> dict:
    import serial
    from rich.table import Table
    from tqdm import tqdm

    from tinyee.bench import BenchPlan, run_bench, summarize, write_outputs
    from tinyee.boards import load_board
    from tinyee.cascade import cascade
    from tinyee.device import DeviceLink, QemuBoard
    from tinyee.eval.host import int8_exit_probs, quantized_inputs
    from tinyee.export import load_manifest

    board = load_board(board_name)
    manifest = load_manifest(export_dir)
    data_set = _load_data(data, "eval", samples)
    inputs = quantized_inputs(manifest, data_set)
    probs = int8_exit_probs(export_dir, manifest, inputs, "tflm")
    host_exit, host_class = cascade(probs, manifest["thresholds"], manifest.get("criterion", "max_softmax"))
    plan = BenchPlan(manifest["model_id"], board.name, inputs, data_set.labels, host_exit, host_class,
                     len(manifest["segments"]) if force_samples else 0, force_samples)

    def bench_on(link):
        info = link.identify()
        if info.get("model") != manifest["model_id"]:
            raise TinyeeError(f"the firmware on {board.name} runs model {info.get('model')}, but the export is model "
                              f"{manifest['model_id']}: rebuild and flash it (tinyee build / tinyee flash)")
        bar = lambda it: tqdm(it, desc=f"bench on {board.name}", unit="sample", disable=None)  # noqa: E731
        try:
            return run_bench(link, plan, out, resume, progress=bar)
        except KeyboardInterrupt:
            console.print(f"interrupted; the results so far are in {out / 'results.jsonl'} (--resume continues)")
            raise

    if port:
        try:
            ser = serial.serial_for_url(port, baudrate=115200, timeout=0.5)
        except (serial.SerialException, ValueError) as e:
            raise TinyeeError(f"cannot open serial port {port}: {e}") from e
        with ser:
            records = bench_on(DeviceLink(ser, timeout=timeout))
    else:
        if not board.emulated:
            raise TinyeeError(f"{board.name} is a real board: flash it (tinyee flash) and give its serial port with --port")
        image = _firmware_for(board, export_dir, elf, out / "firmware", kernels)
        with QemuBoard(board, image) as qemu:
            link = DeviceLink(qemu.port, timeout=timeout)
            link.wait_ready()
            records = bench_on(link)
            if qemu.proc.poll() is not None:
                raise TinyeeError("QEMU exited during the bench")
    summary = summarize(records, board, manifest, probs, data_set.labels)
    paths = write_outputs(summary, out)
    unit = summary["latency_unit"]
    table = Table(title=f"tinyee bench: {board.name}, model {summary['model_id']} "
                        f"({summary['completed']} samples; latency in {unit.replace('_', ' ')})")
    for c in ("exit", "exit share", "median ticks", f"median {unit.replace('_', ' ')}", "p90 ticks", "max ticks"):
        table.add_column(c, justify="right")
    for row, frac in zip(summary["per_exit"], summary["exit_fractions"]):
        t = row.get("ticks", {})
        table.add_row(str(row["exit"]), f"{100 * frac:.1f}%", f"{t.get('median', 0):,.0f}",
                      f"{row.get(unit, {}).get('median', 0):,.0f}", f"{t.get('p90', 0):,.0f}", f"{t.get('max', 0):,.0f}")
    Console().print(table)
    ratio = summary["average_vs_run_to_end"]  # unknown when no sample ran to the end and no exit was forced
    console.print(f"on-device accuracy {100 * summary['device_accuracy']:.2f}%, average ticks "
                  f"{summary['average_ticks']:,.0f}"
                  + (f" = {100 * ratio:.1f}% of running to the end" if ratio is not None else "")
                  + f"; host/device agreement {100 * summary['host_agreement']:.2f}%"
                  + (f"; LOST samples: {summary['lost']}" if summary["lost"] else ""))
    for d in summary["disagreements"]:
        console.print(f"[red]disagreement[/red] sample {d['sample']}: device exit {d['exit']} class {d['cls']}, "
                      f"host exit {d['host_exit']} class {d['host_class']}")
    console.print("wrote " + ", ".join(str(p) for p in [out / "results.jsonl", *paths]))
    if summary["lost"]:
        raise TinyeeError(f"{len(summary['lost'])} samples were lost (listed in summary.json); --resume retries them")
    if board.emulated and summary["disagreements"]:
        raise TinyeeError(f"{len(summary['disagreements'])} samples disagree with the host int8 cascade on an emulated "
                          "board, where the firmware must be bit-exact (listed above and in summary.json)")
    return summary


@cli.command()
@click.option("--board", "board_name", default="mps2-an386", show_default=True)
@click.option("--export", "export_dir", type=click.Path(path_type=Path), default=Path("build/demo/export"),
              show_default=True)
@click.option("--elf", type=click.Path(path_type=Path), help="Firmware image (default: build it).")
@click.option("--port", help="Serial port of a real board (device path, socket://, rfc2217://, loop://).")
@click.option("--data", default="shipped", show_default=True)
@click.option("--samples", type=int, default=200, show_default=True)
@click.option("--force-samples", type=int, default=20, show_default=True,
              help="On this many samples, also force every exit to time it (0: off).")
@click.option("--out", type=click.Path(path_type=Path), help="Results folder (default: build/bench/<board>).")
@click.option("--resume", is_flag=True, help="Continue an interrupted run from its results.jsonl.")
@click.option("--timeout", type=float, default=10.0, show_default=True, help="Seconds to wait for each answer.")
@KERNELS_OPTION
def bench(board_name, export_dir, elf, port, data, samples, force_samples, out, resume, timeout, kernels):
    """Stream inputs to a board, record exits and per-exit ticks, compare with the host int8 cascade."""
    _bench(board_name, export_dir, elf, port, data, samples, force_samples,
           out or Path("build/bench") / Path(board_name).stem, resume, timeout, kernels)


@cli.command()
@click.option("--board", "board_name", default="mps2-an386", show_default=True, help="An emulated board.")
@click.option("--export", "export_dir", type=click.Path(path_type=Path), default=Path("build/demo/export"),
              show_default=True)
@click.option("--data", default="shipped", show_default=True)
@click.option("--samples", type=int, default=3, show_default=True, help="Inputs; each op's median is reported.")
@click.option("--out", type=click.Path(path_type=Path), help="Results folder (default: build/profile/<board>-<kernels>).")
@KERNELS_OPTION
def profile(board_name, export_dir, data, samples, out, kernels):
    """Time every kernel call of the cascade on an emulated board (all segments run) and write profile.json."""
    from rich.table import Table

    from tinyee.bench import by_op_type, profile_cascade
    from tinyee.boards import load_board
    from tinyee.compile.firmware import build_firmware
    from tinyee.device import DeviceLink, QemuBoard
    from tinyee.eval.host import quantized_inputs
    from tinyee.export import load_manifest

    board = load_board(board_name)
    if not board.emulated:
        raise TinyeeError(f"{board.name} is a real board; profile runs on emulated boards")
    out = out or Path("build/profile") / f"{Path(board_name).stem}-{kernels}"
    manifest = load_manifest(export_dir)
    inputs = quantized_inputs(manifest, _load_data(data, "eval", samples))
    with console.status(f"building firmware for {board.name} ({kernels} kernels)"):
        image = build_firmware(export_dir, manifest, board, out / "firmware", kernels=kernels)
    with QemuBoard(board, image.elf) as qemu:
        link = DeviceLink(qemu.port, timeout=60.0)
        link.wait_ready()
        result = profile_cascade(link, board, image.segments, inputs)
        result["kernel_path"] = link.identify().get("path")
    result["kernels"] = kernels
    unit = result["unit"]
    table = Table(title=f"tinyee profile: {board.name}, {kernels} kernels ({result['kernel_path']} path), "
                        f"median of {len(inputs)} inputs, {unit.replace('_', ' ')}")
    for c in ("segment", "op", "calls", "MACs", unit.replace("_", " "), "share of segment"):
        table.add_column(c, justify="right")
    for row in by_op_type(result):
        total = result["segments"][row["segment"]][unit]
        table.add_row(str(row["segment"]), row["op"], str(row["calls"]), f"{row['macs']:,}", f"{row[unit]:,.0f}",
                      f"{100 * row[unit] / total:.1f}%")
    Console().print(table)
    for seg in result["segments"]:
        console.print(f"segment {seg['segment']}: {seg[unit]:,.0f} {unit.replace('_', ' ')}, {seg['macs']:,} MACs")
    out.mkdir(parents=True, exist_ok=True)
    (out / "profile.json").write_text(json.dumps(result, indent=2) + "\n")
    console.print(f"wrote {out / 'profile.json'}")


@cli.command()
@click.option("--board", "board_name", default="mps2-an386", show_default=True)
@click.option("--elf", type=click.Path(path_type=Path), required=True)
@click.option("--tool", type=click.Choice(["pyocd", "openocd"]), help="Probe tool (default: the board file's).")
@click.option("--dry-run", is_flag=True, help="Print the command instead of running it.")
def flash(board_name, elf, tool, dry_run):
    """Flash a firmware image: pyOCD/OpenOCD for real boards; emulated boards start QEMU and wait."""
    from tinyee.boards import load_board
    from tinyee.device.flash import flash as flash_board
    from tinyee.device.flash import flash_command
    from tinyee.device.qemu import QemuBoard, qemu_command

    board = load_board(board_name)
    if board.emulated:
        if dry_run:
            console.print(" ".join(qemu_command(board, elf, 0)).replace(":0,", ":<port>,"))
            return
        with QemuBoard(board, elf) as qemu:
            qemu.port.close()  # free the socket for the user's terminal or `tinyee bench --port`
            console.print(f"{board.name} is running {elf} in QEMU; its UART is {qemu.url}. Ctrl-C stops it.")
            try:
                qemu.proc.wait()
            except KeyboardInterrupt:
                console.print("stopping QEMU")
        return
    if dry_run:
        console.print(" ".join(flash_command(board, elf, tool)))
        return
    flash_board(board, elf, tool)
    console.print(f"flashed {elf} to {board.name}")


@cli.command()
@click.option("--out", type=click.Path(path_type=Path), default=Path("build/demo"), show_default=True)
@click.option("--board", "board_name", default="mps2-an386", show_default=True, help="An emulated board.")
@click.option("--samples", type=int, default=200, show_default=True, help="Images benchmarked on the board.")
def demo(out, board_name, samples):
    """The whole mission on an emulated board: shipped model -> int8 export -> host eval -> firmware -> QEMU bench."""
    t0 = time.time()
    _export(SHIPPED_CHECKPOINT, out / "export", "shipped", None, None)
    _eval(out / "export", SHIPPED_CHECKPOINT, "shipped", None, None, "tflm,litert", out / "eval.json")
    _build(out / "export", board_name, out / board_name, "-O2")
    _bench(board_name, out / "export", out / board_name / "firmware.elf", None, "shipped", samples, 20,
           out / "bench", False, 10.0)
    console.print(f"demo finished in {time.time() - t0:.0f} s")


@cli.command()
@click.option("--export", "export_dir", type=click.Path(path_type=Path), default=Path("build/demo/export"),
              show_default=True)
@click.option("--mode", type=click.Choice(["alpha", "budget", "target"]), required=True)
@click.option("--alpha", default=0.9, show_default=True, help="alpha mode: fraction of each exit's mean training confidence.")
@click.option("--budget", default=0.5, show_default=True, help="budget mode: average cost as a fraction of the full model.")
@click.option("--max-drop", default=0.01, show_default=True, help="target mode: accuracy drop allowed below the final exit.")
@click.option("--cost", default="macs", show_default=True,
              help="'macs', or a bench summary.json for latency-aware calibration with measured per-exit ticks.")
@click.option("--calib-samples", default=1000, show_default=True,
              help="Shipped test images used to calibrate; the rest are the held-out report.")
@click.option("--criterion", type=click.Choice(["max_softmax", "entropy"]),
              help="Exit rule to calibrate (default: the export's).")
@click.option("--apply", is_flag=True, help="Write the thresholds into the export's manifest (build picks them up).")
@click.option("--out", type=click.Path(path_type=Path), help="Report folder (default: EXPORT/calibration).")
def calibrate(export_dir, mode, alpha, budget, max_drop, cost, criterion, calib_samples, apply, out):
    """Calibrate exit thresholds on the host int8 cascade (alpha rule, compute budget, target accuracy, latency-aware)."""
    import numpy as np
    from rich.table import Table

    from tinyee.calibrate import calibrate as run_calibration, candidates, evaluate_thresholds, plot_calibration
    from tinyee.cascade import threshold_to_q
    from tinyee.data import load_shipped
    from tinyee.eval.host import int8_exit_probs, quantized_inputs
    from tinyee.export import load_manifest
    from tinyee.export.manifest import write_manifest

    manifest = load_manifest(export_dir)
    criterion = criterion or manifest.get("criterion", "max_softmax")
    if cost == "macs":
        costs = np.cumsum([s["macs"] for s in manifest["segments"]]).tolist()
    else:
        try:
            bench = json.loads(Path(cost).read_text())
            costs = [row["ticks"]["median"] for row in bench["per_exit"]]
        except (OSError, json.JSONDecodeError, KeyError) as e:
            raise TinyeeError(f"--cost {cost}: not a bench summary with per-exit ticks ({e})") from e
        if bench.get("model_id") != manifest["model_id"]:
            raise TinyeeError(f"{cost} was measured on model {bench.get('model_id')}, not {manifest['model_id']}")
    data = load_shipped("eval")
    probs = int8_exit_probs(export_dir, manifest, quantized_inputs(manifest, data), "tflm")
    calib, held = slice(0, calib_samples), slice(calib_samples, None)
    train_probs = None
    if mode == "alpha":
        train_probs = int8_exit_probs(export_dir, manifest, quantized_inputs(manifest, load_shipped("rep")), "tflm")
    result = run_calibration(mode, probs[:, calib], data.labels[calib], costs, alpha=alpha, train_probs_q=train_probs,
                             budget=budget, max_drop=max_drop, criterion=criterion)
    report = evaluate_thresholds(probs[:, held], data.labels[held], result["thresholds"], costs, criterion)
    curve = candidates(probs[:, held], data.labels[held], costs, criterion)
    final = {"accuracy": float((probs[-1, held].argmax(-1) == data.labels[held]).mean()), "average_cost": costs[-1]}
    unit = "MACs" if cost == "macs" else "ticks"
    table = Table(title=f"Calibration ({mode}, {criterion}, cost in {unit}): {calib_samples} images to calibrate, "
                        f"{len(data.labels) - calib_samples} held out")
    for c in ("", "thresholds", "accuracy", "average cost", "vs. final exit only", "exit distribution"):
        table.add_column(c, justify="right")
    for name, r in (("calibration", result), ("held-out", report)):
        table.add_row(name, ", ".join(f"{t:.3f}" for t in r["thresholds"]), f"{100 * r['accuracy']:.2f}%",
                      f"{r['average_cost']:,.0f}", f"{100 * r['average_cost'] / costs[-1]:.1f}%",
                      " / ".join(f"{100 * f:.1f}%" for f in r["exit_fractions"]))
    table.add_row("final exit only", "-", f"{100 * final['accuracy']:.2f}%", f"{costs[-1]:,.0f}", "100.0%", "")
    Console().print(table)
    out = out or Path(export_dir) / "calibration"
    out.mkdir(parents=True, exist_ok=True)
    (out / "calibration.json").write_text(json.dumps(
        {"mode": mode, "criterion": criterion, "cost": cost, "costs": costs, "calibration": result, "held_out": report, "final_exit_only": final,
         "held_out_curve": curve}, indent=2) + "\n")
    plot_calibration(curve, report, final, costs[-1], unit, f"{mode}, {criterion}", out / "calibration.png")
    console.print(f"report: {out / 'calibration.json'}, {out / 'calibration.png'}")
    if apply:
        manifest["criterion"] = criterion
        manifest["thresholds"] = result["thresholds"]
        manifest["thresholds_q"] = [threshold_to_q(t, criterion) for t in result["thresholds"]]
        write_manifest(export_dir, manifest)
        console.print(f"thresholds written to {Path(export_dir) / 'manifest.json'}; rebuild the firmware to use them")


@cli.command(name="data-subset")
@click.option("--source", type=click.Path(path_type=Path), default=Path("/usr/share/datasets/fashion-mnist"),
              show_default=True)
@click.option("--out", type=click.Path(path_type=Path), required=True)
@click.option("--rep", default=500, show_default=True, help="Images from the training split (int8 calibration).")
@click.option("--eval", "eval_", default=2000, show_default=True, help="Images from the test split (evaluation).")
@click.option("--seed", default=0, show_default=True)
def data_subset(source, out, rep, eval_, seed):
    """Write a class-balanced real subset like the one shipped in calibration/."""
    from tinyee.data import make_subset

    console.print(make_subset(source, out, rep, eval_, seed))


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except (click.exceptions.Abort, KeyboardInterrupt):
        console.print("[red]aborted[/red]")
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except TinyeeError as e:
        console.print(f"[red]error:[/red] {e}")
        sys.exit(2)
