/*
 * A handler plugin written in plain C, to prove the ABI needs nothing but gateway_plugin.h.
 * Name "c-echo". with: {path: FILE}. Appends "<attempt> <event code> <body>\n" to FILE.
 * A body containing "c-echo-fail" fails permanently, "c-echo-retry" asks for a retry, and
 * "c-echo-drop" stops the chain; otherwise the chain goes on with the body unchanged.
 * Destroying an instance appends "destroyed" to FILE.destroyed (tests see when the host lets go).
 */
#include "gateway_plugin.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>

struct echo { char *path; pthread_mutex_t lock; const gw_host_api *host; };

static void say(const gw_output *out, const char *s) {
    if (out && out->set_reason) { gw_bytes b = { (const uint8_t *)s, strlen(s) }; out->set_reason(out->ctx, b); }
}

static int contains(gw_bytes hay, const char *needle) {
    size_t n = strlen(needle);
    if (hay.len < n) return 0;
    for (size_t i = 0; i + n <= hay.len; i++) if (memcmp(hay.ptr + i, needle, n) == 0) return 1;
    return 0;
}

/* Finds "path":"..." in the config JSON (enough for a test plugin; no escapes in the value). */
static char *config_path(gw_bytes cfg) {
    const char *key = "\"path\"";
    for (size_t i = 0; i + 6 < cfg.len; i++) {
        if (memcmp(cfg.ptr + i, key, 6) != 0) continue;
        size_t j = i + 6;
        while (j < cfg.len && (cfg.ptr[j] == ' ' || cfg.ptr[j] == ':')) j++;
        if (j >= cfg.len || cfg.ptr[j] != '"') return NULL;
        size_t start = ++j;
        while (j < cfg.len && cfg.ptr[j] != '"') j++;
        char *p = malloc(j - start + 1);
        memcpy(p, cfg.ptr + start, j - start);
        p[j - start] = 0;
        return p;
    }
    return NULL;
}

static int32_t echo_create(const gw_host_api *host, gw_bytes config, void **instance, const gw_output *out) {
    char *path = config_path(config);
    if (!path) { say(out, "with.path is required"); return GW_FAIL; }
    struct echo *e = calloc(1, sizeof *e);
    e->path = path;
    e->host = host;
    pthread_mutex_init(&e->lock, NULL);
    *instance = e;
    return GW_OK;
}

static int32_t echo_handle(void *instance, const gw_event *event, const gw_output *out) {
    struct echo *e = instance;
    if (contains(event->body, "c-echo-fail")) { say(out, "c-echo was told to fail"); return GW_FAIL; }
    if (contains(event->body, "c-echo-retry") && event->attempt < 2) { say(out, "c-echo was told to retry"); return GW_RETRY; }
    if (contains(event->body, "c-echo-drop")) return GW_DROP;
    pthread_mutex_lock(&e->lock);
    FILE *f = fopen(e->path, "a");
    if (!f) { pthread_mutex_unlock(&e->lock); say(out, "cannot open the file"); return GW_RETRY; }
    fprintf(f, "%u %.*s ", event->attempt, (int)event->event_code.len, (const char *)event->event_code.ptr);
    fwrite(event->body.ptr, 1, event->body.len, f);
    fputc('\n', f);
    fclose(f);
    pthread_mutex_unlock(&e->lock);
    return GW_CONTINUE;
}

static void echo_destroy(void *instance) {
    struct echo *e = instance;
    if (!e) return;
    size_t n = strlen(e->path);
    char *marker = malloc(n + sizeof ".destroyed");
    if (marker) {
        memcpy(marker, e->path, n);
        memcpy(marker + n, ".destroyed", sizeof ".destroyed");
        FILE *f = fopen(marker, "a");
        if (f) { fputs("destroyed\n", f); fclose(f); }
        free(marker);
    }
    pthread_mutex_destroy(&e->lock);
    free(e->path);
    free(e);
}

int32_t gw_plugin_register_v1(gw_plugin_v1 *table, uint32_t size) {
    if (!table || size < GW_PLUGIN_V1_BASE_SIZE) return GW_FAIL;
    table->abi_version = GW_PLUGIN_ABI_VERSION;
    /* Written like a plugin built before `flags` was appended to gw_plugin_v1: the host must
       accept the shorter table (and treat the plugin as blocking). */
    table->struct_size = GW_PLUGIN_V1_BASE_SIZE;
    table->name = "c-echo";
    table->description = "test plugin in C: appends events to a file";
    table->create = echo_create;
    table->handle = echo_handle;
    table->destroy = echo_destroy;
    return GW_OK;
}
