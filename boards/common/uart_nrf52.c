/* nRF52 UART (legacy non-DMA UART peripheral at the UARTE0 address), 115200 baud. */
#include <stdint.h>

#include "board_config.h"
#include "tee_board.h"

#define REG(off) (*(volatile uint32_t *)(TEE_UART_BASE + (off)))

void tee_uart_init(uint32_t uart_clock_hz) {
    (void)uart_clock_hz; /* the baud rate register is relative to the fixed 16 MHz peripheral clock */
    REG(0x50C) = TEE_UART_TX_PIN; /* PSEL.TXD */
    REG(0x514) = TEE_UART_RX_PIN; /* PSEL.RXD */
    REG(0x524) = 0x01D7E000;      /* BAUDRATE 115200 */
    REG(0x500) = 4;               /* ENABLE: UART */
    REG(0x000) = 1;               /* TASKS_STARTRX */
    REG(0x008) = 1;               /* TASKS_STARTTX */
}

void tee_uart_putc(char c) {
    REG(0x11C) = 0;               /* EVENTS_TXDRDY */
    REG(0x51C) = (uint8_t)c;      /* TXD */
    while (!REG(0x11C)) {
    }
}

int tee_uart_getc(void) {
    while (!REG(0x108)) {         /* EVENTS_RXDRDY */
    }
    REG(0x108) = 0;
    return (int)(REG(0x518) & 0xFF); /* RXD */
}
