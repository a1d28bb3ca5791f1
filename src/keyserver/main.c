/*  chat-keyserver - registration, SCRAM login, signed certificates, the key
    directory and wrapped epoch keys. A thin wrapper: options, then
    keyserver_actor until a signal.

    On start it prints the bound request endpoint, one line on stdout, so
    that --bind tcp://127.0.0.1:* can be used and its port read back. Logs
    go to stderr.
*/
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <czmq.h>
#include "actorthread.h"
#include "keyserver.h"
#include "rsakey.h"
#include "scram.h"

#ifndef CHAT_VERSION
#   define CHAT_VERSION "0.0.0"
#endif

#define DEFAULT_BIND "tcp://127.0.0.1:5555"
#define DEFAULT_DATA "./var/keyserver"

static void
s_usage (FILE *out)
{
    fprintf (out,
        "Usage: chat-keyserver [OPTION]...\n"
        "The chat key server: registration, SCRAM-SHA-256 login, signed certificates,\n"
        "identity keys and the epoch keys clients wrap for each other.\n"
        "\n"
        "  -b, --bind ENDPOINT     request endpoint (default " DEFAULT_BIND ");\n"
        "                          tcp://127.0.0.1:* takes a free port; the bound\n"
        "                          endpoint is printed on stdout at start\n"
        "  -d, --data DIR          data directory (default " DEFAULT_DATA ")\n"
        "  -m, --mainserver-key FILE\n"
        "                          the main server's public key (its mainserver.pub,\n"
        "                          written by chat-mainserver --init): checks key\n"
        "                          tickets; required\n"
        "  -c, --config FILE       zconfig file (keyserver/bind, keyserver/data,\n"
        "                          keyserver/mainserver-key, keyserver/iterations,\n"
        "                          keyserver/announce, keyserver/verbose); options\n"
        "                          override it\n"
        "  -a, --announce IFACE    announce the server by UDP beacon on IFACE\n"
        "                          (off unless given)\n"
        "  -i, --iterations N      PBKDF2 iterations for new registrations\n"
        "                          (default %d, at least %d)\n"
        "      --init              create the data directory, server key, its public\n"
        "                          key file and the server's own secret (what is\n"
        "                          missing), print the public file's path and the\n"
        "                          key's fingerprint, and exit\n"
        "  -v, --verbose           log every request\n"
        "  -h, --help              show this and exit\n"
        "  -V, --version           show the version and exit\n"
        "\n"
        "Files in DIR: keyserver.db, server.key, keyserver.pub (public: copy it to the\n"
        "main server's host, for its --keyserver-key), keyserver.secret (never copied),\n"
        "admin.sock.\n"
        "Exit status: 0 ok, 1 failure, 2 usage error.\n",
        KEYSERVER_ITERATIONS, SCRAM_MIN_ITERATIONS);
}

static int
s_parse_iterations (const char *text, uint32_t *iterations)
{
    char *end = NULL;
    errno = 0;
    unsigned long n = strtoul (text, &end, 10);
    if (errno || !end || *end || end == text || *text == '-'
    ||  n < SCRAM_MIN_ITERATIONS || n > SCRAM_MAX_ITERATIONS)
        return -1;
    *iterations = (uint32_t) n;
    return 0;
}

static bool
s_truthy (const char *text)
{
    return text && (streq (text, "1") || streq (text, "true") || streq (text, "yes")
                 || streq (text, "on"));
}

int
main (int argc, char *argv [])
{
    const char *bind_ep = NULL, *data = NULL, *config = NULL, *announce = NULL;
    const char *mainserver_key = NULL;
    const char *iterations_text = NULL;
    bool init = false, verbose = false;

    enum { OPT_INIT = 1000 };
    static const struct option options [] = {
        { "bind",       required_argument, NULL, 'b' },
        { "data",       required_argument, NULL, 'd' },
        { "mainserver-key", required_argument, NULL, 'm' },
        { "config",     required_argument, NULL, 'c' },
        { "announce",   required_argument, NULL, 'a' },
        { "iterations", required_argument, NULL, 'i' },
        { "init",       no_argument,       NULL, OPT_INIT },
        { "verbose",    no_argument,       NULL, 'v' },
        { "help",       no_argument,       NULL, 'h' },
        { "version",    no_argument,       NULL, 'V' },
        { NULL, 0, NULL, 0 }
    };
    int opt;
    while ((opt = getopt_long (argc, argv, "b:d:m:c:a:i:vhV", options, NULL)) != -1) {
        switch (opt) {
            case 'b': bind_ep = optarg; break;
            case 'd': data = optarg; break;
            case 'm': mainserver_key = optarg; break;
            case 'c': config = optarg; break;
            case 'a': announce = optarg; break;
            case 'i': iterations_text = optarg; break;
            case OPT_INIT: init = true; break;
            case 'v': verbose = true; break;
            case 'h': s_usage (stdout); return 0;
            case 'V': printf ("chat-keyserver %s\n", CHAT_VERSION); return 0;
            default:  s_usage (stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf (stderr, "chat-keyserver: unexpected argument '%s'\n", argv [optind]);
        s_usage (stderr);
        return 2;
    }

    zsys_set_logstream (stderr);
    zsys_set_logident ("chat-keyserver");

    //  Defaults, then the config file, then the command line
    zconfig_t *root = NULL;
    if (config) {
        root = zconfig_load (config);
        if (!root) {
            fprintf (stderr, "chat-keyserver: cannot read config file %s\n", config);
            return 2;
        }
        if (!bind_ep)
            bind_ep = zconfig_get (root, "keyserver/bind", NULL);
        if (!data)
            data = zconfig_get (root, "keyserver/data", NULL);
        if (!mainserver_key)
            mainserver_key = zconfig_get (root, "keyserver/mainserver-key", NULL);
        if (!announce)
            announce = zconfig_get (root, "keyserver/announce", NULL);
        if (!iterations_text)
            iterations_text = zconfig_get (root, "keyserver/iterations", NULL);
        if (!verbose)
            verbose = s_truthy (zconfig_get (root, "keyserver/verbose", NULL));
    }
    if (!bind_ep)
        bind_ep = DEFAULT_BIND;
    if (!data)
        data = DEFAULT_DATA;
    uint32_t iterations = KEYSERVER_ITERATIONS;
    if (iterations_text && s_parse_iterations (iterations_text, &iterations)) {
        fprintf (stderr, "chat-keyserver: iterations must be %d..%d, not '%s'\n",
                 SCRAM_MIN_ITERATIONS, SCRAM_MAX_ITERATIONS, iterations_text);
        zconfig_destroy (&root);
        return 2;
    }
    if (announce && !*announce)
        announce = NULL;

    if (init) {
        int rc = keyserver_prepare (data);
        if (rc == 0) {
            char *path = zsys_sprintf ("%s/%s", data, KEYSERVER_PUBLIC_FILE);
            rsakey_t *key = rsakey_load_public (path);
            if (key) {
                //  stdout: what a script reads; stderr: what the operator does
                printf ("%s %s\n", path, rsakey_fingerprint_text (key));
                fprintf (stderr, "chat-keyserver: copy %s to the main server's host and "
                         "give it as chat-mainserver --keyserver-key FILE\n", path);
            }
            else
                rc = -1;
            rsakey_destroy (&key);
            zstr_free (&path);
        }
        zconfig_destroy (&root);
        return rc == 0? 0: 1;
    }
    if (!mainserver_key || !*mainserver_key) {
        fprintf (stderr, "chat-keyserver: the main server's public key is needed: copy "
                 "mainserver.pub from the main server's data directory (chat-mainserver "
                 "--init writes it) to this host and name it with --mainserver-key FILE "
                 "(or keyserver/mainserver-key in the config file)\n");
        zconfig_destroy (&root);
        return 2;
    }

    int status = 1;
    char iterations_arg [16];
    snprintf (iterations_arg, sizeof iterations_arg, "%u", iterations);
    actorthread_t *actor = actorthread_new (keyserver_actor, NULL);
    assert (actor);
    zsock_t *server = actorthread_sock (actor);
    if (verbose)
        zstr_send (server, "VERBOSE");
    zstr_sendx (server, "DATA", data, NULL);
    zstr_sendx (server, "MAINSERVER-KEY", mainserver_key, NULL);
    zstr_sendx (server, "ITERATIONS", iterations_arg, NULL);
    zstr_send (server, "START");
    char *reply = zstr_recv (server);
    if (reply && streq (reply, "OK")) {
        zstr_free (&reply);
        zstr_sendx (server, "BIND", bind_ep, NULL);
        reply = zstr_recv (server);
        if (reply && !streq (reply, "ERROR")) {
            printf ("%s\n", reply);
            fflush (stdout);
            if (announce)
                zstr_sendx (server, "ANNOUNCE", announce, NULL);
            //  CZMQ's handler turns SIGINT/SIGTERM into zsys_interrupted
            while (!zsys_interrupted)
                zclock_sleep (20);
            status = 0;
        }
        else
        if (reply || !zsys_interrupted)
            fprintf (stderr, "chat-keyserver: cannot bind %s\n", bind_ep);
        else
            status = 0;
    }
    else
    if (reply || !zsys_interrupted)
        fprintf (stderr, "chat-keyserver: cannot start with data directory %s "
                 "(the reason is logged above)\n", data);
    else
        status = 0;
    zstr_free (&reply);
    actorthread_destroy (&actor);
    zconfig_destroy (&root);
    return status;
}
