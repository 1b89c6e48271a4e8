/* What a board provides to the cascade runtime (the C files in boards/common). */
#ifndef TEE_BOARD_H
#define TEE_BOARD_H

#include <stdint.h>

void tee_uart_init(void);
void tee_uart_putc(char c);
int tee_uart_getc(void);
void tee_timer_init(void);
uint64_t tee_ticks(void);
void tee_board_exit(int code);

#endif
