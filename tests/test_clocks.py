"""Real-board clocks: the PLL, flash and prescaler settings start-up writes (checked against the reference
manuals' limits, run on the host with the peripherals mapped onto memory), the fall-back to the reset clock
when the hardware does not answer, and an emulated STM32F405 (QEMU has no RCC model) still benching."""

import subprocess
from pathlib import Path

import pytest

from tinyee.boards import load_board
from tinyee.boards.clocks import clock_defines
from tinyee.compile.firmware import build_firmware
from tinyee.compile.sources import BOARD_DIR
from tinyee.data import load_shipped
from tinyee.errors import TinyeeError
from tinyee.eval.evaluate import int8_exit_probs, quantized_inputs
from tinyee.targets import QemuTarget

CHECK = Path(__file__).parent / "c" / "clock_check.c"
MHZ = 1_000_000
# Per board: flash wait states at its AHB (H7: AXI) clock from the reference manual's table (2.7-3.6 V,
# H7 at VOS1), and the most its UART's bus may run at.
MANUAL = {"netduinoplus2": (5, 84 * MHZ), "nucleo-f746zg": (7, 54 * MHZ), "nucleo-h743zi": (2, 100 * MHZ)}


def _clock_check(board_name: str, tmp_path: Path) -> Path:
    board = load_board(board_name)
    (tmp_path / "board_config.h").write_text(board.config_header())
    exe = tmp_path / "clock_check"
    subprocess.run(["gcc", "-std=c99", "-O1", "-Wall", "-Wextra", "-Werror", f"-I{tmp_path}", f"-I{BOARD_DIR}",
                    str(CHECK), "-o", str(exe)], check=True)
    return exe


def _run(exe: Path, shown: str) -> dict:
    out = subprocess.run([str(exe), shown], capture_output=True, text=True, check=True, timeout=60).stdout
    return {k: v if k == "source" else int(v) for k, v in (kv.split("=") for kv in out.split())}


@pytest.mark.parametrize("name", sorted(MANUAL))
def test_clock_setup_reaches_the_board_files_target_within_the_chips_limits(name, tmp_path):
    board = load_board(name)
    setup, target = board.spec["clock_setup"], board.spec["clock_hz"]
    r = _run(_clock_check(name, tmp_path), "vhps")
    assert r["source"] == "pll" and r["core"] == target
    assert r["cr"] & (1 << 16) and r["cr"] & (1 << 24)  # HSE and PLL on
    assert bool(r["cr"] & (1 << 18)) == setup.get("hse_bypass", False)
    wait_states, uart_bus_max = MANUAL[name]
    assert r["acr"] & 0xF == wait_states and r["uart"] <= uart_bus_max and target % r["uart"] == 0
    if name == "nucleo-h743zi":
        m, n, p = (r["pllckselr"] >> 4) & 0x3F, (r["pll1divr"] & 0x1FF) + 1, ((r["pll1divr"] >> 9) & 0x7F) + 1
        assert r["pllckselr"] & 3 == 2 and 2 * MHZ <= setup["hse_hz"] // m <= 4 * MHZ  # HSE; PLL1RGE 2-4 MHz
        assert r["cfgr"] & 7 == 3 and (r["d3cr"] >> 14) & 3 == 3 and (r["acr"] >> 4) & 3 == 2  # PLL1, VOS1
        assert r["d1cfgr"] & 0xF == 8 and target // 2 <= 200 * MHZ  # AXI/AHB = core / 2
    else:
        pll = r["pllcfgr"]
        m, n, p, q = pll & 0x3F, (pll >> 6) & 0x1FF, ((pll >> 16) & 3) * 2 + 2, (pll >> 24) & 0xF
        assert pll & (1 << 22) and 1 * MHZ <= setup["hse_hz"] // m <= 2 * MHZ  # HSE; VCO input 1-2 MHz
        assert setup["hse_hz"] // m * n // q <= 48 * MHZ and r["cfgr"] & 3 == 2  # USB clock; PLL selected
        apb1, apb2 = (r["cfgr"] >> 10) & 7, (r["cfgr"] >> 13) & 7
        assert apb1 >= 5 and apb2 >= 4  # APB1 at most a quarter, APB2 half of 168 or 216 MHz
        assert bool(r["pwr_cr1"] & (3 << 16)) == (target > 180 * MHZ)  # over-drive only above 180 MHz
    vco = setup["hse_hz"] // m * n
    assert vco // p == target and vco <= (836 if name == "nucleo-h743zi" else 432) * MHZ


@pytest.mark.parametrize("name", sorted(MANUAL))
@pytest.mark.parametrize("shown, source", [("v", "reset-no-hse"), ("vh", "reset-pll-not-locked"),
                                           ("vhp", "reset-pll-not-selected")])
def test_a_step_that_times_out_leaves_the_reset_clock(name, shown, source, tmp_path):
    board = load_board(name)
    r = _run(_clock_check(name, tmp_path), shown)
    reset = board.spec["clock_setup"]["reset_hz"]
    assert (r["source"], r["core"], r["uart"]) == (source, reset, reset)
    assert r["cfgr"] & 3 == 0  # still on the reset oscillator
    assert r["d1cfgr" if name == "nucleo-h743zi" else "cfgr"] & (0xF << 4) == 0  # buses undivided
    if source == "reset-no-hse":
        assert not r["cr"] & (1 << 16)  # HSE switched off again


def test_power_that_does_not_settle_keeps_the_reset_clock(tmp_path):
    for name in ("nucleo-f746zg", "nucleo-h743zi"):  # over-drive (F7 at 216 MHz), VOS1 (H7)
        assert _run(_clock_check(name, tmp_path), "hps")["source"] == "reset-power-not-ready"


def test_clocks_the_start_up_cannot_make_are_refused():
    spec = load_board("nucleo-h743zi").spec
    with pytest.raises(TinyeeError, match="480 MHz is above what tinyee sets up"):
        clock_defines({**spec, "clock_hz": 480 * MHZ})
    with pytest.raises(TinyeeError, match="cannot be made by the PLL"):
        clock_defines({**load_board("netduinoplus2").spec, "clock_hz": 40 * MHZ})
    with pytest.raises(TinyeeError, match="runs at its reset clock"):
        clock_defines({**load_board("nrf52840-dk").spec, "clock_hz": 32 * MHZ})


def test_emulated_stm32f405_without_an_rcc_model_runs_at_its_reset_clock(shipped_export, tmp_path):
    out_dir, manifest, _ = shipped_export
    board = load_board("netduinoplus2")
    image = build_firmware(out_dir, manifest, board, tmp_path)
    inputs = quantized_inputs(manifest, load_shipped("eval").take(2))
    probs = int8_exit_probs(out_dir, manifest, inputs, "tflm", progress=False)
    with QemuTarget(board) as qemu:
        link = qemu.connect(image.elf)
        info = link.identify()
        results = [link.infer(x.tobytes(), force_exit=2) for x in inputs]
    assert (info["clock"], info["clock_source"]) == ("16000000", "reset-no-hse")
    assert [r.cls for r in results] == probs[2].argmax(-1).tolist()
