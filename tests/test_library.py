"""`tinyee generate`: the C library a product links, checked through its own API against the
tflite-micro interpreter's cascade, and cross-built for every board without the harness."""

import re
import subprocess
import sys

import numpy as np
import pytest

from tinyee.boards import list_boards, load_board
from tinyee.cascade import NEVER, cascade, scores
from tinyee.compile.library import generate_library
from tinyee.compile.native import NativeLibrary
from tinyee.data import load_shipped
from tinyee.eval.evaluate import int8_exit_probs, quantized_inputs


@pytest.fixture(scope="module")
def library(shipped_export, tmp_path_factory):
    out_dir, manifest, _ = shipped_export
    return generate_library(out_dir, manifest, load_board("mps2-an386"), tmp_path_factory.mktemp("lib") / "tinyee")


def test_library_holds_only_what_the_model_calls(library):
    files = {str(f) for f in library.files}
    assert {"include/tinyee_model.h", "src/tinyee_model.c", "src/tinyee_cascade.c",
            "README.md", "example/main.c", "tinyee.mk", "SConscript", "Makefile"} <= files
    assert not any("harness" in f or "uart" in f or "main.c" == f for f in files)
    assert [f for f in files if f.startswith("include/")] == ["include/tinyee_model.h"]
    header = (library.out / "include" / "tinyee_model.h").read_text()
    assert "int tinyee_cascade_run(const int8_t *input, tinyee_result *result);" in header
    for macro in ("TINYEE_INPUT_HEIGHT 32", "TINYEE_INPUT_CHANNELS 3", "TINYEE_NUM_EXITS 3", "TINYEE_NUM_CLASSES 10",
                  "TINYEE_INPUT_ZERO_POINT -128", "TINYEE_ARENA_SIZE", "TINYEE_MODEL_ID", "TINYEE_INPUT_SCALE"):
        assert f"#define {macro}" in header
    source = (library.out / "src" / "tinyee_model.c").read_text()
    called = set(re.findall(r"TEE_OP\(\d+, (tee_\w+)\(", source))
    defined = {name for f in (library.out / "src").glob("*.c") if f.name != "tinyee_model.c"
               for name in re.findall(r"^void (tee_\w+)\(", f.read_text(), re.M)}
    assert called <= defined
    # No AVERAGE_POOL_2D in the model, and its CONV_2D and LOGISTIC run as GEMM and lookup tables here.
    assert not {"tee_average_pool_s8", "tee_conv2d_s8", "tee_logistic_s8"} & defined


def test_native_library_matches_tflite_micro_cascade_on_every_shipped_image(library, shipped_export, tmp_path):
    """Exit, class, confidence and probabilities through tinyee_cascade_run, for all 2,000 shipped images."""
    out_dir, manifest, _ = shipped_export
    inputs = quantized_inputs(manifest, load_shipped("eval"))
    probs = int8_exit_probs(out_dir, manifest, inputs, "tflm", progress=False)
    want_exit, want_label = cascade(probs, manifest.thresholds)
    want_conf = scores(probs)[want_exit, np.arange(len(inputs))]
    native = NativeLibrary(library.out, tmp_path / "libtinyee.so")
    got = [native.cascade_run(x, 10) for x in inputs]
    assert len(got) == 2000
    assert [g[0] for g in got] == want_exit.tolist() and len(set(want_exit.tolist())) == 3
    assert [g[1] for g in got] == want_label.tolist()
    assert [g[2] for g in got] == want_conf.tolist()
    assert all((g[3] == probs[e, n]).all() for n, (g, e) in enumerate(zip(got, want_exit)))
    # Thresholds changed at run time: with every early exit off, each image runs to the final exit.
    for k in range(2):
        assert native.lib.tinyee_set_threshold(k, NEVER) == 0
    assert native.lib.tinyee_threshold(0) == NEVER and native.lib.tinyee_set_threshold(2, 0) == -1
    finals = [native.cascade_run(x, 10) for x in inputs[:50]]
    assert [f[0] for f in finals] == [2] * 50 and [f[1] for f in finals] == probs[2, :50].argmax(-1).tolist()
    native.lib.tinyee_reset_thresholds()
    assert native.lib.tinyee_threshold(0) == manifest.thresholds_q[0]


def test_example_builds_and_runs_natively(library, tmp_path):
    make = ["make", "-C", str(library.out), f"TINYEE_BUILD={tmp_path}", "CC=gcc", "AR=ar", "TARGET_FLAGS=",
            "LDFLAGS="]
    r = subprocess.run(make, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    run = subprocess.run([str(tmp_path / "example")], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0
    assert re.match(r"model [0-9a-f]{16}: exit [0-2] of 3, class \d, confidence -?\d+\n"
                    r"every early exit off: exit 2, class \d\n", run.stdout)


@pytest.mark.parametrize("name", list_boards())
def test_library_cross_builds_for_every_board_without_the_harness(shipped_export, tmp_path, name):
    """libtinyee.a with each board's flags (its size checked against the board), and the example linked
    against it with newlib's start-up: no board code, no UART, no harness."""
    out_dir, manifest, _ = shipped_export
    board = load_board(name)
    lib = generate_library(out_dir, manifest, board, tmp_path / "lib")
    assert 200_000 < lib.flash_bytes <= board.flash_bytes and 18_000 < lib.ram_bytes <= board.ram_bytes
    assert " ".join(board.cflags) in (lib.out / "Makefile").read_text()
    r = subprocess.run(["make", "-C", str(lib.out), f"TINYEE_BUILD={tmp_path / 'build'}"], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr[-2000:]
    size = subprocess.run(["arm-none-eabi-size", str(tmp_path / "build" / "example")], capture_output=True,
                          text=True, check=True).stdout
    text, data, bss = (int(v) for v in size.splitlines()[1].split()[:3])
    assert text > 200_000 and bss >= lib.segments[0].plan.size


def test_generate_command(shipped_export, tmp_path):
    out_dir, manifest, _ = shipped_export
    r = subprocess.run([sys.executable, "-m", "tinyee", "generate", "--export", str(out_dir), "--board", "netduinoplus2",
                        "--out", str(tmp_path / "lib")], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert f"model {manifest.model_id} for netduinoplus2" in r.stdout and "of 131,072 bytes" in r.stdout
    readme = (tmp_path / "lib" / "README.md").read_text()
    assert "netduinoplus2" in readme and "TINYEE_ARENA_SIZE` = 18,560 bytes" in readme and not re.search(r"\$[a-z_]+", readme)
    r = subprocess.run([sys.executable, "-m", "tinyee", "generate", "--export", str(out_dir), "--board", "no-such-board",
                        "--out", str(tmp_path / "other")], capture_output=True, text=True, timeout=600)
    assert r.returncode == 1 and "unknown board 'no-such-board'" in r.stderr and not (tmp_path / "other").exists()
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "main.c").write_text("int main(void) { return 0; }\n")
    r = subprocess.run([sys.executable, "-m", "tinyee", "generate", "--export", str(out_dir), "--out",
                        str(tmp_path / "project")], capture_output=True, text=True, timeout=600)
    assert r.returncode == 1 and "holds no earlier tinyee result (include/tinyee_model.h)" in r.stderr
    assert (tmp_path / "project" / "main.c").is_file()  # a folder of the user's is never replaced
