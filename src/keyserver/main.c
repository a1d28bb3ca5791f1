/*  chat-keyserver - registration, SCRAM login, certificates, conversation
    keys. A thin wrapper: options, then keyserver_actor until a signal.

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
#include "serverlimits.h"
#include <sys/stat.h>

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
        "The chat key server: registration, SCRAM-SHA-256 login, certificates and\n"
        "conversation keys.\n"
        "\n"
        "  -b, --bind ENDPOINT     request endpoint (default " DEFAULT_BIND ");\n"
        "                          tcp://127.0.0.1:* takes a free port; the bound\n"
        "                          endpoint is printed on stdout at start\n"
        "  -d, --data DIR          data directory (default " DEFAULT_DATA ")\n"
        "  -c, --config FILE       zconfig file (keyserver/bind, keyserver/data,\n"
        "                          keyserver/iterations, keyserver/announce,\n"
        "                          keyserver/verbose); options override it\n"
        "  -a, --announce IFACE    announce the server by UDP beacon on IFACE\n"
        "                          (off unless given)\n"
        "  -i, --iterations N      PBKDF2 iterations for new registrations\n"
        "                          (default %d, at least %d)\n"
        "      --init              create the data directory, server key and shared\n"
        "                          secret, print the key fingerprint and exit;\n"
        "                          refuses to replace an existing shared secret\n"
        "  -l, --limit NAME=VALUE  set an abuse limit (again for each; the config\n"
        "                          file's keyserver/limits/NAME too); see below\n"
        "  -v, --verbose           log every request\n"
        "  -h, --help              show this and exit\n"
        "  -V, --version           show the version and exit\n"
        "\n"
        "Files in DIR: keyserver.db, server.key, shared.secret (copy it to the main\n"
        "server's host, mode 0600), resume.secret, admin.sock.\n"
        "Exit status: 0 ok, 1 failure, 2 usage error.\n"
        "\n"
        "Limits (NAME and default; 0 turns a rate or cap off):\n",
        KEYSERVER_ITERATIONS, SCRAM_MIN_ITERATIONS);
    serverlimits_print_help (SERVERLIMITS_KEYSERVER, out);
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
    const char *iterations_text = NULL;
    bool init = false, verbose = false;
    //  Every file the server makes is the server's alone, from birth
    umask (077);
    serverlimits_t limits;
    serverlimits_defaults (&limits, SERVERLIMITS_KEYSERVER);
    zlist_t *limit_args = zlist_new ();

    enum { OPT_INIT = 1000 };
    static const struct option options [] = {
        { "bind",       required_argument, NULL, 'b' },
        { "data",       required_argument, NULL, 'd' },
        { "config",     required_argument, NULL, 'c' },
        { "announce",   required_argument, NULL, 'a' },
        { "iterations", required_argument, NULL, 'i' },
        { "limit",      required_argument, NULL, 'l' },
        { "init",       no_argument,       NULL, OPT_INIT },
        { "verbose",    no_argument,       NULL, 'v' },
        { "help",       no_argument,       NULL, 'h' },
        { "version",    no_argument,       NULL, 'V' },
        { NULL, 0, NULL, 0 }
    };
    int opt;
    while ((opt = getopt_long (argc, argv, "b:d:c:a:i:l:vhV", options, NULL)) != -1) {
        switch (opt) {
            case 'b': bind_ep = optarg; break;
            case 'd': data = optarg; break;
            case 'c': config = optarg; break;
            case 'a': announce = optarg; break;
            case 'i': iterations_text = optarg; break;
            case 'l': zlist_append (limit_args, optarg); break;
            case OPT_INIT: init = true; break;
            case 'v': verbose = true; break;
            case 'h': s_usage (stdout); zlist_destroy (&limit_args); return 0;
            case 'V': printf ("chat-keyserver %s\n", CHAT_VERSION);
                      zlist_destroy (&limit_args); return 0;
            default:  s_usage (stderr); zlist_destroy (&limit_args); return 2;
        }
    }
    if (optind < argc) {
        fprintf (stderr, "chat-keyserver: unexpected argument '%s'\n", argv [optind]);
        s_usage (stderr);
        zlist_destroy (&limit_args);
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
            zlist_destroy (&limit_args);
            return 2;
        }
        if (!bind_ep)
            bind_ep = zconfig_get (root, "keyserver/bind", NULL);
        if (!data)
            data = zconfig_get (root, "keyserver/data", NULL);
        if (!announce)
            announce = zconfig_get (root, "keyserver/announce", NULL);
        if (!iterations_text)
            iterations_text = zconfig_get (root, "keyserver/iterations", NULL);
        if (!verbose)
            verbose = s_truthy (zconfig_get (root, "keyserver/verbose", NULL));
    }
    //  Limits: defaults, then the config file, then each --limit in order
    char error [256];
    int limits_ok = serverlimits_load_config (&limits, SERVERLIMITS_KEYSERVER, root,
                                              "keyserver/limits", error, sizeof error);
    if (limits_ok == 0)
        limits_ok = serverlimits_set_assignments (&limits, SERVERLIMITS_KEYSERVER,
                                                  limit_args, error, sizeof error);
    zlist_destroy (&limit_args);
    if (limits_ok != 0) {
        fprintf (stderr, "chat-keyserver: %s\n", error);
        zconfig_destroy (&root);
        return 2;
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
        int rc = keyserver_prepare (data, true);
        if (rc == 0) {
            char *path = zsys_sprintf ("%s/%s", data, KEYSERVER_KEY_FILE);
            rsakey_t *key = rsakey_load (path);
            if (key)
                printf ("%s/%s created; server key %s\n", data, KEYSERVER_SECRET,
                        rsakey_fingerprint_text (key));
            else
                rc = -1;
            rsakey_destroy (&key);
            zstr_free (&path);
        }
        zconfig_destroy (&root);
        return rc == 0? 0: 1;
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
    zstr_sendx (server, "ITERATIONS", iterations_arg, NULL);
    char *reply = NULL;
    if (serverlimits_send (&limits, SERVERLIMITS_KEYSERVER, server, error,
                           sizeof error) != 0)
        fprintf (stderr, "chat-keyserver: limits refused: %s\n", error);
    else {
        zstr_send (server, "START");
        reply = zstr_recv (server);
    }
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
        fprintf (stderr, "chat-keyserver: cannot start with data directory %s\n", data);
    else
        status = 0;
    zstr_free (&reply);
    actorthread_destroy (&actor);
    zconfig_destroy (&root);
    return status;
}
