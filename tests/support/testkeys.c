/*  testkeys - RSA keys for tests; see testkeys.h  */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <czmq.h>
#include "testkeys.h"

static rsakey_t *s_keys [TESTKEYS_MAX];

rsakey_t *
testkeys_key (size_t index)
{
    assert (index < TESTKEYS_MAX);
    if (!s_keys [index]) {
        s_keys [index] = rsakey_generate (2048);
        if (!s_keys [index]) {
            fprintf (stderr, "testkeys: cannot make an RSA key\n");
            abort ();
        }
    }
    return s_keys [index];
}

void
testkeys_free (void)
{
    for (size_t index = 0; index < TESTKEYS_MAX; index++)
        rsakey_destroy (&s_keys [index]);
}

char *
testkeys_save_public (rsakey_t *key, const char *dir, const char *name)
{
    char *path = zsys_sprintf ("%s/%s", dir, name);
    if (path && rsakey_save_public (key, path) != 0)
        zstr_free (&path);
    return path;
}
