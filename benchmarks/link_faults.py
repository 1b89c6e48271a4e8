"""The serial protocol under line noise: samples completed, retried, lost and wrong-accepted against the
rate at which bytes are damaged, in both directions.

    .venv/bin/python benchmarks/link_faults.py [--samples 100] [--qemu]

Each byte either way is, with probability `rate`, dropped or replaced by another value (half and
half; tests/faults.py). The board is the firmware's software twin (tests/twin.py: the harness's
own C built for the host, bit-exact with the host cascade, 1000 ticks per segment), and with
--qemu also the emulated mps2-an386. A sample is wrong-accepted when the bench recorded an
exit, class or tick count that is not the firmware's. Forced exits are timed on the first
samples as `tinyee bench` does by default.

Writes benchmarks/results/link_faults.json and benchmarks/results/link_faults.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import serial

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from faults import FaultyPort  # noqa: E402
from twin import Twin, build_twin  # noqa: E402
from tinyee.bench import BenchPlan, read_results, run_bench  # noqa: E402
from tinyee.boards import load_board  # noqa: E402
from tinyee.cascade import cascade  # noqa: E402
from tinyee.compile import compile_export  # noqa: E402
from tinyee.compile.firmware import build_firmware  # noqa: E402
from tinyee.commands.demo import SHIPPED_CHECKPOINT  # noqa: E402
from tinyee.data import load_shipped  # noqa: E402
from tinyee.device import DeviceError, DeviceLink  # noqa: E402
from tinyee.eval.evaluate import int8_exit_probs, quantized_inputs  # noqa: E402
from tinyee.export import export_checkpoint  # noqa: E402
from tinyee.targets import QemuTarget  # noqa: E402
from results_files import save  # noqa: E402

RATES = (0.0, 0.001, 0.005, 0.01, 0.02, 0.05, 0.10)


def measure(link: DeviceLink, plan: BenchPlan, out: Path, exact_ticks: bool) -> dict:
    start = time.monotonic()
    try:
        run_bench(link, plan, out)
        ended = ""
    except DeviceError as e:  # three samples lost in a row end a run, as in `tinyee bench`
        ended = str(e).split(";")[0]
    records = read_results(out / "results.jsonl")
    wrong = [r["sample"] for r in records if "error" not in r and (
        (r["exit"], r["cls"]) != (plan.host_exit[r["sample"]], plan.host_class[r["sample"]])
        or exact_ticks and (r["ticks"] != [1000] * (r["exit"] + 1)
                            or any(t != [1000] * (k + 1) for k, t in enumerate(r.get("forced_ticks", [])))))]
    lost = [r for r in records if "error" in r]
    return {"samples": len(plan.inputs_q), "completed": len(records) - len(lost), "lost": len(lost),
            "not_run": len(plan.inputs_q) - len(records), "run_ended": ended,
            "wrong_accepted": len(wrong), "damaged_bytes": link.port.hit, "seconds": round(time.monotonic() - start, 1),
            **link.stats()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--samples", type=int, default=100)
    p.add_argument("--qemu", action="store_true", help="also measure the emulated board at 1%%")
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tinyee-link-"))
    manifest = export_checkpoint(SHIPPED_CHECKPOINT, load_shipped("rep"), work / "export")
    data = load_shipped("eval").take(args.samples)
    inputs = quantized_inputs(manifest, data)
    host_exit, host_class = cascade(int8_exit_probs(work / "export", manifest, inputs, "tflm", progress=False),
                                    manifest.thresholds)
    plan = BenchPlan(manifest.model_id, "twin", inputs, data.labels, host_exit, host_class, manifest.num_exits, 5)
    segments = compile_export(work / "export", manifest, work / "src")
    binary = build_twin(work / "src", segments, work / "twin")
    rows = []
    for rate in RATES:
        twin = Twin(binary)
        port = FaultyPort(serial.serial_for_url(twin.url, timeout=0.2), rate=rate, seed=int(rate * 1e4))
        link = DeviceLink(port, timeout=5.0, quick_timeout=0.2)
        link.wait_ready()
        n = len(inputs) if rate < 0.1 else min(len(inputs), 20)  # ~25 s a sample at 10%
        rows.append({"board": "twin", "rate": rate, **measure(link, plan.take(n), work / f"twin-{rate}", True)})
        twin.close()
        print(rows[-1], flush=True)
    if args.qemu:
        board = load_board("mps2-an386")
        image = build_firmware(work / "export", manifest, board, work / "fw")
        qemu_plan = BenchPlan(manifest.model_id, board.name, inputs[:20], data.labels[:20], host_exit[:20],
                              host_class[:20], manifest.num_exits, 2)
        with QemuTarget(board) as qemu:
            link = qemu.connect(image.elf)
            link.port = FaultyPort(link.port, rate=0.01, seed=1)
            rows.append({"board": board.name, "rate": 0.01, **measure(link, qemu_plan, work / "qemu", False)})
        print(rows[-1], flush=True)
    lines = ["| board | byte damage/drop rate (each way) | samples | completed | lost | not run | wrong accepted | "
             "commands resent | damaged frames | unanswered tries | damaged bytes | seconds |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['board']} | {100 * r['rate']:g}% | {r['samples']} | {r['completed']} | {r['lost']} | "
                     f"{r['not_run']} | "
                     f"{r['wrong_accepted']} | {r['retries']:,} | {r['damaged_frames']:,} | {r['silent_tries']:,} | "
                     f"{r['damaged_bytes']:,} | {r['seconds']} |")
    lines += [f"\n{r['board']} at {100 * r['rate']:g}%: {r['run_ended']}" for r in rows if r["run_ended"]]
    save("link_faults", rows, "\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
