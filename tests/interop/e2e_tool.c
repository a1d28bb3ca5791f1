/*  e2e-tool - libchat's end-to-end pieces of protocol 2 on files, for the
    interop test (e2e_interop.py), which makes and checks the same things
    from proto/README.md with python3-cryptography

    e2e-tool accept DIR     take what DIR holds (written by another client
                            from the spec) as a C client would: open the
                            sealed identity with the password, unwrap the
                            epoch key, check the key check, verify the
                            CREATE statement, open and check the message
    e2e-tool make DIR       make all of that in DIR for a peer whose
                            identity key DIR/peer.pub is (DER)
    e2e-tool safety NAME_A DER_A NAME_B DER_B
                            print the pair's safety number

    Files of DIR (raw bytes unless said): username, password, salt,
    iterations (decimal text), identity.sealed (token text), identity.pub
    (DER), conversation (16 bytes), wrapped (the epoch key wrapped for the
    user), create (a serialized SignedStatement), creator (name),
    creator.pub (DER), message (token text), sender (name), text. make
    writes them for the user "alice" with the peer as member (and writes
    wrapped.peer, the copy for the peer), the peer's name in DIR/peer.

    Each step accept takes prints one line, "ok <step> ..."; the first that
    fails prints "FAIL <step> <ERR_NAME>" to stderr and exits 1. Bad
    arguments exit 2. Messages are libchat's msgseal (section 12), the one
    the client uses.
*/
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chain.h"
#include "chaterror.h"
#include "epochkey.h"
#include "fernet.h"
#include "identity.h"
#include "msgseal.h"
#include "rsakey.h"
#include "scram.h"
#include "secret.h"
#include "wire.h"

#define TOOL_MAX_FILE (1024 * 1024)

static const char *s_dir;

static void
s_usage (FILE *out)
{
    fprintf (out,
        "usage: e2e-tool accept DIR\n"
        "       e2e-tool make DIR\n"
        "       e2e-tool safety NAME_A DER_FILE_A NAME_B DER_FILE_B\n"
        "       e2e-tool --help | --version\n"
        "\n"
        "accept checks what another client made from proto/README.md (sealed\n"
        "identity, wrapped epoch key, key check, CREATE statement, message);\n"
        "make writes the same for the peer whose identity key is DIR/peer.pub.\n"
        "Exit 0: all accepted or made; 1: a step failed (named on stderr);\n"
        "2: bad arguments.\n");
}

//  ---------------------------------------------------------------- files

//  DIR/name whole, NUL-terminated (not counted in len); exits 1 if missing
static uint8_t *
s_read (const char *name, size_t *len)
{
    char path [1024];
    snprintf (path, sizeof path, "%s%s%s", s_dir, *s_dir ? "/" : "", name);
    FILE *file = fopen (path, "rb");
    if (!file) {
        fprintf (stderr, "e2e-tool: cannot open %s: %s\n", path, strerror (errno));
        exit (1);
    }
    uint8_t *buf = malloc (TOOL_MAX_FILE + 1);
    size_t got = buf ? fread (buf, 1, TOOL_MAX_FILE, file) : 0;
    fclose (file);
    if (!buf) {
        fprintf (stderr, "e2e-tool: out of memory\n");
        exit (1);
    }
    buf [got] = 0;
    if (len)
        *len = got;
    return buf;
}

//  A one-line text file, its newline cut off
static char *
s_read_text (const char *name)
{
    size_t len;
    char *text = (char *) s_read (name, &len);
    while (len > 0 && (text [len - 1] == '\n' || text [len - 1] == '\r'))
        text [--len] = 0;
    return text;
}

static void
s_write (const char *name, const void *data, size_t len)
{
    char path [1024];
    snprintf (path, sizeof path, "%s%s%s", s_dir, *s_dir ? "/" : "", name);
    FILE *file = fopen (path, "wb");
    if (!file || (len && fwrite (data, 1, len, file) != len) || fclose (file)) {
        fprintf (stderr, "e2e-tool: cannot write %s\n", path);
        exit (1);
    }
}

static void
s_write_text (const char *name, const char *text)
{
    s_write (name, text, strlen (text));
}

//  A step failed: name it and stop
static void
s_fail (const char *step, int code)
{
    fprintf (stderr, "FAIL %s %s\n", step, chat_errname (code));
    exit (1);
}

static rsakey_t *
s_public (const char *name)
{
    size_t len;
    uint8_t *der = s_read (name, &len);
    rsakey_t *key = rsakey_from_der (der, len);
    free (der);
    return key;
}

//  ---------------------------------------------------------------- messages

//  proto/README.md section 12, as libchat's msgseal makes it: a fresh
//  client message id, the time now
static char *
s_message_seal (const uint8_t key [EPOCHKEY_SIZE], const uint8_t id [CONVERSATION_ID_SIZE],
                uint64_t epoch, const char *sender, rsakey_t *identity, const char *text)
{
    uint8_t client_message_id [MSGSEAL_ID_SIZE];
    char *token = NULL;
    if (secret_random (client_message_id, sizeof client_message_id)
    ||  msgseal_seal (key, id, epoch, sender, identity, wire_now_ms (), client_message_id,
                      text, strlen (text), &token) != CHAT_OK)
        s_fail ("make message", CHAT_ERR_INTERNAL);
    return token;
}

//  The receiver's checks of section 12 that msgseal makes (1, 2 and 4;
//  the chain gives 3): CHAT_OK and the text, or the first failure's code
static int
s_message_open (const uint8_t key [EPOCHKEY_SIZE], const char *token,
                const uint8_t id [CONVERSATION_ID_SIZE], uint64_t epoch,
                const char *sender, rsakey_t *sender_key, char **text)
{
    msgseal_body_t body;
    int rc = msgseal_open (key, token, strlen (token), id, epoch, sender, sender_key, &body);
    *text = rc == CHAT_OK? body.text: NULL;
    return rc;
}

//  ---------------------------------------------------------------- accept

static int
s_accept (void)
{
    char *username = s_read_text ("username");
    char *password = s_read_text ("password");
    char *iterations_text = s_read_text ("iterations");
    size_t salt_len, pub_len, id_len, wrapped_len, create_len;
    uint8_t *salt = s_read ("salt", &salt_len);
    uint8_t *pub = s_read ("identity.pub", &pub_len);
    char *sealed = s_read_text ("identity.sealed");
    uint8_t *id = s_read ("conversation", &id_len);
    uint8_t *wrapped = s_read ("wrapped", &wrapped_len);
    uint8_t *create = s_read ("create", &create_len);
    char *creator = s_read_text ("creator");
    char *token = s_read_text ("message");
    char *sender = s_read_text ("sender");
    char *expected_text = s_read_text ("text");
    if (id_len != CONVERSATION_ID_SIZE)
        s_fail ("conversation", CHAT_ERR_BAD_REQUEST);

    //  1. The identity, with SaltedPassword from the password (section 5)
    uint8_t salted [SCRAM_KEY_SIZE];
    char *end = NULL;
    unsigned long iterations = strtoul (iterations_text, &end, 10);
    if (!*iterations_text || *end
    ||  scram_salted_password (password, salt, salt_len, (uint32_t) iterations, salted) != 0)
        s_fail ("salted-password", CHAT_ERR_BAD_REQUEST);
    rsakey_t *identity = NULL;
    int rc = identity_open (sealed, strlen (sealed), username, pub, pub_len, salted, &identity);
    secret_wipe (salted, sizeof salted);
    if (rc != CHAT_OK)
        s_fail ("identity", rc);
    printf ("ok identity %s\n", rsakey_fingerprint_text (identity));

    //  2. The CREATE statement, signed by the creator
    rsakey_t *creator_key = s_public ("creator.pub");
    if (!creator_key)
        s_fail ("creator-key", CHAT_ERR_BAD_KEY);
    Chat__SignedStatement *link = NULL;
    if (wire_unpack (&chat__signed_statement__descriptor, create, create_len,
                     (ProtobufCMessage **) &link) != CHAT_OK)
        s_fail ("statement", CHAT_ERR_MALFORMED);
    char actor [USERNAME_MAX + 1];
    rc = chain_link_actor (link, actor);
    if (rc == CHAT_OK && strcmp (actor, creator) != 0)
        rc = CHAT_ERR_BAD_STATEMENT;
    chain_t *chain = chain_new ();
    if (rc == CHAT_OK)
        rc = chain_append (chain, link, creator_key);
    if (rc == CHAT_OK && !chain_is_member (chain, username))
        rc = CHAT_ERR_NOT_FOUND;
    if (rc == CHAT_OK && memcmp (chain_head (chain)->conversation_id.data, id,
                                 CONVERSATION_ID_SIZE) != 0)
        rc = CHAT_ERR_BAD_REQUEST;
    if (rc != CHAT_OK)
        s_fail ("statement", rc);
    const Chat__MembershipStatement *head = chain_head (chain);
    printf ("ok statement epoch %llu actor %s members", (unsigned long long) head->epoch,
            head->actor);
    for (size_t i = 0; i < head->n_members; i++)
        printf ("%s%s", i ? "," : " ", head->members [i]);
    printf ("\n");

    //  3. The epoch key, unwrapped with the identity and checked against
    //  the statement's key check
    uint8_t key [EPOCHKEY_SIZE];
    rc = epochkey_unwrap (identity, wrapped, wrapped_len, key);
    if (rc != CHAT_OK)
        s_fail ("unwrap", rc);
    printf ("ok unwrap\n");
    rc = epochkey_verify (key, id, chain_epoch (chain), head->key_check.data,
                          head->key_check.len);
    if (rc != CHAT_OK)
        s_fail ("key-check", rc);
    printf ("ok key-check\n");

    //  4. The message, by a member of the epoch
    char *text = NULL;
    rc = chain_is_member (chain, sender) ? CHAT_OK : CHAT_ERR_NOT_FOUND;
    if (rc == CHAT_OK)
        rc = s_message_open (key, token, id, chain_epoch (chain), sender,
                             strcmp (sender, creator) == 0 ? creator_key : identity, &text);
    secret_wipe (key, sizeof key);
    if (rc == CHAT_OK && strcmp (text, expected_text) != 0)
        rc = CHAT_ERR_BAD_REQUEST;
    if (rc != CHAT_OK)
        s_fail ("message", rc);
    printf ("ok message %s\n", text);

    free (text);
    chain_destroy (&chain);
    chat__signed_statement__free_unpacked (link, NULL);
    rsakey_destroy (&creator_key);
    rsakey_destroy (&identity);
    secret_wipe (password, strlen (password));
    free (username);
    free (password);
    free (iterations_text);
    free (salt);
    free (pub);
    free (sealed);
    free (id);
    free (wrapped);
    free (create);
    free (creator);
    free (token);
    free (sender);
    free (expected_text);
    return 0;
}

//  ---------------------------------------------------------------- make

static int
s_make (void)
{
    const char *username = "alice";
    const char *password = "correct horse battery staple";
    const char *text = "hello from libchat, \xc3\xa9t\xc3\xa9 \xe2\x9c\x93";
    rsakey_t *peer = s_public ("peer.pub");
    char *peer_name = s_read_text ("peer");
    if (!peer || !credential_username_valid (peer_name))
        s_fail ("peer", CHAT_ERR_BAD_KEY);

    //  The identity, sealed under SaltedPassword of a fresh salt
    uint8_t salt [16], salted [SCRAM_KEY_SIZE];
    rsakey_t *identity = rsakey_generate (IDENTITY_KEY_BITS);
    if (!identity || secret_random (salt, sizeof salt)
    ||  scram_salted_password (password, salt, sizeof salt, SCRAM_MIN_ITERATIONS, salted))
        s_fail ("make identity", CHAT_ERR_INTERNAL);
    char *sealed = NULL;
    int rc = identity_seal (identity, username, salted, wire_now (), &sealed);
    secret_wipe (salted, sizeof salted);
    if (rc != CHAT_OK)
        s_fail ("make identity", rc);
    char iterations [16];
    snprintf (iterations, sizeof iterations, "%d", SCRAM_MIN_ITERATIONS);
    size_t der_len;
    const uint8_t *der = rsakey_der (identity, &der_len);
    s_write_text ("username", username);
    s_write_text ("password", password);
    s_write ("salt", salt, sizeof salt);
    s_write_text ("iterations", iterations);
    s_write_text ("identity.sealed", sealed);
    s_write ("identity.pub", der, der_len);
    s_write_text ("creator", username);
    s_write ("creator.pub", der, der_len);
    free (sealed);

    //  Epoch 1: its key, wrapped for both members, and the CREATE
    uint8_t id [CONVERSATION_ID_SIZE], key [EPOCHKEY_SIZE], check [EPOCHKEY_CHECK_SIZE];
    if (secret_random (id, sizeof id) || epochkey_generate (key) != CHAT_OK
    ||  epochkey_check_value (key, id, 1, check) != CHAT_OK)
        s_fail ("make key", CHAT_ERR_INTERNAL);
    s_write ("conversation", id, sizeof id);
    uint8_t *wrapped;
    size_t wrapped_len;
    if (epochkey_wrap (identity, key, &wrapped, &wrapped_len) != CHAT_OK)
        s_fail ("make wrap", CHAT_ERR_INTERNAL);
    s_write ("wrapped", wrapped, wrapped_len);
    free (wrapped);
    if (epochkey_wrap (peer, key, &wrapped, &wrapped_len) != CHAT_OK)
        s_fail ("make wrap", CHAT_ERR_INTERNAL);
    s_write ("wrapped.peer", wrapped, wrapped_len);
    free (wrapped);
    const char *members [] = { username, peer_name };
    chain_link_t link;
    rc = chain_make_create (id, username, members, 2, false, "interop", check, identity,
                            wire_now_ms (), &link);
    if (rc != CHAT_OK)
        s_fail ("make statement", rc);
    Chat__SignedStatement view;
    chain_link_view (&link, &view);
    uint8_t *packed;
    size_t packed_len;
    if (wire_pack (&view.base, &packed, &packed_len) != CHAT_OK)
        s_fail ("make statement", CHAT_ERR_INTERNAL);
    s_write ("create", packed, packed_len);
    free (packed);
    chain_link_free (&link);

    char *token = s_message_seal (key, id, 1, username, identity, text);
    secret_wipe (key, sizeof key);
    s_write_text ("message", token);
    s_write_text ("sender", username);
    s_write_text ("text", text);
    free (token);
    printf ("ok made\n");
    free (peer_name);
    rsakey_destroy (&peer);
    rsakey_destroy (&identity);
    return 0;
}

//  ---------------------------------------------------------------- safety

static int
s_safety (char *argv [])
{
    s_dir = "";                         //  the paths as given
    rsakey_t *a = s_public (argv [1]);
    rsakey_t *b = s_public (argv [3]);
    char number [IDENTITY_SAFETY_SIZE];
    int rc = a && b ? identity_safety_number (argv [0], a, argv [2], b, number)
                    : CHAT_ERR_BAD_KEY;
    if (rc != CHAT_OK)
        s_fail ("safety", rc);
    printf ("%s\n", number);
    rsakey_destroy (&a);
    rsakey_destroy (&b);
    return 0;
}

int
main (int argc, char *argv [])
{
    static const struct option options [] = {
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 }
    };
    int opt;
    while ((opt = getopt_long (argc, argv, "+hV", options, NULL)) != -1) {
        switch (opt) {
            case 'h':
                s_usage (stdout);
                return 0;
            case 'V':
                printf ("e2e-tool %s\n", CHAT_VERSION);
                return 0;
            default:
                s_usage (stderr);
                return 2;
        }
    }
    int args = argc - optind;
    const char *command = args > 0 ? argv [optind] : "";
    int status;
    if (strcmp (command, "accept") == 0 && args == 2) {
        s_dir = argv [optind + 1];
        status = s_accept ();
    }
    else
    if (strcmp (command, "make") == 0 && args == 2) {
        s_dir = argv [optind + 1];
        status = s_make ();
    }
    else
    if (strcmp (command, "safety") == 0 && args == 5)
        status = s_safety (argv + optind + 1);
    else {
        s_usage (stderr);
        return 2;
    }
    if (fflush (stdout))
        status = 1;
    return status;
}
