/*  peerkeys - the other server's public keys; see peerkeys.h  */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <czmq.h>
#include "peerkeys.h"

struct _peerkeys_t {
    rsakey_t *keys [PEERKEYS_MAX];
    size_t count;
};

peerkeys_t *
peerkeys_load (const char *path)
{
    peerkeys_t *self = calloc (1, sizeof *self);
    if (self && rsakey_load_public_many (path, self->keys, PEERKEYS_MAX, &self->count)) {
        free (self);
        self = NULL;
    }
    return self;
}

void
peerkeys_destroy (peerkeys_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    peerkeys_t *self = *self_p;
    for (size_t i = 0; i < self->count; i++)
        rsakey_destroy (&self->keys [i]);
    free (self);
    *self_p = NULL;
}

size_t
peerkeys_count (peerkeys_t *self)
{
    return self ? self->count : 0;
}

rsakey_t *
peerkeys_key (peerkeys_t *self, size_t index)
{
    assert (self && index < self->count);
    return self->keys [index];
}

char *
peerkeys_describe (peerkeys_t *self)
{
    assert (self && self->count > 0);
    //  "SHA256:" and 43 characters each, and the words between
    size_t size = self->count * 64 + 16;
    char *text = malloc (size);
    if (!text)
        return NULL;
    snprintf (text, size, "%s", rsakey_fingerprint_text (self->keys [0]));
    for (size_t i = 1; i < self->count; i++) {
        size_t used = strlen (text);
        snprintf (text + used, size - used, "%s%s%s", i == 1 ? " (and " : ", ",
                  rsakey_fingerprint_text (self->keys [i]),
                  i + 1 == self->count ? ")" : "");
    }
    return text;
}

peerkeys_t *
peerkeys_load_for (const char *path, const char *self_role, const char *peer_role,
                   char *error, size_t error_size)
{
    assert (self_role && peer_role && error);
    bool peer_is_main = streq (peer_role, "mainserver");
    const char *peer = peer_is_main ? "main server" : "key server";
    const char *checks = peer_is_main ? "key tickets" : "certificates";
    if (!path || !*path) {
        snprintf (error, error_size, "the %s's public key is needed to check %s: copy "
                  "%s.pub from the %s's data directory (chat-%s --init writes it) to "
                  "this host and name it with --%s-key FILE (or %s/%s-key in the config "
                  "file)", peer, checks, peer_role, peer, peer_role, peer_role, self_role,
                  peer_role);
        return NULL;
    }
    peerkeys_t *self = peerkeys_load (path);
    if (!self) {
        snprintf (error, error_size, "cannot read the %s's public key %s (missing, or not "
                  "RSA public keys in PEM, at most %d): copy %s.pub from the %s's data "
                  "directory (chat-%s --init writes it)", peer, path, PEERKEYS_MAX,
                  peer_role, peer, peer_role);
        return NULL;
    }
    char *described = peerkeys_describe (self);
    zsys_info ("%s: %s key %s (from %s)", self_role, peer, described, path);
    free (described);
    if (self->count > 1)
        zsys_notice ("%s: %s signed by any of %zu %s keys are accepted: once the %s's "
                     "changeover is over, copy its %s.pub to %s and reload", self_role,
                     checks, self->count, peer, peer, peer_role, path);
    return self;
}
