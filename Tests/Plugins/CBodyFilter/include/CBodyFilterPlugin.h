/* The c-body-filter plugin exports only gw_plugin_register_v1 (see gateway_plugin.h). */
#include "gateway_plugin.h"
