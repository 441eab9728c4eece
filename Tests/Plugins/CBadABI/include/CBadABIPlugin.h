#include "gateway_plugin.h"
