"""A large fuzzing batch: mutants of the shipped segments and of MLPerf Tiny's IC and KWS models through
what tinyee does with a user's model (tests/fuzz.py: read and lower in this process, then the optimised
compiler and both host interpreters in a child process), counted as refused, ran and escaped (an
exception other than tinyee's own error, or a native crash). Goal: 0 escaped.

    .venv/bin/python benchmarks/fuzz.py [--mutants 10000] [--seed 2027]

Writes benchmarks/results/fuzz.json and benchmarks/results/fuzz.md (the escapes' files are kept under
build/fuzz/escaped to reproduce them).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
import traceback
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from fuzz import deep_outcomes, mutate, read_and_lower  # noqa: E402
from results_files import save  # noqa: E402
from tinyee.commands.demo import SHIPPED_CHECKPOINT  # noqa: E402
from tinyee.export import export_checkpoint  # noqa: E402
from tinyee.data import load_shipped  # noqa: E402

WORK = ROOT / "build" / "fuzz"
CHUNK = 200  # mutants per child process of the deep check


def originals() -> list[bytes]:
    export = WORK / "export"
    if not (export / "manifest.json").exists():
        export_checkpoint(SHIPPED_CHECKPOINT, load_shipped("rep"), export)
    segments = sorted(export.glob("segment*.tflite"))
    vendored = sorted((ROOT / "models" / "mlperf-tiny").glob("*.tflite"))
    return [p.read_bytes() for p in [*segments, *vendored]]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mutants", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=2027)
    args = ap.parse_args()
    sources = originals()
    rng = np.random.default_rng(args.seed)
    shutil.rmtree(WORK / "mutants", ignore_errors=True)
    (WORK / "mutants").mkdir(parents=True)
    escaped_dir = WORK / "escaped"
    shutil.rmtree(escaped_dir, ignore_errors=True)
    escaped_dir.mkdir()
    start = time.time()
    read, escapes, outcome = [], [], Counter()
    for n in range(args.mutants):
        data = mutate(sources[n % len(sources)], rng)
        if data in sources:
            continue
        path = WORK / "mutants" / f"mutant{n}.tflite"
        try:
            result = read_and_lower(data)
        except Exception as e:  # an escape: kept to reproduce
            path.write_bytes(data)
            shutil.copy2(path, escaped_dir)
            escapes.append({"mutant": path.name, "stage": "read and lower",
                            "error": traceback.format_exception_only(e)[-1].strip()})
            outcome["escaped"] += 1
            continue
        if result == "refused":
            outcome["refused"] += 1
        else:
            path.write_bytes(data)
            read.append(path)
    read_seconds = time.time() - start
    for k in range(0, len(read), CHUNK):
        chunk = read[k:k + CHUNK]
        for path, found in zip(chunk, deep_outcomes(chunk, timeout=3600)):
            outcome[found] += 1
            if found == "escaped":
                shutil.copy2(path, escaped_dir)
                escapes.append({"mutant": path.name, "stage": "compile or interpreters"})
        print(f"{min(k + CHUNK, len(read))}/{len(read)} deep-checked: {dict(outcome)}", file=sys.stderr, flush=True)
    doc = {"mutants": sum(outcome.values()), "seed": args.seed, "refused": outcome["refused"], "ran": outcome["ran"],
           "escaped": outcome["escaped"], "passed_reading": len(read), "escapes": escapes,
           "seconds": {"read_and_lower": round(read_seconds, 1), "total": round(time.time() - start, 1)}}
    md = (f"# Fuzzing batch\n\n{doc['mutants']:,} mutants (seed {args.seed}) of the shipped segments and MLPerf Tiny's "
          f"IC and KWS models: **{doc['refused']:,} refused, {doc['ran']:,} ran, {doc['escaped']} escaped**; "
          f"{len(read):,} passed reading and lowering and went on through the optimised compiler and both host "
          f"interpreters. {doc['seconds']['total']:,.0f} s on this machine.\n")
    save("fuzz", doc, md)
    print(md)


if __name__ == "__main__":
    main()
