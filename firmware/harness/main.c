/* tinyee benchmark harness: the generated library (tinyee_model.h) behind the framed UART protocol
 * of firmware/PROTOCOL.md (framing in link.c), timing each segment through the library's segment hook. */
#include <stdint.h>
#include <string.h>

#include "board_config.h"
#include "link.h"
#include "tee_board.h"
#include "tinyee_model.h"
#include "tee_simd.h"

#if TEE_BOARD_HAS_MVE && !defined(TEE_PATH_MVE)
#error "the board file lists the mve feature, but its cflags do not enable Helium (-march=...+mve -mfloat-abi=hard)"
#endif
#if TEE_BOARD_HAS_DSP && !defined(TEE_PATH_MVE) && !defined(TEE_PATH_DSP)
#error "the board file lists the dsp feature, but its cflags do not enable the DSP extension (-mcpu=cortex-m4 or -m7)"
#endif

#define PROF_MAX 32 /* tick counts per `prof` answer */
#define NO_SEQ 0xFFFFu /* the sequence number of replies to no command (banner, NAK) */

enum { ERR_BAD_FRAME = 1, ERR_UNKNOWN_COMMAND = 2, ERR_BAD_ARGS = 3, ERR_INPUT_CRC = 4 };

static int8_t input[TINYEE_INPUT_SIZE];

/* --- the command being served: its payload, read with bounds checks --------------------------- */
static uint8_t rx[LINK_PAYLOAD_MAX];
static int rx_len, rx_pos;
static uint16_t seq;
static tee_clocks clocks;

static int take(uint32_t *out, int bytes) {
    if (rx_pos + bytes > rx_len) return 0;
    uint32_t v = 0;
    for (int i = 0; i < bytes; ++i) v |= (uint32_t)rx[rx_pos++] << (8 * i);
    *out = v;
    return 1;
}

static int at_end(void) { return rx_pos == rx_len; }

static void reply_error(uint16_t to, uint8_t code, const char *what) {
    link_begin('E', to);
    link_put_u8(code);
    link_put_text(what);
    link_send();
}

static void bad_args(void) { reply_error(seq, ERR_BAD_ARGS, "bad-args"); }

/* --- commands ------------------------------------------------------------------------------- */
static void cmd_id(void) {
    if (!at_end()) { bad_args(); return; }
    link_begin('I', seq);
    link_put_u16(TINYEE_NUM_EXITS);
    link_put_u16(TINYEE_NUM_CLASSES);
    link_put_u32(TINYEE_INPUT_SIZE);
    link_put_u32(TINYEE_ARENA_SIZE);
    link_put_u32(clocks.core_hz); /* the clock running now: the board file's target, or the reset clock */
    link_put_text("model=" TINYEE_MODEL_ID " board=" TEE_BOARD_NAME " kernels=" TINYEE_KERNELS
                  " path=" TEE_KERNEL_PATH " tick=" TEE_TICK_NAME " clock_source=");
    link_put_text(clocks.source);
    link_send();
}

/* `db`/`ab`: offset u32, then the bytes, stored in the input buffer or (tests, profiling) the arena. */
static void cmd_store(uint8_t kind, int8_t *dest, uint32_t size) {
    uint32_t offset;
    const uint32_t n = rx_len >= 7 ? (uint32_t)(rx_len - 7) : 0;
    if (!take(&offset, 4) || n == 0 || offset > size || n > size - offset) { bad_args(); return; }
    memcpy(dest + offset, rx + rx_pos, n);
    link_begin(kind, seq);
    link_put_u32(offset);
    link_put_u16((uint16_t)n);
    link_send();
}

/* Reads "<first> <count>" with 1 <= count <= max and first + count <= size. */
static int take_range(int bytes, uint32_t max, uint32_t size, uint32_t *first, uint32_t *count) {
    return take(first, bytes) && take(count, 2) && at_end() && *count >= 1 && *count <= max && *first <= size &&
           *count <= size - *first;
}

/* `rd`: offset u32, count u16 -> the arena bytes, so the host can check any tensor bit for bit. */
static void cmd_read(void) {
    uint32_t offset, n;
    if (!take_range(4, LINK_DATA_MAX, TINYEE_ARENA_SIZE, &offset, &n)) { bad_args(); return; }
    link_begin('R', seq);
    link_put_u32(offset);
    link_put_bytes(tinyee_arena + offset, n);
    link_send();
}

/* --- timing: the library calls the hook right before and right after each segment ----------- */
static uint64_t segment_ticks[TINYEE_NUM_EXITS], segment_start;

static void time_segment(int segment, int done, void *context) {
    (void)context;
    if (done) segment_ticks[segment] += tee_ticks() - segment_start;
    else segment_start = tee_ticks();
}

#if TINYEE_PROFILE_OPS
uint64_t tinyee_profile_ticks(void) { return tee_ticks(); }

static void clear_ticks(void) {
    memset(segment_ticks, 0, sizeof segment_ticks);
    memset(tinyee_op_ticks, 0, sizeof tinyee_op_ticks);
}

/* `prof`: first u16, count u16 -> ticks of kernel calls first.. of the last `infer`/`run` (cascade order). */
static void cmd_prof(void) {
    uint32_t first, n;
    if (!take_range(2, PROF_MAX, TINYEE_NUM_OPS, &first, &n)) { bad_args(); return; }
    link_begin('P', seq);
    link_put_u16((uint16_t)first);
    for (uint32_t i = 0; i < n; ++i) link_put_u64(tinyee_op_ticks[first + i]);
    link_send();
}
#else
static void clear_ticks(void) { memset(segment_ticks, 0, sizeof segment_ticks); }
#endif

/* `run`: k u8 -> runs segment k on the arena as it is (no input copy; the exit decision is not reported). */
static void cmd_run(void) {
    uint32_t k;
    if (!take(&k, 1) || !at_end() || k >= TINYEE_NUM_EXITS) { bad_args(); return; }
    clear_ticks();
    tinyee_result result;
    tinyee_segment_run((int)k, &result);
    link_begin('U', seq);
    link_put_u8((uint8_t)k);
    link_put_u64(segment_ticks[k]);
    link_send();
}

/* `infer`: force i8, runs u32, input CRC-32 u32. Runs the cascade `runs` times on the loaded input
 * (MLPerf-style timing loops) and reports per-segment ticks summed over the runs. force >= 0 runs
 * segments 0..force and takes that exit whatever its confidence; -1 is the library's early-exit
 * cascade. An input whose CRC is not the host's is not run: a chunk went missing. */
static void cmd_infer(void) {
    uint32_t force_byte, runs, crc;
    if (!take(&force_byte, 1) || !take(&runs, 4) || !take(&crc, 4) || !at_end()) { bad_args(); return; }
    const int force = (int8_t)force_byte;
    if (force >= TINYEE_NUM_EXITS || force < -1 || runs < 1) { bad_args(); return; }
    if (crc != link_crc32(input, TINYEE_INPUT_SIZE)) { reply_error(seq, ERR_INPUT_CRC, "input-crc"); return; }
    clear_ticks();
    tinyee_result result;
    for (uint32_t run = 0; run < runs; ++run) {
        if (force < 0) {
            tinyee_cascade_run(input, &result);
            continue;
        }
        tinyee_set_input(input);
        for (int k = 0; k <= force; ++k) tinyee_segment_run(k, &result);
    }
    link_begin('N', seq);
    link_put_u8((uint8_t)result.exit);
    link_put_u16((uint16_t)result.label);
    link_put_u32((uint32_t)result.confidence);
    link_put_u32(crc);
    link_put_u32(runs);
    link_put_u32(TINYEE_ARENA_SIZE);
    for (int k = 0; k <= result.exit; ++k) link_put_u64(segment_ticks[k]);
    link_send();
}

static void serve(uint8_t kind) {
    switch (kind) {
    case 'I': cmd_id(); break;
    case 'D': cmd_store('D', input, TINYEE_INPUT_SIZE); break;
    case 'A': cmd_store('A', tinyee_arena, TINYEE_ARENA_SIZE); break;
    case 'R': cmd_read(); break;
    case 'U': cmd_run(); break;
#if TINYEE_PROFILE_OPS
    case 'P': cmd_prof(); break;
#endif
    case 'N': cmd_infer(); break;
    case 'Q':
        link_begin('Q', seq);
        link_send();
#if TEE_SEMIHOSTING
        tee_board_exit(0);
#endif
        break;
    default: reply_error(seq, ERR_UNKNOWN_COMMAND, "unknown-command");
    }
}

int main(void) {
    uint32_t last_crc = 0;
    int served = 0;
    clocks = tee_clock_init();
    tee_uart_init(clocks.uart_hz);
    tee_timer_init();
    tinyee_set_segment_hook(time_segment, 0);
    link_begin('B', NO_SEQ);
    link_put_text("ready");
    link_send();
    for (;;) {
        rx_len = link_receive(rx);
        if (rx_len < 0) {
            link_nak(NO_SEQ, ERR_BAD_FRAME);
            continue;
        }
        /* The host resends a command whose answer it lost: answer again, do not run it twice. */
        const uint32_t crc = link_crc32(rx, (uint32_t)rx_len);
        if (served && crc == last_crc) {
            link_resend();
            continue;
        }
        seq = (uint16_t)(rx[1] | rx[2] << 8);
        rx_pos = 3;
        serve(rx[0]);
        served = 1;
        last_crc = crc;
    }
}
