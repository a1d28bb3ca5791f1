/*  test_keyserver - the key server actor in-process, over real sockets on
    127.0.0.1 with an ephemeral port, talked to by a client built from
    libchat alone (ksclient)

    With CHAT_TEST_PG_URL set (tests/support/pgtemp.sh: ctest's
    keyserver.keyserver.pg) every server of the test keeps its store in
    that PostgreSQL database (STORE postgresql://...), and the tests that
    open the store themselves open the same URL.

    The test holds what an operator would copy between the servers: the
    main server's key (its private half mints key tickets here, its public
    half is what the key server is started with) and the key server's
    keyserver.pub (certificates are checked with it).
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/stat.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include "actorthread.h"
#include "chaterror.h"
#include "credential.h"
#include "adminsock.h"
#include "epochkey.h"
#include "fernet.h"
#include "identity.h"
#include "keyserver.h"
#include "keystore.h"
#include "ksclient.h"
#include "testclient.h"
#include "scram.h"
#include "secret.h"
#include "testkeys.h"

#define ITERATIONS "4096"
#define CLIENT_A     0                  //  testkeys: two client keys
#define CLIENT_B     1
#define IDENTITY     2                  //  identity keys 2 .. 9
#define MAINSERVER   20                 //  the main server's key
#define STRANGER     21                 //  nobody's

//  One server for the group; tests use their own usernames
static char s_dir [64];
static actorthread_t *s_server;
static char *s_endpoint;
static rsakey_t *s_key_a;            //  two client keys: credentials are
static rsakey_t *s_key_b;            //  bound to one, refused on the other
static rsakey_t *s_ks_public;        //  the key server's keyserver.pub
static rsakey_t *s_ms_key;           //  the main server's key pair
static const char *s_pg_url;         //  PostgreSQL's URL, else NULL: SQLite

//  Where the store of a server with data directory dir is (freed by the
//  caller): its own file, or the one PostgreSQL database
static char *
s_store_url (const char *dir)
{
    return s_pg_url? strdup (s_pg_url): zsys_sprintf ("%s/%s", dir, KEYSERVER_DB);
}

static rsakey_t *
s_identity (int n)
{
    return testkeys_key (IDENTITY + (size_t) n);
}

static void
s_limit (actorthread_t *server, const char *name, const char *value)
{
    zstr_sendx (actorthread_sock (server), "LIMIT", name, value, NULL);
    char *reply = zstr_recv (actorthread_sock (server));
    assert_non_null (reply);
    assert_string_equal (reply, "OK");
    zstr_free (&reply);
}

//  On PostgreSQL every server of the test is one cluster: they share one
//  store, so they share the first one's secret too (a server with another
//  one is refused), as an operator copies keyserver.secret
static void
s_share_secret (const char *dir)
{
    if (!s_pg_url || streq (dir, s_dir))
        return;
    char from [128], to [128];
    snprintf (from, sizeof from, "%s/%s", s_dir, KEYSERVER_SECRET);
    snprintf (to, sizeof to, "%s/%s", dir, KEYSERVER_SECRET);
    zfile_t *file = zfile_new (NULL, from);
    assert_non_null (file);
    assert_int_equal (zfile_input (file), 0);
    zchunk_t *chunk = zfile_read (file, (size_t) zfile_cursize (file), 0);
    assert_non_null (chunk);
    int fd = open (to, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd >= 0) {
        assert_int_equal (write (fd, zchunk_data (chunk), zchunk_size (chunk)),
                          (ssize_t) zchunk_size (chunk));
        close (fd);
    }
    zchunk_destroy (&chunk);
    zfile_destroy (&file);
}

static actorthread_t *
s_server_start (const char *dir, char **endpoint)
{
    s_share_secret (dir);
    char *ms_public = testkeys_save_public (s_ms_key, dir, "copied-mainserver.pub");
    assert_non_null (ms_public);
    actorthread_t *server = actorthread_new (keyserver_actor, NULL);
    assert_non_null (server);
    zstr_sendx (actorthread_sock (server), "DATA", dir, NULL);
    if (s_pg_url)
        zstr_sendx (actorthread_sock (server), "STORE", s_pg_url, NULL);
    zstr_sendx (actorthread_sock (server), "MAINSERVER-KEY", ms_public, NULL);
    zstr_sendx (actorthread_sock (server), "ITERATIONS", ITERATIONS, NULL);
    //  A back-off long enough that no test depends on the machine's speed
    s_limit (server, "login_backoff_ms", "60000");
    //  Few enough failures per address that a test can spray them all
    s_limit (server, "login_failures_per_address_per_hour", "20");
    zstr_send (actorthread_sock (server), "START");
    char *reply = zstr_recv (actorthread_sock (server));
    assert_non_null (reply);
    assert_string_equal (reply, "OK");
    zstr_free (&reply);
    zstr_sendx (actorthread_sock (server), "BIND", "tcp://127.0.0.1:*", NULL);
    *endpoint = zstr_recv (actorthread_sock (server));
    assert_non_null (*endpoint);
    assert_true (strncmp (*endpoint, "tcp://127.0.0.1:", 16) == 0);
    zstr_free (&ms_public);
    return server;
}

static rsakey_t *
s_load_public (const char *dir)
{
    char path [128];
    snprintf (path, sizeof path, "%s/%s", dir, KEYSERVER_PUBLIC_FILE);
    rsakey_t *key = rsakey_load_public (path);
    assert_non_null (key);
    return key;
}

static void
s_remove_dir (const char *dir)
{
    const char *files [] = { KEYSERVER_DB, "keyserver.db-wal", "keyserver.db-shm",
                             KEYSERVER_KEY_FILE, KEYSERVER_PUBLIC_FILE, KEYSERVER_SECRET,
                             "copied-mainserver.pub", ADMINSOCK_NAME, NULL };
    char path [128];
    for (int i = 0; files [i]; i++) {
        snprintf (path, sizeof path, "%s/%s", dir, files [i]);
        unlink (path);
    }
    rmdir (dir);
}

static int
s_group_setup (void **state)
{
    (void) state;
    zsys_set_logstream (stderr);
    snprintf (s_dir, sizeof s_dir, "/tmp/ks-test-XXXXXX");
    if (!mkdtemp (s_dir))
        return -1;
    s_key_a = testkeys_key (CLIENT_A);
    s_key_b = testkeys_key (CLIENT_B);
    s_ms_key = testkeys_key (MAINSERVER);
    s_server = s_server_start (s_dir, &s_endpoint);
    s_ks_public = s_load_public (s_dir);
    return 0;
}

static int
s_group_teardown (void **state)
{
    (void) state;
    actorthread_destroy (&s_server);
    zstr_free (&s_endpoint);
    rsakey_destroy (&s_ks_public);
    s_remove_dir (s_dir);
    testkeys_free ();
    return 0;
}

static ksclient_t *
s_client (rsakey_t *key)
{
    ksclient_t *client = ksclient_new (s_endpoint, key);
    assert_non_null (client);
    return client;
}

//  A client whose connection comes from another loopback address (Linux
//  routes all of 127/8 to lo), in ZMQ's "source;destination" form
static ksclient_t *
s_client_from (const char *source, rsakey_t *key)
{
    char endpoint [96];
    snprintf (endpoint, sizeof endpoint, "tcp://%s:0;%s", source,
              s_endpoint + strlen ("tcp://"));
    ksclient_t *client = ksclient_new (endpoint, key);
    assert_non_null (client);
    return client;
}

//  A registered and logged-in client on key, with identity n
static ksclient_t *
s_logged_in (const char *username, const char *password, rsakey_t *key, int n)
{
    ksclient_t *client = s_client (key);
    ksresult_t result = { 0 };
    assert_int_equal (ksclient_register (client, username, password, s_identity (n),
                                         &result), CHAT_OK);
    assert_int_equal (ksclient_login (client, username, password, &result), CHAT_OK);
    ksresult_clear (&result);
    return client;
}

//  A key ticket for (conversation, epoch) naming members and uploader on
//  the client key fingerprint, signed by signer at now
static void
s_ticket (rsakey_t *signer, const uint8_t *conversation, uint64_t epoch,
          const char *const *members, size_t count, const char *uploader,
          const uint8_t *fingerprint, int64_t now, uint8_t **ticket, size_t *len)
{
    credential_ticket_t body;
    memcpy (body.conversation_id, conversation, CONVERSATION_ID_SIZE);
    body.epoch = epoch;
    body.members = (char **) members;
    body.member_count = count;
    body.uploader = (char *) uploader;
    assert_int_equal (credential_ticket_issue (signer, &body, fingerprint, now, ticket, len),
                      CHAT_OK);
}

//  Wrapped copies of key for each of names, with the identity keys given
typedef struct {
    uint8_t *wrapped [8];
    size_t len [8];
} wraps_t;

static void
s_wrap (wraps_t *wraps, const uint8_t key [EPOCHKEY_SIZE], rsakey_t *const *identities,
        size_t count)
{
    memset (wraps, 0, sizeof *wraps);
    for (size_t i = 0; i < count; i++)
        assert_int_equal (epochkey_wrap (identities [i], key, &wraps->wrapped [i],
                                         &wraps->len [i]), CHAT_OK);
}

static void
s_wraps_free (wraps_t *wraps)
{
    for (size_t i = 0; i < 8; i++)
        free (wraps->wrapped [i]);
}

//  get_keys: the reply (free it), or the code
static int
s_get_keys (ksclient_t *client, const uint8_t *conversation, size_t id_len,
            uint64_t from_epoch, Chat__KeyReply **reply)
{
    Chat__KeyRequest request = CHAT__KEY_REQUEST__INIT;
    Chat__GetKeysRequest body = CHAT__GET_KEYS_REQUEST__INIT;
    body.conversation_id.data = (uint8_t *) conversation;
    body.conversation_id.len = id_len;
    body.from_epoch = from_epoch;
    request.body_case = CHAT__KEY_REQUEST__BODY_GET_KEYS;
    request.get_keys = &body;
    return ksclient_call_for (client, &request, CHAT__KEY_REPLY__BODY_EPOCH_KEYS, reply);
}

//  get_identities for names: the reply (free it), or the code
static int
s_get_identities (ksclient_t *client, const char *const *names, size_t count,
                  Chat__KeyReply **reply)
{
    Chat__KeyRequest request = CHAT__KEY_REQUEST__INIT;
    Chat__GetIdentitiesRequest body = CHAT__GET_IDENTITIES_REQUEST__INIT;
    body.usernames = (char **) names;
    body.n_usernames = count;
    request.body_case = CHAT__KEY_REQUEST__BODY_GET_IDENTITIES;
    request.get_identities = &body;
    return ksclient_call_for (client, &request, CHAT__KEY_REPLY__BODY_IDENTITIES, reply);
}

//  Check a certificate with the key server's public key
static int
s_cert_check (const ksresult_t *result, int purpose, const uint8_t *fingerprint,
              char **username, rsakey_t **identity)
{
    return credential_cert_check (s_ks_public, result->certificate,
                                  result->certificate_len, purpose, fingerprint,
                                  wire_now (), username, identity);
}

//  ---------------------------------------------------------------- tests

static void
test_register_and_login (void **state)
{
    (void) state;
    ksclient_t *client = s_client (s_key_a);

    //  The server is the one whose key is in the data directory, and it
    //  says so under its signature
    char path [128];
    snprintf (path, sizeof path, "%s/%s", s_dir, KEYSERVER_KEY_FILE);
    rsakey_t *server_key = rsakey_load (path);
    assert_non_null (server_key);
    assert_memory_equal (channel_peer_fingerprint (ksclient_channel (client)),
                         rsakey_fingerprint (server_key), RSAKEY_FINGERPRINT_SIZE);
    assert_memory_equal (rsakey_fingerprint (s_ks_public),
                         rsakey_fingerprint (server_key), RSAKEY_FINGERPRINT_SIZE);
    assert_string_equal (channel_peer_role (ksclient_channel (client)), "keyserver");
    assert_string_equal (channel_peer_push_endpoint (ksclient_channel (client)), "");
    rsakey_destroy (&server_key);

    ksresult_t result = { 0 };
    assert_int_equal (ksclient_register (client, "Alice", "correct horse", s_identity (0),
                                         &result), CHAT_OK);
    char *username = NULL;
    rsakey_t *identity = NULL;
    assert_int_equal (s_cert_check (&result, CREDENTIAL_REGISTERED,
                                    ksclient_fingerprint (client), &username, &identity),
                      CHAT_OK);
    assert_string_equal (username, "Alice");
    assert_memory_equal (rsakey_fingerprint (identity), rsakey_fingerprint (s_identity (0)),
                         RSAKEY_FINGERPRINT_SIZE);
    zstr_free (&username);
    rsakey_destroy (&identity);
    //  Bound to this client's key and purpose, and signed by the key
    //  server: useless elsewhere, and no other key checks it
    assert_int_equal (s_cert_check (&result, CREDENTIAL_REGISTERED, rsakey_fingerprint (s_key_b),
                                    &username, &identity), CHAT_ERR_BAD_CERTIFICATE);
    assert_int_equal (s_cert_check (&result, CREDENTIAL_LOGGED_IN, ksclient_fingerprint (client),
                                    &username, &identity), CHAT_ERR_BAD_CERTIFICATE);
    assert_int_equal (credential_cert_check (s_ms_key, result.certificate,
                                             result.certificate_len, CREDENTIAL_REGISTERED,
                                             ksclient_fingerprint (client), wire_now (),
                                             &username, &identity),
                      CHAT_ERR_BAD_CERTIFICATE);

    //  Login in another case gives the spelling of the registration, the
    //  identity sealed under the password (opened here), and its key
    assert_int_equal (ksclient_login (client, "alice", "correct horse", &result), CHAT_OK);
    assert_string_equal (result.username, "Alice");
    assert_non_null (result.identity);
    assert_true (rsakey_has_private (result.identity));
    assert_memory_equal (rsakey_fingerprint (result.identity),
                         rsakey_fingerprint (s_identity (0)), RSAKEY_FINGERPRINT_SIZE);
    assert_int_equal (s_cert_check (&result, CREDENTIAL_LOGGED_IN, ksclient_fingerprint (client),
                                    &username, &identity), CHAT_OK);
    assert_string_equal (username, "Alice");
    assert_memory_equal (rsakey_fingerprint (identity), rsakey_fingerprint (s_identity (0)),
                         RSAKEY_FINGERPRINT_SIZE);
    zstr_free (&username);
    rsakey_destroy (&identity);
    assert_true (result.resume_token_len > 0);
    //  The sealed identity is not the private key in the clear
    uint8_t *der = NULL;
    size_t der_len = 0;
    assert_int_equal (rsakey_private_der (s_identity (0), &der, &der_len), CHAT_OK);
    assert_true (result.sealed_identity_len > 0);
    assert_null (memmem (result.sealed_identity, result.sealed_identity_len, der + 32, 64));
    secret_wipe (der, der_len);
    free (der);

    //  Logged in: keys can be asked for; logged out: not
    uint8_t conversation [CONVERSATION_ID_SIZE];
    assert_int_equal (secret_random (conversation, sizeof conversation), 0);
    Chat__KeyReply *reply = NULL;
    assert_int_equal (s_get_keys (client, conversation, sizeof conversation, 0, &reply),
                      CHAT_OK);
    assert_int_equal (reply->epoch_keys->n_keys, 0);
    chat__key_reply__free_unpacked (reply, NULL);
    assert_int_equal (ksclient_logout (client, &result), CHAT_OK);
    assert_int_equal (s_get_keys (client, conversation, sizeof conversation, 0, &reply),
                      CHAT_ERR_NOT_LOGGED_IN);
    ksresult_clear (&result);
    ksclient_destroy (&client);
}

static void
test_wrong_password (void **state)
{
    (void) state;
    ksclient_t *client = s_client (s_key_a);
    ksresult_t result = { 0 };
    assert_int_equal (ksclient_register (client, "bob", "hunter2", s_identity (1), &result),
                      CHAT_OK);
    assert_int_equal (ksclient_login (client, "bob", "hunter3", &result), CHAT_ERR_AUTH_FAILED);
    assert_string_equal (result.message, "Wrong username or password");
    //  The session is not logged in after a failure, and can try again
    uint8_t conversation [CONVERSATION_ID_SIZE] = { 1 };
    Chat__KeyReply *reply = NULL;
    assert_int_equal (s_get_keys (client, conversation, sizeof conversation, 0, &reply),
                      CHAT_ERR_NOT_LOGGED_IN);
    assert_int_equal (ksclient_login (client, "bob", "hunter2", &result), CHAT_OK);
    ksresult_clear (&result);
    ksclient_destroy (&client);
}

//  The s= attribute of a server-first message
static void
s_salt_of (const char *server_first, char *salt, size_t size)
{
    const char *start = strstr (server_first, ",s=");
    assert_non_null (start);
    start += 3;
    const char *end = strchr (start, ',');
    assert_non_null (end);
    assert_true ((size_t) (end - start) < size);
    memcpy (salt, start, (size_t) (end - start));
    salt [end - start] = 0;
}

static void
test_unknown_user (void **state)
{
    (void) state;
    ksclient_t *client = s_client (s_key_a);
    ksresult_t result = { 0 }, known = { 0 };
    assert_int_equal (ksclient_register (client, "carl", "secret", s_identity (2), &known),
                      CHAT_OK);
    assert_int_equal (ksclient_login (client, "carl", "wrong", &known), CHAT_ERR_AUTH_FAILED);
    assert_int_equal (ksclient_login (client, "nobody", "secret", &result),
                      CHAT_ERR_AUTH_FAILED);
    //  The same answer, word for word
    assert_int_equal (result.code, known.code);
    assert_string_equal (result.message, known.message);
    assert_string_equal (result.message, "Wrong username or password");

    //  The fake salt is stable (also on another session and in another
    //  case), differs between names, and the count is the server's default
    char salt1 [64], salt2 [64], salt3 [64];
    assert_int_equal (ksclient_login_start (client, "n,,n=nobody,r=abcdefghijklmnop",
                                            &result), CHAT_OK);
    s_salt_of (result.server_first, salt1, sizeof salt1);
    assert_non_null (strstr (result.server_first, ",i=" ITERATIONS));
    ksclient_t *other = s_client (s_key_b);
    assert_int_equal (ksclient_login_start (other, "n,,n=NoBody,r=qrstuvwxyzabcdef",
                                            &result), CHAT_OK);
    s_salt_of (result.server_first, salt2, sizeof salt2);
    assert_string_equal (salt1, salt2);
    assert_int_equal (ksclient_login_start (other, "n,,n=somebody,r=qrstuvwxyzabcdef",
                                            &result), CHAT_OK);
    s_salt_of (result.server_first, salt3, sizeof salt3);
    assert_string_not_equal (salt1, salt3);

    //  A name that cannot exist fails the same way too
    assert_int_equal (ksclient_login (other, "no such user!", "x", &result),
                      CHAT_ERR_AUTH_FAILED);
    assert_string_equal (result.message, "Wrong username or password");
    ksresult_clear (&result);
    ksresult_clear (&known);
    ksclient_destroy (&client);
    ksclient_destroy (&other);
}

static void
test_duplicate_username (void **state)
{
    (void) state;
    ksclient_t *client = s_client (s_key_a);
    ksresult_t result = { 0 };
    assert_int_equal (ksclient_register (client, "Dora", "one", s_identity (3), &result),
                      CHAT_OK);
    assert_int_equal (ksclient_register (client, "Dora", "two", s_identity (4), &result),
                      CHAT_ERR_USERNAME_TAKEN);
    assert_string_equal (result.message, "Username already in use");
    assert_int_equal (ksclient_register (client, "dORA", "two", s_identity (4), &result),
                      CHAT_ERR_USERNAME_TAKEN);
    //  The first password and identity still stand
    assert_int_equal (ksclient_login (client, "dora", "two", &result), CHAT_ERR_AUTH_FAILED);
    assert_int_equal (ksclient_login (client, "DORA", "one", &result), CHAT_OK);
    assert_string_equal (result.username, "Dora");
    assert_memory_equal (rsakey_fingerprint (result.identity),
                         rsakey_fingerprint (s_identity (3)), RSAKEY_FINGERPRINT_SIZE);
    ksresult_clear (&result);
    ksclient_destroy (&client);
}

//  An RSA public key (DER) of bits and exponent, made here: rsakey makes
//  only what the protocol allows
static uint8_t *
s_rsa_der (int bits, unsigned long exponent, size_t *len)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id (EVP_PKEY_RSA, NULL);
    BIGNUM *e = BN_new ();
    EVP_PKEY *pkey = NULL;
    assert_non_null (ctx);
    assert_non_null (e);
    assert_true (BN_set_word (e, exponent));
    assert_true (EVP_PKEY_keygen_init (ctx) > 0);
    assert_true (EVP_PKEY_CTX_set_rsa_keygen_bits (ctx, bits) > 0);
    assert_true (EVP_PKEY_CTX_set1_rsa_keygen_pubexp (ctx, e) > 0);
    assert_true (EVP_PKEY_keygen (ctx, &pkey) > 0);
    uint8_t *der = NULL;
    int der_len = i2d_PUBKEY (pkey, &der);
    assert_true (der_len > 0);
    uint8_t *copy = (uint8_t *) malloc ((size_t) der_len);
    memcpy (copy, der, (size_t) der_len);
    OPENSSL_free (der);
    EVP_PKEY_free (pkey);
    BN_free (e);
    EVP_PKEY_CTX_free (ctx);
    *len = (size_t) der_len;
    return copy;
}

//  A register request with the given fields (verifiers zeroed)
typedef struct {
    size_t salt_len;
    uint32_t iterations;
    size_t key_len;
    const uint8_t *identity;
    size_t identity_len;
    const char *sealed;
    size_t sealed_len;
} raw_t;

//  Fields that register, verifiers aside: a real Fernet token stands for
//  the sealed identity (the server can only check its shape)
static raw_t
s_raw_default (void)
{
    static char *sealed;
    if (!sealed) {
        uint8_t key [FERNET_KEY_SIZE];
        assert_int_equal (fernet_key_generate (key), 0);
        assert_int_equal (fernet_encrypt (key, (const uint8_t *) "sealed", 6, wire_now (),
                                          &sealed), CHAT_OK);
    }
    size_t der_len = 0;
    const uint8_t *der = rsakey_der (s_identity (0), &der_len);
    raw_t raw = { 16, 4096, 32, der, der_len, sealed, strlen (sealed) };
    return raw;
}

static int
s_register_raw (ksclient_t *client, const char *username, raw_t raw)
{
    uint8_t salt [80] = { 0 }, stored [40] = { 0 }, server [40] = { 0 };
    Chat__KeyRequest request = CHAT__KEY_REQUEST__INIT;
    Chat__RegisterRequest reg = CHAT__REGISTER_REQUEST__INIT;
    reg.username = (char *) username;
    reg.salt.data = salt;
    reg.salt.len = raw.salt_len;
    reg.iterations = raw.iterations;
    reg.stored_key.data = stored;
    reg.stored_key.len = raw.key_len;
    reg.server_key.data = server;
    reg.server_key.len = raw.key_len;
    reg.identity_public_key.data = (uint8_t *) raw.identity;
    reg.identity_public_key.len = raw.identity_len;
    reg.sealed_identity.data = (uint8_t *) raw.sealed;
    reg.sealed_identity.len = raw.sealed_len;
    request.body_case = CHAT__KEY_REQUEST__BODY_REGISTER;
    request.register_ = &reg;
    Chat__KeyReply *reply = NULL;
    int rc = ksclient_call_for (client, &request, CHAT__KEY_REPLY__BODY_REGISTERED, &reply);
    if (reply)
        chat__key_reply__free_unpacked (reply, NULL);
    return rc;
}

static void
test_registration_fields (void **state)
{
    (void) state;
    //  The keys first: making them (4096 bits under ASan on a loaded
    //  machine) can outlast the 30 s a session may stay without a login
    size_t small_len = 0, e3_len = 0, big_len = 0;
    uint8_t *small = s_rsa_der (1024, RSA_F4, &small_len);
    uint8_t *e3 = s_rsa_der (2048, 3, &e3_len);
    uint8_t *big4096 = s_rsa_der (4096, RSA_F4, &big_len);
    ksclient_t *client = s_client (s_key_a);
    ksresult_t result = { 0 };
    const char *bad [] = { "", "has space", "semi;colon", "emoji\xf0\x9f\x98\x80",
                           "abcdefghijklmnopqrstuvwxyz0123456", NULL };
    raw_t raw = s_raw_default ();
    for (int i = 0; bad [i]; i++) {
        assert_int_equal (ksclient_register (client, bad [i], "pw", s_identity (0), &result),
                          CHAT_ERR_INVALID_USERNAME);
        assert_int_equal (s_register_raw (client, bad [i], raw), CHAT_ERR_INVALID_USERNAME);
    }
    //  32 characters and every allowed sign are fine
    assert_int_equal (ksclient_register (client, "abcdefghijklmnopqrstuvwxyz012345",
                                         "pw", s_identity (0), &result), CHAT_OK);
    assert_int_equal (ksclient_register (client, "a.b-c_D9", "pw", s_identity (0), &result),
                      CHAT_OK);
    //  SCRAM parameters out of range
    raw.salt_len = 8;
    assert_int_equal (s_register_raw (client, "evan", raw), CHAT_ERR_BAD_REQUEST);
    raw.salt_len = 65;
    assert_int_equal (s_register_raw (client, "evan", raw), CHAT_ERR_BAD_REQUEST);
    raw = s_raw_default ();
    raw.iterations = 4095;
    assert_int_equal (s_register_raw (client, "evan", raw), CHAT_ERR_BAD_REQUEST);
    raw = s_raw_default ();
    raw.key_len = 31;
    assert_int_equal (s_register_raw (client, "evan", raw), CHAT_ERR_BAD_REQUEST);
    raw.key_len = 33;
    assert_int_equal (s_register_raw (client, "evan", raw), CHAT_ERR_BAD_REQUEST);

    //  The sealed identity: there, not over 8192 bytes, a Fernet token
    raw = s_raw_default ();
    raw.sealed_len = 0;
    assert_int_equal (s_register_raw (client, "evan", raw), CHAT_ERR_BAD_REQUEST);
    char *big = (char *) malloc (8193);
    memset (big, 'A', 8193);
    raw.sealed = big;
    raw.sealed_len = 8193;
    assert_int_equal (s_register_raw (client, "evan", raw), CHAT_ERR_BAD_REQUEST);
    free (big);
    raw.sealed = "not a token at all";
    raw.sealed_len = strlen (raw.sealed);
    assert_int_equal (s_register_raw (client, "evan", raw), CHAT_ERR_BAD_REQUEST);

    //  The identity key: RSA 2048..4096 with exponent 65537, nothing else
    raw = s_raw_default ();
    raw.identity = (const uint8_t *) "not a key";
    raw.identity_len = 9;
    assert_int_equal (s_register_raw (client, "evan", raw), CHAT_ERR_BAD_KEY);
    raw.identity_len = 0;
    assert_int_equal (s_register_raw (client, "evan", raw), CHAT_ERR_BAD_KEY);
    raw.identity = small;
    raw.identity_len = small_len;
    assert_int_equal (s_register_raw (client, "evan", raw), CHAT_ERR_BAD_KEY);
    free (small);
    raw.identity = e3;
    raw.identity_len = e3_len;
    assert_int_equal (s_register_raw (client, "evan", raw), CHAT_ERR_BAD_KEY);
    free (e3);
    //  A key with trailing bytes is not the key
    raw = s_raw_default ();
    uint8_t padded [1100];
    memcpy (padded, raw.identity, raw.identity_len);
    padded [raw.identity_len] = 0;
    raw.identity = padded;
    raw.identity_len++;
    assert_int_equal (s_register_raw (client, "evan", raw), CHAT_ERR_BAD_KEY);
    //  None of them was stored; 4096 bits are allowed
    raw = s_raw_default ();
    raw.identity = big4096;
    raw.identity_len = big_len;
    assert_int_equal (s_register_raw (client, "evan", raw), CHAT_OK);
    free (big4096);
    ksresult_clear (&result);
    ksclient_destroy (&client);
}

//  Back-off per (address, username) and per address: the guesser slows
//  itself; the owner at another address logs in all along
static void
test_rate_limit (void **state)
{
    (void) state;
    ksclient_t *client = s_client (s_key_a);
    ksresult_t result = { 0 };
    assert_int_equal (ksclient_register (client, "frank", "right", s_identity (0), &result),
                      CHAT_OK);
    ksclient_t *guesser = s_client_from ("127.0.0.2", s_key_b);
    for (int i = 0; i < 5; i++)
        assert_int_equal (ksclient_login (guesser, "frank", "wrong", &result),
                          CHAT_ERR_AUTH_FAILED);
    //  The 6th attempt from there waits, even with the right password, on
    //  any session from there
    assert_int_equal (ksclient_login (guesser, "frank", "right", &result),
                      CHAT_ERR_RATE_LIMITED);
    assert_true (result.retry_after_ms > 0 && result.retry_after_ms <= 60000);
    ksclient_t *other = s_client_from ("127.0.0.2", s_key_b);
    assert_int_equal (ksclient_login (other, "FRANK", "right", &result),
                      CHAT_ERR_RATE_LIMITED);
    ksclient_destroy (&other);
    //  The owner, at its own address, is not slowed at all
    assert_int_equal (ksclient_login (client, "frank", "right", &result), CHAT_OK);
    //  Other users, from the guesser's address, are not affected
    other = s_client_from ("127.0.0.2", s_key_b);
    assert_int_equal (ksclient_register (other, "grace", "pw", s_identity (0), &result),
                      CHAT_OK);
    assert_int_equal (ksclient_login (other, "grace", "pw", &result), CHAT_OK);
    ksclient_destroy (&other);
    ksclient_destroy (&guesser);

    //  Per address: failures with many names (20 an hour here) stop that
    //  address for every name, while another address is fine
    other = s_client_from ("127.0.0.3", s_key_b);
    char name [32];
    for (int i = 0; i < 20; i++) {
        snprintf (name, sizeof name, "sprayed%d", i);
        assert_int_equal (ksclient_login (other, name, "guess", &result),
                          CHAT_ERR_AUTH_FAILED);
    }
    assert_int_equal (ksclient_login (other, "grace", "pw", &result), CHAT_ERR_RATE_LIMITED);
    assert_true (result.retry_after_ms > 0);
    ksclient_destroy (&other);
    other = s_client_from ("127.0.0.3", s_key_b);
    assert_int_equal (ksclient_login (other, "grace", "pw", &result), CHAT_ERR_RATE_LIMITED);
    ksclient_destroy (&other);
    other = s_client_from ("127.0.0.4", s_key_b);
    assert_int_equal (ksclient_login (other, "grace", "pw", &result), CHAT_OK);
    ksclient_destroy (&other);

    //  A login started before the failures cannot finish during back-off
    assert_int_equal (ksclient_register (client, "henry", "right", s_identity (0), &result),
                      CHAT_OK);
    other = s_client (s_key_b);
    scram_client_t *scram = scram_client_new ("henry", "right", NULL);
    assert_non_null (scram);
    assert_int_equal (ksclient_login_start (other, scram_client_first (scram), &result),
                      CHAT_OK);
    const char *client_final = NULL;
    assert_int_equal (scram_client_final (scram, result.server_first, &client_final),
                      CHAT_OK);
    guesser = s_client (s_key_a);
    for (int i = 0; i < 5; i++)
        assert_int_equal (ksclient_login (guesser, "henry", "wrong", &result),
                          CHAT_ERR_AUTH_FAILED);
    Chat__KeyRequest request = CHAT__KEY_REQUEST__INIT;
    Chat__LoginFinish finish = CHAT__LOGIN_FINISH__INIT;
    finish.client_final = (char *) client_final;
    request.body_case = CHAT__KEY_REQUEST__BODY_LOGIN_FINISH;
    request.login_finish = &finish;
    Chat__KeyReply *reply = NULL;
    assert_int_equal (ksclient_call (other, &request, &reply), CHAT_OK);
    assert_int_equal (reply->body_case, CHAT__KEY_REPLY__BODY_ERROR);
    assert_int_equal (reply->error->code, CHAT_ERR_RATE_LIMITED);
    assert_true (reply->error->retry_after_ms > 0);
    chat__key_reply__free_unpacked (reply, NULL);
    scram_client_destroy (&scram);
    ksclient_destroy (&guesser);
    ksresult_clear (&result);
    ksclient_destroy (&other);
    ksclient_destroy (&client);
}

static void
test_password_change (void **state)
{
    (void) state;
    ksclient_t *client = s_logged_in ("Pam", "old pass", s_key_a, 5);
    ksresult_t result = { 0 };
    assert_int_equal (ksclient_password (client, "Pam", "old pass", "new pass",
                                         s_identity (5), &result), CHAT_OK);
    //  The new password logs in (and opens the same identity), the old not
    ksclient_t *other = s_client (s_key_b);
    assert_int_equal (ksclient_login (other, "pam", "old pass", &result),
                      CHAT_ERR_AUTH_FAILED);
    assert_int_equal (ksclient_login (other, "pam", "new pass", &result), CHAT_OK);
    assert_memory_equal (rsakey_fingerprint (result.identity),
                         rsakey_fingerprint (s_identity (5)), RSAKEY_FINGERPRINT_SIZE);
    ksclient_destroy (&other);
    //  Changing works again from the new one, case of the name aside
    assert_int_equal (ksclient_password (client, "PAM", "new pass", "third pass",
                                         s_identity (5), &result), CHAT_OK);

    //  A wrong current password changes nothing, and is a failed login
    assert_int_equal (ksclient_password (client, "Pam", "new pass", "stolen",
                                         s_identity (6), &result), CHAT_ERR_AUTH_FAILED);
    assert_string_equal (result.message, "Wrong username or password");
    other = s_client (s_key_b);
    assert_int_equal (ksclient_login (other, "Pam", "stolen", &result), CHAT_ERR_AUTH_FAILED);
    assert_int_equal (ksclient_login (other, "Pam", "third pass", &result), CHAT_OK);
    assert_memory_equal (rsakey_fingerprint (result.identity),
                         rsakey_fingerprint (s_identity (5)), RSAKEY_FINGERPRINT_SIZE);
    ksclient_destroy (&other);

    //  Naming another user, or not logged in: refused
    assert_int_equal (ksclient_register (client, "Quinn", "pw", s_identity (6), &result),
                      CHAT_OK);
    assert_int_equal (ksclient_password (client, "Quinn", "pw", "mine now", s_identity (6),
                                         &result), CHAT_ERR_BAD_REQUEST);
    other = s_client (s_key_b);
    assert_int_equal (ksclient_password (other, "Quinn", "pw", "mine now", s_identity (6),
                                         &result), CHAT_ERR_NOT_LOGGED_IN);
    assert_int_equal (ksclient_login (other, "quinn", "pw", &result), CHAT_OK);
    ksclient_destroy (&other);

    //  password_finish without password_start, and after a login_start
    Chat__KeyRequest request = CHAT__KEY_REQUEST__INIT;
    Chat__PasswordFinish finish = CHAT__PASSWORD_FINISH__INIT;
    finish.client_final = (char *) "c=biws,r=abc,p=AAAA";
    request.body_case = CHAT__KEY_REQUEST__BODY_PASSWORD_FINISH;
    request.password_finish = &finish;
    Chat__KeyReply *reply = NULL;
    assert_int_equal (ksclient_call_for (client, &request,
                                         CHAT__KEY_REPLY__BODY_PASSWORD_CHANGED, &reply),
                      CHAT_ERR_OUT_OF_ORDER);

    //  Bad new material: refused before the proof is looked at, nothing
    //  changed, and the exchange must start again
    scram_client_t *scram = scram_client_new ("Pam", "third pass", NULL);
    assert_non_null (scram);
    Chat__LoginStart start = CHAT__LOGIN_START__INIT;
    start.client_first = (char *) scram_client_first (scram);
    request.body_case = CHAT__KEY_REQUEST__BODY_PASSWORD_START;
    request.password_start = &start;
    assert_int_equal (ksclient_call_for (client, &request,
                                         CHAT__KEY_REPLY__BODY_LOGIN_CHALLENGE, &reply),
                      CHAT_OK);
    const char *client_final = NULL;
    assert_int_equal (scram_client_final (scram, reply->login_challenge->server_first,
                                          &client_final), CHAT_OK);
    chat__key_reply__free_unpacked (reply, NULL);
    uint8_t salt [16] = { 1 }, keys [32] = { 2 };
    finish.client_final = (char *) client_final;
    finish.salt.data = salt;
    finish.salt.len = sizeof salt;
    finish.iterations = 100;            //  below 4096
    finish.stored_key.data = keys;
    finish.stored_key.len = 32;
    finish.server_key.data = keys;
    finish.server_key.len = 32;
    finish.sealed_identity.data = (uint8_t *) "gAAAAABpZ2FyYmFnZQ==";
    finish.sealed_identity.len = 20;
    request.body_case = CHAT__KEY_REQUEST__BODY_PASSWORD_FINISH;
    request.password_finish = &finish;
    assert_int_equal (ksclient_call_for (client, &request,
                                         CHAT__KEY_REPLY__BODY_PASSWORD_CHANGED, &reply),
                      CHAT_ERR_BAD_REQUEST);
    finish.iterations = 4096;
    assert_int_equal (ksclient_call_for (client, &request,
                                         CHAT__KEY_REPLY__BODY_PASSWORD_CHANGED, &reply),
                      CHAT_ERR_OUT_OF_ORDER);
    //  The proof stays well formed after its client is gone
    char *stale_final = strdup (client_final);
    assert_non_null (stale_final);
    scram_client_destroy (&scram);
    //  A login_finish cannot end a password exchange, nor the other way
    scram = scram_client_new ("Pam", "third pass", NULL);
    start.client_first = (char *) scram_client_first (scram);
    request.body_case = CHAT__KEY_REQUEST__BODY_PASSWORD_START;
    request.password_start = &start;
    assert_int_equal (ksclient_call_for (client, &request,
                                         CHAT__KEY_REPLY__BODY_LOGIN_CHALLENGE, &reply),
                      CHAT_OK);
    chat__key_reply__free_unpacked (reply, NULL);
    Chat__LoginFinish login_finish = CHAT__LOGIN_FINISH__INIT;
    login_finish.client_final = stale_final;
    request.body_case = CHAT__KEY_REQUEST__BODY_LOGIN_FINISH;
    request.login_finish = &login_finish;
    assert_int_equal (ksclient_call_for (client, &request, CHAT__KEY_REPLY__BODY_LOGGED_IN,
                                         &reply), CHAT_ERR_OUT_OF_ORDER);
    free (stale_final);
    scram_client_destroy (&scram);
    other = s_client (s_key_b);
    assert_int_equal (ksclient_login (other, "Pam", "third pass", &result), CHAT_OK);
    ksclient_destroy (&other);

    //  Wrong current passwords count against the back-off like logins: on
    //  the session and for the name (a fresh session is held back too)
    ksclient_t *guesser = s_client (s_key_b);
    assert_int_equal (ksclient_login (guesser, "Pam", "third pass", &result), CHAT_OK);
    for (int i = 0; i < 5; i++)
        assert_int_equal (ksclient_password (guesser, "Pam", "guess", "x", s_identity (5),
                                             &result), CHAT_ERR_AUTH_FAILED);
    assert_int_equal (ksclient_password (guesser, "Pam", "third pass", "x", s_identity (5),
                                         &result), CHAT_ERR_RATE_LIMITED);
    assert_true (result.retry_after_ms > 0);
    ksclient_destroy (&guesser);
    other = s_client (s_key_b);
    assert_int_equal (ksclient_login (other, "Pam", "third pass", &result),
                      CHAT_ERR_RATE_LIMITED);
    ksclient_destroy (&other);
    ksresult_clear (&result);
    ksclient_destroy (&client);
}

static void
test_identities (void **state)
{
    (void) state;
    ksclient_t *client = s_logged_in ("Rita", "pw", s_key_a, 0);
    ksresult_t result = { 0 };
    assert_int_equal (ksclient_register (client, "Sam", "pw", s_identity (1), &result),
                      CHAT_OK);
    const char *names [] = { "sam", "nobody", "RITA", "not a name!" };
    Chat__KeyReply *reply = NULL;
    assert_int_equal (s_get_identities (client, names, 4, &reply), CHAT_OK);
    Chat__Identities *list = reply->identities;
    assert_int_equal (list->n_identities, 2);
    assert_string_equal (list->identities [0]->username, "Sam");
    size_t der_len = 0;
    const uint8_t *der = rsakey_der (s_identity (1), &der_len);
    assert_int_equal (list->identities [0]->public_key.len, der_len);
    assert_memory_equal (list->identities [0]->public_key.data, der, der_len);
    assert_string_equal (list->identities [1]->username, "Rita");
    der = rsakey_der (s_identity (0), &der_len);
    assert_memory_equal (list->identities [1]->public_key.data, der, der_len);
    chat__key_reply__free_unpacked (reply, NULL);

    //  1..256 names
    assert_int_equal (s_get_identities (client, names, 0, &reply), CHAT_ERR_BAD_REQUEST);
    const char *many [257];
    for (int i = 0; i < 257; i++)
        many [i] = "sam";
    assert_int_equal (s_get_identities (client, many, 257, &reply), CHAT_ERR_BAD_REQUEST);
    assert_int_equal (s_get_identities (client, many, 256, &reply), CHAT_OK);
    assert_int_equal (reply->identities->n_identities, 256);
    chat__key_reply__free_unpacked (reply, NULL);
    //  For logged-in users only
    ksclient_t *stranger = s_client (s_key_b);
    assert_int_equal (s_get_identities (stranger, names, 1, &reply), CHAT_ERR_NOT_LOGGED_IN);
    ksclient_destroy (&stranger);
    ksresult_clear (&result);
    ksclient_destroy (&client);
}

static void
test_keys (void **state)
{
    (void) state;
    ksclient_t *heidi = s_logged_in ("Heidi", "pw", s_key_a, 0);
    ksclient_t *ivan = s_logged_in ("Ivan", "pw", s_key_b, 1);
    ksresult_t result = { 0 };
    uint8_t conversation [CONVERSATION_ID_SIZE];
    assert_int_equal (secret_random (conversation, sizeof conversation), 0);
    const char *members [] = { "Heidi", "Ivan" };
    rsakey_t *identities [] = { s_identity (0), s_identity (1) };
    uint8_t key [EPOCHKEY_SIZE];
    assert_int_equal (epochkey_generate (key), CHAT_OK);
    wraps_t wraps;
    s_wrap (&wraps, key, identities, 2);
    uint8_t *ticket;
    size_t ticket_len;
    s_ticket (s_ms_key, conversation, 1, members, 2, "Heidi", ksclient_fingerprint (heidi),
              wire_now (), &ticket, &ticket_len);

    //  Sets that are not exactly the ticket's members
    const char *missing [] = { "Heidi" };
    assert_int_equal (ksclient_put_keys (heidi, ticket, ticket_len, missing, wraps.wrapped,
                                         wraps.len, 1, &result), CHAT_ERR_BAD_REQUEST);
    const char *twice [] = { "Heidi", "heidi" };
    assert_int_equal (ksclient_put_keys (heidi, ticket, ticket_len, twice, wraps.wrapped,
                                         wraps.len, 2, &result), CHAT_ERR_BAD_REQUEST);
    const char *stranger [] = { "Heidi", "Mallory" };
    assert_int_equal (ksclient_put_keys (heidi, ticket, ticket_len, stranger, wraps.wrapped,
                                         wraps.len, 2, &result), CHAT_ERR_BAD_REQUEST);
    const char *extra [] = { "Heidi", "Ivan", "Mallory" };
    uint8_t *three [] = { wraps.wrapped [0], wraps.wrapped [1], wraps.wrapped [0] };
    size_t three_len [] = { wraps.len [0], wraps.len [1], wraps.len [0] };
    assert_int_equal (ksclient_put_keys (heidi, ticket, ticket_len, extra, three, three_len,
                                         3, &result), CHAT_ERR_BAD_REQUEST);
    size_t short_len [] = { 255, wraps.len [1] };
    assert_int_equal (ksclient_put_keys (heidi, ticket, ticket_len, members, wraps.wrapped,
                                         short_len, 2, &result), CHAT_ERR_BAD_REQUEST);
    uint8_t big [513] = { 0 };
    uint8_t *with_big [] = { big, wraps.wrapped [1] };
    size_t big_len [] = { sizeof big, wraps.len [1] };
    assert_int_equal (ksclient_put_keys (heidi, ticket, ticket_len, members, with_big,
                                         big_len, 2, &result), CHAT_ERR_BAD_REQUEST);
    //  The ticket's uploader only: Ivan cannot use Heidi's ticket
    assert_int_equal (ksclient_put_keys (ivan, ticket, ticket_len, members, wraps.wrapped,
                                         wraps.len, 2, &result), CHAT_ERR_BAD_TICKET);
    //  None of that stored anything
    Chat__KeyReply *reply = NULL;
    assert_int_equal (s_get_keys (ivan, conversation, sizeof conversation, 0, &reply),
                      CHAT_OK);
    assert_int_equal (reply->epoch_keys->n_keys, 0);
    chat__key_reply__free_unpacked (reply, NULL);

    //  The right set, names in any case and order
    const char *reordered [] = { "ivan", "HEIDI" };
    uint8_t *swapped [] = { wraps.wrapped [1], wraps.wrapped [0] };
    size_t swapped_len [] = { wraps.len [1], wraps.len [0] };
    assert_int_equal (ksclient_put_keys (heidi, ticket, ticket_len, reordered, swapped,
                                         swapped_len, 2, &result), CHAT_OK);
    assert_false (result.duplicate);
    assert_int_equal (result.epoch, 1);
    //  Sent again: a duplicate; another set for the epoch: refused
    assert_int_equal (ksclient_put_keys (heidi, ticket, ticket_len, members, wraps.wrapped,
                                         wraps.len, 2, &result), CHAT_OK);
    assert_true (result.duplicate);
    wraps_t rewrapped;
    s_wrap (&rewrapped, key, identities, 2);
    assert_int_equal (ksclient_put_keys (heidi, ticket, ticket_len, members,
                                         rewrapped.wrapped, rewrapped.len, 2, &result),
                      CHAT_ERR_KEY_EXISTS);
    s_wraps_free (&rewrapped);

    //  Each member gets its own copy, which opens to the epoch's key
    rsakey_t *owners [] = { s_identity (0), s_identity (1) };
    ksclient_t *clients [] = { heidi, ivan };
    for (int i = 0; i < 2; i++) {
        assert_int_equal (s_get_keys (clients [i], conversation, sizeof conversation, 0,
                                      &reply), CHAT_OK);
        Chat__EpochKeys *keys = reply->epoch_keys;
        assert_int_equal (keys->n_keys, 1);
        assert_false (keys->more);
        assert_int_equal (keys->keys [0]->epoch, 1);
        assert_string_equal (keys->keys [0]->uploader, "Heidi");
        assert_memory_equal (keys->conversation_id.data, conversation, CONVERSATION_ID_SIZE);
        assert_int_equal (keys->keys [0]->wrapped_key.len, wraps.len [i]);
        assert_memory_equal (keys->keys [0]->wrapped_key.data, wraps.wrapped [i],
                             wraps.len [i]);
        uint8_t opened [EPOCHKEY_SIZE];
        assert_int_equal (epochkey_unwrap (owners [i], keys->keys [0]->wrapped_key.data,
                                           keys->keys [0]->wrapped_key.len, opened),
                          CHAT_OK);
        assert_memory_equal (opened, key, sizeof key);
        chat__key_reply__free_unpacked (reply, NULL);
    }
    //  Somebody not in the set gets nothing, though logged in
    ksclient_t *judy = s_logged_in ("Judy", "pw", s_key_a, 2);
    assert_int_equal (s_get_keys (judy, conversation, sizeof conversation, 0, &reply),
                      CHAT_OK);
    assert_int_equal (reply->epoch_keys->n_keys, 0);
    chat__key_reply__free_unpacked (reply, NULL);

    //  Epoch 2, made by Ivan for Ivan and Judy: epochs ascending, from_epoch
    const char *second [] = { "Ivan", "Judy" };
    rsakey_t *second_ids [] = { s_identity (1), s_identity (2) };
    wraps_t wraps2;
    s_wrap (&wraps2, key, second_ids, 2);
    uint8_t *ticket2;
    size_t ticket2_len;
    s_ticket (s_ms_key, conversation, 2, second, 2, "Ivan", ksclient_fingerprint (ivan),
              wire_now (), &ticket2, &ticket2_len);
    assert_int_equal (ksclient_put_keys (ivan, ticket2, ticket2_len, second, wraps2.wrapped,
                                         wraps2.len, 2, &result), CHAT_OK);
    assert_int_equal (s_get_keys (ivan, conversation, sizeof conversation, 0, &reply),
                      CHAT_OK);
    assert_int_equal (reply->epoch_keys->n_keys, 2);
    assert_int_equal (reply->epoch_keys->keys [0]->epoch, 1);
    assert_int_equal (reply->epoch_keys->keys [1]->epoch, 2);
    assert_string_equal (reply->epoch_keys->keys [1]->uploader, "Ivan");
    chat__key_reply__free_unpacked (reply, NULL);
    assert_int_equal (s_get_keys (ivan, conversation, sizeof conversation, 2, &reply),
                      CHAT_OK);
    assert_int_equal (reply->epoch_keys->n_keys, 1);
    assert_int_equal (reply->epoch_keys->keys [0]->epoch, 2);
    chat__key_reply__free_unpacked (reply, NULL);
    assert_int_equal (s_get_keys (heidi, conversation, sizeof conversation, 0, &reply),
                      CHAT_OK);
    assert_int_equal (reply->epoch_keys->n_keys, 1);     //  not in epoch 2
    chat__key_reply__free_unpacked (reply, NULL);
    assert_int_equal (s_get_keys (judy, conversation, sizeof conversation, 0, &reply),
                      CHAT_OK);
    assert_int_equal (reply->epoch_keys->n_keys, 1);
    assert_int_equal (reply->epoch_keys->keys [0]->epoch, 2);
    chat__key_reply__free_unpacked (reply, NULL);
    //  A conversation id of the wrong size is a bad request
    assert_int_equal (s_get_keys (ivan, conversation, CONVERSATION_ID_SIZE - 1, 0, &reply),
                      CHAT_ERR_BAD_REQUEST);

    free (ticket);
    free (ticket2);
    s_wraps_free (&wraps);
    s_wraps_free (&wraps2);
    ksresult_clear (&result);
    ksclient_destroy (&heidi);
    ksclient_destroy (&ivan);
    ksclient_destroy (&judy);
}

//  A ticket as signed, with one field of its body changed afterwards
typedef enum {
    ALTER_CONVERSATION, ALTER_EPOCH, ALTER_MEMBERS, ALTER_UPLOADER, ALTER_FINGERPRINT,
    ALTER_ISSUED, ALTER_EXPIRES, ALTER_COUNT
} alter_t;

static void
s_alter (const uint8_t *ticket, size_t len, alter_t what, uint8_t **out, size_t *out_len)
{
    Chat__SignedCredential *signed_ = NULL;
    assert_int_equal (wire_unpack (&chat__signed_credential__descriptor, ticket, len,
                                   (ProtobufCMessage **) &signed_), CHAT_OK);
    Chat__KeyTicket *body = NULL;
    assert_int_equal (wire_unpack (&chat__key_ticket__descriptor, signed_->body.data,
                                   signed_->body.len, (ProtobufCMessage **) &body), CHAT_OK);
    char *extra_member = (char *) "Mallory";
    char **original = body->members;
    char **members = (char **) calloc (body->n_members + 1, sizeof (char *));
    memcpy (members, body->members, body->n_members * sizeof (char *));
    switch (what) {
        case ALTER_CONVERSATION: body->conversation_id.data [0] ^= 1; break;
        case ALTER_EPOCH: body->epoch++; break;
        case ALTER_MEMBERS:
            members [body->n_members] = extra_member;
            body->members = members;
            body->n_members++;
            break;
        case ALTER_UPLOADER: body->uploader [0] ^= 0x20; break;
        case ALTER_FINGERPRINT: body->client_key_fingerprint.data [0] ^= 1; break;
        case ALTER_ISSUED: body->issued_at -= 1000; break;
        case ALTER_EXPIRES: body->expires_at += 1000; break;
        default: break;
    }
    assert_int_equal (testkeys_swap_body (ticket, len, &body->base, out, out_len), 0);
    if (what == ALTER_MEMBERS) {
        body->n_members--;
        body->members = original;
    }
    free (members);
    chat__key_ticket__free_unpacked (body, NULL);
    chat__signed_credential__free_unpacked (signed_, NULL);
}

static void
test_bad_tickets (void **state)
{
    (void) state;
    ksclient_t *client = s_logged_in ("Kim", "pw", s_key_a, 3);
    const uint8_t *mine = ksclient_fingerprint (client);
    ksresult_t result = { 0 };
    uint8_t conversation [CONVERSATION_ID_SIZE];
    assert_int_equal (secret_random (conversation, sizeof conversation), 0);
    int64_t now = wire_now ();
    const char *members [] = { "Kim" };
    uint8_t wrapped_bytes [256];
    memset (wrapped_bytes, 7, sizeof wrapped_bytes);
    uint8_t *wrapped [] = { wrapped_bytes };
    size_t wrapped_len [] = { sizeof wrapped_bytes };

    //  The key server's own key is in its data directory: a stolen data
    //  directory still cannot mint a ticket
    char path [128];
    snprintf (path, sizeof path, "%s/%s", s_dir, KEYSERVER_KEY_FILE);
    rsakey_t *own_key = rsakey_load (path);
    assert_non_null (own_key);

    struct { const char *what; uint8_t *token; size_t len; } bad [32];
    int count = 0;
    bad [count].what = "signed by the key server itself";
    s_ticket (own_key, conversation, 1, members, 1, "Kim", mine, now, &bad [count].token,
              &bad [count].len);
    count++;
    bad [count].what = "signed by a stranger";
    s_ticket (testkeys_key (STRANGER), conversation, 1, members, 1, "Kim", mine, now,
              &bad [count].token, &bad [count].len);
    count++;
    bad [count].what = "expired";
    s_ticket (s_ms_key, conversation, 1, members, 1, "Kim", mine,
              now - 2 * CREDENTIAL_TICKET_LIFETIME, &bad [count].token, &bad [count].len);
    count++;
    bad [count].what = "from the future";
    s_ticket (s_ms_key, conversation, 1, members, 1, "Kim", mine, now + 3600,
              &bad [count].token, &bad [count].len);
    count++;
    bad [count].what = "other uploader";
    s_ticket (s_ms_key, conversation, 1, members, 1, "Mallory", mine, now,
              &bad [count].token, &bad [count].len);
    count++;
    bad [count].what = "other case of the uploader";
    s_ticket (s_ms_key, conversation, 1, members, 1, "kim", mine, now, &bad [count].token,
              &bad [count].len);
    count++;
    bad [count].what = "other client key";
    s_ticket (s_ms_key, conversation, 1, members, 1, "Kim", rsakey_fingerprint (s_key_b),
              now, &bad [count].token, &bad [count].len);
    count++;
    uint8_t *good;
    size_t good_len;
    s_ticket (s_ms_key, conversation, 1, members, 1, "Kim", mine, now, &good, &good_len);
    for (int what = 0; what < ALTER_COUNT; what++) {
        bad [count].what = "altered after signing";
        s_alter (good, good_len, (alter_t) what, &bad [count].token, &bad [count].len);
        count++;
    }
    bad [count].what = "truncated";
    bad [count].token = (uint8_t *) malloc (good_len);
    memcpy (bad [count].token, good, good_len - 1);
    bad [count].len = good_len - 1;
    count++;
    bad [count].what = "random bytes";
    bad [count].token = (uint8_t *) malloc (200);
    assert_int_equal (secret_random (bad [count].token, 200), 0);
    bad [count].len = 200;
    count++;
    bad [count].what = "a certificate";
    ksresult_t login = { 0 };
    assert_int_equal (ksclient_login (client, "Kim", "pw", &login), CHAT_OK);
    bad [count].token = login.certificate;
    bad [count].len = login.certificate_len;
    login.certificate = NULL;
    count++;
    bad [count].what = "empty";
    bad [count].token = NULL;
    bad [count].len = 0;
    count++;

    for (int i = 0; i < count; i++) {
        int rc = ksclient_put_keys (client, bad [i].token, bad [i].len, members, wrapped,
                                    wrapped_len, 1, &result);
        if (rc != CHAT_ERR_BAD_TICKET)
            fail_msg ("%s ticket (%d): got %s", bad [i].what, i, chat_errname (rc));
        free (bad [i].token);
    }
    //  None of it stored a key; the good ticket still works
    Chat__KeyReply *reply = NULL;
    assert_int_equal (s_get_keys (client, conversation, sizeof conversation, 0, &reply),
                      CHAT_OK);
    assert_int_equal (reply->epoch_keys->n_keys, 0);
    chat__key_reply__free_unpacked (reply, NULL);
    assert_int_equal (ksclient_put_keys (client, good, good_len, members, wrapped,
                                         wrapped_len, 1, &result), CHAT_OK);
    free (good);
    rsakey_destroy (&own_key);
    ksresult_clear (&login);
    ksresult_clear (&result);
    ksclient_destroy (&client);
}

static void
test_before_login (void **state)
{
    (void) state;
    ksclient_t *client = s_client (s_key_a);
    ksresult_t result = { 0 };
    uint8_t conversation [CONVERSATION_ID_SIZE] = { 7 };
    uint8_t *ticket;
    size_t ticket_len;
    const char *members [] = { "Karl" };
    s_ticket (s_ms_key, conversation, 1, members, 1, "Karl", ksclient_fingerprint (client),
              wire_now (), &ticket, &ticket_len);
    //  A valid ticket does not replace a login
    uint8_t bytes [256] = { 0 };
    uint8_t *wrapped [] = { bytes };
    size_t wrapped_len [] = { sizeof bytes };
    assert_int_equal (ksclient_put_keys (client, ticket, ticket_len, members, wrapped,
                                         wrapped_len, 1, &result), CHAT_ERR_NOT_LOGGED_IN);
    Chat__KeyReply *reply = NULL;
    assert_int_equal (s_get_keys (client, conversation, sizeof conversation, 0, &reply),
                      CHAT_ERR_NOT_LOGGED_IN);
    free (ticket);

    //  login_finish without login_start
    Chat__KeyRequest request = CHAT__KEY_REQUEST__INIT;
    Chat__LoginFinish finish = CHAT__LOGIN_FINISH__INIT;
    finish.client_final = (char *) "c=biws,r=abc,p=AAAA";
    request.body_case = CHAT__KEY_REQUEST__BODY_LOGIN_FINISH;
    request.login_finish = &finish;
    assert_int_equal (ksclient_call (client, &request, &reply), CHAT_OK);
    assert_int_equal (reply->body_case, CHAT__KEY_REPLY__BODY_ERROR);
    assert_int_equal (reply->error->code, CHAT_ERR_OUT_OF_ORDER);
    chat__key_reply__free_unpacked (reply, NULL);

    //  An empty request
    Chat__KeyRequest empty = CHAT__KEY_REQUEST__INIT;
    assert_int_equal (ksclient_call (client, &empty, &reply), CHAT_OK);
    assert_int_equal (reply->request_id, empty.request_id);
    assert_int_equal (reply->body_case, CHAT__KEY_REPLY__BODY_ERROR);
    assert_int_equal (reply->error->code, CHAT_ERR_BAD_REQUEST);
    chat__key_reply__free_unpacked (reply, NULL);

    //  A bad SCRAM first message
    assert_int_equal (ksclient_login_start (client, "y,,n=karl,r=abc", &result),
                      CHAT_ERR_MALFORMED);
    assert_int_equal (ksclient_login_start (client, "", &result), CHAT_ERR_MALFORMED);
    ksresult_clear (&result);
    ksclient_destroy (&client);
}

//  Seal payload on the client's channel into a frame
static void
s_seal (ksclient_t *client, const uint8_t *payload, size_t len, uint8_t **frame,
        size_t *size)
{
    assert_int_equal (channel_seal (ksclient_channel (client), payload, len, frame, size),
                      CHAT_OK);
}

static void
test_garbage_and_replay (void **state)
{
    (void) state;
    ksclient_t *client = s_client (s_key_a);
    ksresult_t result = { 0 };
    Chat__KeyReply *reply = NULL;

    //  Garbage on the wire: a clear refusal, the session lives on
    uint8_t junk [100];
    assert_int_equal (secret_random (junk, sizeof junk), 0);
    ksclient_send_raw (client, junk, sizeof junk);
    int rc = ksclient_recv (client, &reply);
    assert_true (rc != CHAT_OK && rc != KSCLIENT_TIMEOUT);
    ksclient_send_raw (client, junk, 0);
    rc = ksclient_recv (client, &reply);
    assert_true (rc != CHAT_OK && rc != KSCLIENT_TIMEOUT);

    //  A sealed payload that is no KeyRequest: ERR_MALFORMED, request id 0
    uint8_t *frame;
    size_t size;
    s_seal (client, junk, sizeof junk, &frame, &size);
    ksclient_send_raw (client, frame, size);
    free (frame);
    assert_int_equal (ksclient_recv (client, &reply), CHAT_OK);
    assert_int_equal (reply->request_id, 0);
    assert_int_equal (reply->body_case, CHAT__KEY_REPLY__BODY_ERROR);
    assert_int_equal (reply->error->code, CHAT_ERR_MALFORMED);
    chat__key_reply__free_unpacked (reply, NULL);

    //  The same sealed frame twice: answered once, then ERR_REPLAYED in clear
    Chat__KeyRequest request = CHAT__KEY_REQUEST__INIT;
    Chat__RegisterParamsRequest params = CHAT__REGISTER_PARAMS_REQUEST__INIT;
    params.username = (char *) "replayer";
    request.request_id = 77;
    request.body_case = CHAT__KEY_REQUEST__BODY_REGISTER_PARAMS;
    request.register_params = &params;
    uint8_t *packed;
    size_t packed_len;
    assert_int_equal (wire_pack (&request.base, &packed, &packed_len), CHAT_OK);
    s_seal (client, packed, packed_len, &frame, &size);
    free (packed);
    ksclient_send_raw (client, frame, size);
    assert_int_equal (ksclient_recv (client, &reply), CHAT_OK);
    assert_int_equal (reply->request_id, 77);
    assert_int_equal (reply->body_case, CHAT__KEY_REPLY__BODY_REGISTER_PARAMS);
    chat__key_reply__free_unpacked (reply, NULL);
    ksclient_send_raw (client, frame, size);
    assert_int_equal (ksclient_recv (client, &reply), CHAT_ERR_REPLAYED);
    free (frame);

    //  This session and a new one still work
    assert_int_equal (ksclient_register (client, "Leo", "pw", s_identity (0), &result),
                      CHAT_OK);
    ksclient_t *other = s_client (s_key_b);
    assert_int_equal (ksclient_login (other, "leo", "pw", &result), CHAT_OK);
    assert_int_equal (ksclient_login (client, "leo", "pw", &result), CHAT_OK);
    ksresult_clear (&result);
    ksclient_destroy (&other);
    ksclient_destroy (&client);
}

//  A Hello of protocol version 1 (or any but 2) is refused in clear
static void
test_version_1_hello (void **state)
{
    (void) state;
    testclient_t *client = testclient_new (s_endpoint, s_key_a);
    assert_non_null (client);
    uint32_t versions [] = { 1, 0, 3 };
    for (int i = 0; i < 3; i++) {
        assert_int_equal (testclient_hello_version (client, versions [i]), 0);
        assert_int_equal (testclient_refusal (client), CHAT_ERR_BAD_VERSION);
    }
    testclient_destroy (&client);
}

static void
test_resume (void **state)
{
    (void) state;
    ksclient_t *client = s_client (s_key_a);
    ksresult_t result = { 0 }, login = { 0 };
    assert_int_equal (ksclient_register (client, "Mona", "pw", s_identity (4), &result),
                      CHAT_OK);
    assert_int_equal (ksclient_login (client, "mona", "pw", &login), CHAT_OK);
    ksclient_destroy (&client);

    //  A new session on the same client key logs in without the password,
    //  and learns the identity key (no sealed identity: it has it)
    client = s_client (s_key_a);
    assert_int_equal (ksclient_resume (client, login.resume_token, login.resume_token_len,
                                       &result), CHAT_OK);
    assert_string_equal (result.username, "Mona");
    assert_null (result.sealed_identity);
    assert_memory_equal (rsakey_fingerprint (result.identity_public),
                         rsakey_fingerprint (s_identity (4)), RSAKEY_FINGERPRINT_SIZE);
    char *username = NULL;
    rsakey_t *identity = NULL;
    assert_int_equal (s_cert_check (&result, CREDENTIAL_LOGGED_IN, ksclient_fingerprint (client),
                                    &username, &identity), CHAT_OK);
    assert_string_equal (username, "Mona");
    assert_memory_equal (rsakey_fingerprint (identity), rsakey_fingerprint (s_identity (4)),
                         RSAKEY_FINGERPRINT_SIZE);
    zstr_free (&username);
    rsakey_destroy (&identity);
    uint8_t conversation [CONVERSATION_ID_SIZE] = { 9 };
    Chat__KeyReply *reply = NULL;
    assert_int_equal (s_get_keys (client, conversation, sizeof conversation, 0, &reply),
                      CHAT_OK);
    chat__key_reply__free_unpacked (reply, NULL);
    ksclient_destroy (&client);

    //  Another client key cannot use it; nor can garbage or a certificate
    client = s_client (s_key_b);
    assert_int_equal (ksclient_resume (client, login.resume_token, login.resume_token_len,
                                       &result), CHAT_ERR_BAD_CERTIFICATE);
    assert_int_equal (ksclient_resume (client, (const uint8_t *) "garbage", 7, &result),
                      CHAT_ERR_BAD_CERTIFICATE);
    assert_int_equal (ksclient_resume (client, login.certificate, login.certificate_len,
                                       &result), CHAT_ERR_BAD_CERTIFICATE);
    assert_int_equal (s_get_keys (client, conversation, sizeof conversation, 0, &reply),
                      CHAT_ERR_NOT_LOGGED_IN);
    ksresult_clear (&result);
    ksresult_clear (&login);
    ksclient_destroy (&client);
}

static Chat__AdminReply *
s_admin_ask (const char *dir)
{
    char path [128];
    snprintf (path, sizeof path, "%s/%s", dir, ADMINSOCK_NAME);
    zsock_t *req = zsock_new (ZMQ_REQ);
    assert_non_null (req);
    zsock_set_rcvtimeo (req, 10000);
    assert_int_equal (zsock_connect (req, "ipc://%s", path), 0);
    Chat__AdminRequest request = CHAT__ADMIN_REQUEST__INIT;
    request.version = 1;
    uint8_t *packed;
    size_t packed_len;
    assert_int_equal (wire_pack (&request.base, &packed, &packed_len), CHAT_OK);
    zframe_t *frame = zframe_new (packed, packed_len);
    free (packed);
    assert_int_equal (zframe_send (&frame, req, 0), 0);
    frame = zframe_recv (req);
    assert_non_null (frame);
    Chat__AdminReply *reply = NULL;
    assert_int_equal (wire_unpack (&chat__admin_reply__descriptor, zframe_data (frame),
                                   zframe_size (frame), (ProtobufCMessage **) &reply),
                      CHAT_OK);
    zframe_destroy (&frame);

    //  A request it does not understand gets an empty answer, and the
    //  socket keeps working
    frame = zframe_new ("junk", 4);
    assert_int_equal (zframe_send (&frame, req, 0), 0);
    frame = zframe_recv (req);
    assert_non_null (frame);
    assert_int_equal (zframe_size (frame), 0);
    zframe_destroy (&frame);
    zsock_destroy (&req);
    return reply;
}

static void
test_admin (void **state)
{
    (void) state;
    ksclient_t *client = s_logged_in ("Nina", "pw", s_key_a, 6);
    char path [128];
    snprintf (path, sizeof path, "%s/%s", s_dir, ADMINSOCK_NAME);
    struct stat st;
    assert_int_equal (stat (path, &st), 0);
    assert_int_equal (st.st_mode & 0777, 0600);
    //  A wrapped key for Nina
    uint8_t conversation [CONVERSATION_ID_SIZE] = { 0x44 };
    const char *members [] = { "Nina" };
    uint8_t *ticket;
    size_t ticket_len;
    s_ticket (s_ms_key, conversation, 1, members, 1, "Nina", ksclient_fingerprint (client),
              wire_now (), &ticket, &ticket_len);
    uint8_t bytes [300];
    memset (bytes, 0x55, sizeof bytes);
    uint8_t *wrapped [] = { bytes };
    size_t wrapped_len [] = { sizeof bytes };
    ksresult_t result = { 0 };
    assert_int_equal (ksclient_put_keys (client, ticket, ticket_len, members, wrapped,
                                         wrapped_len, 1, &result), CHAT_OK);
    free (ticket);

    Chat__AdminReply *reply = s_admin_ask (s_dir);
    assert_string_equal (reply->role, "keyserver");
    assert_string_equal (reply->server_key_fingerprint, rsakey_fingerprint_text (s_ks_public));
    assert_true (reply->started_at > 0);
    assert_true (reply->key_set_count >= 1);
    assert_true (reply->wrapped_key_count >= 1);
    bool found = false;
    for (size_t i = 0; i < reply->n_users; i++)
        if (streq (reply->users [i]->username, "Nina")) {
            found = true;
            assert_int_equal (reply->users [i]->iterations, 4096);
            assert_int_equal (strlen (reply->users [i]->stored_key_short), 8);
            //  The identity as a fingerprint, never the key
            assert_string_equal (reply->users [i]->identity_fingerprint,
                                 rsakey_fingerprint_text (s_identity (6)));
            assert_int_equal (reply->users [i]->wrapped_key_count, 1);
        }
    assert_true (found);
    found = false;
    for (size_t i = 0; i < reply->n_sessions; i++)
        if (streq (reply->sessions [i]->username, "Nina")) {
            found = true;
            assert_string_equal (reply->sessions [i]->client_key_fingerprint,
                                 rsakey_fingerprint_text (s_key_a));
        }
    assert_true (found);
    //  No wrapped key and no sealed identity crosses the admin socket
    uint8_t *packed;
    size_t packed_len;
    assert_int_equal (wire_pack (&reply->base, &packed, &packed_len), CHAT_OK);
    assert_null (memmem (packed, packed_len, bytes, 16));
    size_t der_len;
    const uint8_t *der = rsakey_der (s_identity (6), &der_len);
    assert_null (memmem (packed, packed_len, der + 40, 32));
    free (packed);
    chat__admin_reply__free_unpacked (reply, NULL);
    ksresult_clear (&result);
    ksclient_destroy (&client);
}

static void
test_restart (void **state)
{
    (void) state;
    char dir [64];
    snprintf (dir, sizeof dir, "/tmp/ks-restart-XXXXXX");
    assert_non_null (mkdtemp (dir));
    char *endpoint = NULL;
    actorthread_t *server = s_server_start (dir, &endpoint);

    ksclient_t *client = ksclient_new (endpoint, s_key_a);
    assert_non_null (client);
    ksresult_t result = { 0 }, login = { 0 };
    assert_int_equal (ksclient_register (client, "Oscar", "pw", s_identity (7), &result),
                      CHAT_OK);
    assert_int_equal (ksclient_login (client, "oscar", "pw", &login), CHAT_OK);
    uint8_t conversation [CONVERSATION_ID_SIZE];
    assert_int_equal (secret_random (conversation, sizeof conversation), 0);
    const char *members [] = { "Oscar" };
    uint8_t *ticket;
    size_t ticket_len;
    s_ticket (s_ms_key, conversation, 1, members, 1, "Oscar", ksclient_fingerprint (client),
              wire_now (), &ticket, &ticket_len);
    uint8_t key [EPOCHKEY_SIZE];
    assert_int_equal (epochkey_generate (key), CHAT_OK);
    wraps_t wraps;
    rsakey_t *identities [] = { s_identity (7) };
    s_wrap (&wraps, key, identities, 1);
    assert_int_equal (ksclient_put_keys (client, ticket, ticket_len, members, wraps.wrapped,
                                         wraps.len, 1, &result), CHAT_OK);
    ksclient_destroy (&client);
    rsakey_t *first_public = s_load_public (dir);
    actorthread_destroy (&server);
    zstr_free (&endpoint);

    //  A long-lived conversation: 1200 epochs of keys for Oscar, written
    //  straight into the store while the server is down (each a set of
    //  one, its bytes telling its epoch)
    enum { EPOCHS = 1200 };
    uint8_t long_lived [CONVERSATION_ID_SIZE];
    assert_int_equal (secret_random (long_lived, sizeof long_lived), 0);
    char *path = s_store_url (dir);
    keystore_t *store = keystore_open (path);
    free (path);
    assert_non_null (store);
    assert_int_equal (keystore_begin (store), CHAT_OK);
    uint8_t bytes [256];
    for (uint64_t epoch = 1; epoch <= EPOCHS; epoch++) {
        memset (bytes, 0, sizeof bytes);
        bytes [0] = (uint8_t) (epoch >> 8);
        bytes [1] = (uint8_t) epoch;
        keystore_wrapped_t copy = { "Oscar", bytes, sizeof bytes };
        bool duplicate = true;
        assert_int_equal (keystore_keys_put (store, long_lived, epoch, "Oscar", &copy, 1,
                                             wire_now_ms (), &duplicate), CHAT_OK);
        assert_false (duplicate);
    }
    assert_int_equal (keystore_commit (store), CHAT_OK);
    keystore_destroy (&store);

    server = s_server_start (dir, &endpoint);
    client = ksclient_new (endpoint, s_key_a);
    assert_non_null (client);
    //  Same server key, same public file
    rsakey_t *second_public = s_load_public (dir);
    assert_string_equal (rsakey_fingerprint_text (first_public),
                         rsakey_fingerprint_text (second_public));
    assert_string_equal (channel_peer_fingerprint_text (ksclient_channel (client)),
                         rsakey_fingerprint_text (first_public));
    rsakey_destroy (&first_public);
    rsakey_destroy (&second_public);
    //  The user, the identity, the keys and the resume token all survived
    assert_int_equal (ksclient_login (client, "OSCAR", "pw", &result), CHAT_OK);
    assert_string_equal (result.username, "Oscar");
    assert_memory_equal (rsakey_fingerprint (result.identity),
                         rsakey_fingerprint (s_identity (7)), RSAKEY_FINGERPRINT_SIZE);
    Chat__KeyReply *reply = NULL;
    assert_int_equal (s_get_keys (client, conversation, sizeof conversation, 0, &reply),
                      CHAT_OK);
    assert_int_equal (reply->epoch_keys->n_keys, 1);
    uint8_t opened [EPOCHKEY_SIZE];
    assert_int_equal (epochkey_unwrap (result.identity,
                                       reply->epoch_keys->keys [0]->wrapped_key.data,
                                       reply->epoch_keys->keys [0]->wrapped_key.len, opened),
                      CHAT_OK);
    assert_memory_equal (opened, key, sizeof key);
    chat__key_reply__free_unpacked (reply, NULL);
    assert_int_equal (ksclient_register (client, "oscar", "pw", s_identity (7), &result),
                      CHAT_ERR_USERNAME_TAKEN);
    //  get_keys in pages of 1000, epochs ascending, each epoch once
    uint64_t from = 0, seen = 0;
    size_t pages = 0;
    bool more = true;
    while (more) {
        assert_int_equal (s_get_keys (client, long_lived, sizeof long_lived, from, &reply),
                          CHAT_OK);
        Chat__EpochKeys *page = reply->epoch_keys;
        more = page->more;
        assert_true (page->n_keys <= 1000);
        assert_int_equal (page->n_keys, pages == 0? 1000: EPOCHS - 1000);
        for (size_t i = 0; i < page->n_keys; i++) {
            seen++;
            assert_int_equal (page->keys [i]->epoch, seen);
            assert_int_equal (page->keys [i]->wrapped_key.data [0], (uint8_t) (seen >> 8));
            assert_int_equal (page->keys [i]->wrapped_key.data [1], (uint8_t) seen);
            assert_string_equal (page->keys [i]->uploader, "Oscar");
        }
        from = seen + 1;
        pages++;
        chat__key_reply__free_unpacked (reply, NULL);
    }
    assert_int_equal (seen, EPOCHS);
    assert_int_equal (pages, 2);
    ksclient_destroy (&client);
    client = ksclient_new (endpoint, s_key_a);
    assert_non_null (client);
    assert_int_equal (ksclient_resume (client, login.resume_token, login.resume_token_len,
                                       &result), CHAT_OK);
    ksclient_destroy (&client);

    free (ticket);
    s_wraps_free (&wraps);
    ksresult_clear (&result);
    ksresult_clear (&login);
    actorthread_destroy (&server);
    zstr_free (&endpoint);
    s_remove_dir (dir);
}

//  Without the main server's public key the server does not start
static void
test_start_refusals (void **state)
{
    (void) state;
    char dir [64];
    snprintf (dir, sizeof dir, "/tmp/ks-nokey-XXXXXX");
    assert_non_null (mkdtemp (dir));
    const char *paths [] = { NULL, "/nonexistent/mainserver.pub" };
    for (int i = 0; i < 2; i++) {
        actorthread_t *server = actorthread_new (keyserver_actor, NULL);
        assert_non_null (server);
        zstr_sendx (actorthread_sock (server), "DATA", dir, NULL);
        if (paths [i])
            zstr_sendx (actorthread_sock (server), "MAINSERVER-KEY", paths [i], NULL);
        zstr_send (actorthread_sock (server), "START");
        char *reply = zstr_recv (actorthread_sock (server));
        assert_non_null (reply);
        assert_string_equal (reply, "ERROR");
        zstr_free (&reply);
        actorthread_destroy (&server);
    }
    s_remove_dir (dir);
}

//  ---------------------------------------------------------------- group commit

#define PIPELINED 50

//  Seal and send request with id, without reading any answer.
static void
s_send_request (ksclient_t *client, Chat__KeyRequest *request, uint64_t id)
{
    request->request_id = id;
    uint8_t *packed = NULL, *frame = NULL;
    size_t packed_len = 0, size = 0;
    assert_int_equal (wire_pack (&request->base, &packed, &packed_len), CHAT_OK);
    assert_int_equal (channel_seal (ksclient_channel (client), packed, packed_len,
                                    &frame, &size), CHAT_OK);
    ksclient_send_raw (client, frame, size);
    free (packed);
    free (frame);
}

//  What every pipelined registration shares: only the names differ
typedef struct {
    uint8_t salt [16];
    uint8_t stored_key [SCRAM_KEY_SIZE];
    uint8_t server_key [SCRAM_KEY_SIZE];
    char *sealed;
} shared_reg_t;

//  A registration of username, sent and not read.
static void
s_send_register (ksclient_t *client, const char *username, shared_reg_t *reg_data,
                 uint64_t id)
{
    Chat__KeyRequest request = CHAT__KEY_REQUEST__INIT;
    Chat__RegisterRequest reg = CHAT__REGISTER_REQUEST__INIT;
    reg.username = (char *) username;
    reg.salt.data = reg_data->salt;
    reg.salt.len = 16;
    reg.iterations = 4096;
    reg.stored_key.data = reg_data->stored_key;
    reg.stored_key.len = SCRAM_KEY_SIZE;
    reg.server_key.data = reg_data->server_key;
    reg.server_key.len = SCRAM_KEY_SIZE;
    reg.identity_public_key.data = (uint8_t *) rsakey_der (s_identity (0),
                                                           &reg.identity_public_key.len);
    reg.sealed_identity.data = (uint8_t *) reg_data->sealed;
    reg.sealed_identity.len = strlen (reg_data->sealed);
    request.body_case = CHAT__KEY_REQUEST__BODY_REGISTER;
    request.register_ = &reg;
    s_send_request (client, &request, id);
}

//  Read the answer to request id: its body case, or the error's code as a
//  negative number (so that the two cannot be mixed up).
static int
s_recv_answer (ksclient_t *client, uint64_t id)
{
    Chat__KeyReply *reply = NULL;
    assert_int_equal (ksclient_recv (client, &reply), CHAT_OK);
    //  Replies for one session come back in request order
    assert_int_equal (reply->request_id, id);
    int answer = (int) reply->body_case;
    if (reply->body_case == CHAT__KEY_REPLY__BODY_ERROR)
        answer = -(int) reply->error->code;
    else
    if (reply->body_case == CHAT__KEY_REPLY__BODY_REGISTERED)
        assert_true (reply->registered->certificate.len > 0);
    else
    if (reply->body_case == CHAT__KEY_REPLY__BODY_KEYS_STORED && reply->keys_stored->duplicate)
        answer = 1000;
    chat__key_reply__free_unpacked (reply, NULL);
    return answer;
}

//  A put_keys of one copy (fill bytes) for uploader, sent and not read
static void
s_send_put_keys (ksclient_t *client, const uint8_t *ticket, size_t ticket_len,
                 const char *member, uint8_t fill, uint64_t id)
{
    uint8_t bytes [256];
    memset (bytes, fill, sizeof bytes);
    Chat__WrappedKey item = CHAT__WRAPPED_KEY__INIT;
    item.username = (char *) member;
    item.wrapped_key.data = bytes;
    item.wrapped_key.len = sizeof bytes;
    Chat__WrappedKey *items [] = { &item };
    Chat__KeyRequest request = CHAT__KEY_REQUEST__INIT;
    Chat__PutKeysRequest body = CHAT__PUT_KEYS_REQUEST__INIT;
    body.ticket.data = (uint8_t *) ticket;
    body.ticket.len = ticket_len;
    body.keys = items;
    body.n_keys = 1;
    request.body_case = CHAT__KEY_REQUEST__BODY_PUT_KEYS;
    request.put_keys = &body;
    s_send_request (client, &request, id);
}

static void
test_group_commit (void **state)
{
    (void) state;
    char dir [64];
    snprintf (dir, sizeof dir, "/tmp/ks-batch-XXXXXX");
    assert_non_null (mkdtemp (dir));
    char *endpoint = NULL;
    actorthread_t *server = s_server_start (dir, &endpoint);
    //  On PostgreSQL the other tests' users are there too
    int64_t users_before = 0, sets_before = 0;
    if (s_pg_url) {
        keystore_t *store = keystore_open (s_pg_url);
        assert_non_null (store);
        users_before = keystore_user_count (store);
        sets_before = keystore_key_set_count (store);
        keystore_destroy (&store);
    }

    //  One verifier and one sealed identity serve every user
    shared_reg_t reg_data;
    assert_int_equal (secret_random (reg_data.salt, sizeof reg_data.salt), 0);
    uint8_t salted [SCRAM_KEY_SIZE];
    assert_int_equal (scram_salted_password ("pw", reg_data.salt, 16, 4096, salted), 0);
    assert_int_equal (scram_verifier_from_salted (salted, reg_data.stored_key,
                                                  reg_data.server_key), 0);
    assert_int_equal (identity_seal (s_identity (0), "Batch00", salted, wire_now (),
                                     &reg_data.sealed), CHAT_OK);
    secret_wipe (salted, sizeof salted);

    //  Two clients pipeline their registrations, none read before all are
    //  sent: the server drains them in batches. Each also registers "Twin"
    //  (in its own case), and client a registers "Dup" and "dUP" back to
    //  back: exactly one of each pair may win.
    ksclient_t *a = ksclient_new (endpoint, s_key_a);
    ksclient_t *b = ksclient_new (endpoint, s_key_b);
    assert_non_null (a);
    assert_non_null (b);
    char name [32];
    uint64_t id_a = 0, id_b = 0, dup_id = 0, twin_a = 0, twin_b = 0;
    for (int i = 0; i < PIPELINED; i++) {
        snprintf (name, sizeof name, "Batch%02d", i);
        s_send_register (i % 2? b: a, name, &reg_data, i % 2? ++id_b: ++id_a);
        if (i == PIPELINED / 2) {
            s_send_register (a, "Dup", &reg_data, dup_id = ++id_a);
            s_send_register (a, "dUP", &reg_data, ++id_a);
            s_send_register (a, "Twin", &reg_data, twin_a = ++id_a);
            s_send_register (b, "twin", &reg_data, twin_b = ++id_b);
        }
    }
    int twins = 0;
    for (uint64_t id = 1; id <= id_a; id++) {
        int answer = s_recv_answer (a, id);
        if (id == dup_id + 1)
            assert_int_equal (answer, -CHAT_ERR_USERNAME_TAKEN);
        else
        if (id == twin_a) {
            assert_true (answer == CHAT__KEY_REPLY__BODY_REGISTERED
                      || answer == -CHAT_ERR_USERNAME_TAKEN);
            twins += answer == CHAT__KEY_REPLY__BODY_REGISTERED;
        }
        else
            assert_int_equal (answer, CHAT__KEY_REPLY__BODY_REGISTERED);
    }
    for (uint64_t id = 1; id <= id_b; id++) {
        int answer = s_recv_answer (b, id);
        if (id == twin_b) {
            assert_true (answer == CHAT__KEY_REPLY__BODY_REGISTERED
                      || answer == -CHAT_ERR_USERNAME_TAKEN);
            twins += answer == CHAT__KEY_REPLY__BODY_REGISTERED;
        }
        else
            assert_int_equal (answer, CHAT__KEY_REPLY__BODY_REGISTERED);
    }
    assert_int_equal (twins, 1);

    //  Two sets for one epoch in one pipeline, and the first again: the
    //  first is stored, the other refused, the repeat a duplicate
    ksresult_t result = { 0 };
    assert_int_equal (ksclient_login (a, "batch00", "pw", &result), CHAT_OK);
    uint8_t conversation [CONVERSATION_ID_SIZE];
    assert_int_equal (secret_random (conversation, sizeof conversation), 0);
    const char *members [] = { "Batch00" };
    uint8_t *ticket;
    size_t ticket_len;
    s_ticket (s_ms_key, conversation, 1, members, 1, "Batch00", ksclient_fingerprint (a),
              wire_now (), &ticket, &ticket_len);
    s_send_put_keys (a, ticket, ticket_len, "Batch00", 0x61, 101);
    s_send_put_keys (a, ticket, ticket_len, "Batch00", 0x62, 102);
    s_send_put_keys (a, ticket, ticket_len, "batch00", 0x61, 103);
    assert_int_equal (s_recv_answer (a, 101), CHAT__KEY_REPLY__BODY_KEYS_STORED);
    assert_int_equal (s_recv_answer (a, 102), -CHAT_ERR_KEY_EXISTS);
    assert_int_equal (s_recv_answer (a, 103), 1000);
    ksclient_destroy (&a);
    ksclient_destroy (&b);
    actorthread_destroy (&server);
    zstr_free (&endpoint);

    //  Everything acknowledged is on disk
    char *path = s_store_url (dir);
    keystore_t *store = keystore_open (path);
    free (path);
    assert_non_null (store);
    assert_int_equal (keystore_user_count (store), users_before + PIPELINED + 2);
    keystore_user_t user;
    for (int i = 0; i < PIPELINED; i++) {
        snprintf (name, sizeof name, "batch%02d", i);
        assert_int_equal (keystore_user_lookup (store, name, &user), CHAT_OK);
    }
    assert_int_equal (keystore_user_lookup (store, "dup", &user), CHAT_OK);
    assert_string_equal (user.username, "Dup");
    assert_int_equal (keystore_user_lookup (store, "TWIN", &user), CHAT_OK);
    assert_int_equal (keystore_key_set_count (store), sets_before + 1);
    assert_int_equal (keystore_wrapped_count_of (store, "batch00"), 1);
    keystore_destroy (&store);

    //  And the server started again serves it
    server = s_server_start (dir, &endpoint);
    a = ksclient_new (endpoint, s_key_a);
    assert_non_null (a);
    //  (every user shares one sealed identity, made for Batch00: the others'
    //  logins work but do not open it)
    snprintf (name, sizeof name, "Batch%02d", PIPELINED - 1);
    assert_int_equal (ksclient_login (a, name, "pw", &result), CHAT_ERR_BAD_KEY);
    assert_int_equal (ksclient_login (a, "BATCH00", "pw", &result), CHAT_OK);
    assert_int_equal (ksclient_register (a, "BATCH07", "pw", s_identity (0), &result),
                      CHAT_ERR_USERNAME_TAKEN);
    ksclient_destroy (&a);

    free (ticket);
    free (reg_data.sealed);
    ksresult_clear (&result);
    actorthread_destroy (&server);
    zstr_free (&endpoint);
    s_remove_dir (dir);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_register_and_login),
        cmocka_unit_test (test_wrong_password),
        cmocka_unit_test (test_unknown_user),
        cmocka_unit_test (test_duplicate_username),
        cmocka_unit_test (test_registration_fields),
        cmocka_unit_test (test_rate_limit),
        cmocka_unit_test (test_password_change),
        cmocka_unit_test (test_identities),
        cmocka_unit_test (test_keys),
        cmocka_unit_test (test_bad_tickets),
        cmocka_unit_test (test_before_login),
        cmocka_unit_test (test_garbage_and_replay),
        cmocka_unit_test (test_version_1_hello),
        cmocka_unit_test (test_resume),
        cmocka_unit_test (test_admin),
        cmocka_unit_test (test_restart),
        cmocka_unit_test (test_start_refusals),
        cmocka_unit_test (test_group_commit),
    };
    s_pg_url = getenv ("CHAT_TEST_PG_URL");
    if (s_pg_url && !*s_pg_url)
        s_pg_url = NULL;
    printf ("test_keyserver: store on %s\n",
            s_pg_url? "PostgreSQL (CHAT_TEST_PG_URL)": "SQLite");
    return cmocka_run_group_tests (tests, s_group_setup, s_group_teardown);
}
