"""Time to the first batch and epoch time of `tinyee train` on a 50,000-image folder, in memory against
streamed (image folder, and the same images as tar shards), on this machine's cores.

    .venv/bin/python benchmarks/data_loading.py [--folder /tmp/tinyee-50k] [--epochs 1]

The folder is built once from Debian's Fashion-MNIST (the first 50,000 training images as 32x32 RGB
JPEGs, CIFAR-10's size and layout: train/<class>/*.jpg; test/ holds 1,000 test images), so the numbers
are reproducible without a download. Each variant is a fresh `tinyee train` process (mcu preset,
batch 128), the last one two torchrun processes (DDP over gloo); the first batch is timed from the
start of the process, as a user waits for it.
Writes benchmarks/results/data_loading.{json,md}. About 25 minutes on 2 cores.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from tinyee.data import FASHION_MNIST_DIR, load_dataset
from results_files import save

TRAIN_IMAGES, TEST_IMAGES = 50_000, 1_000
FIRST_BATCH = "first batch ready"


def build_folder(root: Path) -> None:
    from PIL import Image

    if (root / "done").is_file():
        return
    for split, n in (("train", TRAIN_IMAGES), ("test", TEST_IMAGES)):
        data = load_dataset(FASHION_MNIST_DIR, split).take(n)
        for i, (img, label) in enumerate(zip(data.images, data.labels)):
            folder = root / split / f"{label:02d}-{data.classes[label].replace('/', '-')}"
            folder.mkdir(parents=True, exist_ok=True)
            rgb = np.repeat(np.pad(img, ((2, 2), (2, 2), (0, 0))), 3, axis=2)
            Image.fromarray(rgb).save(folder / f"{i:05d}.jpg", quality=90)
    (root / "done").write_text("")


def run(name: str, data: Path, out: Path, epochs: int, extra: list[str], processes: int = 1) -> dict:
    launcher = [sys.executable, "-m", "tinyee"] if processes == 1 else [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", str(processes), "-m", "tinyee"]
    cmd = [*launcher, "train", "--data", str(data), "--out", str(out / name), "--epochs", str(epochs),
           "--batch-size", "128", "--device", "cpu", *extra]
    start, first, tail = time.time(), None, []
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:  # the line appears when training has its first batch in hand
        if first is None and FIRST_BATCH in line:
            first = time.time() - start
        tail = (tail + [line])[-30:]
    _, status, usage = os.wait4(proc.pid, 0)  # the peak resident memory of the largest process it waited for
    total = time.time() - start
    if status:
        raise SystemExit(f"{name} failed:\n{''.join(tail)}")
    history = json.loads((out / name / "history.json").read_text())
    return {"variant": name, "args": extra, "first_batch_s": first,
            "epoch_s": [h["seconds"] for h in history], "process_s": total, "peak_rss_mb": usage.ru_maxrss / 1024,
            "final_exit_accuracy": history[-1]["test_accuracy"][-1]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folder", type=Path, default=Path("/tmp/tinyee-50k"))
    ap.add_argument("--epochs", type=int, default=1)
    args = ap.parse_args()
    t0 = time.time()
    build_folder(args.folder)
    print(f"folder ready ({time.time() - t0:.0f} s)", flush=True)
    out = args.folder.parent / f"{args.folder.name}-runs"
    shards = args.folder.parent / f"{args.folder.name}-shards"
    shutil.rmtree(shards, ignore_errors=True)
    t0 = time.time()
    subprocess.run([sys.executable, "-m", "tinyee", "shards", "--data", str(args.folder), "--out", str(shards),
                    "--shard-size", "5000"], check=True, capture_output=True)
    shard_seconds = time.time() - t0
    rows = []
    for name, data, extra, processes in (
            ("in-memory", args.folder, [], 1),
            ("stream-folder-2-workers", args.folder, ["--stream", "--workers", "2"], 1),
            ("stream-folder-1-worker", args.folder, ["--stream", "--workers", "1"], 1),
            ("stream-shards-2-workers", shards, ["--stream", "--workers", "2"], 1),
            ("torchrun-2-processes-stream-shards-1-worker", shards, ["--stream", "--workers", "1"], 2)):
        rows.append(run(name, data, out, args.epochs, extra, processes))
        print(json.dumps(rows[-1]), flush=True)
    doc = {"images": TRAIN_IMAGES, "format": "32x32 RGB JPEG image folder", "cores": os.cpu_count(),
           "epochs": args.epochs, "preset": "mcu", "batch_size": 128, "write_shards_s": shard_seconds, "rows": rows}
    lines = ["| variant | time to first batch | epoch time | whole process | peak memory (largest process) | "
             "final exit, test |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['variant']} | {r['first_batch_s']:.1f} s | {np.mean(r['epoch_s']):.0f} s | "
                     f"{r['process_s']:.0f} s | {r['peak_rss_mb']:,.0f} MB | {100 * r['final_exit_accuracy']:.1f}% |")
    print(save("data_loading", doc, "\n".join(lines) + "\n"))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
