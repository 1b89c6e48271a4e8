"""The clock tree a board file asks for, worked out at build time: PLL dividers, flash wait states and bus
prescalers become constants in board_config.h, and the start-up code (boards/common/clock_*.c) only writes
them and waits, each wait with a timeout after which the board stays on its reset clock.

Families: STM32F4 (PLL from HSE, up to 168 MHz on the F405/F407), STM32F7 (over-drive above 180 MHz, up
to 216 MHz), STM32H7 (PLL1 from HSE, voltage scale 1: up to 400 MHz on every silicon revision; 480 MHz
needs revision V and VOS0, which tinyee does not set), nRF52 (the 64 MHz core clock from the crystal
oscillator HFXO instead of the RC oscillator: same speed, an accurate UART).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from tinyee.errors import TinyeeError

MHZ = 1_000_000
HPRE_BITS = {1: 0, 2: 8, 4: 9, 8: 10, 16: 11}  # RCC's AHB prescaler field
PPRE_BITS = {1: 0, 2: 4, 4: 5, 8: 6, 16: 7}    # its APB prescaler fields


@dataclass(frozen=True)
class Family:
    vco_in: int               # PLL input after the M divider
    vco_range: tuple[int, int]
    max_core: int
    max_ahb: int
    max_apb1: int
    max_apb2: int
    mhz_per_wait_state: int   # flash access time at 2.7-3.6 V (AXI clock on the H7)
    overdrive_above: int | None = None


FAMILIES = {
    "stm32f4": Family(1 * MHZ, (100 * MHZ, 432 * MHZ), 168 * MHZ, 168 * MHZ, 42 * MHZ, 84 * MHZ, 30),
    "stm32f7": Family(1 * MHZ, (100 * MHZ, 432 * MHZ), 216 * MHZ, 216 * MHZ, 54 * MHZ, 108 * MHZ, 30,
                      overdrive_above=180 * MHZ),
    "stm32h7": Family(2 * MHZ, (192 * MHZ, 836 * MHZ), 400 * MHZ, 200 * MHZ, 100 * MHZ, 100 * MHZ, 70),
}


def _divider(clock: int, limit: int, choices=(1, 2, 4, 8, 16)) -> int:
    return next(d for d in choices if clock // d <= limit)


def _stm32(family_name: str, setup: dict, target: int, uart_base: int) -> dict[str, int]:
    fam = FAMILIES[family_name]
    hse = int(setup["hse_hz"])
    if target > fam.max_core:
        raise TinyeeError(f"{target / MHZ:g} MHz is above what tinyee sets up on the {family_name.upper()} "
                          f"({fam.max_core / MHZ:g} MHz)")
    if hse % fam.vco_in:
        raise TinyeeError(f"HSE of {hse} Hz is not a multiple of the {fam.vco_in / MHZ:g} MHz PLL input")
    vco = 2 * target  # P = 2
    if vco % fam.vco_in or not fam.vco_range[0] <= vco <= fam.vco_range[1]:
        raise TinyeeError(f"{target / MHZ:g} MHz cannot be made by the PLL (VCO {vco / MHZ:g} MHz, "
                          f"range {fam.vco_range[0] / MHZ:g}-{fam.vco_range[1] / MHZ:g} MHz)")
    ahb_div = _divider(target, fam.max_ahb)
    ahb = target // ahb_div
    apb1_div, apb2_div = _divider(ahb, fam.max_apb1), _divider(ahb, fam.max_apb2)
    uart_div = ahb_div * (apb2_div if 0x40010000 <= uart_base < 0x40020000 else apb1_div)
    return {
        "TEE_CLOCK_PLL_M": hse // fam.vco_in, "TEE_CLOCK_PLL_N": vco // fam.vco_in, "TEE_CLOCK_PLL_P": 2,
        "TEE_CLOCK_PLL_Q": math.ceil(vco / (48 * MHZ)),  # USB/SDIO clock at most 48 MHz
        "TEE_CLOCK_FLASH_WAIT_STATES": math.ceil(ahb / (fam.mhz_per_wait_state * MHZ)) - 1,
        "TEE_CLOCK_HPRE_BITS": HPRE_BITS[ahb_div], "TEE_CLOCK_PPRE1_BITS": PPRE_BITS[apb1_div],
        "TEE_CLOCK_PPRE2_BITS": PPRE_BITS[apb2_div], "TEE_CLOCK_UART_DIV": uart_div, "TEE_CLOCK_HSE_BYPASS": int(bool(setup.get("hse_bypass", False))),
        "TEE_CLOCK_OVERDRIVE": int(fam.overdrive_above is not None and target > fam.overdrive_above),
    }


def clock_defines(spec: dict) -> dict[str, int]:
    """board_config.h's clock constants for a board file; empty when the board has no clock set-up
    (emulated MPS2/MPS3 boards run at the clock the file states)."""
    setup = spec.get("clock_setup")
    if setup is None:
        return {}
    family, target = setup["family"], int(spec["clock_hz"])
    defines = {f"TEE_CLOCK_{family.upper()}": 1, "TEE_CLOCK_RESET_HZ": int(setup["reset_hz"])}
    if family == "nrf52":
        if target != int(setup["reset_hz"]):
            raise TinyeeError(f"the nRF52 core runs at its reset clock ({setup['reset_hz']} Hz), not {target} Hz")
        return defines
    return {**defines, **_stm32(family, setup, target, int(spec["uart"]["base"], 16))}
