#ifndef GW_CCHECKSUM_H
#define GW_CCHECKSUM_H
#include <stddef.h>
#include <stdint.h>
/* CRC-32C (Castagnoli) of `len` bytes, continuing from `crc` (pass 0 to start; the result is
 * already finalised, as zlib's crc32 convention). Uses the SSE4.2 crc32 instruction when the CPU
 * has it (checked once), a table otherwise. */
uint32_t gw_crc32c(uint32_t crc, const void *data, size_t len);
#endif
