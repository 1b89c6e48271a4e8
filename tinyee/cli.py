"""The `tinyee` command line: arguments in, one call into tinyee.commands per command, errors out as one line."""

from __future__ import annotations

import math
import os
import sys
import traceback
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's C++ start-up chatter hides real errors

import click

from tinyee import commands
from tinyee.commands.console import labelled, log
from tinyee.commands.demo import SHIPPED_CHECKPOINT
from tinyee.errors import TinyeeError
from tinyee.native_output import VERBOSE_ENV

DEFAULT_BOARD = "mps2-an386"
_state = {"debug": False}  # the hidden --debug: unexpected errors keep their traceback
DEFAULT_EXPORT = Path("build/demo/export")
KERNELS_OPTION = click.option(
    "--kernels", type=click.Choice(["optimized", "reference"]), default="optimized", show_default=True,
    help="optimized: GEMM/SIMD/table kernels, with DSP or Helium inner loops where the board's CPU has them; "
         "reference: the straightforward TFLite-Micro-style kernels (same results bit for bit).")
BOARD_OPTION = click.option("--board", "board_name", default=DEFAULT_BOARD, show_default=True,
                            help="Board name (boards/*.json) or a board JSON file.")
PORT_OPTION = click.option("--port", help="Serial port of a running board (device path, socket://, rfc2217://); "
                                          "default: start the emulated board in QEMU.")
FLASH_TOOLS = ["pyocd", "openocd", "jlink"]
JSON_OPTION = click.option("--json", "json_out", is_flag=False, flag_value="-", default=None, metavar="[FILE]",
                           help="The result as one JSON document on stdout (tables go to stderr), or in FILE.")


class Finite(click.FloatRange):
    """A float option in a range; NaN and infinity are refused (they pass FloatRange's comparisons)."""

    def convert(self, value, param, ctx):
        value = super().convert(value, param, ctx)
        if not math.isfinite(value):
            self.fail(f"{value} is not a finite number", param, ctx)
        return value


SAMPLES = click.IntRange(min=1)
COUNT = click.IntRange(min=0)
FRACTION = Finite(min=0.0, max=1.0)
POSITIVE = Finite(min=0.0, min_open=True)
DATA_OPTION = click.option(
    "--data", help="'shipped', a dataset folder (IDX, CIFAR-10, image folder) or a .npz from data-subset; its test split "
                   "(default: the data set the export was calibrated on).")


@click.group()
@click.version_option(package_name="tinyee")
@click.option("--verbose", is_flag=True, help="Pass TensorFlow's and the other native libraries' own output through.")
@click.option("--quiet", is_flag=True, help="Only results and errors: no progress or messages on stderr.")
@click.option("--debug", is_flag=True, hidden=True, help="Show the traceback of an unexpected error.")
def cli(verbose, quiet, debug):
    """tinyee: early-exit MobileViT models from PyTorch to int8 microcontroller firmware.

    Results go to stdout, messages and progress to stderr. Exit codes: 0 done, 1 error, 2 usage,
    3 the model does not fit the board, 4 the board disagreed with the host or lost samples."""
    if verbose:
        os.environ[VERBOSE_ENV] = "1"
    log.quiet = quiet
    _state["debug"] = debug


@cli.command()
@click.option("--data", "data_dir", required=True, type=click.Path(path_type=Path),
              help="Dataset directory (IDX, CIFAR-10 python/binary, or image folder).")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Run directory for checkpoints.")
@click.option("--preset", default="mcu", show_default=True, help="Model preset (mcu, small).")
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="Model config JSON (overrides --preset).")
@click.option("--epochs", type=SAMPLES, default=10, show_default=True)
@click.option("--batch-size", type=SAMPLES, default=128, show_default=True)
@click.option("--lr", type=POSITIVE, default=3e-3, show_default=True)
@click.option("--exit-weights", help="Loss weight per exit, e.g. 1,1,1 (default: equal).")
@click.option("--in-channels", type=click.IntRange(1, 4), default=3, show_default=True, help="Model input channels (grayscale is repeated).")
@click.option("--exit-heads", help="Head per exit, e.g. bof,slvit,linear (linear, slvit, bof, hbof, latent).")
@click.option("--latent", help="Dynamic-Perceiver latent branch for `latent` exits: TOKENSxDIM[xHEADS] "
                               "(default 8x32x2).")
@click.option("--experts", type=click.IntRange(min=2), default=None,
              help="Per-token mixture of this many expert MLPs in every transformer layer, sharing out its "
                   "hidden units (top-1 routing, load-balancing loss); with --init, the checkpoint's MLPs are split.")
@click.option("--init", "init_ckpt", type=click.Path(path_type=Path), help="Start from this checkpoint (fine-tuning).")
@click.option("--freeze-backbone", is_flag=True, help="Train only the intermediate exit heads.")
@click.option("--distill", type=FRACTION, default=0.0, show_default=True,
              help="Copycat weight: intermediate exits imitate the final exit (1: labels unused).")
@click.option("--temperature", type=POSITIVE, default=3.0, show_default=True, help="Softening temperature for --distill.")
@click.option("--limit", type=SAMPLES, help="Use only the first N training images.")
@click.option("--seed", type=COUNT, default=0, show_default=True)
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda", "mps"]), default="auto", show_default=True,
              help="Where to train (auto: a CUDA GPU, else an Apple GPU, else the CPU); under torchrun, "
                   "cuda means one GPU per process (LOCAL_RANK).")
@click.option("--amp/--no-amp", default=None, help="Mixed precision (default: on for CUDA GPUs: bfloat16, or float16 "
              "with loss scaling).")
@click.option("--stream", is_flag=True, help="Decode images as they are needed (large data sets) instead of "
              "holding the set in memory.")
@click.option("--workers", type=click.IntRange(0, 64), default=None,
              help="DataLoader worker processes [default: 2 with --stream, else 0].")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last.pt (same settings); "
              "starts afresh when there is none yet.")
@click.option("--label-smoothing", type=Finite(min=0.0, max=0.999), default=0.0, show_default=True)
@click.option("--ema", type=Finite(min=0.0, max=0.99999), default=0.0, show_default=True,
              help="Decay of an exponential moving average of the weights, which is what the run keeps (0: off).")
@click.option("--mixup", type=Finite(min=0.0, max=10.0), default=0.0, show_default=True,
              help="Mixup's Beta(alpha, alpha) (0: off).")
@click.option("--cutmix", type=Finite(min=0.0, max=10.0), default=0.0, show_default=True,
              help="CutMix's Beta(alpha, alpha) (0: off; with --mixup, one of the two per batch).")
@click.option("--teacher", type=click.Path(path_type=Path),
              help="A checkpoint (e.g. of a larger preset) whose final exit every exit also imitates.")
@click.option("--teacher-weight", type=FRACTION, default=0.5, show_default=True)
@click.option("--qat", is_flag=True, help="Quantization-aware fine-tuning: train through fake int8 quantization "
              "matching the export (per-channel weights, per-tensor activations); e.g. --init CKPT --epochs 3 "
              "--lr 3e-4. The checkpoint keeps float weights; export them as usual.")
def train(**options):
    """Train the exits on a real dataset: jointly, or fine-tune exits of a checkpoint (frozen backbone, copycat).

    \b
    On N GPUs of one node:  torchrun --standalone --nproc-per-node N -m tinyee train --device cuda ...
    On M nodes:             torchrun --nnodes M --nproc-per-node N --rdzv-backend c10d \\
                              --rdzv-endpoint HOST:29400 -m tinyee train --device cuda ...
    --batch-size is the global batch, shared out among the processes."""
    commands.train.run(**options)


@cli.command()
@click.option("--data", "data_dir", required=True, type=click.Path(path_type=Path), help="Dataset directory (any layout).")
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Folder for the shards and shards.json.")
@click.option("--shard-size", type=SAMPLES, default=5000, show_default=True, help="Samples per tar shard.")
def shards(data_dir, out, shard_size):
    """Write a data set as tar shards (WebDataset layout) that `--data` reads and `train --stream` streams."""
    commands.shards.run(data_dir, out, shard_size)


@cli.command()
@click.option("--checkpoint", type=click.Path(path_type=Path), default=SHIPPED_CHECKPOINT, show_default=True)
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Export directory.")
@click.option("--rep-data", default="shipped", show_default=True,
              help="'shipped' or a dataset directory (its training split) for int8 calibration.")
@click.option("--rep-samples", type=SAMPLES, help="Use only the first N representative images.")
@click.option("--thresholds", help="Exit thresholds: one value or one per intermediate exit (default 0.9).")
@click.option("--criterion", type=click.Choice(["max_softmax", "entropy"]), default="max_softmax", show_default=True,
              help="Exit rule: max softmax >= threshold, or entropy (nats) <= threshold.")
@click.option("--ranges", help="Activation range estimator of the int8 calibration: minmax (the converter's; the "
              "default), percentile[:P] (each tensor clipped to its P-th percentile values at both ends, default "
              "99.99; the default for a --qat checkpoint), or mse (the clipped range with the least squared int8 "
              "error on the calibration values).")
def export(checkpoint, out, rep_data, rep_samples, thresholds, criterion, ranges):
    """Export one full-integer int8 TFLite model per exit segment."""
    commands.export.run(checkpoint, out, rep_data, rep_samples, thresholds, criterion, ranges)


@cli.command(name="eval")
@click.option("--export", "export_dir", type=click.Path(path_type=Path), required=True)
@click.option("--checkpoint", type=click.Path(path_type=Path), help="Float model (default: the exported one).")
@DATA_OPTION
@click.option("--samples", type=SAMPLES, help="Evaluate only the first N images.")
@click.option("--thresholds", help="Override the manifest's exit thresholds.")
@click.option("--runtime", "runtimes", default="tflm,litert", show_default=True,
              help="int8 runtimes; the first is the reference the cascade uses.")
@JSON_OPTION
def eval_cmd(**options):
    """Run the int8 cascade on the host (TFLite Micro reference) beside the float model."""
    commands.evaluate.run(**options)


@cli.command(name="import")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Export directory to write.")
@click.option("--thresholds", help="Cascades: exit thresholds, one value or one per intermediate exit (default 0.9).")
@click.option("--criterion", type=click.Choice(["max_softmax", "entropy"]), default="max_softmax", show_default=True)
@click.option("--classes", help="Class names in label order: comma-separated, or a file with one per line.")
@click.option("--pixel-scale", type=POSITIVE, default=1 / 255, show_default=True,
              help="Image models: the float input is uint8 pixel x this (e.g. 1 for models fed 0..255).")
def import_cmd(files, out, thresholds, criterion, classes, pixel_scale):
    """Import int8 .tflite models tinyee did not export: one file, or several that form a cascade."""
    commands.import_model.run(files, out, thresholds, criterion, classes, pixel_scale)


@cli.command()
@BOARD_OPTION
@click.option("--export", "export_dir", type=click.Path(path_type=Path),
              help="Export directory (default: export the shipped checkpoint into OUT/export).")
@click.option("--out", type=click.Path(path_type=Path), help="Build directory (default: build/<board>).")
@click.option("--opt", type=click.Choice(["-O2", "-Os", "-O3"]), default="-O2", show_default=True)
@click.option("--profile-ops", is_flag=True, help="Compile in per-kernel-call tick counters (as tinyee profile does).")
@KERNELS_OPTION
@JSON_OPTION
def build(board_name, export_dir, out, opt, profile_ops, kernels, json_out):
    """Compile the int8 segments to C and build the benchmark firmware (library + UART harness) for a board."""
    out = out or Path("build") / Path(board_name).stem
    if export_dir is None:
        export_dir = out / "export"
        commands.export.run(SHIPPED_CHECKPOINT, export_dir, "shipped", None, None)
    commands.build.run(export_dir, board_name, out, opt, kernels, profile_ops, json_out)


@cli.command()
@click.option("--export", "export_dir", type=click.Path(path_type=Path), default=DEFAULT_EXPORT, show_default=True)
@BOARD_OPTION
@KERNELS_OPTION
@JSON_OPTION
def analyze(export_dir, board_name, kernels, json_out):
    """Per layer: kernel and inner-loop path, shapes, MACs, constant bytes, arena placement, lifetime, scratch."""
    commands.analyze.run(export_dir, board_name, kernels, json_out)


@cli.command()
@JSON_OPTION
def boards(json_out):
    """List the boards: CPU, clock, flash and RAM, emulated or real and how each is flashed."""
    commands.boards.run(json_out)


@cli.command()
@click.option("--export", "export_dir", type=click.Path(path_type=Path), default=DEFAULT_EXPORT, show_default=True)
@BOARD_OPTION
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Folder for the library.")
@KERNELS_OPTION
def generate(export_dir, board_name, out, kernels):
    """Generate a self-contained C library of the cascade (header, sources, example, Makefile/SCons fragments)."""
    commands.generate.run(export_dir, board_name, out, kernels)


@cli.command()
@BOARD_OPTION
@click.option("--export", "export_dir", type=click.Path(path_type=Path), default=DEFAULT_EXPORT, show_default=True)
@click.option("--elf", type=click.Path(path_type=Path), help="Firmware image (default: build it).")
@PORT_OPTION
@click.option("--flash", is_flag=True, help="With --port: build (or take --elf) and flash the board first.")
@DATA_OPTION
@click.option("--samples", type=SAMPLES, default=200, show_default=True)
@click.option("--force-samples", type=COUNT, default=20, show_default=True,
              help="On this many samples, also force every exit to time it (0: off).")
@click.option("--out", type=click.Path(path_type=Path), help="Results folder (default: build/bench/<board>).")
@click.option("--resume", is_flag=True, help="Continue an interrupted run from its results.jsonl.")
@click.option("--timeout", type=Finite(min=0.1, max=3600), default=10.0, show_default=True,
              help="Seconds to wait for each answer.")
@click.option("--farm", "farm_file", type=click.Path(path_type=Path),
              help="Bench every board of a farm file at once (TOML [[board]] entries: board, port, name, flash, elf) "
                   "instead of --board; results in --out/<name>/ and --out/farm-summary.json.")
@KERNELS_OPTION
@JSON_OPTION
def bench(board_name, export_dir, elf, port, flash, data, samples, force_samples, out, resume, timeout, farm_file,
          kernels, json_out):
    """Stream inputs to a board, record exits and per-exit ticks, compare with the host int8 cascade."""
    if farm_file is not None:
        given = [opt for opt, value in (("--port", port), ("--elf", elf), ("--flash", flash),
                                        ("--board", board_name != DEFAULT_BOARD)) if value]
        if given:
            raise click.UsageError(f"--farm takes boards, ports and images from the farm file, not {given[0]}")
        commands.farm.run(farm_file, export_dir, data, samples, force_samples, out or Path("build/bench/farm"),
                          resume, timeout, kernels, json_out)
        return
    commands.bench.run(board_name, export_dir, elf, port, flash, data, samples, force_samples,
                       out or Path("build/bench") / Path(board_name).stem, resume, timeout, kernels, json_out)


@cli.command()
@BOARD_OPTION
@click.option("--export", "export_dir", type=click.Path(path_type=Path), default=DEFAULT_EXPORT, show_default=True)
@PORT_OPTION
@click.option("--data", help="As for bench, or 'random' (random int8 inputs; the default for models without image "
                             "input).")
@click.option("--samples", type=SAMPLES, default=3, show_default=True, help="Inputs; each op's median is reported.")
@click.option("--out", type=click.Path(path_type=Path), help="Results folder (default: build/profile/<board>-<kernels>).")
@KERNELS_OPTION
@JSON_OPTION
def profile(board_name, export_dir, port, data, samples, out, kernels, json_out):
    """Time every kernel call of the cascade on a board (all segments run) and write profile.json."""
    commands.profile.run(board_name, export_dir, port, data, samples,
                         out or Path("build/profile") / f"{Path(board_name).stem}-{kernels}", kernels, json_out)


@cli.command()
@BOARD_OPTION
@click.option("--export", "export_dir", type=click.Path(path_type=Path), default=DEFAULT_EXPORT, show_default=True)
@PORT_OPTION
@click.option("--flash", is_flag=True, help="With --port: build and flash the board first.")
@click.option("--data", help="As for bench, or 'random' (random int8 inputs; the default for models without image "
                             "input).")
@click.option("--samples", type=SAMPLES, default=50, show_default=True)
@click.option("--tensor-samples", type=COUNT, default=3, show_default=True,
              help="Samples whose every exit softmax is read back from the arena and compared byte for byte.")
@click.option("--out", type=click.Path(path_type=Path), help="Report folder (default: build/validate/<board>).")
@KERNELS_OPTION
@JSON_OPTION
def validate(board_name, export_dir, port, flash, data, samples, tensor_samples, out, kernels, json_out):
    """Run samples on the board and on the host: per-exit accuracy, agreement, exit tensors byte for byte."""
    commands.validate.run(export_dir, board_name, port, flash, data, samples, tensor_samples,
                          out or Path("build/validate") / Path(board_name).stem, kernels, json_out)


@cli.command()
@BOARD_OPTION
@click.option("--elf", type=click.Path(path_type=Path), required=True)
@click.option("--tool", type=click.Choice(FLASH_TOOLS), help="Probe tool (default: the board file's).")
@click.option("--dry-run", is_flag=True, help="Print the command instead of running it.")
def flash(board_name, elf, tool, dry_run):
    """Flash a firmware image: pyOCD/OpenOCD/J-Link for real boards; emulated boards start QEMU and wait."""
    commands.flash.run(board_name, elf, tool, dry_run)


@cli.command()
@click.option("--out", type=click.Path(path_type=Path), default=Path("build/demo"), show_default=True)
@click.option("--board", "board_name", default="mps2-an386", show_default=True, help="An emulated board.")
@click.option("--samples", type=SAMPLES, default=200, show_default=True, help="Images benchmarked on the board.")
def demo(out, board_name, samples):
    """The whole mission on an emulated board: shipped model -> int8 export -> host eval -> firmware -> QEMU bench."""
    commands.demo.run(out, board_name, samples)


@cli.command()
@click.option("--export", "export_dir", type=click.Path(path_type=Path), default=Path("build/demo/export"),
              show_default=True)
@click.option("--mode", type=click.Choice(["alpha", "budget", "target"]), required=True)
@click.option("--alpha", type=Finite(min=0.0, max=2.0), default=0.9, show_default=True, help="alpha mode: fraction of each exit's mean training confidence.")
@click.option("--budget", type=Finite(min=0.0, max=1.0, min_open=True), default=0.5, show_default=True, help="budget mode: average cost as a fraction of the full model.")
@click.option("--max-drop", type=FRACTION, default=0.01, show_default=True, help="target mode: accuracy drop allowed below the final exit.")
@click.option("--cost", default="macs", show_default=True,
              help="'macs', or a bench summary.json for latency-aware calibration with measured per-exit ticks.")
@DATA_OPTION
@click.option("--calib-samples", type=SAMPLES, default=1000, show_default=True,
              help="Test images used to calibrate; the rest are the held-out report.")
@click.option("--criterion", type=click.Choice(["max_softmax", "entropy"]),
              help="Exit rule to calibrate (default: the export's).")
@click.option("--apply", is_flag=True, help="Write the thresholds into the export's manifest (build picks them up).")
@click.option("--out", type=click.Path(path_type=Path), help="Report folder (default: EXPORT/calibration).")
@JSON_OPTION
def calibrate(export_dir, data, mode, alpha, budget, max_drop, cost, criterion, calib_samples, apply, out, json_out):
    """Calibrate exit thresholds on the host int8 cascade (alpha rule, compute budget, target accuracy, latency-aware)."""
    commands.calibrate.run(export_dir, data, mode, alpha, budget, max_drop, cost, criterion, calib_samples, apply, out,
                           json_out)


@cli.command(name="data-subset")
@click.option("--source", type=click.Path(path_type=Path), default=Path("/usr/share/datasets/fashion-mnist"),
              show_default=True)
@click.option("--out", type=click.Path(path_type=Path), required=True)
@click.option("--rep", type=SAMPLES, default=500, show_default=True, help="Images from the training split (int8 calibration).")
@click.option("--eval", "eval_", type=SAMPLES, default=2000, show_default=True, help="Images from the test split (evaluation).")
@click.option("--seed", type=COUNT, default=0, show_default=True)
def data_subset(source, out, rep, eval_, seed):
    """Write a class-balanced real subset like the one shipped in calibration/."""
    commands.data_subset.run(source, out, rep, eval_, seed)


def main() -> None:
    try:
        cli.main(standalone_mode=False)
    except (click.exceptions.Abort, KeyboardInterrupt):
        log.print(labelled("aborted", "red", ""))
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except TinyeeError as e:
        log.print(labelled("error:", "red", str(e)))
        sys.exit(e.exit_code)
    except OSError as e:  # a file or device the user named: say which and why
        if _state["debug"]:
            raise
        where = f"{e.filename}: " if e.filename else ""
        log.print(labelled("error:", "red", where + (e.strerror or str(e))))
        sys.exit(1)
    except Exception as e:  # a bug, not bad input: one line, and the traceback under --debug
        if _state["debug"]:
            raise
        frame = traceback.extract_tb(e.__traceback__)[-1]
        log.print(labelled("internal error:", "red", f"{type(e).__name__}: {e} "
                  f"(at {Path(frame.filename).name}:{frame.lineno}; run with --debug for the traceback and please "
                  "report it)"))
        sys.exit(70)
