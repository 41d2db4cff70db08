/*
 * managed_host: a PT host that runs libguise's managed mode as its main function, with an
 * environment it builds itself. Every GUISE_TEST_ENV_<NAME>=<value> of its own environment
 * becomes <NAME>=<value> in the envp it hands to guise_managed_main; nothing else is passed.
 * So a test can put conflicting TOR_PT_* values in the real process environment and see which
 * ones libguise uses.
 *
 *   managed_host path/to/libguise.so [flags for guise_managed_main...]
 * Exit status: guise_managed_main's status as a byte (0 ok, 255 for GUISE_E_CONFIG).
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "guise.h"

#define PREFIX "GUISE_TEST_ENV_"

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
    if (!managed_main || !last_error) {
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

    /* argv[1] (the library) plays argv[0], the program name guise_managed_main skips. */
    int rc = managed_main(argc - 1, argv + 1, env);
    if (rc != GUISE_OK)
        fprintf(stderr, "guise_managed_main: %d %s\n", rc, last_error());
    free(env);
    return rc & 0xff;
}
