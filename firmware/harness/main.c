/* tinyee benchmark harness: the generated library (tinyee_model.h) behind the UART line protocol
 * of firmware/PROTOCOL.md, timing each segment through the library's segment hook. */
#include <stdint.h>
#include <string.h>

#include "board_config.h"
#include "tee_board.h"
#include "tinyee_model.h"
#include "tee_simd.h"

#if TEE_BOARD_HAS_MVE && !defined(TEE_PATH_MVE)
#error "the board file lists the mve feature, but its cflags do not enable Helium (-march=...+mve -mfloat-abi=hard)"
#endif
#if TEE_BOARD_HAS_DSP && !defined(TEE_PATH_MVE) && !defined(TEE_PATH_DSP)
#error "the board file lists the dsp feature, but its cflags do not enable the DSP extension (-mcpu=cortex-m4 or -m7)"
#endif

#define LINE_MAX 400
#define READ_MAX 128 /* bytes per `rd` answer */
#define PROF_MAX 32 /* tick counts per `prof` answer */

static int8_t input[TINYEE_INPUT_SIZE];

/* --- framed output: every line ends with *HH, the XOR of its bytes -------------------------- */
static uint8_t out_sum;

static void put_char(char c) {
    out_sum ^= (uint8_t)c;
    tee_uart_putc(c);
}

static void put_str(const char *s) {
    while (*s) put_char(*s++);
}

static void put_uint(uint64_t v) {
    char buf[21];
    int n = 0;
    do {
        buf[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n) put_char(buf[--n]);
}

static void put_int(int32_t v) {
    if (v < 0) {
        put_char('-');
        put_uint((uint64_t)(-(int64_t)v));
    } else {
        put_uint((uint64_t)v);
    }
}

static const char HEX[] = "0123456789ABCDEF";

static void put_hex32(uint32_t v) {
    for (int i = 28; i >= 0; i -= 4) put_char(HEX[(v >> i) & 0xF]);
}

static void begin_line(const char *head) {
    out_sum = 0;
    put_str(head);
}

static void end_line(void) {
    const uint8_t sum = out_sum;
    tee_uart_putc('*');
    tee_uart_putc(HEX[sum >> 4]);
    tee_uart_putc(HEX[sum & 0xF]);
    tee_uart_putc('\r');
    tee_uart_putc('\n');
}

static void reply(const char *text) {
    begin_line(text);
    end_line();
}

/* --- input -------------------------------------------------------------------------------- */
static int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* Reads one line; returns its length without the checksum, or -1 when the frame is bad. */
static int read_line(char *line) {
    int n = 0, overflow = 0;
    for (;;) {
        const int c = tee_uart_getc();
        if (c == '\n') break;
        if (c == '\r') continue;
        if (n < LINE_MAX - 1) line[n++] = (char)c;
        else overflow = 1;
    }
    line[n] = 0;
    if (overflow || n < 3 || line[n - 3] != '*') return -1;
    const int hi = hex_value(line[n - 2]), lo = hex_value(line[n - 1]);
    uint8_t sum = 0;
    for (int i = 0; i < n - 3; ++i) sum ^= (uint8_t)line[i];
    if (hi < 0 || lo < 0 || sum != (uint8_t)(hi << 4 | lo)) return -1;
    line[n - 3] = 0;
    return n - 3;
}

static const char *parse_int(const char *s, int32_t *out) {
    int neg = 0;
    int32_t v = 0;
    if (*s == '-') {
        neg = 1;
        ++s;
    }
    if (*s < '0' || *s > '9') return 0;
    while (*s >= '0' && *s <= '9') v = v * 10 + (*s++ - '0');
    *out = neg ? -v : v;
    return s;
}

static uint32_t crc32(const int8_t *data, int32_t n) {
    uint32_t crc = 0xFFFFFFFFu;
    for (int32_t i = 0; i < n; ++i) {
        crc ^= (uint8_t)data[i];
        for (int b = 0; b < 8; ++b) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

/* --- commands ------------------------------------------------------------------------------- */
static void cmd_id(void) {
    begin_line("m-id model=" TINYEE_MODEL_ID " board=" TEE_BOARD_NAME " segments=");
    put_int(TINYEE_NUM_EXITS);
    put_str(" classes=");
    put_int(TINYEE_NUM_CLASSES);
    put_str(" input=");
    put_int(TINYEE_INPUT_SIZE);
    put_str(" arena=");
    put_int(TINYEE_ARENA_SIZE);
    put_str(" kernels=" TINYEE_KERNELS " path=" TEE_KERNEL_PATH " tick=" TEE_TICK_NAME " clock=");
    put_uint(TEE_CLOCK_HZ);
    end_line();
}

/* `db`/`ab <offset> <hex bytes>`: store bytes in the input buffer or (tests, profiling) the arena. */
static void cmd_bytes(const char *name, const char *args, int8_t *dest, int32_t size) {
    int32_t offset;
    const char *p = parse_int(args, &offset);
    if (!p || *p != ' ' || offset < 0) { reply("m-error bad-args"); return; }
    ++p;
    int32_t n = 0;
    while (p[0] && p[1]) {
        const int hi = hex_value(p[0]), lo = hex_value(p[1]);
        if (hi < 0 || lo < 0 || offset + n >= size) { reply("m-error bad-args"); return; }
        dest[offset + n++] = (int8_t)(hi << 4 | lo);
        p += 2;
    }
    if (*p) { reply("m-error bad-args"); return; }
    begin_line("m-ok ");
    put_str(name);
    put_char(' ');
    put_int(offset);
    put_char(' ');
    put_int(n);
    end_line();
}

/* Parses exactly "<first> <count>" with 0 <= first, 1 <= count <= max and first + count <= size. */
static int parse_range(const char *args, int32_t max, int32_t size, int32_t *first, int32_t *count) {
    const char *p = parse_int(args, first);
    if (p && *p == ' ') p = parse_int(p + 1, count);
    return p && !*p && *first >= 0 && *count >= 1 && *count <= max && *first + *count <= size;
}

/* `rd <offset> <count>`: arena bytes as hex, so the host can check any tensor bit for bit. */
static void cmd_read(const char *args) {
    int32_t offset, n;
    if (!parse_range(args, READ_MAX, TINYEE_ARENA_SIZE, &offset, &n)) {
        reply("m-error bad-args");
        return;
    }
    begin_line("m-data ");
    put_int(offset);
    put_char(' ');
    for (int32_t i = 0; i < n; ++i) {
        put_char(HEX[(uint8_t)tinyee_arena[offset + i] >> 4]);
        put_char(HEX[(uint8_t)tinyee_arena[offset + i] & 0xF]);
    }
    end_line();
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
#else
static void clear_ticks(void) { memset(segment_ticks, 0, sizeof segment_ticks); }
#endif

/* `run <k>`: runs segment k on the arena as it is (no input copy; the exit decision is not reported). */
static void cmd_run(const char *args) {
    int32_t k;
    const char *p = parse_int(args, &k);
    if (!p || *p || k < 0 || k >= TINYEE_NUM_EXITS) { reply("m-error bad-args"); return; }
    clear_ticks();
    tinyee_result result;
    tinyee_segment_run((int)k, &result);
    begin_line("m-ran ");
    put_int(k);
    put_str(" ticks=");
    put_uint(segment_ticks[k]);
    end_line();
}

#if TINYEE_PROFILE_OPS
/* `prof <first> <count>`: ticks of kernel calls first.. of the last `infer`/`run` (cascade order). */
static void cmd_prof(const char *args) {
    int32_t first, n;
    if (!parse_range(args, PROF_MAX, TINYEE_NUM_OPS, &first, &n)) {
        reply("m-error bad-args");
        return;
    }
    begin_line("m-prof ");
    put_int(first);
    put_char(' ');
    for (int32_t i = 0; i < n; ++i) {
        if (i) put_char(',');
        put_uint(tinyee_op_ticks[first + i]);
    }
    end_line();
}
#endif

/* `infer [force [runs]]`: runs the cascade `runs` times on the loaded input (MLPerf-style timing
 * loops) and reports per-segment ticks summed over the runs. force >= 0 runs segments 0..force
 * and takes that exit whatever its confidence; -1 is the library's early-exit cascade. */
static void cmd_infer(const char *args) {
    int32_t force = -1, runs = 1;
    if (*args) {
        const char *p = parse_int(args, &force);
        if (p && *p == ' ') p = parse_int(p + 1, &runs);
        if (!p || *p) { reply("m-error bad-args"); return; }
    }
    if (force >= TINYEE_NUM_EXITS || runs < 1) { reply("m-error bad-args"); return; }
    clear_ticks();
    tinyee_result result;
    for (int32_t run = 0; run < runs; ++run) {
        if (force < 0) {
            tinyee_cascade_run(input, &result);
            continue;
        }
        tinyee_set_input(input);
        for (int k = 0; k <= force; ++k) tinyee_segment_run(k, &result);
    }
    begin_line("m-result exit=");
    put_int(result.exit);
    put_str(" class=");
    put_int(result.label);
    put_str(" conf=");
    put_int(result.confidence);
    put_str(" crc=");
    put_hex32(crc32(input, TINYEE_INPUT_SIZE));
    put_str(" ticks=");
    for (int k = 0; k <= result.exit; ++k) {
        if (k) put_char(',');
        put_uint(segment_ticks[k]);
    }
    put_str(" runs=");
    put_int(runs);
    end_line();
}

int main(void) {
    static char line[LINE_MAX];
    tee_uart_init();
    tee_timer_init();
    tinyee_set_segment_hook(time_segment, 0);
    reply("m-ready");
    for (;;) {
        if (read_line(line) < 0) {
            reply("m-error bad-frame");
            continue;
        }
        if (strcmp(line, "id") == 0) {
            cmd_id();
        } else if (strncmp(line, "db ", 3) == 0) {
            cmd_bytes("db", line + 3, input, TINYEE_INPUT_SIZE);
        } else if (strncmp(line, "ab ", 3) == 0) {
            cmd_bytes("ab", line + 3, tinyee_arena, TINYEE_ARENA_SIZE);
        } else if (strncmp(line, "rd ", 3) == 0) {
            cmd_read(line + 3);
        } else if (strncmp(line, "run ", 4) == 0) {
            cmd_run(line + 4);
#if TINYEE_PROFILE_OPS
        } else if (strncmp(line, "prof ", 5) == 0) {
            cmd_prof(line + 5);
#endif
        } else if (strcmp(line, "infer") == 0 || strncmp(line, "infer ", 6) == 0) {
            cmd_infer(line[5] ? line + 6 : line + 5);
        } else if (strcmp(line, "quit") == 0) {
            reply("m-bye");
#if TEE_SEMIHOSTING
            tee_board_exit(0);
#endif
        } else {
            reply("m-error unknown-command");
        }
    }
}
