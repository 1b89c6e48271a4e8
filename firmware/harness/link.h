/* The harness's framing (firmware/PROTOCOL.md): every frame, in both directions, is
 * COBS(payload | CRC-32 of payload, little-endian) between 0x00 delimiters; a payload starts with
 * a kind byte and a 16-bit sequence number. */
#ifndef TEE_LINK_H
#define TEE_LINK_H

#include <stdint.h>

#define LINK_DATA_MAX 512 /* data bytes in one `db`/`ab`/`rd` frame */
#define LINK_PAYLOAD_MAX (LINK_DATA_MAX + 16)

/* Blocks until a frame arrives; returns its payload length (>= 3), or -1 when the frame was damaged
 * (the caller answers with a NAK). Empty frames (consecutive delimiters) are skipped. */
int link_receive(uint8_t *payload);

/* The reply under construction: link_begin, then link_put_*, then link_send. */
void link_begin(uint8_t kind, uint16_t seq);
void link_put_u8(uint8_t v);
void link_put_u16(uint16_t v);
void link_put_u32(uint32_t v);
void link_put_u64(uint64_t v);
void link_put_bytes(const void *data, uint32_t n);
void link_put_text(const char *s);
void link_send(void);

/* Sends the last reply again (a resent command is answered from this copy, not run twice). */
void link_resend(void);

/* A bare error reply (kind 'E', a code, no text) that leaves the last reply intact for link_resend. */
void link_nak(uint16_t seq, uint8_t code);

uint32_t link_crc32(const void *data, uint32_t n);

#endif
