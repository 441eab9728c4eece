#ifndef GW_CBYTESCAN_H
#define GW_CBYTESCAN_H
/* Sixteen bytes at a time for the JSON string scanner (GatewayCore's TapeBuilder.parseString)
 * and the HTTP head checks (GatewayHTTP's HTTPRequestParser and HeadParser).
 *
 * Why C: Swift has no portable way to turn a vector comparison into a bit mask (SSE2's
 * pmovmskb). One load answers for a whole key of up to 15 bytes, where the 8-byte SWAR scan
 * took one or two rounds with a data-dependent exit each. Measured on the benchmark body
 * (`gateway-microbench 300000 JSONDocument.parse`, interleaved, pinned): about 5% off a parse.
 * `static inline`, so the Swift caller inlines it (no call). SSE2 is part of x86-64; other
 * targets get the same answer byte by byte. */
#include <stddef.h>
#include <stdint.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* The bytes each mask below flags, one at a time: the definitions the vector forms must match
 * (the tests compare them), and the forms used on targets without SSE2. */
static inline int gw_json_string_needs_look(uint8_t b) { return b == '"' || b == '\\' || b < 0x20 || b >= 0x80; }
static inline int gw_http_head_forbidden(uint8_t b) { return (b < 0x20 && b != 0x09 && b != 0x0D && b != 0x0A) || b == 0x7F; }
static inline int gw_http_value_forbidden(uint8_t b) { return (b < 0x20 && b != 0x09) || b == 0x7F; }

/* Bit k set when `flag(p[k])`, for the 16 bytes at `p`. */
static inline uint32_t gw_bytewise_mask16(const uint8_t *p, int (*flag)(uint8_t)) {
    uint32_t m = 0;
    for (int k = 0; k < 16; k++) {
        if (flag(p[k])) m |= 1u << k;
    }
    return m;
}

/* Bit k set when byte k of the 16 at `p` (all readable) needs the scanner's look: a quote, a
 * backslash, a control byte (below 0x20) or a non-ASCII byte (at or above 0x80; one signed
 * comparison catches both of the last). Exact: no bit for any other byte. */
static inline uint32_t gw_json_string_attention16(const uint8_t *p) {
#if defined(__SSE2__)
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i quote = _mm_cmpeq_epi8(v, _mm_set1_epi8('"'));
    __m128i backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'));
    __m128i low = _mm_cmplt_epi8(v, _mm_set1_epi8(0x20));
    return (uint32_t)_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), low));
#else
    return gw_bytewise_mask16(p, gw_json_string_needs_look);
#endif
}

/* `gw_json_string_attention16` computed byte by byte on every target, as a real function: what
 * the tests compare the vector form with. */
uint32_t gw_json_string_attention16_portable(const uint8_t *p);

/* Bit k set when byte k of the 16 at `p` may not appear in a request head: a control byte other
 * than tab, CR and LF, or DEL. Exact, so a line end in a block costs nothing more (an 8-byte
 * SWAR test flagged every word holding a CRLF and checked it byte by byte). */
static inline uint32_t gw_http_head_forbidden16(const uint8_t *p) {
#if defined(__SSE2__)
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i control = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1F)), v); /* v <= 0x1F */
    __m128i allowed = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8(0x09)), _mm_cmpeq_epi8(v, _mm_set1_epi8(0x0D))),
                                   _mm_cmpeq_epi8(v, _mm_set1_epi8(0x0A)));
    __m128i del = _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7F));
    return (uint32_t)_mm_movemask_epi8(_mm_or_si128(_mm_andnot_si128(allowed, control), del));
#else
    return gw_bytewise_mask16(p, gw_http_head_forbidden);
#endif
}

/* Bit k set when byte k of the 16 at `p` may not appear in a header field value: a control
 * byte other than tab, or DEL (RFC 9110 5.5; obs-text, 0x80 and above, is allowed). Exact. */
static inline uint32_t gw_http_value_forbidden16(const uint8_t *p) {
#if defined(__SSE2__)
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i control = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1F)), v);
    __m128i tab = _mm_cmpeq_epi8(v, _mm_set1_epi8(0x09));
    __m128i del = _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7F));
    return (uint32_t)_mm_movemask_epi8(_mm_or_si128(_mm_andnot_si128(tab, control), del));
#else
    return gw_bytewise_mask16(p, gw_http_value_forbidden);
#endif
}

/* Bit k set when byte k of the 16 at `p` (all readable) equals `c`. Exact. For the unescape of
 * a JSON string's content (GatewayCore's JSONDocument.Storage.unescape), which looks for the
 * next backslash: metadata that is JSON inside a string has one every few bytes. */
static inline uint32_t gw_byte_mask16(const uint8_t *p, uint8_t c) {
#if defined(__SSE2__)
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    return (uint32_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8((char)c)));
#else
    uint32_t m = 0;
    for (int k = 0; k < 16; k++) {
        if (p[k] == c) m |= 1u << k;
    }
    return m;
#endif
}

/* Decodes the leading blocks of a validated JSON string's content `src[0..<n]` into `dst` (room
 * for n bytes) while every backslash in a 16-byte block starts `\"` or `\/`; returns the bytes
 * written and sets *consumed to the bytes read (0 and 0 without SSSE3). The caller decodes the
 * rest, from src + *consumed. See byte_scan.c. */
size_t gw_unescape_quotes(const uint8_t *src, size_t n, uint8_t *dst, size_t *consumed);

#endif
