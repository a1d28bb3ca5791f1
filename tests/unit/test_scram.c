/*  test_scram - SCRAM-SHA-256 both sides: RFC 7677's vector, refusals,
    and malformed input  */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "scram.h"
#include "chaterror.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

//  RFC 7677 section 3 (v= as printed in the RFC, checked against Python's
//  hashlib/hmac when this test was written)
#define RFC_USER "user"
#define RFC_PASSWORD "pencil"
#define RFC_CLIENT_NONCE "rOprNGfwEbeRWgbNEkqO"
#define RFC_SERVER_NONCE "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0"
#define RFC_SALT_B64 "W22ZaJ0SNY7soEsUEjb6gQ=="
#define RFC_ITERATIONS 4096
#define RFC_CLIENT_FIRST "n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
#define RFC_SERVER_FIRST \
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0," \
    "s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
#define RFC_CLIENT_FINAL \
    "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0," \
    "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
#define RFC_SERVER_FINAL "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="

//  tests/vectors/v2/compute.py (hashlib, from RFC 5802's formulas; it checks
//  that these give the RFC's ClientProof and ServerSignature above)
#define RFC_SALTED_PASSWORD \
    "c4a49510323ab4f952cac1fa99441939e78ea74d6be81ddf7096e87513dc615d"
#define RFC_STORED_KEY \
    "586e5df283e6dceb5c3e791d8b8528ec191e664045ce971792e2e6b5bb13e2a6"
#define RFC_SERVER_KEY \
    "c1f3cbc1c13a9d35a14c0990eed97629ea225863e566a4314ab99f3f00e5d9d5"

//  Verifiers of the RFC's user, made once (PBKDF2 is the slow part)
static uint8_t s_salt [16];
static uint8_t s_stored_key [SCRAM_KEY_SIZE];
static uint8_t s_server_key [SCRAM_KEY_SIZE];


static int
s_group_setup (void **state)
{
    (void) state;
    //  The salt decoded independently of libchat
    uint8_t buf [24];
    int n = EVP_DecodeBlock (buf, (const unsigned char *) RFC_SALT_B64,
                             (int) strlen (RFC_SALT_B64));
    if (n != 18)                    //  16 bytes + 2 for the padding
        return -1;
    memcpy (s_salt, buf, sizeof s_salt);
    return scram_make_verifier (RFC_PASSWORD, s_salt, sizeof s_salt,
                                RFC_ITERATIONS, s_stored_key, s_server_key);
}


//  A server that has seen the RFC's client-first and sent server-first
static scram_server_t *
s_rfc_server (void)
{
    scram_server_t *server = scram_server_new ();
    assert_non_null (server);
    const char *username;
    assert_int_equal (scram_server_first (server, RFC_CLIENT_FIRST, &username), CHAT_OK);
    const char *server_first;
    assert_int_equal (scram_server_challenge (server, s_salt, sizeof s_salt,
                                              RFC_ITERATIONS, s_stored_key, s_server_key,
                                              RFC_SERVER_NONCE, &server_first), CHAT_OK);
    return server;
}


static void
test_rfc7677_vector (void **state)
{
    (void) state;
    scram_client_t *client = scram_client_new (RFC_USER, RFC_PASSWORD, RFC_CLIENT_NONCE);
    assert_non_null (client);
    scram_server_t *server = scram_server_new ();
    assert_non_null (server);

    const char *client_first = scram_client_first (client);
    assert_string_equal (client_first, RFC_CLIENT_FIRST);

    const char *username = NULL;
    assert_int_equal (scram_server_first (server, client_first, &username), CHAT_OK);
    assert_string_equal (username, RFC_USER);

    const char *server_first = NULL;
    assert_int_equal (scram_server_challenge (server, s_salt, sizeof s_salt,
                                              RFC_ITERATIONS, s_stored_key, s_server_key,
                                              RFC_SERVER_NONCE, &server_first), CHAT_OK);
    assert_string_equal (server_first, RFC_SERVER_FIRST);

    const char *client_final = NULL;
    assert_int_equal (scram_client_final (client, server_first, &client_final), CHAT_OK);
    assert_string_equal (client_final, RFC_CLIENT_FINAL);

    const char *server_final = NULL;
    assert_int_equal (scram_server_final (server, client_final, &server_final), CHAT_OK);
    assert_string_equal (server_final, RFC_SERVER_FINAL);

    assert_int_equal (scram_client_verify (client, server_final), CHAT_OK);

    //  Used up: every further step is refused
    assert_int_equal (scram_client_verify (client, server_final), CHAT_ERR_AUTH_FAILED);
    assert_int_equal (scram_client_final (client, server_first, &client_final),
                      CHAT_ERR_MALFORMED);
    assert_int_equal (scram_server_final (server, RFC_CLIENT_FINAL, &server_final),
                      CHAT_ERR_MALFORMED);
    assert_int_equal (scram_server_first (server, RFC_CLIENT_FIRST, &username),
                      CHAT_ERR_MALFORMED);

    scram_client_destroy (&client);
    scram_server_destroy (&server);
    assert_null (client);
    assert_null (server);
}


//  Random nonces on both sides, as in real use
static void
test_random_nonces (void **state)
{
    (void) state;
    scram_client_t *client = scram_client_new (RFC_USER, RFC_PASSWORD, NULL);
    scram_client_t *client2 = scram_client_new (RFC_USER, RFC_PASSWORD, NULL);
    scram_server_t *server = scram_server_new ();
    assert_non_null (client);
    assert_non_null (client2);
    assert_string_not_equal (scram_client_first (client), scram_client_first (client2));
    scram_client_destroy (&client2);

    const char *username, *server_first, *client_final, *server_final;
    assert_int_equal (scram_server_first (server, scram_client_first (client), &username),
                      CHAT_OK);
    assert_int_equal (scram_server_challenge (server, s_salt, sizeof s_salt, RFC_ITERATIONS,
                                              s_stored_key, s_server_key, NULL,
                                              &server_first), CHAT_OK);
    assert_int_equal (scram_client_final (client, server_first, &client_final), CHAT_OK);
    assert_int_equal (scram_server_final (server, client_final, &server_final), CHAT_OK);
    assert_int_equal (scram_client_verify (client, server_final), CHAT_OK);
    scram_client_destroy (&client);
    scram_server_destroy (&server);
}


static void
test_wrong_password (void **state)
{
    (void) state;
    scram_client_t *client = scram_client_new (RFC_USER, "pencil2", RFC_CLIENT_NONCE);
    assert_non_null (client);
    scram_server_t *server = s_rfc_server ();
    const char *client_final, *server_final;
    assert_int_equal (scram_client_final (client, RFC_SERVER_FIRST, &client_final), CHAT_OK);
    assert_string_not_equal (client_final, RFC_CLIENT_FINAL);
    assert_int_equal (scram_server_final (server, client_final, &server_final),
                      CHAT_ERR_AUTH_FAILED);
    assert_null (server_final);
    //  And the client would not believe a server-final for another password
    assert_int_equal (scram_client_verify (client, RFC_SERVER_FINAL), CHAT_ERR_AUTH_FAILED);
    scram_client_destroy (&client);
    scram_server_destroy (&server);
}


static void
test_tampered_client_final (void **state)
{
    (void) state;
    const char *server_final;
    //  Proof from another password than the verifiers, given verbatim
    const char *cases [] = {
        //  One proof character changed
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
        "p=eHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        //  Nonce changed: the proof no longer matters
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k1,"
        "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        //  Client nonce only
        "c=biws,r=rOprNGfwEbeRWgbNEkqO,"
        "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        scram_server_t *server = s_rfc_server ();
        assert_int_equal (scram_server_final (server, cases [i], &server_final),
                          CHAT_ERR_AUTH_FAILED);
        scram_server_destroy (&server);
    }
    const char *malformed [] = {
        //  Channel binding other than "n,,"
        "c=eSws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
        "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        //  Proof of 31 bytes
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
        "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndQ==",
        //  Proof without padding
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
        "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ",
        //  An extension
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,x=1,"
        "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        //  Something after the proof
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
        "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=,",
        //  Order
        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,c=biws,"
        "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        "",
    };
    for (size_t i = 0; i < sizeof malformed / sizeof malformed [0]; i++) {
        scram_server_t *server = s_rfc_server ();
        assert_int_equal (scram_server_final (server, malformed [i], &server_final),
                          CHAT_ERR_MALFORMED);
        //  A failed step uses the exchange up: the right answer is refused now
        assert_int_not_equal (scram_server_final (server, RFC_CLIENT_FINAL, &server_final),
                              CHAT_OK);
        scram_server_destroy (&server);
    }
}


//  A client that has sent the RFC's client-final
static scram_client_t *
s_rfc_client (void)
{
    scram_client_t *client = scram_client_new (RFC_USER, RFC_PASSWORD, RFC_CLIENT_NONCE);
    assert_non_null (client);
    const char *client_final;
    assert_int_equal (scram_client_final (client, RFC_SERVER_FIRST, &client_final), CHAT_OK);
    return client;
}


static void
test_tampered_server_final (void **state)
{
    (void) state;
    const char *cases [] = {
        "v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
        "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G5=",    //  non-canonical
        "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4",
        "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=,x=1",
        "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjRl",
        "e=other-error",
        "v=",
        "v",
        "",
        //  The client signature (p=) of the exchange is not the server's
        "v=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        scram_client_t *client = s_rfc_client ();
        assert_int_equal (scram_client_verify (client, cases [i]), CHAT_ERR_AUTH_FAILED);
        //  One attempt only
        assert_int_equal (scram_client_verify (client, RFC_SERVER_FINAL),
                          CHAT_ERR_AUTH_FAILED);
        scram_client_destroy (&client);
    }
    //  Every single bit flipped in the signature's characters
    const char *good = RFC_SERVER_FINAL;
    char copy [64];
    for (size_t i = 2; i < strlen (good); i++) {
        for (int bit = 0; bit < 7; bit++) {
            strcpy (copy, good);
            copy [i] ^= (char) (1 << bit);
            if (copy [i] == 0)
                continue;
            scram_client_t *client = s_rfc_client ();
            assert_int_equal (scram_client_verify (client, copy), CHAT_ERR_AUTH_FAILED);
            scram_client_destroy (&client);
        }
    }
}


static void
test_client_refuses_server_first (void **state)
{
    (void) state;
    const char *cases [] = {
        //  Nonce that does not extend ours
        "r=XOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
        "r=rOprNGfwEbeRWgbNEkq,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
        //  Nonce equal to ours: the server added nothing
        "r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
        //  Unprintable nonce character
        "r=rOprNGfwEbeRWgbNEkqO\x01,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
        //  Iterations out of range or badly written
        "r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=1",
        "r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4095",
        "r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=100000000",
        "r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=10000001",
        "r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=0",
        "r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=",
        "r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=-4096",
        "r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=+4096",
        "r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=04096",
        "r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096x",
        "r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4294971392",
        //  Salt: empty, not base64, unpadded, url-safe alphabet
        "r=rOprNGfwEbeRWgbNEkqOabc,s=,i=4096",
        "r=rOprNGfwEbeRWgbNEkqOabc,s=!!!!,i=4096",
        "r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ,i=4096",
        "r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6g-==,i=4096",
        //  Missing, reordered, extra attributes; mandatory extension
        "r=rOprNGfwEbeRWgbNEkqOabc,i=4096",
        "s=W22ZaJ0SNY7soEsUEjb6gQ==,r=rOprNGfwEbeRWgbNEkqOabc,i=4096",
        "r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,x=y",
        "r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096,",
        "m=ext,r=rOprNGfwEbeRWgbNEkqOabc,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
        "e=unknown-user",
        "",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        scram_client_t *client = scram_client_new (RFC_USER, RFC_PASSWORD, RFC_CLIENT_NONCE);
        assert_non_null (client);
        const char *client_final = "unchanged";
        assert_int_equal (scram_client_final (client, cases [i], &client_final),
                          CHAT_ERR_MALFORMED);
        assert_null (client_final);
        //  Used up
        assert_int_equal (scram_client_final (client, RFC_SERVER_FIRST, &client_final),
                          CHAT_ERR_MALFORMED);
        scram_client_destroy (&client);
    }

    //  Too long
    char *big = (char *) malloc (SCRAM_MAX_MESSAGE + 100);
    assert_non_null (big);
    int n = snprintf (big, SCRAM_MAX_MESSAGE + 100, "r=%s", RFC_CLIENT_NONCE);
    memset (big + n, 'x', SCRAM_MAX_MESSAGE);
    strcpy (big + SCRAM_MAX_MESSAGE - 30, ",s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096");
    scram_client_t *client = scram_client_new (RFC_USER, RFC_PASSWORD, RFC_CLIENT_NONCE);
    const char *client_final;
    assert_int_equal (scram_client_final (client, big, &client_final), CHAT_ERR_MALFORMED);
    scram_client_destroy (&client);
    free (big);
}


static void
test_server_refuses_client_first (void **state)
{
    (void) state;
    const char *cases [] = {
        "y,,n=user,r=rOprNGfwEbeRWgbNEkqO",              //  client supports binding
        "p=tls-unique,,n=user,r=rOprNGfwEbeRWgbNEkqO",   //  client asks for binding
        "n,a=admin,n=user,r=rOprNGfwEbeRWgbNEkqO",       //  authzid
        "n,,m=ext,n=user,r=rOprNGfwEbeRWgbNEkqO",        //  mandatory extension
        "n,,n=user",                                     //  no nonce
        "n,,n=user,",
        "n,,n=user,r=",
        "n,,r=rOprNGfwEbeRWgbNEkqO",                      //  no name
        "n,,n=,r=rOprNGfwEbeRWgbNEkqO",                   //  empty name
        "n,,r=rOprNGfwEbeRWgbNEkqO,n=user",              //  order
        "n,,n=user,r=rOprNGfwEbeRWgbNEkqO,x=1",           //  extension
        "n,,n=user,r=rOprNGfwEbeRWgbNEkqO,",
        "n,,n=us=er,r=rOprNGfwEbeRWgbNEkqO",              //  bad escapes
        "n,,n=us=2,r=rOprNGfwEbeRWgbNEkqO",
        "n,,n=user=,r=rOprNGfwEbeRWgbNEkqO",
        "n,,n=us=2cer,r=rOprNGfwEbeRWgbNEkqO",
        "n,,n=user,r=rOprNG fwEbeRWgbNEkqO",              //  space in nonce
        "n,,n=user,r=rOprNG\x7f",
        "n,n=user,r=rOprNGfwEbeRWgbNEkqO",
        "n=user,r=rOprNGfwEbeRWgbNEkqO",
        "n,,",
        "n,",
        "",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases [0]; i++) {
        scram_server_t *server = scram_server_new ();
        assert_non_null (server);
        const char *username = "unchanged";
        assert_int_equal (scram_server_first (server, cases [i], &username),
                          CHAT_ERR_MALFORMED);
        assert_null (username);
        //  No challenge after a refused first message
        const char *server_first;
        assert_int_equal (scram_server_challenge (server, s_salt, sizeof s_salt,
                                                  RFC_ITERATIONS, s_stored_key,
                                                  s_server_key, NULL, &server_first),
                          CHAT_ERR_MALFORMED);
        scram_server_destroy (&server);
    }

    //  Longer than SCRAM_MAX_MESSAGE, though otherwise well formed
    char *big = (char *) malloc (SCRAM_MAX_MESSAGE + 2);
    assert_non_null (big);
    strcpy (big, "n,,n=user,r=");
    size_t n = strlen (big);
    memset (big + n, 'x', SCRAM_MAX_MESSAGE + 1 - n);
    big [SCRAM_MAX_MESSAGE + 1] = 0;
    scram_server_t *server = scram_server_new ();
    const char *username;
    assert_int_equal (scram_server_first (server, big, &username), CHAT_ERR_MALFORMED);
    scram_server_destroy (&server);
    //  Exactly at the limit is accepted
    big [SCRAM_MAX_MESSAGE] = 0;
    server = scram_server_new ();
    assert_int_equal (scram_server_first (server, big, &username), CHAT_OK);
    scram_server_destroy (&server);
    free (big);
}


static void
test_out_of_order (void **state)
{
    (void) state;
    const char *out;
    //  Server: challenge or final before first
    scram_server_t *server = scram_server_new ();
    assert_int_equal (scram_server_challenge (server, s_salt, sizeof s_salt, RFC_ITERATIONS,
                                              s_stored_key, s_server_key, NULL, &out),
                      CHAT_ERR_MALFORMED);
    scram_server_destroy (&server);
    server = scram_server_new ();
    assert_int_equal (scram_server_final (server, RFC_CLIENT_FINAL, &out), CHAT_ERR_MALFORMED);
    scram_server_destroy (&server);
    //  Final before challenge
    server = scram_server_new ();
    assert_int_equal (scram_server_first (server, RFC_CLIENT_FIRST, &out), CHAT_OK);
    assert_int_equal (scram_server_final (server, RFC_CLIENT_FINAL, &out), CHAT_ERR_MALFORMED);
    scram_server_destroy (&server);
    //  Two challenges
    server = s_rfc_server ();
    assert_int_equal (scram_server_challenge (server, s_salt, sizeof s_salt, RFC_ITERATIONS,
                                              s_stored_key, s_server_key, NULL, &out),
                      CHAT_ERR_MALFORMED);
    scram_server_destroy (&server);

    //  Client: verify before final
    scram_client_t *client = scram_client_new (RFC_USER, RFC_PASSWORD, RFC_CLIENT_NONCE);
    assert_int_equal (scram_client_verify (client, RFC_SERVER_FINAL), CHAT_ERR_AUTH_FAILED);
    //  A refused verify does not spoil a correct exchange that had not started
    assert_int_equal (scram_client_final (client, RFC_SERVER_FIRST, &out), CHAT_OK);
    assert_int_equal (scram_client_verify (client, RFC_SERVER_FINAL), CHAT_OK);
    scram_client_destroy (&client);

    //  Bad arguments
    assert_null (scram_client_new (NULL, "x", NULL));
    assert_null (scram_client_new ("", "x", NULL));
    assert_null (scram_client_new ("user", NULL, NULL));
    assert_null (scram_client_new ("user", "x", "bad,nonce"));
    assert_null (scram_client_new ("user", "x", ""));
    server = scram_server_new ();
    assert_int_equal (scram_server_first (server, RFC_CLIENT_FIRST, &out), CHAT_OK);
    assert_int_equal (scram_server_challenge (server, s_salt, sizeof s_salt, 1,
                                              s_stored_key, s_server_key, NULL, &out),
                      CHAT_ERR_INTERNAL);
    scram_server_destroy (&server);

    uint8_t stored [SCRAM_KEY_SIZE], server_key [SCRAM_KEY_SIZE];
    assert_int_equal (scram_make_verifier ("p", s_salt, 0, 4096, stored, server_key), -1);
    assert_int_equal (scram_make_verifier ("p", s_salt, 16, 1, stored, server_key), -1);
    assert_int_equal (scram_make_verifier (NULL, s_salt, 16, 4096, stored, server_key), -1);
}


//  ',' and '=' in a name are escaped on the wire and come back unchanged
static void
test_username_escaping (void **state)
{
    (void) state;
    const char *names [] = { "a,b=c", "=", ",", "==,,", "=2C", "x=3Dy" };
    const char *wire [] = { "a=2Cb=3Dc", "=3D", "=2C", "=3D=3D=2C=2C", "=3D2C", "x=3D3Dy" };
    for (size_t i = 0; i < sizeof names / sizeof names [0]; i++) {
        scram_client_t *client = scram_client_new (names [i], "secret", "abcdef");
        assert_non_null (client);
        char expected [64];
        snprintf (expected, sizeof expected, "n,,n=%s,r=abcdef", wire [i]);
        assert_string_equal (scram_client_first (client), expected);

        scram_server_t *server = scram_server_new ();
        const char *username, *server_first, *client_final, *server_final;
        assert_int_equal (scram_server_first (server, scram_client_first (client), &username),
                          CHAT_OK);
        assert_string_equal (username, names [i]);

        uint8_t stored [SCRAM_KEY_SIZE], server_key [SCRAM_KEY_SIZE];
        assert_int_equal (scram_make_verifier ("secret", s_salt, sizeof s_salt, 4096,
                                               stored, server_key), 0);
        assert_int_equal (scram_server_challenge (server, s_salt, sizeof s_salt, 4096,
                                                  stored, server_key, NULL, &server_first),
                          CHAT_OK);
        assert_int_equal (scram_client_final (client, server_first, &client_final), CHAT_OK);
        assert_int_equal (scram_server_final (server, client_final, &server_final), CHAT_OK);
        assert_int_equal (scram_client_verify (client, server_final), CHAT_OK);
        scram_client_destroy (&client);
        scram_server_destroy (&server);
    }
}


//  Every prefix of every message: no crash, no leak, and no prefix of a
//  later message is ever accepted where the whole one is needed
static void
test_truncated (void **state)
{
    (void) state;
    char buf [256];
    const char *out;

    //  client-first: a prefix may be a shorter valid message; if accepted,
    //  the name and nonce must be what the prefix says
    for (size_t cut = 0; cut < strlen (RFC_CLIENT_FIRST); cut++) {
        memcpy (buf, RFC_CLIENT_FIRST, cut);
        buf [cut] = 0;
        scram_server_t *server = scram_server_new ();
        int rc = scram_server_first (server, buf, &out);
        if (rc == CHAT_OK) {
            assert_true (cut > strlen ("n,,n=user,r="));
            assert_string_equal (out, RFC_USER);
        }
        else
            assert_int_equal (rc, CHAT_ERR_MALFORMED);
        scram_server_destroy (&server);
    }
    //  server-first: every prefix is refused
    for (size_t cut = 0; cut < strlen (RFC_SERVER_FIRST); cut++) {
        memcpy (buf, RFC_SERVER_FIRST, cut);
        buf [cut] = 0;
        scram_client_t *client = scram_client_new (RFC_USER, RFC_PASSWORD, RFC_CLIENT_NONCE);
        assert_int_equal (scram_client_final (client, buf, &out), CHAT_ERR_MALFORMED);
        scram_client_destroy (&client);
    }
    //  client-final: every prefix is refused
    for (size_t cut = 0; cut < strlen (RFC_CLIENT_FINAL); cut++) {
        memcpy (buf, RFC_CLIENT_FINAL, cut);
        buf [cut] = 0;
        scram_server_t *server = s_rfc_server ();
        assert_int_not_equal (scram_server_final (server, buf, &out), CHAT_OK);
        scram_server_destroy (&server);
    }
    //  server-final: every prefix is refused
    for (size_t cut = 0; cut < strlen (RFC_SERVER_FINAL); cut++) {
        memcpy (buf, RFC_SERVER_FINAL, cut);
        buf [cut] = 0;
        scram_client_t *client = s_rfc_client ();
        assert_int_equal (scram_client_verify (client, buf), CHAT_ERR_AUTH_FAILED);
        scram_client_destroy (&client);
    }
}


//  Random text, fixed seed: sometimes pure noise, sometimes a real message
//  with random bytes written over part of it
static void
s_random_text (char *buf, size_t size, const char *base)
{
    size_t len = (size_t) rand () % (size - 1);
    if (rand () % 2 && base) {
        size_t base_len = strlen (base);
        len = base_len < size - 1? base_len: size - 1;
        memcpy (buf, base, len);
        int changes = 1 + rand () % 4;
        for (int i = 0; i < changes && len; i++)
            buf [(size_t) rand () % len] = (char) (1 + rand () % 255);
    }
    else
        for (size_t i = 0; i < len; i++)
            buf [i] = (char) (1 + rand () % 255);
    buf [len] = 0;
}


static void
test_random_input (void **state)
{
    (void) state;
    srand (7677);
    char buf [300];
    const char *out;
    for (int round = 0; round < 300; round++) {
        s_random_text (buf, sizeof buf, RFC_CLIENT_FIRST);
        scram_server_t *server = scram_server_new ();
        int rc = scram_server_first (server, buf, &out);
        assert_true (rc == CHAT_OK || rc == CHAT_ERR_MALFORMED);
        scram_server_destroy (&server);

        //  Mutated server-first: nearly always refused before PBKDF2 runs;
        //  accepted ones still may not crash
        s_random_text (buf, sizeof buf, RFC_SERVER_FIRST);
        scram_client_t *client = scram_client_new (RFC_USER, RFC_PASSWORD, RFC_CLIENT_NONCE);
        rc = scram_client_final (client, buf, &out);
        assert_true (rc == CHAT_OK || rc == CHAT_ERR_MALFORMED);
        scram_client_destroy (&client);

        s_random_text (buf, sizeof buf, RFC_CLIENT_FINAL);
        server = s_rfc_server ();
        rc = scram_server_final (server, buf, &out);
        //  A changed client-final is never accepted
        if (strcmp (buf, RFC_CLIENT_FINAL) != 0)
            assert_true (rc == CHAT_ERR_MALFORMED || rc == CHAT_ERR_AUTH_FAILED);
        scram_server_destroy (&server);
    }
    //  Fewer rounds here: each needs a client that has run PBKDF2
    for (int round = 0; round < 30; round++) {
        scram_client_t *client = s_rfc_client ();
        s_random_text (buf, sizeof buf, RFC_SERVER_FINAL);
        int rc = scram_client_verify (client, buf);
        if (strcmp (buf, RFC_SERVER_FINAL) != 0)
            assert_int_equal (rc, CHAT_ERR_AUTH_FAILED);
        scram_client_destroy (&client);
    }
}


static void
s_unhex (const char *hex, uint8_t out [SCRAM_KEY_SIZE])
{
    for (int i = 0; i < SCRAM_KEY_SIZE; i++) {
        unsigned int byte;
        assert_int_equal (sscanf (hex + 2 * i, "%2x", &byte), 1);
        out [i] = (uint8_t) byte;
    }
}

//  SaltedPassword (what seals the identity) and the verifiers made from it
static void
test_salted_password (void **state)
{
    (void) state;
    uint8_t salted [SCRAM_KEY_SIZE], expected [SCRAM_KEY_SIZE];
    assert_int_equal (scram_salted_password (RFC_PASSWORD, s_salt, sizeof s_salt,
                                             RFC_ITERATIONS, salted), 0);
    s_unhex (RFC_SALTED_PASSWORD, expected);
    assert_memory_equal (salted, expected, SCRAM_KEY_SIZE);

    //  Verifiers from it: the same as from the password, and the known ones
    uint8_t stored [SCRAM_KEY_SIZE], server [SCRAM_KEY_SIZE];
    assert_int_equal (scram_verifier_from_salted (salted, stored, server), 0);
    assert_memory_equal (stored, s_stored_key, SCRAM_KEY_SIZE);
    assert_memory_equal (server, s_server_key, SCRAM_KEY_SIZE);
    s_unhex (RFC_STORED_KEY, expected);
    assert_memory_equal (stored, expected, SCRAM_KEY_SIZE);
    s_unhex (RFC_SERVER_KEY, expected);
    assert_memory_equal (server, expected, SCRAM_KEY_SIZE);
    //  and for other passwords and salts too
    uint8_t salt2 [32];
    memset (salt2, 0x42, sizeof salt2);
    uint8_t stored2 [SCRAM_KEY_SIZE], server2 [SCRAM_KEY_SIZE];
    assert_int_equal (scram_make_verifier ("correct horse", salt2, sizeof salt2, 5000,
                                           stored2, server2), 0);
    assert_int_equal (scram_salted_password ("correct horse", salt2, sizeof salt2, 5000,
                                             salted), 0);
    assert_int_equal (scram_verifier_from_salted (salted, stored, server), 0);
    assert_memory_equal (stored, stored2, SCRAM_KEY_SIZE);
    assert_memory_equal (server, server2, SCRAM_KEY_SIZE);
    assert_memory_not_equal (stored, s_stored_key, SCRAM_KEY_SIZE);

    //  Refused: counts outside the limits, no salt, no password
    assert_int_equal (scram_salted_password (RFC_PASSWORD, s_salt, sizeof s_salt,
                                             SCRAM_MIN_ITERATIONS - 1, salted), -1);
    assert_int_equal (scram_salted_password (RFC_PASSWORD, s_salt, sizeof s_salt,
                                             SCRAM_MAX_ITERATIONS + 1, salted), -1);
    assert_int_equal (scram_salted_password (RFC_PASSWORD, s_salt, 0, 4096, salted), -1);
    assert_int_equal (scram_salted_password (RFC_PASSWORD, NULL, 16, 4096, salted), -1);
    assert_int_equal (scram_salted_password (NULL, s_salt, sizeof s_salt, 4096, salted), -1);
    assert_int_equal (scram_verifier_from_salted (NULL, stored, server), -1);
}

//  The client hands out SaltedPassword only once the server proved it holds
//  the verifiers (server-final checked), never before, never after a failure
static void
test_client_salted_password (void **state)
{
    (void) state;
    uint8_t expected [SCRAM_KEY_SIZE];
    s_unhex (RFC_SALTED_PASSWORD, expected);
    scram_client_t *client = scram_client_new (RFC_USER, RFC_PASSWORD, RFC_CLIENT_NONCE);
    assert_non_null (client);
    assert_null (scram_client_salted_password (client));
    const char *client_final;
    assert_int_equal (scram_client_final (client, RFC_SERVER_FIRST, &client_final), CHAT_OK);
    assert_null (scram_client_salted_password (client));
    assert_int_equal (scram_client_verify (client, RFC_SERVER_FINAL), CHAT_OK);
    const uint8_t *salted = scram_client_salted_password (client);
    assert_non_null (salted);
    assert_memory_equal (salted, expected, SCRAM_KEY_SIZE);
    scram_client_destroy (&client);

    //  A server-final that does not verify (a server without ServerKey)
    const char *bad_finals [] = {
        "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G5=",
        "v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "e=other-error", "", "v=" };
    for (size_t i = 0; i < sizeof bad_finals / sizeof bad_finals [0]; i++) {
        client = scram_client_new (RFC_USER, RFC_PASSWORD, RFC_CLIENT_NONCE);
        assert_int_equal (scram_client_final (client, RFC_SERVER_FIRST, &client_final),
                          CHAT_OK);
        assert_int_equal (scram_client_verify (client, bad_finals [i]), CHAT_ERR_AUTH_FAILED);
        assert_null (scram_client_salted_password (client));
        //  and the genuine one cannot be tried after that
        assert_int_equal (scram_client_verify (client, RFC_SERVER_FINAL), CHAT_ERR_AUTH_FAILED);
        assert_null (scram_client_salted_password (client));
        scram_client_destroy (&client);
    }
    //  A server-first the client refuses
    client = scram_client_new (RFC_USER, RFC_PASSWORD, RFC_CLIENT_NONCE);
    assert_int_not_equal (scram_client_final (client, "r=other,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
                                              &client_final), CHAT_OK);
    assert_null (scram_client_salted_password (client));
    scram_client_destroy (&client);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_rfc7677_vector),
        cmocka_unit_test (test_random_nonces),
        cmocka_unit_test (test_wrong_password),
        cmocka_unit_test (test_tampered_client_final),
        cmocka_unit_test (test_tampered_server_final),
        cmocka_unit_test (test_client_refuses_server_first),
        cmocka_unit_test (test_server_refuses_client_first),
        cmocka_unit_test (test_out_of_order),
        cmocka_unit_test (test_username_escaping),
        cmocka_unit_test (test_truncated),
        cmocka_unit_test (test_random_input),
        cmocka_unit_test (test_salted_password),
        cmocka_unit_test (test_client_salted_password),
    };
    return cmocka_run_group_tests (tests, s_group_setup, NULL);
}
