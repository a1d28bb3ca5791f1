/*  testlocale - a Turkish locale for tests; see testlocale.h  */
#include <ctype.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include "testlocale.h"

static char s_dir [64];

bool
testlocale_turkish (void)
{
    if (!*s_dir) {
        strcpy (s_dir, "/tmp/testlocale.XXXXXX");
        if (!mkdtemp (s_dir)) {
            s_dir [0] = 0;
            fprintf (stderr, "testlocale: cannot make a temporary folder\n");
            return false;
        }
        char command [256];
        snprintf (command, sizeof command,
                  "localedef -i tr_TR -f UTF-8 %s/tr_TR.UTF-8 >/dev/null 2>&1", s_dir);
        int rc = system (command);
        if (rc == -1 || !WIFEXITED (rc) || WEXITSTATUS (rc) != 0) {
            fprintf (stderr, "testlocale: localedef could not build tr_TR.UTF-8 "
                             "(Debian package `locales` missing?)\n");
            return false;
        }
    }
    setenv ("LOCPATH", s_dir, 1);
    if (!setlocale (LC_ALL, "tr_TR.UTF-8")) {
        fprintf (stderr, "testlocale: setlocale (tr_TR.UTF-8) refused\n");
        return false;
    }
    //  The behaviour the tests are about; without it they prove nothing
    if (tolower ('I') == 'i' || strcasecmp ("I", "i") == 0) {
        fprintf (stderr, "testlocale: this C library folds 'I' in tr_TR.UTF-8 too\n");
        testlocale_reset ();
        return false;
    }
    return true;
}

void
testlocale_reset (void)
{
    setlocale (LC_ALL, "C");
    unsetenv ("LOCPATH");
    if (*s_dir) {
        char command [128];
        snprintf (command, sizeof command, "rm -rf %s", s_dir);
        if (system (command) != 0)
            fprintf (stderr, "testlocale: could not remove %s\n", s_dir);
        s_dir [0] = 0;
    }
}
