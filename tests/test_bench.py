"""The device tool under faults: a damaged line, a silent board, another model's firmware, a
missing port, QEMU killed mid-run, Ctrl-C; results already captured are never lost. The board is
the firmware's software twin (tests/twin.py): the harness's own C, built for the host."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import serial

from faults import FaultyPort
from twin import Twin, build_twin
from tinyee.bench import BenchPlan, read_results, run_bench, summarize
from tinyee.boards import load_board
from tinyee.cascade import cascade
from tinyee.compile import compile_export
from tinyee.compile.firmware import build_firmware
from tinyee.data import load_shipped
from tinyee.device import DeviceError, DeviceLink
from tinyee.errors import TinyeeError
from tinyee.eval.evaluate import int8_exit_probs, quantized_inputs
from tinyee.targets import FLASHERS, QemuTarget, open_target

SAMPLES = 24


@pytest.fixture(scope="module")
def setup(shipped_export, tmp_path_factory):
    out_dir, manifest, _ = shipped_export
    data = load_shipped("eval").take(SAMPLES)
    inputs = quantized_inputs(manifest, data)
    probs = int8_exit_probs(out_dir, manifest, inputs, "tflm", progress=False)
    exit_, cls = cascade(probs, manifest.thresholds)
    plan = BenchPlan(manifest.model_id, "twin", inputs, data.labels, exit_, cls, 3, 2)
    return manifest, twin_binary(shipped_export, tmp_path_factory.mktemp("twin")), plan, probs, data


@pytest.fixture(autouse=True)
def no_twin_left_running():
    yield
    Twin.close_all()


def twin_binary(shipped_export, folder, manifest=None, model_id=None):
    out_dir, shipped, _ = shipped_export
    manifest = manifest or shipped
    folder.mkdir(exist_ok=True)
    segments = compile_export(out_dir, manifest, folder / "src")
    return build_twin(folder / "src", segments, folder / "twin", model_id)


def twin(setup) -> Twin:
    return Twin(setup[1])


def link_to(dev, timeout=2.0, **faults):
    port = serial.serial_for_url(dev.url, timeout=0.2)
    link = DeviceLink(FaultyPort(port, **faults) if faults else port, timeout=timeout, quick_timeout=0.2)
    link.wait_ready()
    return link


def wrong_answers(records, plan) -> list[int]:
    """Samples whose accepted answer is not the firmware's: the twin is bit-exact with the host cascade and
    times every segment as exactly 1000 ticks."""
    return [r["sample"] for r in records if "error" not in r and (
        (r["exit"], r["cls"]) != (plan.host_exit[r["sample"]], plan.host_class[r["sample"]])
        or r["ticks"] != [1000] * (r["exit"] + 1)
        or any(t != [1000] * (k + 1) for k, t in enumerate(r.get("forced_ticks", []))))]


@pytest.mark.parametrize("rate, samples, complete", [(0.01, SAMPLES, 0.99), (0.05, 12, 0.9)])
def test_a_noisy_line_never_gets_a_wrong_answer_accepted(setup, tmp_path, rate, samples, complete):
    """Every byte either way is dropped or changed with probability `rate`: samples complete, none wrong."""
    manifest, _, plan, probs, data = setup
    dev = twin(setup)
    link = link_to(dev, rate=rate, seed=int(rate * 1000))
    records = run_bench(link, plan.take(samples), tmp_path)
    dev.close()
    assert link.port.hit > 1000 and link.retries > 100 and link.garbled > 100
    assert wrong_answers(records, plan) == []
    lost = [r for r in records if "error" in r]
    assert len(records) == samples and (samples - len(lost)) / samples >= complete
    assert all(r.get("forced_ticks") for r in records[:2] if "error" not in r)  # forced exits ran too
    summary = summarize(records, load_board("mps2-an386"), manifest, probs[:, :samples], data.labels[:samples])
    assert summary["lost"] == [r["sample"] for r in lost]


def test_silent_board_loses_samples_explicitly_and_keeps_results(setup, tmp_path):
    plan = setup[2]
    dev = twin(setup)
    link = link_to(dev, timeout=0.5, silent_after=40)  # a few samples get through, then the line goes dead
    with pytest.raises(DeviceError, match="stopped answering .* continue with --resume"):
        run_bench(link, plan, tmp_path)
    records = read_results(tmp_path / "results.jsonl")
    good = [r for r in records if "error" not in r]
    lost = [r for r in records if "error" in r]
    assert good and wrong_answers(records, plan) == []
    assert len(lost) == 3 and all("did not answer" in r["error"] for r in lost)
    # Resuming against a healthy board completes the run without repeating the good samples.
    healthy = twin(setup)
    records = run_bench(link_to(healthy), plan, tmp_path, resume=True)
    latest = {r["sample"]: r for r in records}
    assert sorted(latest) == list(range(SAMPLES)) and all("error" not in r for r in latest.values())
    dev.close()
    healthy.close()


def test_ctrl_c_keeps_every_completed_record(setup, tmp_path):
    plan = setup[2]
    dev = twin(setup)

    def interrupt_at_five(it):
        for n in it:
            if n == 5:
                raise KeyboardInterrupt
            yield n

    with pytest.raises(KeyboardInterrupt):
        run_bench(link_to(dev), plan, tmp_path, progress=interrupt_at_five)
    records = read_results(tmp_path / "results.jsonl")
    assert [r["sample"] for r in records] == [0, 1, 2, 3, 4] and wrong_answers(records, plan) == []
    dev.close()


def test_resume_after_a_torn_last_line_moves_it_aside_and_never_appends_onto_it(setup, tmp_path):
    plan = setup[2].take(6)
    dev = twin(setup)
    link = link_to(dev)
    run_bench(link, plan, tmp_path)
    path = tmp_path / "results.jsonl"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:3]) + "\n" + lines[3][:25])  # killed while writing sample 3
    records = run_bench(link, plan, tmp_path, resume=True)
    assert [r["sample"] for r in records] == list(range(6)) and wrong_answers(records, plan) == []
    assert all(json.loads(line) for line in path.read_text().splitlines())  # every line whole
    assert (tmp_path / "results.jsonl.torn").read_text() == lines[3][:25] + "\n"
    dev.close()


def test_resume_with_other_parameters_is_refused_and_a_new_run_keeps_the_old_one(setup, tmp_path):
    plan = setup[2]
    dev = twin(setup)
    link = link_to(dev)
    run_bench(link, plan.take(4), tmp_path)
    before = (tmp_path / "results.jsonl").read_text()
    with pytest.raises(TinyeeError, match=r"--resume with other parameters .*samples 4 -> 6"):
        run_bench(link, plan.take(6), tmp_path, resume=True)
    assert (tmp_path / "results.jsonl").read_text() == before
    run_bench(link, plan.take(2), tmp_path)  # a fresh run: the earlier one is moved aside, whole
    aside = [p for p in tmp_path.glob("results.*.jsonl")]
    assert len(aside) == 1 and aside[0].read_text() == before
    dev.close()


def test_two_runs_cannot_share_one_output_folder(setup, tmp_path):
    from tinyee.fileio import exclusive

    dev = twin(setup)
    with exclusive(tmp_path, "tinyee bench"):  # as a second process would hold it
        with pytest.raises(TinyeeError, match="another tinyee bench is writing to"):
            run_bench(link_to(dev), setup[2].take(2), tmp_path)
    assert not (tmp_path / "results.jsonl").exists()
    dev.close()


def test_an_unwritable_output_is_reported_before_anything_runs(shipped_export, tmp_path):
    (tmp_path / "file").write_text("not a folder")
    r = tinyee("bench", "--export", shipped_export[0], "--out", tmp_path / "file" / "bench", "--samples", 2)
    assert r.returncode == 1 and f"cannot write to {tmp_path / 'file' / 'bench'}: {tmp_path / 'file'} is not a folder" in r.stderr
    assert "Traceback" not in r.stderr and "QEMU" not in r.stderr


def tinyee(*args):
    return subprocess.run([sys.executable, "-m", "tinyee", *map(str, args)], capture_output=True, text=True, timeout=600)


def test_firmware_for_another_model_is_refused(setup, shipped_export, tmp_path):
    dev = Twin(twin_binary(shipped_export, tmp_path / "twin", model_id="0123456789abcdef"))
    r = tinyee("bench", "--export", shipped_export[0], "--port", dev.url, "--samples", 4, "--out", tmp_path / "out")
    assert r.returncode == 1 and "runs model 0123456789abcdef, but the export is model" in r.stderr
    dev.close()


def test_missing_serial_port(shipped_export, tmp_path):
    r = tinyee("bench", "--export", shipped_export[0], "--port", "/dev/ttyTINYEE-NONE", "--samples", 2, "--out", tmp_path)
    assert r.returncode == 1 and "cannot open serial port /dev/ttyTINYEE-NONE" in r.stderr


def test_bench_cli_against_twin_writes_all_outputs(setup, shipped_export, tmp_path):
    dev = twin(setup)
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
    plan = setup[2]
    board = load_board("mps2-an386")
    image = build_firmware(out_dir, manifest, board, tmp_path / "fw")
    with QemuTarget(board) as qemu:
        qemu.start(image.elf)
        link = DeviceLink(qemu.open(), timeout=1.0, quick_timeout=0.5, **qemu.link_clock())
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
    link = DeviceLink(port, timeout=2.0, quick_timeout=0.2)
    link.wait_ready(announce_s=0.3)
    assert link.info["model"] == setup[0].model_id
    dev.close()


def test_a_board_that_falls_silent_ends_the_cli_with_exit_code_4_and_the_results_kept(setup, shipped_export, tmp_path):
    dev = twin(setup)
    cli = subprocess.Popen([sys.executable, "-m", "tinyee", "bench", "--export", str(shipped_export[0]), "--port",
                            dev.url, "--samples", "200", "--force-samples", "0", "--timeout", "0.5", "--out",
                            str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    results = tmp_path / "results.jsonl"
    while not (results.is_file() and results.read_text().count("\n") >= 2):
        assert cli.poll() is None, cli.communicate()
        time.sleep(0.05)
    dev.proc.send_signal(signal.SIGSTOP)  # the board hangs with the line still open
    _, stderr = cli.communicate(timeout=120)
    dev.proc.send_signal(signal.SIGCONT)
    assert cli.returncode == 4 and "stopped answering" in stderr
    assert [rec["sample"] for rec in read_results(tmp_path / "results.jsonl") if "error" not in rec]
    dev.close()


def test_validate_reports_a_board_that_disagrees_and_exits_4(setup, shipped_export, tmp_path):
    manifest = setup[0]
    never_early = manifest.with_thresholds([1.0] * (manifest.num_exits - 1))
    dev = Twin(twin_binary(shipped_export, tmp_path / "twin", never_early))
    r = tinyee("validate", "--export", shipped_export[0], "--port", dev.url, "--samples", 12, "--tensor-samples", 0,
               "--out", tmp_path / "out")
    assert r.returncode == 4 and "disagrees with the host" in r.stderr
    report = json.loads((tmp_path / "out" / "validate.json").read_text())
    assert not report["passed"] and report["cascade"]["mismatched_samples"]
    assert all(row["device_host_class_agreement"] == 1.0 for row in report["per_exit"])  # forced exits agree
    dev.close()


def test_bench_plot_explains_a_missing_curve_instead_of_leaving_a_blank_panel(setup, tmp_path):
    from tinyee.bench import write_outputs

    manifest, _, plan, probs, data = setup
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


LOADED_SAMPLES = 6


def test_a_loaded_host_does_not_make_the_emulated_board_late(setup, shipped_export, tmp_path):
    """Two CPU-bound processes per core for the whole run and QEMU at a lower priority (nice 10): the
    emulator gets a few percent of a core, so wall-clock time-outs of a second would expire, but the
    link counts QEMU's own CPU time (QemuTarget.link_clock, what users get) and every sample completes and
    agrees with the host. The link's resends and silent tries are printed (pytest -s) for the record."""
    out_dir, manifest, _ = shipped_export
    plan = setup[2].take(LOADED_SAMPLES)
    image = build_firmware(out_dir, manifest, load_board("mps2-an386"), tmp_path / "fw")
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2 * os.cpu_count())]
    try:
        with QemuTarget(load_board("mps2-an386")) as qemu:
            link = qemu.connect(image.elf)
            os.setpriority(os.PRIO_PROCESS, qemu.proc.pid, 10)
            start = time.monotonic()
            records = run_bench(link, plan, tmp_path / "bench")
            print(f"loaded host: {len(records)} samples in {time.monotonic() - start:.1f} s, link {link.stats()}")
    finally:
        for h in hogs:
            h.kill()
            h.wait()
    assert [r["sample"] for r in records if "error" not in r] == list(range(len(plan.inputs_q)))
    assert all(r["agree"] for r in records)
