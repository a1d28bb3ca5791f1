/*  ks-probe - one key server exchange from the command line, for the
    shell test of the real binary

        ks-probe ENDPOINT FINGERPRINT register|login USERNAME PASSWORD

    FINGERPRINT is the server key's "SHA256:..." text (the pin), or "-" to
    skip the check. Prints OK or the error's name; exit 0 when it worked,
    1 when refused, 2 on bad usage.
*/
#include <stdio.h>
#include <string.h>
#include "chaterror.h"
#include "ksclient.h"

int
main (int argc, char *argv [])
{
    if (argc != 6 || (strcmp (argv [3], "register") && strcmp (argv [3], "login"))) {
        fprintf (stderr, "usage: ks-probe ENDPOINT FINGERPRINT register|login USER PASSWORD\n");
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
