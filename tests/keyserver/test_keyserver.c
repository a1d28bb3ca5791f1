/*  test_keyserver - the key server actor in-process, over real sockets on
    127.0.0.1 with an ephemeral port, talked to by a client built from
    libchat alone (ksclient)
*/
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "chaterror.h"
#include "credential.h"
#include "adminsock.h"
#include "keyserver.h"
#include "keystore.h"
#include "ksclient.h"
#include "scram.h"
#include "secret.h"

#define ITERATIONS "4096"

//  One server for the group; tests use their own usernames
static char s_dir [64];
static zactor_t *s_server;
static char *s_endpoint;
static rsakey_t *s_key_a;            //  two client keys: credentials are
static rsakey_t *s_key_b;            //  bound to one, refused on the other
static credential_keys_t s_keys;     //  from the data dir's shared secret

static void
s_limit (zactor_t *server, const char *name, const char *value)
{
    zstr_sendx (server, "LIMIT", name, value, NULL);
    char *reply = zstr_recv (server);
    assert_non_null (reply);
    assert_string_equal (reply, "OK");
    zstr_free (&reply);
}

static zactor_t *
s_server_start (const char *dir, char **endpoint)
{
    zactor_t *server = zactor_new (keyserver_actor, NULL);
    assert_non_null (server);
    zstr_sendx (server, "DATA", dir, NULL);
    zstr_sendx (server, "ITERATIONS", ITERATIONS, NULL);
    //  A back-off long enough that no test depends on the machine's speed
    s_limit (server, "login_backoff_ms", "60000");
    //  Few enough failures per address that a test can spray them all
    s_limit (server, "login_failures_per_address_per_hour", "20");
    zstr_send (server, "START");
    char *reply = zstr_recv (server);
    assert_non_null (reply);
    assert_string_equal (reply, "OK");
    zstr_free (&reply);
    zstr_sendx (server, "BIND", "tcp://127.0.0.1:*", NULL);
    *endpoint = zstr_recv (server);
    assert_non_null (*endpoint);
    assert_true (strncmp (*endpoint, "tcp://127.0.0.1:", 16) == 0);
    return server;
}

static void
s_load_keys (const char *dir, credential_keys_t *keys)
{
    char path [128];
    snprintf (path, sizeof path, "%s/%s", dir, KEYSERVER_SECRET);
    uint8_t shared [SECRET_SHARED_SIZE];
    assert_int_equal (secret_shared_load (path, shared), 0);
    assert_int_equal (credential_keys_derive (shared, keys), CHAT_OK);
    secret_wipe (shared, sizeof shared);
}

static void
s_remove_dir (const char *dir)
{
    const char *files [] = { KEYSERVER_DB, "keyserver.db-wal", "keyserver.db-shm",
                             KEYSERVER_KEY_FILE, KEYSERVER_SECRET, KEYSERVER_RESUME,
                             ADMINSOCK_NAME, NULL };
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
    s_key_a = rsakey_generate (2048);
    s_key_b = rsakey_generate (2048);
    if (!s_key_a || !s_key_b)
        return -1;
    s_server = s_server_start (s_dir, &s_endpoint);
    s_load_keys (s_dir, &s_keys);
    return 0;
}

static int
s_group_teardown (void **state)
{
    (void) state;
    zactor_destroy (&s_server);
    zstr_free (&s_endpoint);
    rsakey_destroy (&s_key_a);
    rsakey_destroy (&s_key_b);
    credential_keys_wipe (&s_keys);
    s_remove_dir (s_dir);
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

//  A registered and logged-in client on key
static ksclient_t *
s_logged_in (const char *username, const char *password, rsakey_t *key)
{
    ksclient_t *client = s_client (key);
    ksresult_t result = { 0 };
    assert_int_equal (ksclient_register (client, username, password, &result), CHAT_OK);
    assert_int_equal (ksclient_login (client, username, password, &result), CHAT_OK);
    ksresult_clear (&result);
    return client;
}

static void
s_ticket (const credential_keys_t *keys, const char *username, const uint8_t *conversation,
          const uint8_t *fingerprint, int64_t now, uint8_t **ticket, size_t *len)
{
    assert_int_equal (credential_ticket_issue (keys, username, conversation, fingerprint,
                                               now, ticket, len), CHAT_OK);
}

//  ---------------------------------------------------------------- tests

static void
test_register_and_login (void **state)
{
    (void) state;
    ksclient_t *client = s_client (s_key_a);

    //  The server is the one whose key is in the data directory
    char path [128];
    snprintf (path, sizeof path, "%s/%s", s_dir, KEYSERVER_KEY_FILE);
    rsakey_t *server_key = rsakey_load (path);
    assert_non_null (server_key);
    assert_memory_equal (channel_peer_fingerprint (ksclient_channel (client)),
                         rsakey_fingerprint (server_key), RSAKEY_FINGERPRINT_SIZE);
    rsakey_destroy (&server_key);

    ksresult_t result = { 0 };
    assert_int_equal (ksclient_register (client, "Alice", "correct horse", &result), CHAT_OK);
    char *username = NULL;
    assert_int_equal (credential_cert_check (&s_keys, result.certificate,
                                             result.certificate_len, CREDENTIAL_REGISTERED,
                                             ksclient_fingerprint (client), wire_now (),
                                             &username), CHAT_OK);
    assert_string_equal (username, "Alice");
    zstr_free (&username);
    //  Bound to this client's key and purpose: useless elsewhere
    assert_int_equal (credential_cert_check (&s_keys, result.certificate,
                                             result.certificate_len, CREDENTIAL_REGISTERED,
                                             rsakey_fingerprint (s_key_b), wire_now (),
                                             &username), CHAT_ERR_BAD_CERTIFICATE);
    assert_int_equal (credential_cert_check (&s_keys, result.certificate,
                                             result.certificate_len, CREDENTIAL_LOGGED_IN,
                                             ksclient_fingerprint (client), wire_now (),
                                             &username), CHAT_ERR_BAD_CERTIFICATE);

    //  Login in another case gives the spelling of the registration
    assert_int_equal (ksclient_login (client, "alice", "correct horse", &result), CHAT_OK);
    assert_string_equal (result.username, "Alice");
    assert_int_equal (credential_cert_check (&s_keys, result.certificate,
                                             result.certificate_len, CREDENTIAL_LOGGED_IN,
                                             ksclient_fingerprint (client), wire_now (),
                                             &username), CHAT_OK);
    assert_string_equal (username, "Alice");
    zstr_free (&username);
    assert_true (result.resume_token_len > 0);

    //  Logged in: keys can be asked for; logged out: not
    uint8_t conversation [CONVERSATION_ID_SIZE];
    assert_int_equal (secret_random (conversation, sizeof conversation), 0);
    uint8_t *ticket;
    size_t ticket_len;
    s_ticket (&s_keys, "Alice", conversation, ksclient_fingerprint (client), wire_now (),
              &ticket, &ticket_len);
    assert_int_equal (ksclient_key (client, true, conversation, ticket, ticket_len, &result),
                      CHAT_OK);
    assert_int_equal (ksclient_logout (client, &result), CHAT_OK);
    assert_int_equal (ksclient_key (client, false, conversation, ticket, ticket_len, &result),
                      CHAT_ERR_NOT_LOGGED_IN);
    free (ticket);
    ksresult_clear (&result);
    ksclient_destroy (&client);
}

static void
test_wrong_password (void **state)
{
    (void) state;
    ksclient_t *client = s_client (s_key_a);
    ksresult_t result = { 0 };
    assert_int_equal (ksclient_register (client, "bob", "hunter2", &result), CHAT_OK);
    assert_int_equal (ksclient_login (client, "bob", "hunter3", &result), CHAT_ERR_AUTH_FAILED);
    assert_string_equal (result.message, "Wrong username or password");
    //  The session is not logged in after a failure, and can try again
    uint8_t conversation [CONVERSATION_ID_SIZE] = { 1 };
    assert_int_equal (ksclient_key (client, true, conversation, (const uint8_t *) "x", 1,
                                    &result), CHAT_ERR_NOT_LOGGED_IN);
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
    assert_int_equal (ksclient_register (client, "carl", "secret", &known), CHAT_OK);
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
    assert_int_equal (ksclient_register (client, "Dora", "one", &result), CHAT_OK);
    assert_int_equal (ksclient_register (client, "Dora", "two", &result),
                      CHAT_ERR_USERNAME_TAKEN);
    assert_string_equal (result.message, "Username already in use");
    assert_int_equal (ksclient_register (client, "dORA", "two", &result),
                      CHAT_ERR_USERNAME_TAKEN);
    //  The first password still stands
    assert_int_equal (ksclient_login (client, "dora", "two", &result), CHAT_ERR_AUTH_FAILED);
    assert_int_equal (ksclient_login (client, "DORA", "one", &result), CHAT_OK);
    assert_string_equal (result.username, "Dora");
    ksresult_clear (&result);
    ksclient_destroy (&client);
}

//  A register request with the given fields, verifiers of the right size
static int
s_register_raw (ksclient_t *client, const char *username, size_t salt_len,
                uint32_t iterations, size_t key_len)
{
    uint8_t salt [80] = { 0 }, stored [40] = { 0 }, server [40] = { 0 };
    Chat__KeyRequest request = CHAT__KEY_REQUEST__INIT;
    Chat__RegisterRequest reg = CHAT__REGISTER_REQUEST__INIT;
    reg.username = (char *) username;
    reg.salt.data = salt;
    reg.salt.len = salt_len;
    reg.iterations = iterations;
    reg.stored_key.data = stored;
    reg.stored_key.len = key_len;
    reg.server_key.data = server;
    reg.server_key.len = key_len;
    request.body_case = CHAT__KEY_REQUEST__BODY_REGISTER;
    request.register_ = &reg;
    Chat__KeyReply *reply = NULL;
    int rc = ksclient_call (client, &request, &reply);
    if (rc == CHAT_OK) {
        rc = reply->body_case == CHAT__KEY_REPLY__BODY_ERROR? (int) reply->error->code
           : reply->body_case == CHAT__KEY_REPLY__BODY_REGISTERED? CHAT_OK: -1;
        chat__key_reply__free_unpacked (reply, NULL);
    }
    return rc;
}

static void
test_invalid_username (void **state)
{
    (void) state;
    ksclient_t *client = s_client (s_key_a);
    ksresult_t result = { 0 };
    const char *bad [] = { "", "has space", "semi;colon", "emoji\xf0\x9f\x98\x80",
                           "abcdefghijklmnopqrstuvwxyz0123456", NULL };
    for (int i = 0; bad [i]; i++) {
        assert_int_equal (ksclient_register (client, bad [i], "pw", &result),
                          CHAT_ERR_INVALID_USERNAME);
        assert_int_equal (s_register_raw (client, bad [i], 16, 4096, 32),
                          CHAT_ERR_INVALID_USERNAME);
    }
    //  32 characters and every allowed sign are fine
    assert_int_equal (ksclient_register (client, "abcdefghijklmnopqrstuvwxyz012345",
                                         "pw", &result), CHAT_OK);
    assert_int_equal (ksclient_register (client, "a.b-c_D9", "pw", &result), CHAT_OK);
    //  Parameters out of range
    assert_int_equal (s_register_raw (client, "evan", 8, 4096, 32), CHAT_ERR_BAD_REQUEST);
    assert_int_equal (s_register_raw (client, "evan", 65, 4096, 32), CHAT_ERR_BAD_REQUEST);
    assert_int_equal (s_register_raw (client, "evan", 16, 4095, 32), CHAT_ERR_BAD_REQUEST);
    assert_int_equal (s_register_raw (client, "evan", 16, 4096, 31), CHAT_ERR_BAD_REQUEST);
    assert_int_equal (s_register_raw (client, "evan", 16, 4096, 33), CHAT_ERR_BAD_REQUEST);
    //  None of them was stored
    assert_int_equal (s_register_raw (client, "evan", 16, 4096, 32), CHAT_OK);
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
    assert_int_equal (ksclient_register (client, "frank", "right", &result), CHAT_OK);
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
    assert_int_equal (ksclient_register (other, "grace", "pw", &result), CHAT_OK);
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
    assert_int_equal (ksclient_register (client, "henry", "right", &result), CHAT_OK);
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
test_keys (void **state)
{
    (void) state;
    ksclient_t *client = s_logged_in ("Heidi", "pw", s_key_a);
    ksresult_t result = { 0 };
    uint8_t conversation [CONVERSATION_ID_SIZE];
    assert_int_equal (secret_random (conversation, sizeof conversation), 0);
    uint8_t *ticket;
    size_t ticket_len;
    s_ticket (&s_keys, "Heidi", conversation, ksclient_fingerprint (client), wire_now (),
              &ticket, &ticket_len);

    //  No key yet
    assert_int_equal (ksclient_key (client, false, conversation, ticket, ticket_len, &result),
                      CHAT_ERR_NOT_FOUND);
    assert_int_equal (ksclient_key (client, true, conversation, ticket, ticket_len, &result),
                      CHAT_OK);
    uint8_t key [32];
    memcpy (key, result.key, sizeof key);
    uint8_t zero [32] = { 0 };
    assert_memory_not_equal (key, zero, sizeof key);
    //  Creating again gives the same key; so does get
    assert_int_equal (ksclient_key (client, true, conversation, ticket, ticket_len, &result),
                      CHAT_OK);
    assert_memory_equal (result.key, key, sizeof key);
    assert_int_equal (ksclient_key (client, false, conversation, ticket, ticket_len, &result),
                      CHAT_OK);
    assert_memory_equal (result.key, key, sizeof key);

    //  Another member on another session and client key gets the same key
    ksclient_t *other = s_logged_in ("Ivan", "pw", s_key_b);
    uint8_t *ticket2;
    size_t ticket2_len;
    s_ticket (&s_keys, "Ivan", conversation, ksclient_fingerprint (other), wire_now (),
              &ticket2, &ticket2_len);
    assert_int_equal (ksclient_key (other, false, conversation, ticket2, ticket2_len, &result),
                      CHAT_OK);
    assert_memory_equal (result.key, key, sizeof key);

    //  Another conversation has another key
    uint8_t conversation2 [CONVERSATION_ID_SIZE];
    assert_int_equal (secret_random (conversation2, sizeof conversation2), 0);
    free (ticket2);
    s_ticket (&s_keys, "Ivan", conversation2, ksclient_fingerprint (other), wire_now (),
              &ticket2, &ticket2_len);
    assert_int_equal (ksclient_key (other, true, conversation2, ticket2, ticket2_len,
                                    &result), CHAT_OK);
    assert_memory_not_equal (result.key, key, sizeof key);
    free (ticket);
    free (ticket2);
    ksresult_clear (&result);
    ksclient_destroy (&client);
    ksclient_destroy (&other);
}

static void
test_bad_tickets (void **state)
{
    (void) state;
    ksclient_t *client = s_logged_in ("Judy", "pw", s_key_a);
    const uint8_t *mine = ksclient_fingerprint (client);
    ksresult_t result = { 0 };
    uint8_t conversation [CONVERSATION_ID_SIZE], other_conversation [CONVERSATION_ID_SIZE];
    assert_int_equal (secret_random (conversation, sizeof conversation), 0);
    assert_int_equal (secret_random (other_conversation, sizeof other_conversation), 0);
    int64_t now = wire_now ();

    //  The key exists, so each refusal below is the ticket's doing
    uint8_t *good;
    size_t good_len;
    s_ticket (&s_keys, "Judy", conversation, mine, now, &good, &good_len);
    assert_int_equal (ksclient_key (client, true, conversation, good, good_len, &result),
                      CHAT_OK);

    credential_keys_t other_keys;
    uint8_t other_secret [SECRET_SHARED_SIZE];
    assert_int_equal (secret_random (other_secret, sizeof other_secret), 0);
    assert_int_equal (credential_keys_derive (other_secret, &other_keys), CHAT_OK);
    uint8_t random_bytes [200];
    assert_int_equal (secret_random (random_bytes, sizeof random_bytes), 0);

    struct { const char *what; uint8_t *token; size_t len; } bad [8];
    int count = 0;
    bad [count].what = "forged (other secret)";
    s_ticket (&other_keys, "Judy", conversation, mine, now, &bad [count].token,
              &bad [count].len);
    count++;
    bad [count].what = "expired";
    s_ticket (&s_keys, "Judy", conversation, mine, now - 2 * CREDENTIAL_TICKET_LIFETIME,
              &bad [count].token, &bad [count].len);
    count++;
    bad [count].what = "other user";
    s_ticket (&s_keys, "Mallory", conversation, mine, now, &bad [count].token,
              &bad [count].len);
    count++;
    bad [count].what = "other case of the user";
    s_ticket (&s_keys, "judy", conversation, mine, now, &bad [count].token,
              &bad [count].len);
    count++;
    bad [count].what = "other conversation";
    s_ticket (&s_keys, "Judy", other_conversation, mine, now, &bad [count].token,
              &bad [count].len);
    count++;
    bad [count].what = "other client key";
    s_ticket (&s_keys, "Judy", conversation, rsakey_fingerprint (s_key_b), now,
              &bad [count].token, &bad [count].len);
    count++;

    for (int i = 0; i < count; i++) {
        for (int create = 0; create < 2; create++) {
            int rc = ksclient_key (client, create, conversation, bad [i].token,
                                   bad [i].len, &result);
            if (rc != CHAT_ERR_BAD_TICKET)
                fail_msg ("%s ticket: got %s", bad [i].what, chat_errname (rc));
        }
        free (bad [i].token);
    }
    //  Missing, random bytes, the good ticket truncated
    assert_int_equal (ksclient_key (client, false, conversation, NULL, 0, &result),
                      CHAT_ERR_BAD_TICKET);
    assert_int_equal (ksclient_key (client, true, conversation, random_bytes,
                                    sizeof random_bytes, &result), CHAT_ERR_BAD_TICKET);
    assert_int_equal (ksclient_key (client, false, conversation, good, good_len - 1,
                                    &result), CHAT_ERR_BAD_TICKET);
    //  The other conversation got no key from any of that
    uint8_t *other_ticket;
    size_t other_len;
    s_ticket (&s_keys, "Judy", other_conversation, mine, now, &other_ticket, &other_len);
    assert_int_equal (ksclient_key (client, false, other_conversation, other_ticket,
                                    other_len, &result), CHAT_ERR_NOT_FOUND);
    //  A conversation id of the wrong size is a bad request
    Chat__KeyRequest request = CHAT__KEY_REQUEST__INIT;
    Chat__ConversationKeyRequest body = CHAT__CONVERSATION_KEY_REQUEST__INIT;
    body.conversation_id.data = conversation;
    body.conversation_id.len = CONVERSATION_ID_SIZE - 1;
    body.ticket.data = good;
    body.ticket.len = good_len;
    request.body_case = CHAT__KEY_REQUEST__BODY_GET_KEY;
    request.get_key = &body;
    Chat__KeyReply *reply = NULL;
    assert_int_equal (ksclient_call (client, &request, &reply), CHAT_OK);
    assert_int_equal (reply->body_case, CHAT__KEY_REPLY__BODY_ERROR);
    assert_int_equal (reply->error->code, CHAT_ERR_BAD_REQUEST);
    chat__key_reply__free_unpacked (reply, NULL);
    //  And the good ticket still works
    assert_int_equal (ksclient_key (client, false, conversation, good, good_len, &result),
                      CHAT_OK);
    free (good);
    free (other_ticket);
    credential_keys_wipe (&other_keys);
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
    s_ticket (&s_keys, "Karl", conversation, ksclient_fingerprint (client), wire_now (),
              &ticket, &ticket_len);
    //  A valid ticket does not replace a login
    assert_int_equal (ksclient_key (client, true, conversation, ticket, ticket_len, &result),
                      CHAT_ERR_NOT_LOGGED_IN);
    assert_int_equal (ksclient_key (client, false, conversation, ticket, ticket_len, &result),
                      CHAT_ERR_NOT_LOGGED_IN);
    free (ticket);

    //  login_finish without login_start
    Chat__KeyRequest request = CHAT__KEY_REQUEST__INIT;
    Chat__LoginFinish finish = CHAT__LOGIN_FINISH__INIT;
    finish.client_final = (char *) "c=biws,r=abc,p=AAAA";
    request.body_case = CHAT__KEY_REQUEST__BODY_LOGIN_FINISH;
    request.login_finish = &finish;
    Chat__KeyReply *reply = NULL;
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
    assert_int_equal (ksclient_register (client, "Leo", "pw", &result), CHAT_OK);
    ksclient_t *other = s_client (s_key_b);
    assert_int_equal (ksclient_login (other, "leo", "pw", &result), CHAT_OK);
    assert_int_equal (ksclient_login (client, "leo", "pw", &result), CHAT_OK);
    ksresult_clear (&result);
    ksclient_destroy (&other);
    ksclient_destroy (&client);
}

static void
test_resume (void **state)
{
    (void) state;
    ksclient_t *client = s_client (s_key_a);
    ksresult_t result = { 0 }, login = { 0 };
    assert_int_equal (ksclient_register (client, "Mona", "pw", &result), CHAT_OK);
    assert_int_equal (ksclient_login (client, "mona", "pw", &login), CHAT_OK);
    ksclient_destroy (&client);

    //  A new session on the same client key logs in without the password
    client = s_client (s_key_a);
    assert_int_equal (ksclient_resume (client, login.resume_token, login.resume_token_len,
                                       &result), CHAT_OK);
    assert_string_equal (result.username, "Mona");
    char *username = NULL;
    assert_int_equal (credential_cert_check (&s_keys, result.certificate,
                                             result.certificate_len, CREDENTIAL_LOGGED_IN,
                                             ksclient_fingerprint (client), wire_now (),
                                             &username), CHAT_OK);
    assert_string_equal (username, "Mona");
    zstr_free (&username);
    uint8_t conversation [CONVERSATION_ID_SIZE] = { 9 };
    uint8_t *ticket;
    size_t ticket_len;
    s_ticket (&s_keys, "Mona", conversation, ksclient_fingerprint (client), wire_now (),
              &ticket, &ticket_len);
    assert_int_equal (ksclient_key (client, true, conversation, ticket, ticket_len, &result),
                      CHAT_OK);
    free (ticket);
    ksclient_destroy (&client);

    //  Another client key cannot use it; nor can garbage or a certificate
    client = s_client (s_key_b);
    assert_int_equal (ksclient_resume (client, login.resume_token, login.resume_token_len,
                                       &result), CHAT_ERR_BAD_CERTIFICATE);
    assert_int_equal (ksclient_resume (client, (const uint8_t *) "garbage", 7, &result),
                      CHAT_ERR_BAD_CERTIFICATE);
    assert_int_equal (ksclient_resume (client, login.certificate, login.certificate_len,
                                       &result), CHAT_ERR_BAD_CERTIFICATE);
    assert_int_equal (ksclient_key (client, false, conversation, NULL, 0, &result),
                      CHAT_ERR_NOT_LOGGED_IN);
    ksresult_clear (&result);
    ksresult_clear (&login);
    ksclient_destroy (&client);
}

static void
test_admin (void **state)
{
    (void) state;
    ksclient_t *client = s_logged_in ("Nina", "pw", s_key_a);
    char path [128];
    snprintf (path, sizeof path, "%s/%s", s_dir, ADMINSOCK_NAME);
    struct stat st;
    assert_int_equal (stat (path, &st), 0);
    assert_int_equal (st.st_mode & 0777, 0600);

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
    assert_string_equal (reply->role, "keyserver");
    assert_true (strncmp (reply->server_key_fingerprint, "SHA256:", 7) == 0);
    assert_true (reply->started_at > 0);
    bool found = false;
    for (size_t i = 0; i < reply->n_users; i++)
        if (streq (reply->users [i]->username, "Nina")) {
            found = true;
            assert_int_equal (reply->users [i]->iterations, 4096);
            assert_int_equal (strlen (reply->users [i]->stored_key_short), 8);
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
    chat__admin_reply__free_unpacked (reply, NULL);

    //  A request it does not understand gets an empty answer, and the
    //  socket keeps working
    frame = zframe_new ("junk", 4);
    assert_int_equal (zframe_send (&frame, req, 0), 0);
    frame = zframe_recv (req);
    assert_non_null (frame);
    assert_int_equal (zframe_size (frame), 0);
    zframe_destroy (&frame);
    zsock_destroy (&req);
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
    zactor_t *server = s_server_start (dir, &endpoint);
    credential_keys_t keys;
    s_load_keys (dir, &keys);

    ksclient_t *client = ksclient_new (endpoint, s_key_a);
    assert_non_null (client);
    ksresult_t result = { 0 }, login = { 0 };
    assert_int_equal (ksclient_register (client, "Oscar", "pw", &result), CHAT_OK);
    assert_int_equal (ksclient_login (client, "oscar", "pw", &login), CHAT_OK);
    uint8_t conversation [CONVERSATION_ID_SIZE];
    assert_int_equal (secret_random (conversation, sizeof conversation), 0);
    uint8_t *ticket;
    size_t ticket_len;
    s_ticket (&keys, "Oscar", conversation, ksclient_fingerprint (client), wire_now (),
              &ticket, &ticket_len);
    assert_int_equal (ksclient_key (client, true, conversation, ticket, ticket_len, &result),
                      CHAT_OK);
    uint8_t key [32];
    memcpy (key, result.key, sizeof key);
    ksclient_destroy (&client);
    char fingerprint [80];
    zactor_destroy (&server);
    zstr_free (&endpoint);

    server = s_server_start (dir, &endpoint);
    client = ksclient_new (endpoint, s_key_a);
    assert_non_null (client);
    //  Same server key
    char path [128];
    snprintf (path, sizeof path, "%s/%s", dir, KEYSERVER_KEY_FILE);
    rsakey_t *server_key = rsakey_load (path);
    assert_non_null (server_key);
    snprintf (fingerprint, sizeof fingerprint, "%s", rsakey_fingerprint_text (server_key));
    assert_string_equal (channel_peer_fingerprint_text (ksclient_channel (client)),
                         fingerprint);
    rsakey_destroy (&server_key);
    //  The user, the key and the resume token all survived
    assert_int_equal (ksclient_login (client, "OSCAR", "pw", &result), CHAT_OK);
    assert_string_equal (result.username, "Oscar");
    assert_int_equal (ksclient_key (client, false, conversation, ticket, ticket_len, &result),
                      CHAT_OK);
    assert_memory_equal (result.key, key, sizeof key);
    assert_int_equal (ksclient_register (client, "oscar", "pw", &result),
                      CHAT_ERR_USERNAME_TAKEN);
    ksclient_destroy (&client);
    client = ksclient_new (endpoint, s_key_a);
    assert_non_null (client);
    assert_int_equal (ksclient_resume (client, login.resume_token, login.resume_token_len,
                                       &result), CHAT_OK);
    ksclient_destroy (&client);

    free (ticket);
    ksresult_clear (&result);
    ksresult_clear (&login);
    credential_keys_wipe (&keys);
    zactor_destroy (&server);
    zstr_free (&endpoint);
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

//  A registration of username with a ready verifier, sent and not read.
static void
s_send_register (ksclient_t *client, const char *username, const uint8_t *salt,
                 const uint8_t *stored_key, const uint8_t *server_key, uint64_t id)
{
    Chat__KeyRequest request = CHAT__KEY_REQUEST__INIT;
    Chat__RegisterRequest reg = CHAT__REGISTER_REQUEST__INIT;
    reg.username = (char *) username;
    reg.salt.data = (uint8_t *) salt;
    reg.salt.len = 16;
    reg.iterations = 4096;
    reg.stored_key.data = (uint8_t *) stored_key;
    reg.stored_key.len = SCRAM_KEY_SIZE;
    reg.server_key.data = (uint8_t *) server_key;
    reg.server_key.len = SCRAM_KEY_SIZE;
    request.body_case = CHAT__KEY_REQUEST__BODY_REGISTER;
    request.register_ = &reg;
    s_send_request (client, &request, id);
}

//  Read the answer to request id: its body case, or the error's code as a
//  negative number (so that the two cannot be mixed up).
static int
s_recv_answer (ksclient_t *client, uint64_t id, uint8_t key [32])
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
    if (reply->body_case == CHAT__KEY_REPLY__BODY_CONVERSATION_KEY && key) {
        assert_int_equal (reply->conversation_key->key.len, 32);
        memcpy (key, reply->conversation_key->key.data, 32);
    }
    chat__key_reply__free_unpacked (reply, NULL);
    return answer;
}

static void
test_group_commit (void **state)
{
    (void) state;
    char dir [64];
    snprintf (dir, sizeof dir, "/tmp/ks-batch-XXXXXX");
    assert_non_null (mkdtemp (dir));
    char *endpoint = NULL;
    zactor_t *server = s_server_start (dir, &endpoint);
    credential_keys_t keys;
    s_load_keys (dir, &keys);

    //  One verifier serves every user: only the names matter here
    uint8_t salt [16], stored_key [SCRAM_KEY_SIZE], server_key [SCRAM_KEY_SIZE];
    assert_int_equal (secret_random (salt, sizeof salt), 0);
    assert_int_equal (scram_make_verifier ("pw", salt, sizeof salt, 4096,
                                           stored_key, server_key), 0);

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
        s_send_register (i % 2? b: a, name, salt, stored_key, server_key,
                         i % 2? ++id_b: ++id_a);
        if (i == PIPELINED / 2) {
            s_send_register (a, "Dup", salt, stored_key, server_key, dup_id = ++id_a);
            s_send_register (a, "dUP", salt, stored_key, server_key, ++id_a);
            s_send_register (a, "Twin", salt, stored_key, server_key, twin_a = ++id_a);
            s_send_register (b, "twin", salt, stored_key, server_key, twin_b = ++id_b);
        }
    }
    int twins = 0;
    for (uint64_t id = 1; id <= id_a; id++) {
        int answer = s_recv_answer (a, id, NULL);
        if (id == dup_id)
            assert_int_equal (answer, CHAT__KEY_REPLY__BODY_REGISTERED);
        else
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
        int answer = s_recv_answer (b, id, NULL);
        if (id == twin_b) {
            assert_true (answer == CHAT__KEY_REPLY__BODY_REGISTERED
                      || answer == -CHAT_ERR_USERNAME_TAKEN);
            twins += answer == CHAT__KEY_REPLY__BODY_REGISTERED;
        }
        else
            assert_int_equal (answer, CHAT__KEY_REPLY__BODY_REGISTERED);
    }
    assert_int_equal (twins, 1);

    //  Two creations of one conversation's key in one pipeline: one key
    ksresult_t result = { 0 };
    assert_int_equal (ksclient_login (a, "batch00", "pw", &result), CHAT_OK);
    uint8_t conversation [CONVERSATION_ID_SIZE];
    assert_int_equal (secret_random (conversation, sizeof conversation), 0);
    uint8_t *ticket;
    size_t ticket_len;
    s_ticket (&keys, "Batch00", conversation, ksclient_fingerprint (a), wire_now (),
              &ticket, &ticket_len);
    Chat__KeyRequest request = CHAT__KEY_REQUEST__INIT;
    Chat__ConversationKeyRequest body = CHAT__CONVERSATION_KEY_REQUEST__INIT;
    body.conversation_id.data = conversation;
    body.conversation_id.len = sizeof conversation;
    body.ticket.data = ticket;
    body.ticket.len = ticket_len;
    request.body_case = CHAT__KEY_REQUEST__BODY_CREATE_KEY;
    request.create_key = &body;
    s_send_request (a, &request, 101);
    s_send_request (a, &request, 102);
    request.body_case = CHAT__KEY_REQUEST__BODY_GET_KEY;
    request.get_key = &body;
    s_send_request (a, &request, 103);
    uint8_t key [3][32];
    for (int i = 0; i < 3; i++)
        assert_int_equal (s_recv_answer (a, 101 + (uint64_t) i, key [i]),
                          CHAT__KEY_REPLY__BODY_CONVERSATION_KEY);
    assert_memory_equal (key [0], key [1], 32);
    assert_memory_equal (key [0], key [2], 32);
    ksclient_destroy (&a);
    ksclient_destroy (&b);
    zactor_destroy (&server);
    zstr_free (&endpoint);

    //  Everything acknowledged is on disk
    char path [128];
    snprintf (path, sizeof path, "%s/%s", dir, KEYSERVER_DB);
    keystore_t *store = keystore_open (path);
    assert_non_null (store);
    assert_int_equal (keystore_user_count (store), PIPELINED + 2);
    keystore_user_t user;
    for (int i = 0; i < PIPELINED; i++) {
        snprintf (name, sizeof name, "batch%02d", i);
        assert_int_equal (keystore_user_lookup (store, name, &user), CHAT_OK);
    }
    assert_int_equal (keystore_user_lookup (store, "dup", &user), CHAT_OK);
    assert_string_equal (user.username, "Dup");
    assert_int_equal (keystore_user_lookup (store, "TWIN", &user), CHAT_OK);
    uint8_t stored [32];
    assert_int_equal (keystore_key_count (store), 1);
    assert_int_equal (keystore_key_get (store, conversation, stored), CHAT_OK);
    assert_memory_equal (stored, key [0], 32);
    keystore_destroy (&store);

    //  And the server started again serves it
    server = s_server_start (dir, &endpoint);
    a = ksclient_new (endpoint, s_key_a);
    assert_non_null (a);
    snprintf (name, sizeof name, "Batch%02d", PIPELINED - 1);
    assert_int_equal (ksclient_login (a, name, "pw", &result), CHAT_OK);
    assert_int_equal (ksclient_register (a, "BATCH07", "pw", &result),
                      CHAT_ERR_USERNAME_TAKEN);
    ksclient_destroy (&a);

    free (ticket);
    ksresult_clear (&result);
    secret_wipe (stored_key, sizeof stored_key);
    secret_wipe (server_key, sizeof server_key);
    credential_keys_wipe (&keys);
    zactor_destroy (&server);
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
        cmocka_unit_test (test_invalid_username),
        cmocka_unit_test (test_rate_limit),
        cmocka_unit_test (test_keys),
        cmocka_unit_test (test_bad_tickets),
        cmocka_unit_test (test_before_login),
        cmocka_unit_test (test_garbage_and_replay),
        cmocka_unit_test (test_resume),
        cmocka_unit_test (test_admin),
        cmocka_unit_test (test_restart),
        cmocka_unit_test (test_group_commit),
    };
    return cmocka_run_group_tests (tests, s_group_setup, s_group_teardown);
}
