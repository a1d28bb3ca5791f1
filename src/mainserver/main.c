/*  chat-mainserver - known users, conversations, the encrypted message
    store and live push. A thin wrapper: options in, the actor runs, a
    signal stops it.
*/
#include <getopt.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <czmq.h>
#include "rsakey.h"
#include "secret.h"
#include "actorthread.h"
#include "mainserver.h"
#include "serverlimits.h"

#ifndef CHAT_VERSION
#   define CHAT_VERSION "0.0.0"
#endif

#define EXIT_USAGE 2

static void
s_usage (FILE *out)
{
    fprintf (out,
        "Usage: chat-mainserver [OPTION]...\n"
        "The chat main server: known users, conversations, the encrypted message\n"
        "store and live push.\n"
        "\n"
        "  -b, --bind ENDPOINT          requests (ROUTER), default tcp://127.0.0.1:5556\n"
        "  -p, --push-bind ENDPOINT     pushes (PUB), default tcp://127.0.0.1:5557\n"
        "  -d, --data DIR               data directory, default ./var/mainserver\n"
        "  -s, --shared-secret FILE     the secret shared with the key server,\n"
        "                               default DIR/shared.secret (mode 0600)\n"
        "  -c, --config FILE            zconfig file; keys mainserver/bind, push-bind,\n"
        "                               data, shared-secret, announce, idle-timeout,\n"
        "                               verbose, limits/NAME (options given here win)\n"
        "  -a, --announce IFACE         announce both endpoints by UDP beacon on IFACE\n"
        "                               (never done unless asked)\n"
        "  -i, --idle-timeout SECONDS   drop sessions silent this long, default 300\n"
        "                               (0: never; the limit idle_timeout_ms)\n"
        "  -l, --limit NAME=VALUE       set an abuse limit (again for each); see below\n"
        "      --init                   create DIR and the server key, print the key's\n"
        "                               fingerprint, and exit\n"
        "  -v, --verbose                log every request\n"
        "  -h, --help                   show this help and exit\n"
        "  -V, --version                show the version and exit\n"
        "\n"
        "An endpoint ending in :* binds a free port; the log says which.\n"
        "Exit status: 0 ok, 1 failed, 2 bad usage.\n"
        "\n"
        "Limits (NAME and default; 0 turns a rate or cap off):\n");
    serverlimits_print_help (SERVERLIMITS_MAINSERVER, out);
}

typedef struct {
    char *bind;
    char *push_bind;
    char *data;
    char *secret;
    char *announce;
    char *idle;
    bool verbose;
} options_t;

static void
s_set (char **slot, const char *value)
{
    if (!*slot && value && *value)
        *slot = strdup (value);
}

//  Create the data directory (0700) and the server key.
static int
s_init (const char *data)
{
    if (secret_dir_create (data) != 0) {
        fprintf (stderr, "chat-mainserver: cannot create %s: %s\n", data, strerror (errno));
        return 1;
    }
    char *path = zsys_sprintf ("%s/server.key", data);
    rsakey_t *key = rsakey_load_or_create (path, MAINSERVER_KEY_BITS);
    if (!key) {
        fprintf (stderr, "chat-mainserver: cannot load or create %s\n", path);
        free (path);
        return 1;
    }
    printf ("%s %s\n", path, rsakey_fingerprint_text (key));
    rsakey_destroy (&key);
    free (path);
    return 0;
}

//  Send one command to the actor and check its answer.
static int
s_command (zsock_t *server, const char *command, const char *arg, char **answer)
{
    if (arg)
        zstr_sendx (server, command, arg, NULL);
    else
        zstr_send (server, command);
    char *reply = zstr_recv (server);
    if (!reply) {
        fprintf (stderr, "chat-mainserver: %s: no answer\n", command);
        return -1;
    }
    if (strncmp (reply, "ERROR", 5) == 0) {
        fprintf (stderr, "chat-mainserver: %s\n", reply + (reply [5]? 6: 5));
        zstr_free (&reply);
        return -1;
    }
    if (answer)
        *answer = reply;
    else
        zstr_free (&reply);
    return 0;
}

static int
s_send_limits (zsock_t *server, const serverlimits_t *limits)
{
    char error [256];
    if (serverlimits_send (limits, SERVERLIMITS_MAINSERVER, server, error,
                           sizeof error) == 0)
        return 0;
    fprintf (stderr, "chat-mainserver: limits refused: %s\n", error);
    return -1;
}

int
main (int argc, char *argv [])
{
    static struct option long_options [] = {
        { "bind",          required_argument, 0, 'b' },
        { "push-bind",     required_argument, 0, 'p' },
        { "data",          required_argument, 0, 'd' },
        { "shared-secret", required_argument, 0, 's' },
        { "config",        required_argument, 0, 'c' },
        { "announce",      required_argument, 0, 'a' },
        { "idle-timeout",  required_argument, 0, 'i' },
        { "limit",         required_argument, 0, 'l' },
        { "init",          no_argument,       0, 'I' },
        { "verbose",       no_argument,       0, 'v' },
        { "help",          no_argument,       0, 'h' },
        { "version",       no_argument,       0, 'V' },
        { 0, 0, 0, 0 }
    };
    options_t opts = { 0 };
    const char *config_path = NULL;
    bool init = false;
    int opt;
    //  Every file the server makes is the server's alone, from birth
    umask (077);
    serverlimits_t limits;
    serverlimits_defaults (&limits, SERVERLIMITS_MAINSERVER);
    char error [256] = "";
    int limits_ok = 0;
    zlist_t *limit_args = zlist_new ();
    while ((opt = getopt_long (argc, argv, "b:p:d:s:c:a:i:l:vhV", long_options, NULL)) != -1) {
        switch (opt) {
            case 'b': s_set (&opts.bind, optarg); break;
            case 'p': s_set (&opts.push_bind, optarg); break;
            case 'd': s_set (&opts.data, optarg); break;
            case 's': s_set (&opts.secret, optarg); break;
            case 'c': config_path = optarg; break;
            case 'a': s_set (&opts.announce, optarg); break;
            case 'i': s_set (&opts.idle, optarg); break;
            case 'l': zlist_append (limit_args, optarg); break;
            case 'I': init = true; break;
            case 'v': opts.verbose = true; break;
            case 'h': s_usage (stdout); zlist_destroy (&limit_args); return 0;
            case 'V': printf ("chat-mainserver %s\n", CHAT_VERSION);
                      zlist_destroy (&limit_args); return 0;
            default:  s_usage (stderr); zlist_destroy (&limit_args); return EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf (stderr, "chat-mainserver: unexpected argument %s\n", argv [optind]);
        s_usage (stderr);
        zlist_destroy (&limit_args);
        return EXIT_USAGE;
    }
    if (config_path) {
        zconfig_t *config = zconfig_load (config_path);
        if (!config) {
            fprintf (stderr, "chat-mainserver: cannot read config %s\n", config_path);
            zlist_destroy (&limit_args);
            return EXIT_USAGE;
        }
        limits_ok = serverlimits_load_config (&limits, SERVERLIMITS_MAINSERVER, config,
                                              "mainserver/limits", error, sizeof error);
        s_set (&opts.bind, zconfig_get (config, "mainserver/bind", NULL));
        s_set (&opts.push_bind, zconfig_get (config, "mainserver/push-bind", NULL));
        s_set (&opts.data, zconfig_get (config, "mainserver/data", NULL));
        s_set (&opts.secret, zconfig_get (config, "mainserver/shared-secret", NULL));
        s_set (&opts.announce, zconfig_get (config, "mainserver/announce", NULL));
        s_set (&opts.idle, zconfig_get (config, "mainserver/idle-timeout", NULL));
        const char *verbose = zconfig_get (config, "mainserver/verbose", "0");
        if (streq (verbose, "1") || streq (verbose, "true") || streq (verbose, "yes"))
            opts.verbose = true;
        zconfig_destroy (&config);
    }
    s_set (&opts.bind, "tcp://127.0.0.1:5556");
    s_set (&opts.push_bind, "tcp://127.0.0.1:5557");
    s_set (&opts.data, "./var/mainserver");

    int status = 1;
    if (opts.idle) {
        char *end = NULL;
        errno = 0;
        long long idle = strtoll (opts.idle, &end, 10);
        if (errno || !end || *end || idle < 0 || idle > 365LL * 24 * 3600) {
            fprintf (stderr, "chat-mainserver: --idle-timeout wants seconds, not '%s'\n",
                     opts.idle);
            status = EXIT_USAGE;
        }
        else
            limits.idle_timeout_ms = idle * 1000;
    }
    //  Limits: defaults, the config file, --idle-timeout, then each --limit
    if (limits_ok == 0)
        limits_ok = serverlimits_set_assignments (&limits, SERVERLIMITS_MAINSERVER,
                                                  limit_args, error, sizeof error);
    zlist_destroy (&limit_args);
    if (limits_ok != 0) {
        fprintf (stderr, "chat-mainserver: %s\n", error);
        status = EXIT_USAGE;
    }

    if (status == EXIT_USAGE)
        ;
    else
    if (init)
        status = s_init (opts.data);
    else {
        zsys_init ();
        //  stdout is for what a program answers; logs go to stderr
        zsys_set_logstream (stderr);
        zsys_set_logident ("chat-mainserver");
        actorthread_t *actor = actorthread_new (mainserver_actor, NULL);
        assert (actor);
        zsock_t *server = actorthread_sock (actor);
        char *fingerprint = NULL;
        if ((!opts.verbose || s_command (server, "VERBOSE", NULL, NULL) == 0)
        &&  s_command (server, "DATA", opts.data, NULL) == 0
        &&  (!opts.secret || s_command (server, "SHARED-SECRET", opts.secret, NULL) == 0)
        &&  s_send_limits (server, &limits) == 0
        &&  s_command (server, "START", NULL, NULL) == 0
        &&  s_command (server, "BIND", opts.bind, NULL) == 0
        &&  s_command (server, "PUSH-BIND", opts.push_bind, NULL) == 0
        &&  (!opts.announce || s_command (server, "ANNOUNCE", opts.announce, NULL) == 0)
        &&  s_command (server, "FINGERPRINT", NULL, &fingerprint) == 0) {
            zsys_info ("chat-mainserver %s ready, key %s", CHAT_VERSION, fingerprint);
            //  Wait for SIGINT/SIGTERM (CZMQ's handler sets zsys_interrupted)
            //  or for the actor to die. The signal may land on any of
            //  libzmq's threads and leave this wait uninterrupted, so the
            //  flag is looked at every 50 ms too.
            zpoller_t *poller = zpoller_new (server, NULL);
            while (!zsys_interrupted) {
                void *which = zpoller_wait (poller, 50);
                if (which == server) {
                    zsys_error ("chat-mainserver: server stopped unexpectedly");
                    break;
                }
                if (zpoller_terminated (poller))
                    break;
            }
            zpoller_destroy (&poller);
            status = zsys_interrupted? 0: 1;
            if (status == 0)
                zsys_info ("chat-mainserver: signal received, stopping");
        }
        zstr_free (&fingerprint);
        actorthread_destroy (&actor);
    }
    free (opts.bind);
    free (opts.push_bind);
    free (opts.data);
    free (opts.secret);
    free (opts.announce);
    free (opts.idle);
    return status;
}
