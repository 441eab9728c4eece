#include "CByteScan.h"

uint32_t gw_json_string_attention16_portable(const uint8_t *p) {
    return gw_bytewise_mask16(p, gw_json_string_needs_look);
}
