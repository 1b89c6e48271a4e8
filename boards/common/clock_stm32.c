/* STM32F4/F7/H7 clock set-up: HSE -> PLL -> the board file's core clock, with the flash wait states and
 * bus prescalers tinyee computed at build time (tinyee/boards/clocks.py -> board_config.h). Every wait
 * for the hardware has a timeout; when one expires (an emulator without an RCC model, a board without the
 * crystal) the core stays on its reset clock, and tee_clock_init says so. */
#include <stdint.h>

#include "board_config.h"
#include "tee_board.h"

#ifndef TEE_PERIPHERAL /* tests/c/clock_check.c maps the peripherals onto plain memory */
#define TEE_PERIPHERAL(address) (address)
#endif
#define REG(base, off) (*(volatile uint32_t *)TEE_PERIPHERAL((base) + (off)))
#define WAIT_LOOPS 200000u /* about 50 ms at a 16 MHz reset clock; HSE and PLL start in under 2 ms */

static int wait_set(volatile uint32_t *reg, uint32_t mask, uint32_t value) {
    for (uint32_t i = 0; i < WAIT_LOOPS; ++i) {
        if ((*reg & mask) == value) return 1;
    }
    return 0;
}

#if defined(TEE_CLOCK_STM32H7)
#define RCC 0x58024400u
#define PWR 0x58024800u
#define FLASH 0x52002000u
#define RCC_CR REG(RCC, 0x00)
#define RCC_CFGR REG(RCC, 0x10)
#define RCC_D1CFGR REG(RCC, 0x18)
#define RCC_D2CFGR REG(RCC, 0x1C)
#define RCC_D3CFGR REG(RCC, 0x20)
#define RCC_PLLCKSELR REG(RCC, 0x28)
#define RCC_PLLCFGR REG(RCC, 0x2C)
#define RCC_PLL1DIVR REG(RCC, 0x30)
#define PWR_CSR1 REG(PWR, 0x04)
#define PWR_CR3 REG(PWR, 0x0C)
#define PWR_D3CR REG(PWR, 0x18)
#define FLASH_ACR REG(FLASH, 0x00)
#define SW_PLL 3u
#define SWS_SHIFT 3
#define SW_MASK 7u
#define PLL_ON (1u << 24)
#define PLL_READY (1u << 25)
#define FLASH_ACR_VALUE (TEE_CLOCK_FLASH_WAIT_STATES | (2u << 4)) /* WRHIGHFREQ for an AXI clock up to 225 MHz */
#else /* F4 / F7 */
#define RCC 0x40023800u
#define PWR 0x40007000u
#define FLASH 0x40023C00u
#define RCC_CR REG(RCC, 0x00)
#define RCC_PLLCFGR REG(RCC, 0x04)
#define RCC_CFGR REG(RCC, 0x08)
#define RCC_APB1ENR REG(RCC, 0x40)
#define PWR_CR1 REG(PWR, 0x00)
#define PWR_CSR1 REG(PWR, 0x04)
#define FLASH_ACR REG(FLASH, 0x00)
#define SW_PLL 2u
#define SWS_SHIFT 2
#define SW_MASK 3u
#define PLL_ON (1u << 24)
#define PLL_READY (1u << 25)
#define FLASH_ACR_VALUE (TEE_CLOCK_FLASH_WAIT_STATES | (1u << 8) | (1u << 9)) /* + prefetch, ART or I-cache */
#endif
#define HSE_ON (1u << 16)
#define HSE_READY (1u << 17)
#define HSE_BYPASS (1u << 18)

static tee_clocks reset_clocks(const char *why) {
    const tee_clocks c = {TEE_CLOCK_RESET_HZ, TEE_CLOCK_RESET_HZ, why};
    return c;
}

/* Voltage and supply for the target clock (H7: LDO supply, scale 1; F7: over-drive above 180 MHz). */
static int power_up(void) {
#if defined(TEE_CLOCK_STM32H7)
    PWR_CR3 = (PWR_CR3 & ~7u) | (1u << 1); /* LDO on, bypass and SMPS off: written once after reset */
    if (!wait_set(&PWR_CSR1, 1u << 13, 1u << 13)) return 0; /* ACTVOSRDY */
    PWR_D3CR |= 3u << 14;                                    /* VOS1 */
    return wait_set(&PWR_D3CR, 1u << 13, 1u << 13);          /* VOSRDY */
#else
    RCC_APB1ENR |= 1u << 28; /* PWREN */
#if TEE_CLOCK_OVERDRIVE
    PWR_CR1 |= 1u << 16; /* ODEN */
    if (!wait_set(&PWR_CSR1, 1u << 16, 1u << 16)) return 0;
    PWR_CR1 |= 1u << 17; /* ODSWEN */
    return wait_set(&PWR_CSR1, 1u << 17, 1u << 17);
#endif
    return 1;
#endif
}

static void configure_pll(void) {
#if defined(TEE_CLOCK_STM32H7)
    RCC_PLLCKSELR = 2u | ((uint32_t)TEE_CLOCK_PLL_M << 4);             /* HSE, DIVM1 */
    RCC_PLLCFGR = (RCC_PLLCFGR & ~0xFu) | (1u << 2) | (7u << 16);        /* 2-4 MHz input, wide VCO, P/Q/R out */
    RCC_PLL1DIVR = (TEE_CLOCK_PLL_N - 1u) | ((TEE_CLOCK_PLL_P - 1u) << 9) | ((TEE_CLOCK_PLL_Q - 1u) << 16) |
                   (1u << 24);                                           /* DIVR1 = 2 */
#else
    RCC_PLLCFGR = TEE_CLOCK_PLL_M | ((uint32_t)TEE_CLOCK_PLL_N << 6) | (((TEE_CLOCK_PLL_P / 2u) - 1u) << 16) |
                  (1u << 22) | ((uint32_t)TEE_CLOCK_PLL_Q << 24);       /* PLLSRC = HSE */
#endif
}

static void set_prescalers(int target) {
#if defined(TEE_CLOCK_STM32H7)
    RCC_D1CFGR = target ? (TEE_CLOCK_HPRE_BITS | (TEE_CLOCK_PPRE1_BITS << 4)) : 0u;
    RCC_D2CFGR = target ? ((TEE_CLOCK_PPRE1_BITS << 4) | (TEE_CLOCK_PPRE2_BITS << 8)) : 0u;
    RCC_D3CFGR = target ? (TEE_CLOCK_PPRE1_BITS << 4) : 0u;
#else
    const uint32_t fields = (0xFu << 4) | (7u << 10) | (7u << 13);
    RCC_CFGR = (RCC_CFGR & ~fields) | (target ? ((TEE_CLOCK_HPRE_BITS << 4) | (TEE_CLOCK_PPRE1_BITS << 10) |
                                                 (TEE_CLOCK_PPRE2_BITS << 13)) : 0u);
#endif
}

tee_clocks tee_clock_init(void) {
    if (!power_up()) return reset_clocks("reset-power-not-ready");
    RCC_CR |= TEE_CLOCK_HSE_BYPASS ? HSE_BYPASS : 0u;
    RCC_CR |= HSE_ON;
    if (!wait_set(&RCC_CR, HSE_READY, HSE_READY)) {
        RCC_CR &= ~(HSE_ON | HSE_BYPASS);
        return reset_clocks("reset-no-hse");
    }
    configure_pll();
    RCC_CR |= PLL_ON;
    if (!wait_set(&RCC_CR, PLL_READY, PLL_READY)) {
        RCC_CR &= ~PLL_ON;
        return reset_clocks("reset-pll-not-locked");
    }
    FLASH_ACR = FLASH_ACR_VALUE; /* more wait states first: they are safe at the slower clock too */
    if ((FLASH_ACR & 0xFu) != TEE_CLOCK_FLASH_WAIT_STATES) return reset_clocks("reset-flash-wait-states");
    set_prescalers(1);
    RCC_CFGR = (RCC_CFGR & ~SW_MASK) | SW_PLL;
    if (!wait_set(&RCC_CFGR, SW_MASK << SWS_SHIFT, SW_PLL << SWS_SHIFT)) {
        RCC_CFGR &= ~SW_MASK;
        set_prescalers(0);
        return reset_clocks("reset-pll-not-selected");
    }
    const tee_clocks c = {TEE_CLOCK_HZ, TEE_CLOCK_HZ / TEE_CLOCK_UART_DIV, "pll"};
    return c;
}
