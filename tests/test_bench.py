"""The device tool under faults: garbled lines, a silent board, another model's firmware, a
missing port, QEMU killed mid-run, Ctrl-C; results already captured are never lost."""

import json
import subprocess
import sys
import time

import pytest
import serial

from fake_device import FakeDevice
from tinyee.bench import BenchPlan, read_results, run_bench, summarize
from tinyee.boards import load_board
from tinyee.cascade import cascade
from tinyee.compile import compile_export
from tinyee.compile.firmware import build_firmware
from tinyee.compile.native import HostRunner, build_shared_library
from tinyee.data import load_shipped
from tinyee.device import DeviceError, DeviceLink
from tinyee.errors import TinyeeError
from tinyee.eval.evaluate import int8_exit_probs, quantized_inputs
from tinyee.targets import FLASHERS, QemuTarget, open_target

SAMPLES = 24


@pytest.fixture(scope="module")
def setup(shipped_export, tmp_path_factory):
    out_dir, manifest, _ = shipped_export
    src = tmp_path_factory.mktemp("twin")
    segments = compile_export(out_dir, manifest, src)
    runner = HostRunner(build_shared_library(src, src / "model.so"), segments)
    data = load_shipped("eval").take(SAMPLES)
    inputs = quantized_inputs(manifest, data)
    probs = int8_exit_probs(out_dir, manifest, inputs, "tflm", progress=False)
    exit_, cls = cascade(probs, manifest.thresholds)
    plan = BenchPlan(manifest.model_id, "twin", inputs, data.labels, exit_, cls, 3, 2)
    return manifest, segments, runner, plan, probs, data


def twin(setup, **faults):
    manifest, segments, runner, *_ = setup
    return FakeDevice(runner, segments, manifest.thresholds_q, faults.pop("model_id", manifest.model_id), **faults)


def link_to(dev, timeout=2.0):
    port = serial.serial_for_url(dev.url, timeout=0.2)
    link = DeviceLink(port, timeout=timeout)
    link.wait_ready()
    return link


def test_garbled_answers_are_retried_and_counted(setup, tmp_path):
    _, _, _, plan, probs, data = setup
    dev = twin(setup, corrupt_every=7)
    link = link_to(dev)
    records = run_bench(link, plan, tmp_path)
    assert len(records) == SAMPLES and all("error" not in r for r in records)
    assert all(r["agree"] for r in records) and link.garbled > 0
    assert all(len(r["forced_ticks"]) == 3 for r in records[:2])
    summary = summarize(records, load_board("mps2-an386"), setup[0], probs, data.labels)
    assert summary["host_agreement"] == 1.0 and summary["lost"] == [] and summary["disagreements"] == []
    dev.close()


def test_silent_board_loses_samples_explicitly_and_keeps_results(setup, tmp_path):
    plan = setup[3]
    dev = twin(setup, silent_after=260)  # answers the first samples (100 commands each with forced exits), then nothing
    link = link_to(dev, timeout=0.5)
    with pytest.raises(DeviceError, match="stopped answering .* continue with --resume"):
        run_bench(link, plan, tmp_path)
    records = read_results(tmp_path / "results.jsonl")
    good = [r for r in records if "error" not in r]
    lost = [r for r in records if "error" in r]
    assert good and all(r["agree"] for r in good)
    assert len(lost) == 3 and all("did not answer" in r["error"] or "no valid answer" in r["error"] for r in lost)
    # Resuming against a healthy board completes the run without repeating the good samples.
    healthy = twin(setup)
    records = run_bench(link_to(healthy), plan, tmp_path, resume=True)
    latest = {r["sample"]: r for r in records}
    assert sorted(latest) == list(range(SAMPLES)) and all("error" not in r for r in latest.values())
    dev.close()
    healthy.close()


def test_ctrl_c_keeps_every_completed_record(setup, tmp_path):
    plan = setup[3]
    dev = twin(setup)

    def interrupt_at_five(it):
        for n in it:
            if n == 5:
                raise KeyboardInterrupt
            yield n

    with pytest.raises(KeyboardInterrupt):
        run_bench(link_to(dev), plan, tmp_path, progress=interrupt_at_five)
    records = read_results(tmp_path / "results.jsonl")
    assert [r["sample"] for r in records] == [0, 1, 2, 3, 4] and all(r["agree"] for r in records)
    dev.close()


def tinyee(*args):
    return subprocess.run([sys.executable, "-m", "tinyee", *map(str, args)], capture_output=True, text=True, timeout=600)


def test_firmware_for_another_model_is_refused(setup, shipped_export, tmp_path):
    dev = twin(setup, model_id="0123456789abcdef")
    r = tinyee("bench", "--export", shipped_export[0], "--port", dev.url, "--samples", 4, "--out", tmp_path)
    assert r.returncode == 1 and "runs model 0123456789abcdef, but the export is model" in r.stderr
    dev.close()


def test_missing_serial_port(shipped_export, tmp_path):
    r = tinyee("bench", "--export", shipped_export[0], "--port", "/dev/ttyTINYEE-NONE", "--samples", 2, "--out", tmp_path)
    assert r.returncode == 1 and "cannot open serial port /dev/ttyTINYEE-NONE" in r.stderr


def test_bench_cli_against_twin_writes_all_outputs(setup, shipped_export, tmp_path):
    dev = twin(setup, corrupt_every=11)
    r = tinyee("bench", "--export", shipped_export[0], "--port", dev.url, "--samples", 8, "--force-samples", 2,
               "--out", tmp_path)
    assert r.returncode == 0, r.stderr
    assert "host/device agreement 100.00%" in r.stdout  # a result: stdout
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["completed"] == 8 and summary["host_agreement"] == 1.0
    assert (tmp_path / "bench.png").stat().st_size > 10_000 and (tmp_path / "summary.csv").read_text().count("\n") == 4
    dev.close()


def test_qemu_killed_mid_run_is_a_clear_error_with_results_kept(setup, shipped_export, tmp_path):
    out_dir, manifest, _ = shipped_export
    plan = setup[3]
    board = load_board("mps2-an386")
    image = build_firmware(out_dir, manifest, board, tmp_path / "fw")
    with QemuTarget(board) as qemu:
        qemu.start(image.elf)
        link = DeviceLink(qemu.open(), timeout=1.0, retries=1)
        link.wait_ready()

        def kill_at_four(it):
            for n in it:
                if n == 4:
                    qemu.proc.kill()
                yield n

        with pytest.raises(DeviceError, match="stopped answering"):
            run_bench(link, plan, tmp_path / "bench", progress=kill_at_four)
    records = read_results(tmp_path / "bench" / "results.jsonl")
    assert [r["sample"] for r in records if "error" not in r] == [0, 1, 2, 3]
    assert all(r["agree"] for r in records if "error" not in r)


def test_flash_commands_for_real_probes(tmp_path):
    elf = tmp_path / "fw.elf"
    assert FLASHERS["openocd"].command(load_board("nucleo-f746zg"), elf) == [
        "openocd", "-f", "board/st_nucleo_f7.cfg", "-c", f"program {elf} verify reset exit"]
    assert FLASHERS["pyocd"].command(load_board("nucleo-h743zi"), elf) == [
        "pyocd", "load", "--target", "stm32h743zitx", str(elf)]
    assert FLASHERS["jlink"].command(load_board("nrf52840-dk"), elf)[:3] == ["JLinkExe", "-device", "nRF52840_xxAA"]
    assert FLASHERS["jlink"].script(elf) == f"loadfile {elf}\nr\ng\nexit\n"
    r = tinyee("flash", "--board", "nucleo-f746zg", "--elf", elf, "--dry-run")
    assert r.returncode == 0 and r.stdout.startswith("openocd -f board/st_nucleo_f7.cfg")
    r = tinyee("flash", "--board", "nrf52840-dk", "--elf", elf, "--dry-run", "--tool", "pyocd")
    assert r.returncode == 0 and r.stdout.startswith("pyocd load --target nrf52840")
    r = tinyee("flash", "--board", "mps2-an386", "--elf", elf, "--dry-run")
    assert r.returncode == 0 and r.stdout.startswith("qemu-system-arm -M mps2-an386") and "<port>" in r.stdout
    r = tinyee("flash", "--board", "nucleo-h743zi", "--elf", elf, "--dry-run", "--tool", "jlink")
    assert r.returncode == 1 and "needs run.jlink_device in its board file" in r.stderr


def test_the_board_file_chooses_the_target():
    assert isinstance(open_target(load_board("mps2-an386")), QemuTarget)
    assert open_target(load_board("nucleo-f746zg"), "loop://").port_url == "loop://"
    with pytest.raises(TinyeeError, match="nucleo-f746zg is a real board: give its serial port"):
        open_target(load_board("nucleo-f746zg"))


def test_missed_boot_banner_falls_back_to_identify(setup):
    dev = twin(setup)
    port = serial.serial_for_url(dev.url, timeout=0.2)
    time.sleep(0.3)
    port.reset_input_buffer()  # the banner is gone before the link looks for it
    link = DeviceLink(port, timeout=2.0)
    link.wait_ready(announce_s=0.3)
    assert link.info["model"] == setup[0].model_id
    dev.close()


def test_a_board_that_falls_silent_ends_the_cli_with_exit_code_4_and_the_results_kept(setup, shipped_export, tmp_path):
    dev = twin(setup, silent_after=80)
    r = tinyee("bench", "--export", shipped_export[0], "--port", dev.url, "--samples", 8, "--force-samples", 0,
               "--timeout", 0.5, "--out", tmp_path)
    assert r.returncode == 4 and "stopped answering" in r.stderr
    assert [rec["sample"] for rec in read_results(tmp_path / "results.jsonl") if "error" not in rec]
    dev.close()


def test_validate_reports_a_board_that_disagrees_and_exits_4(setup, shipped_export, tmp_path):
    manifest, segments, runner, *_ = setup
    dev = FakeDevice(runner, segments, [127] * (manifest.num_exits - 1), manifest.model_id)  # never exits early
    r = tinyee("validate", "--export", shipped_export[0], "--port", dev.url, "--samples", 12, "--tensor-samples", 0,
               "--out", tmp_path)
    assert r.returncode == 4 and "disagrees with the host" in r.stderr
    report = json.loads((tmp_path / "validate.json").read_text())
    assert not report["passed"] and report["cascade"]["mismatched_samples"]
    assert all(row["device_host_class_agreement"] == 1.0 for row in report["per_exit"])  # forced exits agree
    dev.close()


def test_bench_plot_explains_a_missing_curve_instead_of_leaving_a_blank_panel(setup, tmp_path):
    from tinyee.bench import write_outputs

    manifest, _, _, plan, probs, data = setup
    dev = twin(setup)
    records = run_bench(link_to(dev), plan, tmp_path / "run")
    dev.close()
    with_curve = summarize(records, load_board("mps2-an386"), manifest, probs, data.labels)
    assert with_curve["operating_point"]["thresholds"] == list(manifest.thresholds)
    unforced = [{k: v for k, v in r.items() if k != "forced_ticks"} for r in records if r["exit"] != 2]
    summary = summarize(unforced, load_board("mps2-an386"), manifest, probs, data.labels)
    assert "threshold_sweep" not in summary  # no sample timed the last exit
    paths = write_outputs(summary, tmp_path / "out")
    assert paths[2].stat().st_size > 10_000
