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
@click.option("--limit", type=int, help="Use only the first N training images.")
@click.option("--seed", default=0, show_default=True)
def train(data_dir, out, preset, config_path, epochs, batch_size, lr, exit_weights, in_channels, limit, seed):
    """Train all exits jointly on a real dataset."""
    from tinyee.data import load_dataset
    from tinyee.model import ModelConfig
    from tinyee.model import preset as make_preset
    from tinyee.train import TrainConfig, train as run_training

    train_set = load_dataset(data_dir, "train").take(limit)
    test_set = load_dataset(data_dir, "test")
    cfg = ModelConfig.load(config_path) if config_path else make_preset(preset, len(train_set.classes), in_channels)
    console.print(f"training {cfg.name} ({cfg.num_exits} exits) on {len(train_set)} images from {train_set.source}")
    run_training(cfg, train_set, test_set, out,
                 TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, exit_weights=_floats(exit_weights), seed=seed),
                 log=console.print)
    console.print(f"checkpoint: {out / 'last.pt'}")


def _export(checkpoint: Path, out: Path, rep: str, rep_samples: int | None, thresholds: str | None) -> dict:
    from tinyee.export import export_checkpoint

    rep_set = _load_data(rep, "rep", rep_samples)
    with console.status("exporting") as status:
        manifest = export_checkpoint(checkpoint, rep_set, out, _floats(thresholds),
                                     progress=lambda msg: status.update(msg))
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
def export(checkpoint, out, rep_data, rep_samples, thresholds):
    """Export one full-integer int8 TFLite model per exit segment."""
    _export(checkpoint, out, rep_data, rep_samples, thresholds)


def _eval(export_dir: Path, checkpoint: Path | None, data: str, samples: int | None, thresholds: str | None,
          runtimes: str, json_out: Path | None) -> dict:
    from tinyee.cascade import resolve_thresholds
    from tinyee.eval import evaluate, render
    from tinyee.export import load_manifest
    from tinyee.model import load_checkpoint

    manifest = load_manifest(export_dir)
    thr = resolve_thresholds(_floats(thresholds), len(manifest["segments"])) if thresholds else manifest["thresholds"]
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


def _build(export_dir: Path, board_name: str, out: Path, opt: str):
    from tinyee.boards import load_board
    from tinyee.compile.firmware import build_firmware
    from tinyee.export import load_manifest

    board = load_board(board_name)
    manifest = load_manifest(export_dir)
    with console.status(f"building firmware for {board.name}"):
        image = build_firmware(export_dir, manifest, board, out, opt)
    console.print(f"{board.name}: {image.elf}")
    console.print(f"  flash {image.flash_bytes:,} of {board.flash_bytes:,} bytes ({100 * image.flash_bytes / board.flash_bytes:.1f}%), "
                  f"weights {image.weights_bytes:,}")
    console.print(f"  RAM   {image.ram_bytes:,} of {board.ram_bytes:,} bytes ({100 * image.ram_bytes / board.ram_bytes:.1f}%), "
                  f"arena {image.arena_bytes:,}")
    return board, image


@cli.command()
@click.option("--board", "board_name", default="mps2-an386", show_default=True,
              help="Board name (boards/*.json) or a board JSON file.")
@click.option("--export", "export_dir", type=click.Path(path_type=Path),
              help="Export directory (default: export the shipped checkpoint into OUT/export).")
@click.option("--out", type=click.Path(path_type=Path), help="Build directory (default: build/<board>).")
@click.option("--opt", type=click.Choice(["-O2", "-Os", "-O3"]), default="-O2", show_default=True)
def build(board_name, export_dir, out, opt):
    """Compile the int8 segments to C and build the cascade firmware for a board."""
    out = out or Path("build") / Path(board_name).stem
    if export_dir is None:
        export_dir = out / "export"
        _export(SHIPPED_CHECKPOINT, export_dir, "shipped", None, None)
    _build(export_dir, board_name, out, opt)


@cli.command()
@click.option("--out", type=click.Path(path_type=Path), default=Path("build/demo"), show_default=True)
@click.option("--samples", type=int, help="Evaluate only the first N shipped images.")
def demo(out, samples):
    """Shipped model -> int8 segments -> host cascade, with a per-exit table."""
    t0 = time.time()
    _export(SHIPPED_CHECKPOINT, out / "export", "shipped", None, None)
    _eval(out / "export", SHIPPED_CHECKPOINT, "shipped", samples, None, "tflm,litert", out / "eval.json")
    console.print(f"demo finished in {time.time() - t0:.0f} s")


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
    except click.exceptions.Abort:
        console.print("[red]aborted[/red]")
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except TinyeeError as e:
        console.print(f"[red]error:[/red] {e}")
        sys.exit(2)
