"""Firmware images: every board builds, the fit check reports numbers, and the cascade running
in QEMU returns the host int8 cascade's exits and classes."""

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from faults import FaultyPort
from op_cases import ALL_GENERATORS, case_conv, case_depthwise_3x3, sample_inputs, tflm
from tinyee.bench import BenchPlan, run_bench
from tinyee.boards import list_boards, load_board
from tinyee.cascade import cascade
from tinyee.compile import compile_segments, write_sources
from tinyee.compile.firmware import build_firmware, build_image
from tinyee.compile.ops._conv import NEGLIGIBLE_MULTIPLIER
from tinyee.data import load_shipped
from tinyee.device import DeviceLink
from tinyee.device import framing
from tinyee.errors import TinyeeError
from tinyee.eval.evaluate import int8_exit_probs, quantized_inputs
from tinyee.runtime import SegmentRunner
from tinyee.targets import QemuTarget
from tinyee.tflite import TfliteModel

QEMU_SAMPLES = 120


@pytest.fixture(scope="module")
def an386(shipped_export, tmp_path_factory):
    out_dir, manifest, _ = shipped_export
    board = load_board("mps2-an386")
    return board, build_firmware(out_dir, manifest, board, tmp_path_factory.mktemp("an386"))


@pytest.mark.parametrize("name", list_boards())
def test_every_board_builds(shipped_export, tmp_path, name):
    out_dir, manifest, _ = shipped_export
    board = load_board(name)
    image = build_firmware(out_dir, manifest, board, tmp_path)
    assert image.elf.is_file() and (tmp_path / "firmware.bin").is_file()
    assert image.weights_bytes < image.flash_bytes <= board.flash_bytes
    assert image.arena_bytes < image.ram_bytes <= board.ram_bytes


def test_netduinoplus2_fits_its_1mb_flash_and_128kb_ram(shipped_export, tmp_path):
    out_dir, manifest, _ = shipped_export
    image = build_firmware(out_dir, manifest, load_board("netduinoplus2"), tmp_path)
    assert image.flash_bytes <= 1024 * 1024 and image.ram_bytes <= 128 * 1024


def test_model_too_big_for_board_fails_with_numbers(shipped_export, tmp_path):
    out_dir, manifest, _ = shipped_export
    spec = json.loads(json.dumps(load_board("netduinoplus2").spec))
    spec["name"] = "tiny-ram"
    spec["memory"]["ram"]["size"] = 16 * 1024
    spec["memory"]["flash"]["size"] = 128 * 1024
    (tmp_path / "tiny.json").write_text(json.dumps(spec))
    with pytest.raises(TinyeeError, match=r"does not fit board tiny-ram: flash needs [\d,]+ bytes of 131,072 "
                                          r"\([\d,]+ too many\); RAM needs [\d,]+ bytes of 16,384"):
        build_firmware(out_dir, manifest, load_board(str(tmp_path / "tiny.json")), tmp_path / "build")


def test_board_features_must_match_its_compiler_flags(shipped_export, tmp_path):
    """A board file that promises Helium but compiles for a Cortex-M4 would silently get the DSP loops."""
    out_dir, manifest, _ = shipped_export
    spec = json.loads(json.dumps(load_board("mps2-an386").spec))
    spec["name"], spec["features"] = "m4-claiming-mve", ["dsp", "mve"]
    (tmp_path / "board.json").write_text(json.dumps(spec))
    with pytest.raises(TinyeeError, match="lists the mve feature, but its cflags do not enable Helium"):
        build_firmware(out_dir, manifest, load_board(str(tmp_path / "board.json")), tmp_path / "build")


def test_qemu_cascade_matches_host_int8_cascade(shipped_export, an386):
    out_dir, manifest, _ = shipped_export
    board, image = an386
    data = load_shipped("eval").take(QEMU_SAMPLES)
    inputs = quantized_inputs(manifest, data)
    probs = int8_exit_probs(out_dir, manifest, inputs, "tflm", progress=False)
    host_exit, host_class = cascade(probs, manifest.thresholds)
    with QemuTarget(board) as qemu:
        link = qemu.connect(image.elf)
        info = link.identify()
        assert info["model"] == manifest.model_id and info["board"] == "mps2-an386"
        results = [link.infer(x.tobytes()) for x in inputs]
        # Forcing each exit on one input gives that exit's class and one tick count per segment run.
        forced = [link.infer(inputs[0].tobytes(), force_exit=k) for k in range(3)]
        again = link.infer(inputs[0].tobytes(), force_exit=2)
        looped = link.infer(inputs[0].tobytes(), force_exit=2, runs=4)
    assert [r.exit for r in results] == host_exit.tolist()
    assert [r.cls for r in results] == host_class.tolist()
    assert len(set(host_exit.tolist())) == 3  # the sample exercises every exit
    for k, r in enumerate(forced):
        assert r.exit == k and r.cls == int(probs[k, 0].argmax()) and len(r.ticks) == k + 1
        assert r.confidence == int(probs[k, 0].max())
    # -icount makes the count deterministic up to SysTick's granularity (one tick = 40 instructions on
    # an386): where a segment starts within a tick depends on how long the firmware polled the UART.
    assert all(abs(a - b) <= 1 for a, b in zip(again.ticks, forced[2].ticks))
    assert all(t > 0 for t in again.ticks)
    assert looped.exit == 2 and all(abs(a - b) <= 1 for a, b in zip(looped.ticks, again.ticks))  # per-run mean


def test_firmware_survives_fuzzed_frames_and_a_noisy_line(shipped_export, an386, tmp_path):
    """Random bytes, damaged frames and well-framed nonsense leave the firmware serving; then a bench run
    over a line that damages 1% of the bytes either way completes with every answer right."""
    out_dir, manifest, _ = shipped_export
    board, image = an386
    rng = np.random.default_rng(7)
    data = load_shipped("eval").take(16)
    inputs = quantized_inputs(manifest, data)
    host_exit, host_class = cascade(int8_exit_probs(out_dir, manifest, inputs, "tflm", progress=False),
                                    manifest.thresholds)
    with QemuTarget(board) as qemu:
        link = qemu.connect(image.elf)
        for n in range(300):
            kind = bytes([rng.choice(list(b"IDARUPNQXE\0"))])
            body = rng.integers(0, 256, int(rng.integers(0, 40)), dtype=np.uint8).tobytes()
            frame = framing.encode(kind, int(rng.integers(0, 0xFFFF)), body)
            if n % 3 == 0:  # damaged: a changed byte, a cut, or raw noise
                frame = [frame[:-4] + b"\x55" + frame[-3:], frame[:len(frame) // 2] + b"\0", body + b"\0"][n % 9 // 3]
            if kind != b"Q":
                link.port.write(frame)
        time.sleep(0.5)
        link.port.reset_input_buffer()
        assert link.identify()["segments"] == "3"
        link.port = FaultyPort(link.port, rate=0.01, seed=3)
        plan = BenchPlan(manifest.model_id, board.name, inputs, data.labels, host_exit, host_class, 0, 0)
        records = run_bench(link, plan, tmp_path)
    assert link.port.hit > 100 and link.retries > 0
    assert [(r["exit"], r["cls"]) for r in records] == list(zip(host_exit.tolist(), host_class.tolist()))


def test_qemu_dies_with_a_killed_tinyee(an386):
    """SIGKILL gives tinyee no chance to clean up: the kernel must end its QEMU (no orphan left running)."""
    board, image = an386
    script = ("import sys, time\nfrom tinyee.boards import load_board\nfrom tinyee.targets import QemuTarget\n"
              f"t = QemuTarget(load_board('{board.name}'))\nt.start(sys.argv[1])\nprint(t.proc.pid, flush=True)\n"
              "time.sleep(60)\n")
    parent = subprocess.Popen([sys.executable, "-c", script, str(image.elf)], stdout=subprocess.PIPE, text=True)
    qemu_pid = int(parent.stdout.readline())
    assert Path(f"/proc/{qemu_pid}").exists()
    parent.kill()
    parent.wait()
    deadline = time.monotonic() + 5
    while Path(f"/proc/{qemu_pid}").exists() and "Z" not in Path(f"/proc/{qemu_pid}/stat").read_text().split()[2]:
        assert time.monotonic() < deadline, "QEMU outlived the tinyee process that started it"
        time.sleep(0.05)


def test_qemu_entropy_cascade_with_bof_and_slvit_exits(mixed_heads_export, tmp_path):
    """All three exit heads and the entropy criterion, run on the emulated board: host and device agree."""
    from tinyee.cascade import scores

    out_dir, manifest, _ = mixed_heads_export
    export = tmp_path / "export"
    shutil.copytree(out_dir, export)
    inputs = quantized_inputs(manifest, load_shipped("eval").take(30))
    probs = int8_exit_probs(export, manifest, inputs, "tflm", progress=False)
    # Thresholds between the entropies of the images, so that every exit is taken by some of them:
    # about a third leave at exit 0, half of the rest at exit 1.
    ent = -scores(probs, "entropy") / 4096
    t0 = float(np.sort(ent[0])[9:11].mean())
    rest = np.sort(ent[1][ent[0] > t0])
    t1 = float(rest[len(rest) // 2 - 1:len(rest) // 2 + 1].mean())
    manifest = manifest.with_thresholds([t0, t1])
    manifest.save(export)
    host_exit, host_class = cascade(probs, manifest.thresholds, "entropy")
    board = load_board("mps2-an386")
    image = build_firmware(export, manifest, board, tmp_path / "fw")
    with QemuTarget(board) as qemu:
        link = qemu.connect(image.elf)
        results = [link.infer(x.tobytes()) for x in inputs]
    assert [r.exit for r in results] == host_exit.tolist() and [r.cls for r in results] == host_class.tolist()
    assert len(set(host_exit.tolist())) == 3
    expected_scores = scores(probs, "entropy")[host_exit, np.arange(len(inputs))]
    assert [r.confidence for r in results] == expected_scores.tolist()


# The optimised kernels' inner loops with the real instructions: SXTB16/SMLAD on the emulated
# Cortex-M4, Helium on the emulated Cortex-M55 (test_kernels runs the same loops on the host).
ON_TARGET_PATHS = [("mps2-an386", "dsp"), ("mps3-an547", "mve")]
OPTIMISED_OPS = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED", "BATCH_MATMUL", "ADD", "SUB", "MUL",
                 "SQUARED_DIFFERENCE", "SOFTMAX", "LOGISTIC", "RSQRT", "HARD_SWISH", "LAYER_NORM", "ROUTED_EXPERT",
                 "AVERAGE_POOL_2D", "ROW_STREAM")
ON_TARGET_CASES = 6
MAX_CASE_BYTES = 2500  # inputs + output per case: each byte crosses the emulated UART as hex


def arena_tensor(link: DeviceLink, seg, tensor: int) -> np.ndarray:
    t = seg.model.tensors[tensor]
    return np.frombuffer(link.read_arena(seg.plan.offsets[tensor], t.nbytes), np.int8).reshape(t.shape)


@pytest.mark.parametrize("board_name,path", ON_TARGET_PATHS)
def test_optimised_kernels_match_tflite_micro_on_the_emulated_core(board_name, path, tmp_path):
    rng = np.random.default_rng(33)  # a seed whose cases use every optimised kernel and dead channels (asserted below)
    cases = []
    for name in OPTIMISED_OPS:
        found = 0
        while found < ON_TARGET_CASES:
            data = ALL_GENERATORS[name](rng)
            m = TfliteModel(data, f"{name}#{found}")
            if sum(t.nbytes for t in m.inputs) + m.outputs[0].nbytes <= MAX_CASE_BYTES:
                cases.append((name, data, m))
                found += 1
    while True:  # one pointwise convolution the planner runs in place (blocks of 32 pixels and a partial one)
        data = case_conv(rng, False, in_place=True)
        m = TfliteModel(data, "CONV_2D#in-place")
        if sum(t.nbytes for t in m.inputs) + m.outputs[0].nbytes <= MAX_CASE_BYTES:
            cases.append(("CONV_2D", data, m))
            break
    while True:  # one 3x3 depthwise convolution run in place, taller than the DSP path's plane
        data = case_depthwise_3x3(rng, tall=True)
        m = TfliteModel(data, "DEPTHWISE_CONV_2D#in-place")
        if m.inputs[0].shape == m.outputs[0].shape:
            cases.append(("DEPTHWISE_CONV_2D", data, m))
            break
    segments = compile_segments([m for _, _, m in cases], "optimized")
    for (_, _, m), seg in zip(cases[-2:], segments[-2:]):
        assert seg.plan.offsets[m.inputs[0].index] == seg.plan.offsets[m.outputs[0].index]
    used = {c.kernel for s in segments for c in s.calls}
    assert {"tee_conv2d_gemm_s8", "tee_depthwise_conv2d_simd_s8", "tee_fully_connected_gemm_s8",
            "tee_batch_matmul_gemm_s8", "tee_binary_table_s8", "tee_binary_simd_s8", "tee_softmax_table_s8",
            "tee_lut_s8", "tee_layer_norm_s8", "tee_routed_expert_s8", "tee_average_pool_simd_s8",
            "tee_squared_difference_table_s8"} - used == set()
    assert any(s.streams for (name, _, _), s in zip(cases, segments) if name == "ROW_STREAM")
    dead = {c.kernel for s in segments for c in s.calls if "folded_bias" in c.arrays
            and any((m, e) == NEGLIGIBLE_MULTIPLIER for m, e in zip(c.arrays["mult"], c.arrays["shift"]))}
    assert dead == {"tee_conv2d_gemm_s8", "tee_depthwise_conv2d_simd_s8", "tee_fully_connected_gemm_s8"}
    write_sources(tmp_path / "src", segments, "on-target-conformance", [], 0)
    board = load_board(board_name)
    image = build_image(tmp_path / "src", segments, board, tmp_path, "-O2", "on-target-conformance", 0, "optimized")
    compared = mismatched = 0
    with QemuTarget(board) as qemu:
        link = qemu.connect(image.elf)
        assert link.identify()["path"] == path
        for (name, data, _), seg in zip(cases, segments):
            inputs = sample_inputs(rng, seg.model, name, 2 + compared % 2)  # random, or all 127 / lowest
            for t, v in zip(seg.model.inputs, inputs):
                link.write_arena(seg.plan.offsets[t.index], v.tobytes())
            link.run_segment(seg.index)
            want = tflm(data, inputs)
            got = arena_tensor(link, seg, seg.model.outputs[0].index)
            compared += want.size
            mismatched += int((got.reshape(-1) != want.reshape(-1)).sum())
    assert compared > 5000 and mismatched == 0


@pytest.mark.parametrize("board_name,path", ON_TARGET_PATHS)
def test_every_exit_and_feature_map_matches_tflite_micro_on_the_emulated_core(shipped_export, board_name, path,
                                                                               tmp_path):
    """The shipped cascade, segment by segment on the board: every exit's softmax and every feature map."""
    out_dir, manifest, _ = shipped_export
    board = load_board(board_name)
    image = build_firmware(out_dir, manifest, board, tmp_path)
    oracle = [SegmentRunner((out_dir / s.file).read_bytes(), "tflm") for s in manifest.segments]
    segments = image.segments
    mismatched = compared = 0
    with QemuTarget(board) as qemu:
        link = qemu.connect(image.elf)
        assert link.identify()["path"] == path
        for x in quantized_inputs(manifest, load_shipped("eval").take(8)):
            link.write_arena(segments[0].plan.offsets[segments[0].model.inputs[0].index], x.tobytes())
            boundary = x
            for seg, ref in zip(segments, oracle):
                link.run_segment(seg.index)
                probs, boundary = ref.run(boundary)
                for tensor, want in zip((seg.probs_tensor, *seg.boundary_tensors), (probs, *boundary), strict=True):
                    got = arena_tensor(link, seg, tensor)
                    compared += want.size
                    mismatched += int((got.reshape(-1) != want.reshape(-1)).sum())
    assert compared == 8 * (3 * 10 + sum(int(np.prod(s.model.tensors[t].shape))
                                        for s in segments for t in s.boundary_tensors))
    assert mismatched == 0


def test_profile_times_every_kernel_call_on_the_emulated_board(shipped_export, tmp_path):
    """`tinyee profile`: per-call ticks that add up to the segment's (minus the timer reads around
    each call), and MACs counted from the int8 ops that match the export's count from the model."""
    import subprocess
    import sys

    out_dir, manifest, _ = shipped_export
    r = subprocess.run([sys.executable, "-m", "tinyee", "profile", "--export", str(out_dir), "--samples", "1",
                        "--out", str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    profile = json.loads((tmp_path / "profile.json").read_text())
    assert (tmp_path / "profile.png").stat().st_size > 10_000
    assert profile["kernel_path"] == "dsp" and profile["kernels"] == "optimized"
    assert profile["unit"] == "emulated_instructions"
    for seg, spec in zip(profile["segments"], manifest.segments):
        ops = [o for o in profile["ops"] if o["segment"] == seg["segment"]]
        assert len(ops) > 10 and all(o["ticks"] > 0 for o in ops)
        assert 0.97 * seg["ticks"] <= sum(o["ticks"] for o in ops) <= seg["ticks"]
        assert seg["macs"] == spec.macs


def test_validate_on_the_emulated_board(shipped_export, tmp_path):
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "tinyee", "validate", "--export", str(shipped_export[0]), "--samples", "12",
                        "--tensor-samples", "2", "--out", str(tmp_path), "--json"], capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    report = json.loads(r.stdout)
    assert report["passed"] and report["samples"] == 12 and report["cascade"]["exit_class_confidence_agreement"] == 1.0
    assert len(report["tensors"]) == 2 * 3 and all(t["bytes_equal"] for t in report["tensors"])
    assert [row["device_accuracy"] for row in report["per_exit"]] == [row["host_accuracy"] for row in report["per_exit"]]
