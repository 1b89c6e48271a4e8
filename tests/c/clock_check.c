/* boards/common/clock_stm32.c on the host, its peripherals mapped onto memory: argv[1] lists the status bits
 * the "hardware" shows (h: HSE ready, p: PLL locked, s: PLL selected, v: power ready), and the program prints
 * the clocks it chose and the registers it wrote, for tests/test_clocks.py to check against the chip manuals. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static uint32_t memory[0x40000]; /* 1 MiB: the low 20 bits of every peripheral address used */
#define TEE_PERIPHERAL(address) ((uintptr_t)memory + ((address) & 0xFFFFCu))

#include "clock_stm32.c"

int main(int argc, char **argv) {
    const char *shown = argc > 1 ? argv[1] : "";
    if (strchr(shown, 'h')) RCC_CR |= HSE_READY;
    if (strchr(shown, 'p')) RCC_CR |= PLL_READY;
    if (strchr(shown, 's')) RCC_CFGR |= SW_PLL << SWS_SHIFT;
    if (strchr(shown, 'v')) {
#if defined(TEE_CLOCK_STM32H7)
        PWR_CSR1 |= 1u << 13;
        PWR_D3CR |= 1u << 13;
#else
        PWR_CSR1 |= 3u << 16;
#endif
    }
    const tee_clocks c = tee_clock_init();
    printf("core=%lu uart=%lu source=%s cr=%lu cfgr=%lu acr=%lu", (unsigned long)c.core_hz,
           (unsigned long)c.uart_hz, c.source, (unsigned long)RCC_CR, (unsigned long)RCC_CFGR, (unsigned long)FLASH_ACR);
#if defined(TEE_CLOCK_STM32H7)
    printf(" pllckselr=%lu pll1divr=%lu d1cfgr=%lu d2cfgr=%lu d3cfgr=%lu d3cr=%lu\n", (unsigned long)RCC_PLLCKSELR,
           (unsigned long)RCC_PLL1DIVR, (unsigned long)RCC_D1CFGR, (unsigned long)RCC_D2CFGR,
           (unsigned long)RCC_D3CFGR, (unsigned long)PWR_D3CR);
#else
    printf(" pllcfgr=%lu pwr_cr1=%lu\n", (unsigned long)RCC_PLLCFGR, (unsigned long)PWR_CR1);
#endif
    return 0;
}
