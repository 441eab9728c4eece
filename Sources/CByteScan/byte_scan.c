#include "CByteScan.h"

uint32_t gw_json_string_attention16_portable(const uint8_t *p) {
    uint32_t m = 0;
    for (int k = 0; k < 16; k++) {
        uint8_t b = p[k];
        if (b == '"' || b == '\\' || b < 0x20 || b >= 0x80) m |= 1u << k;
    }
    return m;
}
