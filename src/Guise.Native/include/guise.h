/*
 * guise.h - the C API of libguise, Guise's pluggable transports as a shared library.
 *
 * One process, one runtime, any number of transports. Load libguise.so (link with -lguise or
 * dlopen it); keep libsodium.so next to it.
 *
 *   guise_init("/path/to/state", log_cb, NULL);
 *   uint16_t socks_port;
 *   guise_set_default_args("obfs4", "cert=...;iat-mode=0");
 *   if (guise_client_start("obfs4", NULL, &socks_port) != GUISE_OK)
 *       fprintf(stderr, "%s\n", guise_last_error());
 *   ... connect to 127.0.0.1:socks_port with SOCKS5 ...
 *   guise_shutdown();
 *
 * Rules that hold for every function:
 *  - Strings in and out are NUL-terminated UTF-8. Strings passed in are copied before the call
 *    returns; libguise never keeps your pointers.
 *  - Every function except guise_version and guise_last_error returns a status: GUISE_OK (0) or
 *    a negative GUISE_E_* code, the kinds of Guise's one failure taxonomy (PtErrorKind). On
 *    failure guise_last_error() says what went wrong.
 *  - Nothing crosses the boundary as an exception, a signal or an abort: a bug inside libguise
 *    becomes GUISE_E_INTERNAL.
 *  - Functions may be called from any thread; they block until done (starting and stopping are
 *    quick; stopping waits for open connections to be torn down).
 *  - Callbacks (log and event) run on libguise's own threads, any of them, possibly several at
 *    once: make them thread-safe and quick. From inside a callback only guise_version and
 *    guise_last_error may be called; every other function returns GUISE_E_CONFIG there, because
 *    it would wait for the connection that is running the callback.
 *  - Once guise_shutdown has returned, no callback runs any more and none will.
 */
#ifndef GUISE_H
#define GUISE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes: 0 or the negated PtErrorKind. */
#define GUISE_OK              0
#define GUISE_E_CONFIG      (-1)  /* bad arguments or configuration; also: misuse of the API */
#define GUISE_E_REFUSED     (-2)  /* the peer refused the TCP connection */
#define GUISE_E_UNREACHABLE (-3)  /* no route to the host or network */
#define GUISE_E_DNS         (-4)  /* name resolution failed */
#define GUISE_E_TIMEOUT     (-5)  /* a deadline passed */
#define GUISE_E_RESET       (-6)  /* the connection was reset after it was established */
#define GUISE_E_EOF         (-7)  /* the peer closed before the expected bytes arrived */
#define GUISE_E_HANDSHAKE   (-8)  /* the transport handshake failed (e.g. a wrong obfs4 cert) */
#define GUISE_E_REPLAY      (-9)  /* a replayed handshake was detected */
#define GUISE_E_PROXY       (-10) /* the upstream proxy failed or refused */
#define GUISE_E_PROTOCOL    (-11) /* the peer spoke the protocol wrongly */
#define GUISE_E_CANCELLED   (-12) /* stopped by its owner */
#define GUISE_E_INTERNAL    (-13) /* a bug or an unexpected local failure */

/* What to do after a failure (guise_event.retry). */
#define GUISE_RETRY_FIX_CONFIG 0  /* retrying cannot help until the configuration changes */
#define GUISE_RETRY_BACKOFF    1  /* transient: retry later */
#define GUISE_RETRY_NEVER      2  /* the remote end rejects us: do not retry the same way */
#define GUISE_RETRY_NONE       3  /* nothing to retry (cancelled by its owner) */

/* Log levels (guise_log_fn). */
#define GUISE_LOG_ERROR   0
#define GUISE_LOG_WARNING 1
#define GUISE_LOG_NOTICE  2
#define GUISE_LOG_INFO    3
#define GUISE_LOG_DEBUG   4

/* Roles and event types (guise_event). */
#define GUISE_ROLE_CLIENT 0
#define GUISE_ROLE_SERVER 1

#define GUISE_EVENT_STARTED 1  /* address: the listener ("127.0.0.1:port"); message: a server's bridge args */
#define GUISE_EVENT_OPENED  2  /* address: the bridge (client) or the client (server) */
#define GUISE_EVENT_CLOSED  3  /* bytes_up/bytes_down set; status 0 or why it ended; message may say more */
#define GUISE_EVENT_FAILED  4  /* status, retry and message set; address may be NULL */
#define GUISE_EVENT_STOPPED 5  /* the listener is closed and all its connections have ended */

/*
 * One event. Valid only during the callback: copy what you keep. Fields may be appended in later
 * versions, so never create one yourself and never copy it by value between versions.
 */
typedef struct guise_event {
    int32_t type;           /* GUISE_EVENT_* */
    int32_t role;           /* GUISE_ROLE_* */
    const char *transport;  /* e.g. "obfs4"; never NULL */
    const char *address;    /* see the event types; may be NULL */
    int32_t status;         /* GUISE_OK or a GUISE_E_* code */
    int32_t retry;          /* GUISE_RETRY_*, meaningful when status != GUISE_OK */
    const char *message;    /* human-readable detail; may be NULL */
    uint64_t bytes_up;      /* CLOSED: towards the network (app -> bridge, client -> target) */
    uint64_t bytes_down;    /* CLOSED: back */
} guise_event;

typedef void (*guise_log_fn)(void *user, int32_t level, const char *message);
typedef void (*guise_event_fn)(void *user, const guise_event *event);

/* The library version, e.g. "0.1.0". Static: never free it. Never fails. */
const char *guise_version(void);

/*
 * The text of the last failure on the calling thread, or "" if none. Like errno: not cleared
 * by calls that succeed. Valid until the next failing guise_* call on this thread. Never fails.
 */
const char *guise_last_error(void);

/*
 * Starts the library. state_dir: where transports keep keys (obfs4's obfs4_state.json); created
 * (mode 0700) if missing. log may be NULL. GUISE_E_CONFIG if already initialised.
 */
int32_t guise_init(const char *state_dir, guise_log_fn log, void *user);

/*
 * Sets (or with NULL clears) the event callback. May be called before guise_init and is kept
 * across guise_shutdown. Calls to a replaced callback may still be running when this returns.
 */
int32_t guise_set_event_callback(guise_event_fn callback, void *user);

/*
 * Stores the args used by connections to a transport's client whose SOCKS request carries none
 * ("k=v;k=v", e.g. "cert=...;iat-mode=0"); NULL or "" clears them. Checked now.
 */
int32_t guise_set_default_args(const char *transport, const char *args);

/*
 * Starts a transport's client: a SOCKS5/4a listener on 127.0.0.1 and an OS-chosen port, written
 * to *out_port. proxy: NULL or an upstream proxy URL (socks5://, socks4a://, http://).
 * GUISE_E_CONFIG for an unknown transport or one that is already running.
 */
int32_t guise_client_start(const char *transport, const char *proxy, uint16_t *out_port);

/*
 * Starts a transport's server on listen_addr ("IP:port", port 0 = OS-chosen, written to
 * *out_port if out_port is not NULL), forwarding each client to target_addr ("host:port").
 * options: NULL or "k=v;k=v" (obfs4: "iat-mode=0"). The args clients need ("cert=...;iat-mode=0",
 * the form guise_set_default_args and SOCKS take) are written to bridge_args, NUL-terminated;
 * if they do not fit in bridge_args_len bytes the server is stopped again and GUISE_E_CONFIG is
 * returned (512 bytes is plenty for obfs4). bridge_args may be NULL when bridge_args_len is 0.
 */
int32_t guise_server_start(const char *transport, const char *listen_addr, const char *target_addr,
                           const char *options, char *bridge_args, size_t bridge_args_len, uint16_t *out_port);

/*
 * Stops a transport's client and server, whichever run, after every open connection has been
 * torn down. GUISE_E_CONFIG if neither was running.
 */
int32_t guise_stop(const char *transport);

/* Stops everything; after it returns no callback runs. guise_init may be called again. */
int32_t guise_shutdown(void);

/*
 * The whole Tor managed-proxy mode (pt-spec) in-process, for a host that launches PTs as
 * "a main function": reads TOR_PT_* from envp (NOT from the process environment), writes the
 * managed-proxy lines to file descriptor 1, and runs until Tor closes stdin
 * (TOR_PT_EXIT_ON_STDIN_CLOSE=1), the parent process exits, or guise_managed_stop is called.
 * argv takes obfs4proxy's flags: -enableLogging, -logLevel LEVEL, -unsafeLogging.
 * No signal handlers are installed. Independent of guise_init. One at a time per process.
 * Returns GUISE_OK, or GUISE_E_CONFIG for a bad environment (an ENV-ERROR or VERSION-ERROR line
 * was written) or when no transport could be launched.
 */
int32_t guise_managed_main(int argc, char **argv, char **envp);

/* Makes a running guise_managed_main return (from any thread). GUISE_E_CONFIG if none runs. */
int32_t guise_managed_stop(void);

#ifdef __cplusplus
}
#endif

#endif /* GUISE_H */
