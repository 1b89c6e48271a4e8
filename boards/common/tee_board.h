/* The board interface: what a board's C code (boards/common) gives the benchmark harness. Every
 * implementation includes this header, so the compiler checks it against these declarations.
 * The model library itself needs none of it. */
#ifndef TEE_BOARD_H
#define TEE_BOARD_H

#include <stdint.h>

/* The clocks the board runs at once tee_clock_init has set them up: the board file's target, or the reset
 * clock when the hardware did not answer in time; source names which (pll, hfxo, fixed, reset-...). */
typedef struct {
    uint32_t core_hz;
    uint32_t uart_hz; /* the UART's peripheral clock, for its baud divisor */
    const char *source;
} tee_clocks;

tee_clocks tee_clock_init(void);
void tee_uart_init(uint32_t uart_clock_hz);
void tee_uart_putc(char c);
int tee_uart_getc(void); /* blocks until a byte arrives */
void tee_timer_init(void);
uint64_t tee_ticks(void); /* DWT cycles on real boards, SysTick (emulated instructions under QEMU -icount) */
void tee_board_exit(int code); /* emulated boards: end the emulator (semihosting) */

#endif
