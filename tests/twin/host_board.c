/* The board interface on the host, for the firmware's software twin: the UART is one TCP connection
 * (the twin listens on 127.0.0.1, prints its port, and serves the first client), ticks count the
 * harness's tick reads in steps of 1000, so a segment always times 1000: a deterministic answer
 * that a damaged frame cannot fake. */
#define _POSIX_C_SOURCE 200809L
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "board_config.h"
#include "tee_board.h"

static int conn = -1;
static unsigned char out[4096];
static size_t out_len;
static uint64_t ticks;

static void flush_out(void) {
    for (size_t sent = 0; sent < out_len;) {
        const ssize_t n = send(conn, out + sent, out_len - sent, 0);
        if (n <= 0) exit(0);
        sent += (size_t)n;
    }
    out_len = 0;
}

tee_clocks tee_clock_init(void) {
    const tee_clocks c = {TEE_CLOCK_HZ, TEE_CLOCK_HZ, "host"};
    return c;
}

void tee_uart_init(uint32_t uart_clock_hz) {
    (void)uart_clock_hz;
    const int server = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof addr;
    if (server < 0 || bind(server, (struct sockaddr *)&addr, len) || listen(server, 1) ||
        getsockname(server, (struct sockaddr *)&addr, &len)) {
        perror("twin");
        exit(1);
    }
    printf("%d\n", ntohs(addr.sin_port));
    fflush(stdout);
    conn = accept(server, 0, 0);
    if (conn < 0) exit(1);
    const int one = 1;
    setsockopt(conn, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    close(server);
}

void tee_uart_putc(char c) {
    if (out_len == sizeof out) flush_out();
    out[out_len++] = (unsigned char)c;
}

int tee_uart_getc(void) {
    unsigned char c;
    if (out_len) flush_out(); /* the harness reads only after it has answered */
    if (recv(conn, &c, 1, 0) != 1) exit(0); /* the host hung up */
    return c;
}

void tee_timer_init(void) {}

uint64_t tee_ticks(void) { return ticks += 1000; }

void tee_board_exit(int code) {
    flush_out();
    exit(code);
}
