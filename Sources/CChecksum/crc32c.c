#include "CChecksum.h"
#include <pthread.h>
#include <string.h>

static uint32_t table[256];
static int ready = 0;      /* 1: table built, 2: hardware; written once, under `once` */
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
        table[i] = c;
    }
#if defined(__x86_64__)
    __builtin_cpu_init();
    ready = __builtin_cpu_supports("sse4.2") ? 2 : 1;
#else
    ready = 1;
#endif
}

#if defined(__x86_64__)
__attribute__((target("sse4.2")))
static uint32_t hardware(uint32_t crc, const unsigned char *p, size_t len) {
    uint64_t c = crc;
    while (len >= 8) {
        uint64_t v;
        memcpy(&v, p, 8);
        c = __builtin_ia32_crc32di(c, v);
        p += 8;
        len -= 8;
    }
    uint32_t c32 = (uint32_t)c;
    while (len--) c32 = __builtin_ia32_crc32qi(c32, *p++);
    return c32;
}
#endif

uint32_t gw_crc32c(uint32_t crc, const void *data, size_t len) {
    /* pthread_once: concurrent first calls (the spool writer and the event loops encode records
       at once) must not race on the table; ThreadSanitizer reported the earlier unguarded
       "benign" build. After the first call this is one load and a predictable branch. */
    pthread_once(&once, init);
    const unsigned char *p = data;
    uint32_t c = ~crc;
#if defined(__x86_64__)
    if (ready == 2) return ~hardware(c, p, len);
#endif
    while (len--) c = table[(c ^ *p++) & 0xFF] ^ (c >> 8);
    return ~c;
}
