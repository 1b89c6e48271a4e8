"""Per-board numbers of the shipped model: flash, RAM, arena, and ticks to each exit on every
emulated board (QEMU -icount shift=0: instruction-based, not time).

    .venv/bin/python benchmarks/boards.py [--samples 20]

Writes benchmarks/results/boards.json (and each board's bench folder next to it).
"""

import argparse
import json
import subprocess
import sys
from pathlib import Path

from tinyee.boards import list_boards, load_board
from tinyee.compile.firmware import build_firmware
from tinyee.manifest import Manifest
from results_files import RESULTS, save

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--export", type=Path, default=ROOT / "build" / "demo" / "export")
    ap.add_argument("--samples", type=int, default=20)
    args = ap.parse_args()
    if not (args.export / "manifest.json").is_file():
        subprocess.run([sys.executable, "-m", "tinyee", "export", "--out", str(args.export)], check=True)
    manifest = Manifest.load(args.export)
    rows = []
    for name in list_boards():
        board = load_board(name)
        image = build_firmware(args.export, manifest, board, ROOT / "build" / "boards" / name)
        row = {"board": name, "emulated": board.emulated, "flash_bytes": image.flash_bytes,
               "flash_limit": board.flash_bytes, "ram_bytes": image.ram_bytes, "ram_limit": board.ram_bytes,
               "arena_bytes": image.arena_bytes, "weights_bytes": image.weights_bytes}
        if board.emulated:
            out = RESULTS / name
            subprocess.run([sys.executable, "-m", "tinyee", "bench", "--board", name, "--export", str(args.export),
                            "--elf", str(image.elf), "--samples", str(args.samples), "--force-samples",
                            str(args.samples), "--out", str(out)], check=True)
            summary = json.loads((out / "summary.json").read_text())
            row["ticks_to_exit_median"] = [r["ticks"]["median"] for r in summary["per_exit"]]
            row["emulated_instructions_to_exit_median"] = [r["emulated_instructions"]["median"] for r in summary["per_exit"]]
            row["host_agreement"] = summary["host_agreement"]
        rows.append(row)
    result = {"model_id": manifest.model_id, "samples": args.samples, "boards": rows}
    save("boards", result)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
