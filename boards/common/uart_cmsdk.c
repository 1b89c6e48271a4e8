/* Arm CMSDK APB UART (MPS2/MPS3 boards). */
#include <stdint.h>

#include "board_config.h"
#include "tee_board.h"

#define UART_DATA (*(volatile uint32_t *)(TEE_UART_BASE + 0x00))
#define UART_STATE (*(volatile uint32_t *)(TEE_UART_BASE + 0x04))
#define UART_CTRL (*(volatile uint32_t *)(TEE_UART_BASE + 0x08))
#define UART_BAUDDIV (*(volatile uint32_t *)(TEE_UART_BASE + 0x10))

void tee_uart_init(uint32_t uart_clock_hz) {
    UART_BAUDDIV = uart_clock_hz / 115200u;
    UART_CTRL = 0x3; /* TX and RX enable */
}

void tee_uart_putc(char c) {
    while (UART_STATE & 0x1) { /* TX buffer full */
    }
    UART_DATA = (uint8_t)c;
}

int tee_uart_getc(void) {
    while (!(UART_STATE & 0x2)) { /* RX buffer empty */
    }
    return (int)(UART_DATA & 0xFF);
}
