/*
 * guise_example: a C app using libguise.
 *
 * Loads libguise.so with dlopen, starts an obfs4 server (forwarding to a small echo server in
 * this program) and an obfs4 client through the same API, pushes bytes through the client's
 * SOCKS5 port, across obfs4, to the echo server and back, and checks every byte. Along the way
 * it shows the error path (an unknown transport), a failure event with its kind (a bridge that
 * refuses connections), and a clean shutdown.
 *
 *   gcc -std=c11 -Wall -Wextra -O2 -I<dir of guise.h> guise_example.c -o guise_example -ldl -lpthread
 *   ./guise_example ./libguise.so [bytes]
 *
 * Exit status 0 when everything checked out.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "guise.h"

/* The API, looked up with dlsym; the types come from guise.h so the compiler checks every call. */
static struct {
    __typeof__(guise_version) *version;
    __typeof__(guise_last_error) *last_error;
    __typeof__(guise_init) *init;
    __typeof__(guise_set_event_callback) *set_event_callback;
    __typeof__(guise_set_default_args) *set_default_args;
    __typeof__(guise_client_start) *client_start;
    __typeof__(guise_server_start) *server_start;
    __typeof__(guise_stop) *stop;
    __typeof__(guise_shutdown) *shutdown;
} g;

static int failures;

static void check(int ok, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    /* One locked stretch per line: event lines come from libguise's threads and must not land inside it. */
    flockfile(stdout);
    printf("%s ", ok ? "ok  " : "FAIL");
    vprintf(fmt, ap);
    printf("\n");
    fflush(stdout);
    funlockfile(stdout);
    va_end(ap);
    if (!ok)
        failures++;
}

/* ---- events: counted under a mutex, since libguise calls back from its own threads ---- */

static struct {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    int count[6];
    int client_closed;
    uint64_t client_up, client_down;
    int client_failed_status;
    int client_failed_retry;
    int stop_from_callback; /* what guise_stop returned when called from inside a callback */
} ev = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, {0}, 0, 0, 0, 0, 0, 1 };

static void on_event(void *user, const guise_event *e)
{
    (void)user;
    /* Control calls from a callback would wait for the very connection running it: refused. */
    int stop_rc = e->type == GUISE_EVENT_OPENED ? g.stop(e->transport) : 1;
    pthread_mutex_lock(&ev.lock);
    if (stop_rc != 1)
        ev.stop_from_callback = stop_rc;
    if (e->type >= 1 && e->type <= 5)
        ev.count[e->type]++;
    if (e->role == GUISE_ROLE_CLIENT && e->type == GUISE_EVENT_CLOSED) {
        ev.client_closed++;
        ev.client_up = e->bytes_up;
        ev.client_down = e->bytes_down;
    }
    if (e->role == GUISE_ROLE_CLIENT && e->type == GUISE_EVENT_FAILED) {
        ev.client_failed_status = e->status;
        ev.client_failed_retry = e->retry;
    }
    pthread_cond_broadcast(&ev.changed);
    pthread_mutex_unlock(&ev.lock);
    printf("     event %d role %d %s %s status %d %s\n", e->type, e->role, e->transport,
           e->address ? e->address : "-", e->status, e->message ? e->message : "");
    fflush(stdout);
}

/* Waits until *counter reaches at least want, for up to timeout_s seconds. */
static int wait_for(const int *counter, int want, int timeout_s)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += timeout_s;
    pthread_mutex_lock(&ev.lock);
    while (*counter < want)
        if (pthread_cond_timedwait(&ev.changed, &ev.lock, &deadline) == ETIMEDOUT)
            break;
    int reached = *counter >= want;
    pthread_mutex_unlock(&ev.lock);
    return reached;
}

static void on_log(void *user, int32_t level, const char *message)
{
    (void)user;
    if (level <= GUISE_LOG_NOTICE)
        fprintf(stderr, "     [libguise %d] %s\n", level, message);
}

/* ---- a one-connection-at-a-time echo server: the "ORPort" the obfs4 server forwards to ---- */

static int listen_loopback(uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof a;
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 8) != 0
        || getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        perror("echo listener");
        exit(2);
    }
    *port = ntohs(a.sin_port);
    return fd;
}

static void *echo_main(void *arg)
{
    int listener = *(int *)arg;
    char buf[16384];
    for (;;) {
        int c = accept(listener, NULL, NULL);
        if (c < 0)
            return NULL; /* shut down */
        ssize_t n;
        while ((n = read(c, buf, sizeof buf)) > 0)
            for (ssize_t off = 0; off < n;) {
                ssize_t w = write(c, buf + off, (size_t)(n - off));
                if (w <= 0)
                    goto done;
                off += w;
            }
    done:
        close(c);
    }
}

/* ---- SOCKS5 (RFC 1928), no authentication: the bridge args come from guise_set_default_args ---- */

static int read_full(int fd, void *p, size_t n)
{
    for (size_t got = 0; got < n;) {
        ssize_t r = read(fd, (char *)p + got, n - got);
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

static int write_full(int fd, const void *p, size_t n)
{
    for (size_t put = 0; put < n;) {
        ssize_t w = write(fd, (const char *)p + put, n - put);
        if (w <= 0)
            return -1;
        put += (size_t)w;
    }
    return 0;
}

/* Connects through the SOCKS5 port to 127.0.0.1:target_port; returns the socket, or -(reply code). */
static int socks5_connect(uint16_t socks_port, uint16_t target_port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(socks_port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        perror("connect to the SOCKS port");
        exit(2);
    }
    unsigned char hello[3] = { 5, 1, 0 }, choice[2];
    unsigned char request[10] = { 5, 1, 0, 1, 127, 0, 0, 1, (unsigned char)(target_port >> 8), (unsigned char)target_port };
    unsigned char reply[10];
    if (write_full(fd, hello, 3) || read_full(fd, choice, 2) || choice[1] != 0
        || write_full(fd, request, sizeof request) || read_full(fd, reply, 4)) {
        close(fd);
        return -255;
    }
    if (reply[1] != 0) {
        close(fd);
        return -(int)reply[1];
    }
    if (reply[3] != 1 || read_full(fd, reply + 4, 6)) { /* IPv4 bound address */
        close(fd);
        return -255;
    }
    return fd;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb; (void)flag; (void)ftw;
    return remove(path);
}

#define LOAD(field, name)                                                   \
    do {                                                                    \
        *(void **)&g.field = dlsym(lib, name);                              \
        if (!g.field) {                                                     \
            fprintf(stderr, "%s not found in libguise: %s\n", name, dlerror()); \
            return 2;                                                       \
        }                                                                   \
    } while (0)

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : "./libguise.so";
    size_t total = argc > 2 ? strtoul(argv[2], NULL, 10) : 1u << 20;

    void *lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "dlopen %s: %s\n", path, dlerror());
        return 2;
    }
    LOAD(version, "guise_version");
    LOAD(last_error, "guise_last_error");
    LOAD(init, "guise_init");
    LOAD(set_event_callback, "guise_set_event_callback");
    LOAD(set_default_args, "guise_set_default_args");
    LOAD(client_start, "guise_client_start");
    LOAD(server_start, "guise_server_start");
    LOAD(stop, "guise_stop");
    LOAD(shutdown, "guise_shutdown");
    printf("libguise %s\n", g.version());

    char state[] = "/tmp/guise-example-XXXXXX";
    if (!mkdtemp(state)) {
        perror("mkdtemp");
        return 2;
    }
    int rc = g.init(state, on_log, NULL);
    check(rc == GUISE_OK, "guise_init(%s) = %d %s", state, rc, rc ? g.last_error() : "");
    rc = g.set_event_callback(on_event, NULL);
    check(rc == GUISE_OK, "guise_set_event_callback = %d", rc);

    /* The error path: a transport that does not exist. */
    uint16_t port = 0;
    rc = g.client_start("nosuchtransport", NULL, &port);
    const char *err = g.last_error();
    check(rc == GUISE_E_CONFIG && strstr(err, "nosuchtransport") != NULL,
          "unknown transport: status %d, guise_last_error: \"%s\"", rc, err);

    /* The echo server, then an obfs4 server forwarding to it. */
    uint16_t echo_port;
    int echo_fd = listen_loopback(&echo_port);
    pthread_t echo_thread;
    pthread_create(&echo_thread, NULL, echo_main, &echo_fd);
    char target[32], bridge_args[512];
    snprintf(target, sizeof target, "127.0.0.1:%u", echo_port);
    uint16_t bridge_port = 0;
    rc = g.server_start("obfs4", "127.0.0.1:0", target, "iat-mode=0", bridge_args, sizeof bridge_args, &bridge_port);
    check(rc == GUISE_OK && bridge_port != 0 && strncmp(bridge_args, "cert=", 5) == 0,
          "obfs4 server on 127.0.0.1:%u forwarding to %s, bridge args %s %s", bridge_port, target, bridge_args, rc ? g.last_error() : "");

    /* The obfs4 client: connections without SOCKS args use the bridge's args. */
    rc = g.set_default_args("obfs4", bridge_args);
    check(rc == GUISE_OK, "guise_set_default_args = %d %s", rc, rc ? g.last_error() : "");
    uint16_t socks_port = 0;
    rc = g.client_start("obfs4", NULL, &socks_port);
    check(rc == GUISE_OK && socks_port != 0, "obfs4 client: SOCKS5 on 127.0.0.1:%u %s", socks_port, rc ? g.last_error() : "");
    uint16_t again = 0;
    rc = g.client_start("obfs4", NULL, &again);
    check(rc == GUISE_E_CONFIG, "starting the obfs4 client twice: status %d, \"%s\"", rc, g.last_error());

    /* Bytes through SOCKS5 -> obfs4 client -> obfs4 server -> echo, and back. */
    int s = socks5_connect(socks_port, bridge_port);
    check(s >= 0, "SOCKS5 CONNECT through obfs4 to the bridge: %s", s >= 0 ? "succeeded" : "failed");
    if (s >= 0) {
        unsigned char out[16384], in[16384];
        size_t done = 0;
        int same = 1;
        while (done < total && same) {
            size_t n = total - done < sizeof out ? total - done : sizeof out;
            for (size_t i = 0; i < n; i++)
                out[i] = (unsigned char)((done + i) * 31 + 7);
            if (write_full(s, out, n) || read_full(s, in, n)) {
                same = 0;
                break;
            }
            same = memcmp(out, in, n) == 0;
            done += n;
        }
        check(same && done == total, "moved %zu bytes each way through obfs4 and back, every byte checked", done);
        close(s);
        int closed = wait_for(&ev.client_closed, 1, 60);
        pthread_mutex_lock(&ev.lock);
        check(closed && ev.client_up == total && ev.client_down == total,
              "CLOSED event for the client connection: %llu bytes up, %llu down",
              (unsigned long long)ev.client_up, (unsigned long long)ev.client_down);
        check(ev.stop_from_callback == GUISE_E_CONFIG, "guise_stop inside the event callback: status %d", ev.stop_from_callback);
        pthread_mutex_unlock(&ev.lock);
    }

    /* A failure event with its kind: a "bridge" whose port refuses connections. */
    uint16_t dead_port;
    int dead = listen_loopback(&dead_port);
    close(dead);
    s = socks5_connect(socks_port, dead_port);
    check(s < 0, "SOCKS5 CONNECT to a closed port is refused by the SOCKS server (reply code %d)", -s);
    /* Wait first, then read under the lock: C leaves the order of a call's arguments open, so
       reading the status in the same call as the wait could print the value from before the event. */
    int failed = wait_for(&ev.count[GUISE_EVENT_FAILED], 1, 60);
    pthread_mutex_lock(&ev.lock);
    check(failed && ev.client_failed_status == GUISE_E_REFUSED && ev.client_failed_retry == GUISE_RETRY_BACKOFF,
          "FAILED event: status %d (GUISE_E_REFUSED is %d), retry %d", ev.client_failed_status, GUISE_E_REFUSED, ev.client_failed_retry);
    pthread_mutex_unlock(&ev.lock);

    rc = g.stop("obfs4");
    check(rc == GUISE_OK, "guise_stop(obfs4) = %d", rc);
    rc = g.stop("obfs4");
    check(rc == GUISE_E_CONFIG, "guise_stop(obfs4) again: status %d, \"%s\"", rc, g.last_error());
    rc = g.shutdown();
    check(rc == GUISE_OK, "guise_shutdown = %d", rc);

    pthread_mutex_lock(&ev.lock);
    check(ev.count[GUISE_EVENT_STARTED] == 2 && ev.count[GUISE_EVENT_OPENED] == 2 && ev.count[GUISE_EVENT_STOPPED] == 2,
          "events: started %d, opened %d, closed %d, failed %d, stopped %d", ev.count[1], ev.count[2], ev.count[3],
          ev.count[4], ev.count[5]);
    pthread_mutex_unlock(&ev.lock);

    shutdown(echo_fd, SHUT_RDWR);
    pthread_join(echo_thread, NULL);
    close(echo_fd);
    nftw(state, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
    /* libguise stays loaded: the .NET runtime inside it cannot be unloaded (dlclose is a no-op). */

    printf(failures ? "FAILED: %d checks\n" : "OK\n", failures);
    return failures ? 1 : 0;
}
