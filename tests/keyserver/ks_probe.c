/*  ks-probe - one key server exchange from the command line, for the
    shell test of the real binary

        ks-probe ENDPOINT FINGERPRINT register|login USERNAME PASSWORD
        ks-probe ENDPOINT FINGERPRINT resume-on ENDPOINT2 USERNAME PASSWORD
        ks-probe ENDPOINT FINGERPRINT salt USERNAME
        ks-probe ENDPOINT - oversized

    FINGERPRINT is the server key's "SHA256:..." text (the pin), or "-" to
    skip the check. Prints OK or the error's name; exit 0 when it worked,
    1 when refused, 2 on bad usage. resume-on logs in on ENDPOINT, then
    resumes with its token on ENDPOINT2 (another key server of the cluster,
    held to the same pin), on the same client key. salt prints the salt
    the server's SCRAM challenge gives USERNAME (a fake one for a name
    nobody has). `oversized` sends a frame one byte over
    WIRE_MAX_FRAME, then a small garbage one (testclient_oversized), and
    prints DROPPED when only the small one was answered (the connection was
    cut at the big one, as ZMQ_MAXMSGSIZE does), else what came first.
*/
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include "chaterror.h"
#include "ksclient.h"
#include "testclient.h"

static int
s_oversized (const char *endpoint)
{
    rsakey_t *key = rsakey_generate (2048);
    testclient_t *client = key? testclient_new (endpoint, key): NULL;
    int rc = client? testclient_oversized (client, 1000): TESTCLIENT_NONE;
    printf ("%s\n", rc == CHAT_ERR_MALFORMED? "DROPPED"
                   : rc == TESTCLIENT_NONE? "NO_ANSWER": chat_errname (rc));
    testclient_destroy (&client);
    rsakey_destroy (&key);
    return rc == CHAT_ERR_MALFORMED? 0: 1;
}

//  The salt of the challenge for username
static int
s_salt (ksclient_t *client, const char *username)
{
    char first [128];
    snprintf (first, sizeof first, "n,,n=%s,r=ksprobeksprobeks", username);
    ksresult_t result = { 0 };
    int rc = ksclient_login_start (client, first, &result);
    const char *salt = rc == CHAT_OK? strstr (result.server_first, ",s="): NULL;
    if (salt)
        printf ("%.*s\n", (int) strcspn (salt + 3, ","), salt + 3);
    else
        printf ("%s\n", chat_errname (rc == CHAT_OK? CHAT_ERR_MALFORMED: rc));
    ksresult_clear (&result);
    return salt? 0: 1;
}

//  Log in on client, then resume with the token on endpoint, whose server
//  must show pin (unless "-")
static int
s_resume_on (ksclient_t *client, rsakey_t *key, const char *pin, const char *endpoint,
             const char *username, const char *password)
{
    ksresult_t result = { 0 };
    int rc = ksclient_login (client, username, password, &result);
    ksclient_t *other = rc == CHAT_OK? ksclient_new (endpoint, key): NULL;
    if (rc == CHAT_OK && !other)
        rc = KSCLIENT_TIMEOUT;
    if (other && strcmp (pin, "-")
    &&  strcmp (pin, channel_peer_fingerprint_text (ksclient_channel (other))))
        rc = CHAT_ERR_PIN_MISMATCH;
    else
    if (other) {
        ksresult_t resumed = { 0 };
        rc = ksclient_resume (other, result.resume_token, result.resume_token_len, &resumed);
        if (rc == CHAT_OK && strcmp (resumed.username, username) != 0
        &&  strcasecmp (resumed.username, username) != 0)
            rc = CHAT_ERR_INTERNAL;     //  resumed as somebody else
        ksresult_clear (&resumed);
    }
    ksclient_destroy (&other);
    ksresult_clear (&result);
    printf ("%s\n", rc == KSCLIENT_TIMEOUT? "TIMEOUT": chat_errname (rc));
    return rc == CHAT_OK? 0: 1;
}

int
main (int argc, char *argv [])
{
    if (argc == 4 && strcmp (argv [3], "oversized") == 0)
        return s_oversized (argv [1]);
    bool resume_on = argc == 7 && strcmp (argv [3], "resume-on") == 0;
    bool salt = argc == 5 && strcmp (argv [3], "salt") == 0;
    if (!resume_on && !salt
    &&  (argc != 6 || (strcmp (argv [3], "register") && strcmp (argv [3], "login")))) {
        fprintf (stderr, "usage: ks-probe ENDPOINT FINGERPRINT register|login USER PASSWORD\n"
                         "       ks-probe ENDPOINT FINGERPRINT resume-on ENDPOINT2 USER "
                         "PASSWORD\n"
                         "       ks-probe ENDPOINT FINGERPRINT salt USER\n"
                         "       ks-probe ENDPOINT - oversized\n");
        return 2;
    }
    zsys_set_logstream (stderr);
    rsakey_t *key = rsakey_generate (2048);
    ksclient_t *client = key? ksclient_new (argv [1], key): NULL;
    if (!client) {
        printf ("NO_CONNECTION\n");
        rsakey_destroy (&key);
        return 1;
    }
    const char *server = channel_peer_fingerprint_text (ksclient_channel (client));
    int rc;
    ksresult_t result = { 0 };
    if (strcmp (argv [2], "-") && strcmp (argv [2], server))
        rc = CHAT_ERR_PIN_MISMATCH;
    else
    if (resume_on || salt) {
        rc = resume_on? s_resume_on (client, key, argv [2], argv [4], argv [5], argv [6])
                      : s_salt (client, argv [4]);
        ksclient_destroy (&client);
        rsakey_destroy (&key);
        return rc;
    }
    else
    if (strcmp (argv [3], "register") == 0) {
        //  The identity a client makes at registration (thrown away here:
        //  a login opens it again from the sealed copy)
        rsakey_t *identity = rsakey_generate (2048);
        rc = identity? ksclient_register (client, argv [4], argv [5], identity, &result)
                     : CHAT_ERR_INTERNAL;
        rsakey_destroy (&identity);
    }
    else
        rc = ksclient_login (client, argv [4], argv [5], &result);
    printf ("%s\n", rc == KSCLIENT_TIMEOUT? "TIMEOUT": chat_errname (rc));
    ksresult_clear (&result);
    ksclient_destroy (&client);
    rsakey_destroy (&key);
    return rc == CHAT_OK? 0: 1;
}
