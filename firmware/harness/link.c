/* COBS framing with a CRC-32 per frame over the board's UART (firmware/PROTOCOL.md). */
#include "link.h"

#include "tee_board.h"

#define FRAME_MAX (LINK_PAYLOAD_MAX + 4 + LINK_PAYLOAD_MAX / 254 + 2)
#define NOISE_MAX 2 /* a fragment this short is a damaged delimiter, not a damaged frame */

static uint8_t tx[LINK_PAYLOAD_MAX + 4];
static uint32_t tx_len;

uint32_t link_crc32(const void *data, uint32_t n) {
    const uint8_t *p = (const uint8_t *)data;
    uint32_t crc = 0xFFFFFFFFu;
    for (uint32_t i = 0; i < n; ++i) {
        crc ^= p[i];
        for (int b = 0; b < 8; ++b) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

/* COBS-decodes in place; returns the decoded length, or -1 when the encoding is broken. */
static int cobs_decode(uint8_t *buf, int n) {
    int in = 0, out = 0;
    while (in < n) {
        const int code = buf[in++];
        if (code == 0 || in + code - 1 > n) return -1;
        for (int i = 1; i < code; ++i) buf[out++] = buf[in++];
        if (code < 0xFF && in < n) buf[out++] = 0;
    }
    return out;
}

int link_receive(uint8_t *payload) {
    static uint8_t frame[FRAME_MAX];
    for (;;) {
        int n = 0, overflow = 0;
        for (int c; (c = tee_uart_getc()) != 0;) {
            if (n < FRAME_MAX) frame[n++] = (uint8_t)c;
            else overflow = 1;
        }
        if (n <= NOISE_MAX && !overflow) continue; /* delimiters between frames, or noise */
        const int len = overflow ? -1 : cobs_decode(frame, n);
        if (len < 3 + 4 || len > LINK_PAYLOAD_MAX + 4) return -1;
        const uint32_t crc = (uint32_t)frame[len - 4] | (uint32_t)frame[len - 3] << 8 |
                             (uint32_t)frame[len - 2] << 16 | (uint32_t)frame[len - 1] << 24;
        if (crc != link_crc32(frame, (uint32_t)(len - 4))) return -1;
        for (int i = 0; i < len - 4; ++i) payload[i] = frame[i];
        return len - 4;
    }
}

void link_begin(uint8_t kind, uint16_t seq) {
    tx_len = 0;
    link_put_u8(kind);
    link_put_u16(seq);
}

void link_put_bytes(const void *data, uint32_t n) {
    const uint8_t *p = (const uint8_t *)data;
    for (uint32_t i = 0; i < n && tx_len < LINK_PAYLOAD_MAX; ++i) tx[tx_len++] = p[i];
}

void link_put_u8(uint8_t v) { link_put_bytes(&v, 1); }

void link_put_u16(uint16_t v) {
    const uint8_t b[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    link_put_bytes(b, 2);
}

void link_put_u32(uint32_t v) {
    link_put_u16((uint16_t)v);
    link_put_u16((uint16_t)(v >> 16));
}

void link_put_u64(uint64_t v) {
    link_put_u32((uint32_t)v);
    link_put_u32((uint32_t)(v >> 32));
}

void link_put_text(const char *s) {
    while (*s) link_put_u8((uint8_t)*s++);
}

/* A leading delimiter resynchronises a receiver after noise; three trailing ones make a lost
 * delimiter cost a retry instead of a timeout. */
static void emit(const uint8_t *buf, uint32_t n) {
    tee_uart_putc(0);
    for (uint32_t start = 0; start < n;) {
        uint32_t end = start;
        while (end < n && buf[end] != 0 && end - start < 254) ++end;
        tee_uart_putc((char)(end - start + 1));
        for (uint32_t i = start; i < end; ++i) tee_uart_putc((char)buf[i]);
        if (end == n) break;
        /* A short block's code implies the zero after it; a full one (code 0xFF) implies none. */
        start = end - start == 254 ? end : end + 1;
        if (start == n) tee_uart_putc(1); /* the payload ends with a zero: one more, empty block */
    }
    for (int i = 0; i < 3; ++i) tee_uart_putc(0);
}

static void put_crc(uint8_t *buf, uint32_t n) {
    const uint32_t crc = link_crc32(buf, n);
    for (int i = 0; i < 4; ++i) buf[n + i] = (uint8_t)(crc >> (8 * i));
}

void link_send(void) {
    put_crc(tx, tx_len);
    emit(tx, tx_len + 4);
}

void link_resend(void) { emit(tx, tx_len + 4); }

void link_nak(uint16_t seq, uint8_t code) {
    uint8_t nak[4 + 4] = {'E', (uint8_t)seq, (uint8_t)(seq >> 8), code};
    put_crc(nak, 4);
    emit(nak, sizeof nak);
}
