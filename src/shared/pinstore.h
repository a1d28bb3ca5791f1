/*  pinstore - the client's known_servers file: trust on first use

    One line per server, like OpenSSH's known_hosts:
        <name> <fingerprint>
    where name is the endpoint the client was told ("tcp://host:port") or,
    for a server found by beacon, "<role>@discovery", and fingerprint is
    "SHA256:...". '#' starts a comment. The file is mode 0600, its folder
    0700.
*/
#ifndef PINSTORE_H_INCLUDED
#define PINSTORE_H_INCLUDED

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
void
    pinstore_destroy (pinstore_t **self_p);

//  Look a server up. On PIN_MISMATCH, *pinned (if not NULL) points at the
//  fingerprint on file, owned by the store.
pin_result_t
    pinstore_check (pinstore_t *self, const char *name, const char *fingerprint,
                    const char **pinned);

//  Pin a server and save the file (creating folders). Returns 0/-1.
int
    pinstore_add (pinstore_t *self, const char *name, const char *fingerprint);

const char *
    pinstore_path (pinstore_t *self);

#endif
