/*  fernet-tool - libchat's Fernet on stdin and stdout, for the interop test

    fernet-tool [--now SECONDS] encrypt KEY        plaintext in, token out
    fernet-tool [--now SECONDS] decrypt KEY TTL    token in, plaintext out

    KEY is the url-safe base64 text of a Fernet key. --now fixes the clock so
    the test does not depend on the wall clock.
*/
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chaterror.h"
#include "fernet.h"
#include "secret.h"

#define TOOL_MAX_INPUT (16 * 1024 * 1024)

static void
s_usage (FILE *out)
{
    fprintf (out,
        "usage: fernet-tool [--now SECONDS] encrypt KEY       < plaintext > token\n"
        "       fernet-tool [--now SECONDS] decrypt KEY TTL   < token > plaintext\n"
        "       fernet-tool --help | --version\n"
        "\n"
        "KEY is a Fernet key (url-safe base64 of 32 bytes). TTL <= 0 means no\n"
        "age limit. On a refused token the error name (e.g. ERR_BAD_MAC) goes\n"
        "to stderr and the exit code is 1; bad arguments exit with 2.\n");
}

static int
s_parse_int64 (const char *text, int64_t *value)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll (text, &end, 10);
    if (errno || end == text || *end)
        return -1;
    *value = (int64_t) v;
    return 0;
}

//  All of stdin into a malloc'd buffer (NUL-terminated), or NULL.
static uint8_t *
s_read_all (size_t *len)
{
    size_t size = 4096, used = 0;
    uint8_t *buf = malloc (size + 1);
    while (buf) {
        size_t got = fread (buf + used, 1, size - used, stdin);
        used += got;
        if (got == 0) {
            if (ferror (stdin)) {
                free (buf);
                return NULL;
            }
            break;
        }
        if (used == size) {
            if (size >= TOOL_MAX_INPUT) {
                free (buf);
                return NULL;
            }
            uint8_t *bigger = realloc (buf, size * 2 + 1);
            if (!bigger)
                free (buf);
            buf = bigger;
            size *= 2;
        }
    }
    if (buf) {
        buf [used] = '\0';
        *len = used;
    }
    return buf;
}

int
main (int argc, char *argv [])
{
    static const struct option options [] = {
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { "now", required_argument, NULL, 'n' },
        { NULL, 0, NULL, 0 }
    };
    int64_t now = (int64_t) time (NULL);
    //  Options end at the command ('+'): a key may begin with '-'.
    int opt;
    while ((opt = getopt_long (argc, argv, "+hVn:", options, NULL)) != -1) {
        switch (opt) {
            case 'h':
                s_usage (stdout);
                return 0;
            case 'V':
                printf ("fernet-tool %s\n", CHAT_VERSION);
                return 0;
            case 'n':
                if (s_parse_int64 (optarg, &now)) {
                    fprintf (stderr, "fernet-tool: --now wants whole seconds\n");
                    return 2;
                }
                break;
            default:
                s_usage (stderr);
                return 2;
        }
    }
    int args = argc - optind;
    const char *command = args > 0? argv [optind]: "";
    int encrypt = strcmp (command, "encrypt") == 0 && args == 2;
    int decrypt = strcmp (command, "decrypt") == 0 && args == 3;
    if (!encrypt && !decrypt) {
        s_usage (stderr);
        return 2;
    }
    uint8_t key [FERNET_KEY_SIZE];
    if (fernet_key_decode (argv [optind + 1], key)) {
        fprintf (stderr, "fernet-tool: KEY is not a Fernet key\n");
        return 2;
    }
    int64_t ttl = 0;
    if (decrypt && s_parse_int64 (argv [optind + 2], &ttl)) {
        secret_wipe (key, sizeof key);
        fprintf (stderr, "fernet-tool: TTL wants whole seconds\n");
        return 2;
    }

    size_t in_len = 0;
    uint8_t *in = s_read_all (&in_len);
    if (!in) {
        secret_wipe (key, sizeof key);
        fprintf (stderr, "fernet-tool: cannot read stdin (or more than %d bytes)\n",
                 TOOL_MAX_INPUT);
        return 1;
    }
    size_t in_size = in_len;
    int status = 0;
    if (encrypt) {
        char *token = NULL;
        int rc = fernet_encrypt (key, in, in_len, now, &token);
        if (rc == CHAT_OK) {
            printf ("%s\n", token);
            free (token);
        }
        else {
            fprintf (stderr, "fernet-tool: %s\n", chat_errname (rc));
            status = 1;
        }
    }
    else {
        //  A token typed or piped from a shell usually ends in a newline.
        while (in_len > 0 && (in [in_len - 1] == '\n' || in [in_len - 1] == '\r'))
            in_len--;
        uint8_t *plain = NULL;
        size_t plain_len = 0;
        int rc = fernet_decrypt (key, (const char *) in, in_len, ttl, now,
                                 &plain, &plain_len);
        if (rc == CHAT_OK) {
            if (fwrite (plain, 1, plain_len, stdout) != plain_len)
                status = 1;
            secret_wipe (plain, plain_len);
            free (plain);
        }
        else {
            fprintf (stderr, "fernet-tool: %s\n", chat_errname (rc));
            status = 1;
        }
    }
    secret_wipe (key, sizeof key);
    secret_wipe (in, in_size);
    free (in);
    if (fflush (stdout))
        status = 1;
    return status;
}
