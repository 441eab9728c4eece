/*
 * A pure filter written in plain C that reads the body: name "c-body-filter",
 * with: {contains: TEXT}. Passes on (GW_CONTINUE) an event whose body, as the route's
 * transforms made it, contains TEXT; drops (GW_DROP) any other.
 *
 * It declares GW_PLUGIN_NONBLOCKING | GW_PLUGIN_PURE (but not GW_PLUGIN_BODY_UNUSED), so the
 * host calls it on the receiving thread before the notification is stored, with the
 * transformed body: the tests see that path deliver (the filter passes, a later handler writes
 * what it got) and drop (nothing stored); bench/routes.sh's routing-transforms-pure variant
 * measures with it what routing and the transforms cost, with no delivery at all.
 */
#define _GNU_SOURCE /* memmem */
#include "gateway_plugin.h"
#include <stdlib.h>
#include <string.h>

struct body_filter { uint8_t *needle; size_t len; };

static void say(const gw_output *out, const char *s) {
    if (out && out->set_reason) { gw_bytes b = { (const uint8_t *)s, strlen(s) }; out->set_reason(out->ctx, b); }
}

static int contains(gw_bytes hay, const uint8_t *needle, size_t n) {
    if (n == 0) return 1;
    if (!hay.ptr || hay.len < n) return 0;
    return memmem(hay.ptr, hay.len, needle, n) != NULL;
}

/* Finds "contains":"..." in the config JSON (enough for a test plugin: no escapes in the value). */
static int config_text(gw_bytes cfg, uint8_t **text, size_t *len) {
    static const char key[] = "\"contains\"";
    const size_t k = sizeof key - 1;
    for (size_t i = 0; cfg.ptr && i + k < cfg.len; i++) {
        if (memcmp(cfg.ptr + i, key, k) != 0) continue;
        size_t j = i + k;
        while (j < cfg.len && (cfg.ptr[j] == ' ' || cfg.ptr[j] == ':')) j++;
        if (j >= cfg.len || cfg.ptr[j] != '"') return 0;
        size_t start = ++j;
        while (j < cfg.len && cfg.ptr[j] != '"' && cfg.ptr[j] != '\\') j++;
        if (j >= cfg.len || cfg.ptr[j] != '"') return 0;
        *len = j - start;
        *text = malloc(*len + 1);
        if (!*text) return 0;
        memcpy(*text, cfg.ptr + start, *len);
        return 1;
    }
    return 0;
}

static int32_t filter_create(const gw_host_api *host, gw_bytes config, void **instance, const gw_output *out) {
    (void)host;
    struct body_filter *f = calloc(1, sizeof *f);
    if (!f) { say(out, "out of memory"); return GW_FAIL; }
    if (!config_text(config, &f->needle, &f->len)) {
        free(f);
        say(out, "with.contains is required: a string without escapes");
        return GW_FAIL;
    }
    *instance = f;
    return GW_OK;
}

static int32_t filter_handle(void *instance, const gw_event *event, const gw_output *out) {
    (void)out;
    struct body_filter *f = instance;
    return contains(event->body, f->needle, f->len) ? GW_CONTINUE : GW_DROP;
}

static void filter_destroy(void *instance) {
    struct body_filter *f = instance;
    if (!f) return;
    free(f->needle);
    free(f);
}

int32_t gw_plugin_register_v1(gw_plugin_v1 *table, uint32_t size) {
    if (!table || size < sizeof *table) return GW_FAIL;
    table->abi_version = GW_PLUGIN_ABI_VERSION;
    table->struct_size = sizeof *table;
    table->name = "c-body-filter";
    table->description = "test plugin in C: passes events whose body contains a text";
    table->create = filter_create;
    table->handle = filter_handle;
    table->destroy = filter_destroy;
    table->flags = GW_PLUGIN_NONBLOCKING | GW_PLUGIN_PURE;
    return GW_OK;
}
