/* Tick counter: DWT CYCCNT (real cycles) or SysTick extended to 64 bits in software.
 * Under QEMU with -icount shift=0, SysTick counts emulated instructions, deterministically. */
#include <stdint.h>

#include "board_config.h"
#include "tee_board.h"

#if defined(TEE_TICK_DWT)
#define DEMCR (*(volatile uint32_t *)0xE000EDFCu)
#define DWT_CTRL (*(volatile uint32_t *)0xE0001000u)
#define DWT_CYCCNT (*(volatile uint32_t *)0xE0001004u)
#define DWT_LAR (*(volatile uint32_t *)0xE0001FB0u)

static uint32_t last, high;

void tee_timer_init(void) {
    DEMCR |= 1u << 24; /* TRCENA */
    DWT_LAR = 0xC5ACCE55u; /* unlock (Cortex-M7) */
    DWT_CYCCNT = 0;
    DWT_CTRL |= 1u;
}

uint64_t tee_ticks(void) {
    const uint32_t now = DWT_CYCCNT;
    if (now < last) ++high; /* called at least once per wrap (every few seconds) by the protocol loop */
    last = now;
    return ((uint64_t)high << 32) | now;
}
#else
#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define SYSTICK_RELOAD 0x00FFFFFFu

static volatile uint32_t wraps;

void SysTick_Handler(void) { ++wraps; }

void tee_timer_init(void) {
    SYST_RVR = SYSTICK_RELOAD;
    SYST_CVR = 0;
    SYST_CSR = 0x7; /* processor clock, interrupt on wrap, enable */
}

uint64_t tee_ticks(void) {
    uint32_t w, v;
    do {
        w = wraps;
        v = SYST_CVR;
    } while (w != wraps);
    return (uint64_t)w * (SYSTICK_RELOAD + 1u) + (SYSTICK_RELOAD - v);
}
#endif
