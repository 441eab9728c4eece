/* A plugin built for a future ABI version: the loader must refuse it with a clear message. */
#include "gateway_plugin.h"

int32_t gw_plugin_register_v1(gw_plugin_v1 *table, uint32_t size) {
    if (!table || size < sizeof(gw_plugin_v1)) return GW_FAIL;
    table->abi_version = 99;
    table->struct_size = sizeof(gw_plugin_v1);
    table->name = "c-badabi";
    return GW_OK;
}
