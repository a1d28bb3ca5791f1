/*  ks-probe - one key server exchange from the command line, for the
    shell test of the real binary

        ks-probe ENDPOINT FINGERPRINT register|login USERNAME PASSWORD
        ks-probe ENDPOINT - oversized

    FINGERPRINT is the server key's "SHA256:..." text (the pin), or "-" to
    skip the check. Prints OK or the error's name; exit 0 when it worked,
    1 when refused, 2 on bad usage. `oversized` sends a frame one byte over
    WIRE_MAX_FRAME, then a small garbage one (testclient_oversized), and
    prints DROPPED when only the small one was answered (the connection was
    cut at the big one, as ZMQ_MAXMSGSIZE does), else what came first.
*/
#include <stdio.h>
#include <string.h>
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

int
main (int argc, char *argv [])
{
    if (argc == 4 && strcmp (argv [3], "oversized") == 0)
        return s_oversized (argv [1]);
    if (argc != 6 || (strcmp (argv [3], "register") && strcmp (argv [3], "login"))) {
        fprintf (stderr, "usage: ks-probe ENDPOINT FINGERPRINT register|login USER PASSWORD\n"
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
