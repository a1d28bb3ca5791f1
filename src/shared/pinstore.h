/*  pinstore - the client's pin files: trust on first use

    known_servers, one line per server, like OpenSSH's known_hosts:
        <name> <fingerprint>
    where name is the endpoint the client was told ("tcp://host:port") or,
    for a server found by beacon, "<role>@discovery", and fingerprint is
    "SHA256:...".

    known_users (proto/README.md section 10), one line per contact:
        <username in lower case> <fingerprint> <verified|unverified>
    the fingerprint of the contact's identity key as first seen (or last
    accepted), and whether the user compared safety numbers with them.

    '#' starts a comment. The files are mode 0600, their folder 0700.
*/
#ifndef PINSTORE_H_INCLUDED
#define PINSTORE_H_INCLUDED

#include <stdbool.h>

typedef struct _pinstore_t pinstore_t;

typedef enum {
    PIN_UNKNOWN = 0,       //  no pin for this name yet
    PIN_MATCH = 1,
    PIN_MISMATCH = 2
} pin_result_t;

//  Load the file at path (a missing file is an empty store). path NULL:
//  the default path, $XDG_CONFIG_HOME/chat/known_servers, else
//  $HOME/.config/chat/known_servers. NULL only on a file that cannot be
//  read or parsed (a message on stderr names the line).
pinstore_t *
    pinstore_new (const char *path);
//  The same for a known_users file: path NULL is known_users beside the
//  default known_servers.
pinstore_t *
    pinstore_new_users (const char *path);
//  "known_users" in the folder of a known_servers path (malloc'd).
char *
    pinstore_users_beside (const char *known_servers_path);
void
    pinstore_destroy (pinstore_t **self_p);

//  Look a server up. On PIN_MISMATCH, *pinned (if not NULL) points at the
//  fingerprint on file, owned by the store.
pin_result_t
    pinstore_check (pinstore_t *self, const char *name, const char *fingerprint,
                    const char **pinned);

//  Pin a server (or, in known_users, a contact, unverified) and save the
//  file (creating folders). A name already pinned gets the new fingerprint.
//  Returns 0/-1.
int
    pinstore_add (pinstore_t *self, const char *name, const char *fingerprint);

//  known_users: pin name's fingerprint with its verified mark and save.
//  0/-1 (also -1 on a known_servers store).
int
    pinstore_set (pinstore_t *self, const char *name, const char *fingerprint,
                  bool verified);
//  Pins made between begin and commit are saved once, at commit (a
//  conversation of 256 new contacts writes the file once, not 256 times).
//  commit: 0, or -1 when the file could not be written.
void
    pinstore_begin (pinstore_t *self);
int
    pinstore_commit (pinstore_t *self);

//  known_users: name is pinned and marked verified.
bool
    pinstore_verified (pinstore_t *self, const char *name);

const char *
    pinstore_path (pinstore_t *self);

#endif
