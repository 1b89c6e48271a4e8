/* nRF52: the core always runs at 64 MHz; starting the crystal oscillator (HFXO) instead of the internal RC
 * oscillator makes that clock, and the UART's baud rate, accurate. Waits at most WAIT_LOOPS reads. */
#include <stdint.h>

#include "board_config.h"
#include "tee_board.h"

#define CLOCK 0x40000000u
#define TASKS_HFCLKSTART (*(volatile uint32_t *)(CLOCK + 0x000))
#define EVENTS_HFCLKSTARTED (*(volatile uint32_t *)(CLOCK + 0x100))
#define WAIT_LOOPS 200000u

tee_clocks tee_clock_init(void) {
    EVENTS_HFCLKSTARTED = 0;
    TASKS_HFCLKSTART = 1;
    for (uint32_t i = 0; i < WAIT_LOOPS; ++i) {
        if (EVENTS_HFCLKSTARTED) {
            const tee_clocks c = {TEE_CLOCK_HZ, TEE_CLOCK_HZ, "hfxo"};
            return c;
        }
    }
    const tee_clocks c = {TEE_CLOCK_RESET_HZ, TEE_CLOCK_RESET_HZ, "reset-hfint"};
    return c;
}
