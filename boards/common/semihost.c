/* Arm semihosting SYS_EXIT, so an emulator ends cleanly when the host says "quit". */
#include <stdint.h>

#include "tee_board.h"

void tee_board_exit(int code) {
    static uint32_t block[2];
    block[0] = 0x20026; /* ADP_Stopped_ApplicationExit */
    block[1] = (uint32_t)code;
    register uint32_t r0 __asm("r0") = 0x20; /* SYS_EXIT_EXTENDED */
    register uint32_t r1 __asm("r1") = (uint32_t)block;
    __asm volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    for (;;) {
    }
}
