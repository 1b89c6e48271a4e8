/* STM32F2/F4/F7 USART (SR/DR register layout on F2/F4; ISR/RDR/TDR on F7 and H7). */
#include <stdint.h>

#include "board_config.h"
#include "tee_board.h"

#define REG(off) (*(volatile uint32_t *)(TEE_UART_BASE + (off)))

#if defined(TEE_UART_STM32_ISR) /* F7 / H7 register layout */
#define CR1 REG(0x00)
#define BRR REG(0x0C)
#define ISR REG(0x1C)
#define RDR REG(0x24)
#define TDR REG(0x28)
#define CR1_ENABLE ((1u << 0) | (1u << 2) | (1u << 3)) /* UE, RE, TE */
#define TX_READY (ISR & (1u << 7))
#define RX_READY (ISR & (1u << 5))
#define WRITE(c) (TDR = (uint8_t)(c))
#define READ() ((int)(RDR & 0xFF))
#else /* F2 / F4 register layout */
#define SR REG(0x00)
#define DR REG(0x04)
#define BRR REG(0x08)
#define CR1 REG(0x0C)
#define CR1_ENABLE ((1u << 13) | (1u << 3) | (1u << 2)) /* UE, TE, RE */
#define TX_READY (SR & (1u << 7))
#define RX_READY (SR & (1u << 5))
#define WRITE(c) (DR = (uint8_t)(c))
#define READ() ((int)(DR & 0xFF))
#endif

void tee_uart_init(uint32_t uart_clock_hz) {
#if defined(TEE_UART_RCC_REGISTER)
    /* Clock the GPIO port and the USART, route the pins to the USART alternate function. */
    *(volatile uint32_t *)TEE_GPIO_RCC_REGISTER |= 1u << TEE_GPIO_RCC_BIT;
    *(volatile uint32_t *)TEE_UART_RCC_REGISTER |= 1u << TEE_UART_RCC_BIT;
    volatile uint32_t *moder = (volatile uint32_t *)TEE_GPIO_PORT;
    volatile uint32_t *afrh = (volatile uint32_t *)(TEE_GPIO_PORT + 0x24);
    const int pins[2] = {TEE_GPIO_PIN_TX, TEE_GPIO_PIN_RX};
    for (int i = 0; i < 2; ++i) {
        const int p = pins[i];
        *moder = (*moder & ~(3u << (2 * p))) | (2u << (2 * p));
        *afrh = (*afrh & ~(0xFu << (4 * (p - 8)))) | ((uint32_t)TEE_GPIO_AF << (4 * (p - 8)));
    }
#endif
    BRR = (uart_clock_hz + 57600u) / 115200u; /* the clock actually running, set up or reset */
    CR1 = CR1_ENABLE;
}

void tee_uart_putc(char c) {
    while (!TX_READY) {
    }
    WRITE(c);
}

int tee_uart_getc(void) {
    while (!RX_READY) {
    }
    return READ();
}
