#include "gateway_plugin.h"

uint32_t gw_plugin_abi_version(void) { return GW_PLUGIN_ABI_VERSION; }
