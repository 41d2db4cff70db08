/*
 * managed_host: a PT host that runs libguise's managed mode as its main function, with an
 * environment it builds itself. Every GUISE_TEST_ENV_<NAME>=<value> of its own environment
 * becomes <NAME>=<value> in the envp it hands to guise_managed_main; nothing else is passed.
 * So a test can put conflicting TOR_PT_* values in the real process environment and see which
 * ones libguise uses.
 *
 *   managed_host path/to/libguise.so [flags for guise_managed_main...]
 * With GUISE_TEST_STOP_AFTER_MS=<ms> in its environment, a second thread calls
 * guise_managed_stop after that long (retrying until managed mode is up).
 *
 * Exit status: guise_managed_main's status as a byte (0 ok, 255 for GUISE_E_CONFIG).
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "guise.h"

#define PREFIX "GUISE_TEST_ENV_"

static __typeof__(guise_managed_stop) *managed_stop;

static void *stopper(void *arg)
{
    long ms = *(long *)arg;
    usleep((useconds_t)ms * 1000);
    for (int i = 0; i < 100; i++) {
        if (managed_stop() == GUISE_OK) {
            fprintf(stderr, "managed_host: guise_managed_stop ok\n");
            return NULL;
        }
        usleep(100 * 1000);
    }
    fprintf(stderr, "managed_host: guise_managed_stop never succeeded\n");
    return NULL;
}

int main(int argc, char **argv, char **envp)
{
    if (argc < 2) {
        fprintf(stderr, "usage: managed_host libguise.so [flags]\n");
        return 2;
    }
    void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (!lib) {
        fprintf(stderr, "dlopen: %s\n", dlerror());
        return 2;
    }
    __typeof__(guise_managed_main) *managed_main;
    __typeof__(guise_last_error) *last_error;
    *(void **)&managed_main = dlsym(lib, "guise_managed_main");
    *(void **)&last_error = dlsym(lib, "guise_last_error");
    *(void **)&managed_stop = dlsym(lib, "guise_managed_stop");
    if (!managed_main || !last_error || !managed_stop) {
        fprintf(stderr, "dlsym: %s\n", dlerror());
        return 2;
    }

    size_t n = 0;
    for (char **e = envp; *e; e++)
        n++;
    char **env = calloc(n + 1, sizeof *env);
    size_t k = 0;
    for (char **e = envp; *e; e++)
        if (strncmp(*e, PREFIX, strlen(PREFIX)) == 0)
            env[k++] = *e + strlen(PREFIX);
    env[k] = NULL;

    long stop_after = getenv("GUISE_TEST_STOP_AFTER_MS") ? atol(getenv("GUISE_TEST_STOP_AFTER_MS")) : -1;
    pthread_t thread;
    if (stop_after >= 0)
        pthread_create(&thread, NULL, stopper, &stop_after);

    /* argv[1] (the library) plays argv[0], the program name guise_managed_main skips. */
    int rc = managed_main(argc - 1, argv + 1, env);
    if (rc != GUISE_OK)
        fprintf(stderr, "guise_managed_main: %d %s\n", rc, last_error());
    if (stop_after >= 0)
        pthread_join(thread, NULL);
    free(env);
    return rc & 0xff;
}
