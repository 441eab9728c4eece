/*
 * gateway_plugin.h - the handler plugin ABI of the webhook gateway, version 1.
 *
 * This header is the whole contract between the gateway (the "host") and a handler plugin (a
 * shared object loaded with dlopen). It is plain C so plugins can be written in C, Swift, or any
 * language that can export a C function. Nothing else of the host is visible to a plugin: no
 * Swift type crosses this boundary, only the structs below, byte buffers and C function pointers.
 *
 * Loading
 *   The host looks for `libgwplugin-<name>.so` in `plugins.path` (default: the directory of the
 *   gateway executable), refuses files or directories writable by other users, dlopens it with
 *   RTLD_NOW | RTLD_LOCAL, resolves GW_PLUGIN_REGISTER_SYMBOL and calls it with a zero-filled
 *   gw_plugin_v1 and its size. The plugin fills in the table and returns GW_OK. The host then
 *   checks abi_version == GW_PLUGIN_ABI_VERSION, struct_size, that `name` equals <name>, and that
 *   create/handle/destroy are set. Plugins are never unloaded (dlclose is unsafe for Swift code);
 *   a changed plugin file takes effect on restart.
 *
 * Instances
 *   Every handler entry in gateway.yaml gets its own instance: create() receives the handler's
 *   `with:` block as a JSON object (UTF-8). create() validates it; on a problem it returns
 *   GW_FAIL and reports a reason through `out` (the host shows it as a config error at the
 *   handler's FILE:LINE:COL). destroy() is called when a configuration generation is retired.
 *
 * Threading
 *   handle() is called from several host threads at once, for the same instance. An instance must
 *   be safe for that (immutable after create, or locking). handle() may block (network, disk,
 *   child processes): each route has its own worker threads, so a slow handler delays only its
 *   own route.
 *   A plugin whose handle() never blocks (no I/O, no locks held for long, no sleeping; it returns
 *   within microseconds, e.g. a filter) sets GW_PLUGIN_NONBLOCKING in `flags`. The host may then
 *   call it on the threads that receive notifications, right after the acknowledgement: the
 *   leading non-blocking handlers of a route (and the route's transforms) run there, and only
 *   what they pass on is handed to the route's worker threads. A plugin that sets the flag and
 *   then blocks stalls the gateway's ingress; when in doubt, leave it unset.
 *   A non-blocking plugin whose answer depends on the event alone and which has no other effect
 *   also sets GW_PLUGIN_PURE: the host may then call it BEFORE the notification is stored (and
 *   again after a restart), to leave the route out of the record when it drops the event.
 *
 * Process
 *   The host ignores SIGPIPE (a write to a closed pipe or socket fails with EPIPE instead of
 *   killing the process) and blocks SIGINT, SIGTERM and SIGHUP in its threads; a plugin that starts
 *   programs must reset both for its children (the shell plugin does, with posix_spawnattr).
 *
 * Memory
 *   Every gw_bytes the host passes is borrowed and valid only during the call. Results go back
 *   through the gw_output callbacks, which copy; a plugin never returns memory to the host.
 *   Strings are UTF-8 and NOT NUL-terminated (use ptr and len).
 *
 * Results of handle()
 *   GW_CONTINUE  handled; the next handler of the route (if any) runs, with the body replaced if
 *                the plugin called out->set_body.
 *   GW_DROP      handled; the chain stops here and the delivery is complete (a filter said no).
 *   GW_RETRY     transient failure (reason via out->set_reason); the route retries the delivery
 *                later, resuming at this handler; out->set_retry_after_ms asks for a minimum delay.
 *   GW_FAIL      permanent failure (reason via out->set_reason): the delivery becomes a dead letter.
 *
 * Compatibility
 *   Structs carry struct_size; members are only ever appended. A plugin built against an older
 *   v1 header keeps working; a breaking change gets a new version and a new register symbol.
 */
#ifndef GATEWAY_PLUGIN_H
#define GATEWAY_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define GW_PLUGIN_ABI_VERSION 1
#define GW_PLUGIN_REGISTER_SYMBOL "gw_plugin_register_v1"

/* Results. */
#define GW_OK 0
#define GW_CONTINUE 0
#define GW_DROP 1
#define GW_RETRY 2
#define GW_FAIL 3

/* Log levels for host->log. */
#define GW_LOG_DEBUG 0
#define GW_LOG_INFO 1
#define GW_LOG_WARN 2
#define GW_LOG_ERROR 3

/* A borrowed byte buffer. */
typedef struct gw_bytes {
    const uint8_t *ptr;
    size_t len;
} gw_bytes;

typedef struct gw_header {
    gw_bytes name;
    gw_bytes value;
} gw_header;

/* One delivery attempt of one event to one handler. */
typedef struct gw_event {
    uint32_t struct_size;
    gw_bytes body;        /* the event after the route's transforms (and earlier handlers): JSON */
    gw_bytes event_code;
    gw_bytes source;
    gw_bytes route;
    gw_bytes msg_id;
    gw_bytes delivery_id; /* stable across the retries of one delivery */
    uint32_t attempt;     /* 1 for the first attempt */
    const void *host_ref; /* for host->event_value; opaque */
} gw_event;

/* Where handle() and create() put their results; every setter copies. */
typedef struct gw_output {
    void *ctx;
    void (*set_body)(void *ctx, gw_bytes body);
    void (*set_reason)(void *ctx, gw_bytes reason);
    void (*set_retry_after_ms)(void *ctx, uint32_t ms);
} gw_output;

/* Outbound HTTP done by the host (connection reuse, timeouts), so plugins need no sockets. */
typedef struct gw_http_request {
    uint32_t struct_size;
    gw_bytes method;
    gw_bytes url;            /* http:// or https:// */
    const gw_header *headers;
    size_t header_count;
    gw_bytes body;
    uint32_t timeout_ms;
    /* Appended (the host reads them only when struct_size covers them): TLS for https:// URLs.
       Server certificates are verified against the system's trust store, or against ca_file. */
    gw_bytes ca_file;        /* PEM bundle to trust instead of the system store; empty: system */
    uint32_t tls_flags;      /* GW_TLS_INSECURE_SKIP_VERIFY: no certificate checks at all */
} gw_http_request;

#define GW_TLS_INSECURE_SKIP_VERIFY 1u

typedef struct gw_http_response {
    uint32_t struct_size;
    int32_t status;          /* 0 when no answer was received */
    uint32_t retry_after_ms; /* from a Retry-After answer header (seconds or HTTP date), 0 if none */
    gw_bytes error;          /* when status == 0: why (connect refused, timeout...); borrowed */
} gw_http_response;

/* Services the host lends to plugins. Append-only. */
typedef struct gw_host_api {
    uint32_t struct_size;
    uint32_t abi_version;
    void *host_ctx;
    /* Writes a line to the gateway's log (redacted like every log line). */
    void (*log)(void *host_ctx, int32_t level, gw_bytes message);
    /* The scalar text at a dotted path of the event's body (strings unquoted, numbers as written,
       true/false); returns 1 and sets *out (valid during the handle() call), or 0 if absent. */
    int32_t (*event_value)(const gw_event *event, gw_bytes path, gw_bytes *out);
    /* Sends an HTTP request and waits for the answer (at most req->timeout_ms). Returns GW_OK when
       an answer arrived (see resp->status) or GW_RETRY on connection errors and timeouts. */
    int32_t (*http_request)(void *host_ctx, const gw_http_request *req, gw_http_response *resp);
    /* HMAC-SHA256(key, data) into out (32 bytes). */
    void (*hmac_sha256)(gw_bytes key, gw_bytes data, uint8_t out[32]);
} gw_host_api;

/* The plugin's table, filled in by its register function. */
typedef struct gw_plugin_v1 {
    uint32_t abi_version; /* GW_PLUGIN_ABI_VERSION */
    uint32_t struct_size; /* sizeof(gw_plugin_v1) as the plugin knows it */
    const char *name;     /* NUL-terminated, static: e.g. "forward-http" */
    const char *description;
    int32_t (*create)(const gw_host_api *host, gw_bytes config_json, void **instance, const gw_output *out);
    int32_t (*handle)(void *instance, const gw_event *event, const gw_output *out);
    void (*destroy)(void *instance);
    /* Appended (the host reads it only when struct_size covers it; the register function writes
       it only when the host's table_size does): GW_PLUGIN_* flags. */
    uint32_t flags;
} gw_plugin_v1;

/* gw_plugin_v1.flags: handle() never blocks (see "Threading"). */
#define GW_PLUGIN_NONBLOCKING 1u
/* gw_plugin_v1.flags: handle() never reads event->body; it reads what it needs through
   host->event_value (a filter). The host may then pass an empty body (ptr NULL, len 0) and skip
   writing out the route's transformed event for this handler: an event the filter drops is
   never serialized, and one it passes on is serialized for the next handler, on a worker. */
#define GW_PLUGIN_BODY_UNUSED 2u

/* gw_plugin_v1.flags, with GW_PLUGIN_NONBLOCKING: handle() decides from the event alone and has
   no effect besides its answer (no I/O, no state that another call sees). Calling it again for
   the same event gives the same answer, and a call is not a delivery. The host may then call it
   BEFORE the notification is stored, to decide whether the route takes it at all: an event it
   drops never becomes a pending delivery (no spool record, nothing to recover or retry), one it
   passes on is stored and continues at the next handler. After a restart a stored delivery
   starts again at the route's first handler, which answers as before. event->delivery_id is the
   one the delivery will have; event->attempt is 1. A metadata filter sets it; a handler that
   counts, logs what it saw or talks to anything must not. */
#define GW_PLUGIN_PURE 4u

/* The size of gw_plugin_v1 before `flags` was appended: the smallest table a host accepts. */
#define GW_PLUGIN_V1_BASE_SIZE (offsetof(gw_plugin_v1, destroy) + sizeof(void (*)(void *)))

typedef int32_t (*gw_plugin_register_fn)(gw_plugin_v1 *table, uint32_t table_size);

/* The ABI version this header describes (a real symbol, so SwiftPM has a C source to build). */
uint32_t gw_plugin_abi_version(void);

#ifdef __cplusplus
}
#endif
#endif /* GATEWAY_PLUGIN_H */
