/* The C echo test plugin exports only gw_plugin_register_v1 (declared in gateway_plugin.h). */
#include "gateway_plugin.h"
