/*  chat-mainserver - known users, conversations, the encrypted message
    store and live push. A thin wrapper: options in, the actor runs, a
    signal stops it.
*/
#include <getopt.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <syslog.h>
#include <czmq.h>
#include "keyrotation.h"
#include "rsakey.h"
#include "actorthread.h"
#include "logsink.h"
#include "service.h"
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
        "  -p, --push-bind ENDPOINT     pushes (XPUB), default tcp://127.0.0.1:5557\n"
        "  -d, --data DIR               data directory, default ./var/mainserver\n"
        "      --store URL              the store: a path, sqlite:PATH or\n"
        "                               postgresql://... (default DIR/mainserver.db)\n"
        "  -k, --keyserver-key FILE     the key server's public key (its keyserver.pub,\n"
        "                               written by chat-keyserver --init; while its\n"
        "                               key changes, its keyserver-changeover.pub):\n"
        "                               checks certificates; required; SIGHUP reads\n"
        "                               it again\n"
        "  -P, --push-public ENDPOINT   the push endpoint clients are told in the signed\n"
        "                               Welcome, when the bound one is not reachable as\n"
        "                               it is (default: the bound one; a wildcard host\n"
        "                               means the host the client reached)\n"
        "  -c, --config FILE            zconfig file; keys mainserver/bind, push-bind,\n"
        "                               push-public, data, store, keyserver-key, announce,\n"
        "                               idle-timeout, metrics-bind, log-level, verbose,\n"
        "                               rotation-window, limits/NAME (options given\n"
        "                               here win); SIGHUP rereads log-level,\n"
        "                               idle-timeout, the limits and keyserver-key\n"
        "  -a, --announce IFACE         announce both endpoints by UDP beacon on IFACE\n"
        "                               (never done unless asked)\n"
        "  -i, --idle-timeout SECONDS   drop sessions silent this long, default 300\n"
        "                               (0: never; the limit idle_timeout_ms)\n"
        "      --limit SETTING          set an abuse limit, SETTING being NAME=VALUE\n"
        "                               (again for each; over the config file's);\n"
        "                               see below\n"
        "      --init                   create DIR and the server key, print the key's\n"
        "                               fingerprint, and exit\n"
        "      --rotate-key             replace the server key (in DIR, made by --init):\n"
        "                               keep the old one, make a new one and a\n"
        "                               statement signed by the old one that clients\n"
        "                               which pinned the old key accept; print the new\n"
        "                               public file's path and fingerprint and what to\n"
        "                               copy where, and exit\n"
        "      --rotation-window DAYS   present the statement of the last --rotate-key\n"
        "                               this many days after it was made (default %d;\n"
        "                               0: never); read at start\n"
        "  -m, --metrics-bind HOST:PORT serve Prometheus metrics on\n"
        "                               http://HOST:PORT/metrics (off unless given;\n"
        "                               use a loopback address)\n"
        "  -l, --log-level LEVEL        error, warning, notice, info (default) or\n"
        "                               debug (every request too)\n"
        "  -v, --verbose                the same as --log-level debug\n"
        "  -h, --help                   show this help and exit\n"
        "  -V, --version                show the version and exit\n"
        "\n"
        "An endpoint ending in :* binds a free port; the log says which.\n"
        "Files in DIR: mainserver.db, server.key, mainserver.pub (public: copy it to\n"
        "the key server's host, for its --mainserver-key), admin.sock,\n"
        "mainserver.lock; after --rotate-key also server.rotation,\n"
        "server.key.old-TIME and mainserver-changeover.pub.\n"
        "Signals: SIGTERM/SIGINT stop, SIGHUP reloads.\n"
        "Exit status: 0 ok, 1 failed, 2 bad usage.\n"
        "\n"
        "Limits (NAME and default; 0 turns a rate or cap off):\n",
        KEYROTATION_WINDOW_DAYS);
    serverlimits_print_help (SERVERLIMITS_MAINSERVER, out);
}

typedef struct {
    char *bind;
    char *push_bind;
    char *data;
    char *store;
    char *keyserver_key;
    char *push_public;
    char *announce;
    char *idle;
    char *metrics_bind;
    char *log_level;
    char *rotation_window;
    int64_t rotation_days;      //  resolved
    zlist_t *limit_args;        //  each --limit, borrowed from argv (cli only)
    serverlimits_t limits;      //  resolved: defaults, config, idle-timeout, --limit
} options_t;

static void
s_set (char **slot, const char *value)
{
    if (!*slot && value && *value)
        *slot = strdup (value);
}

static void
s_options_free (options_t *opts)
{
    free (opts->bind);
    free (opts->push_bind);
    free (opts->data);
    free (opts->store);
    free (opts->keyserver_key);
    free (opts->push_public);
    free (opts->announce);
    free (opts->idle);
    free (opts->metrics_bind);
    free (opts->log_level);
    free (opts->rotation_window);
    zlist_destroy (&opts->limit_args);
    memset (opts, 0, sizeof *opts);
}

//  What is in force: the command line, then the config file, then the
//  defaults. The same at start and on SIGHUP. 0, or -1 with the reason said.
static int
s_options_resolve (options_t *opts, const options_t *cli, const char *config_path)
{
    memset (opts, 0, sizeof *opts);
    s_set (&opts->bind, cli->bind);
    s_set (&opts->push_bind, cli->push_bind);
    s_set (&opts->data, cli->data);
    s_set (&opts->store, cli->store);
    s_set (&opts->keyserver_key, cli->keyserver_key);
    s_set (&opts->push_public, cli->push_public);
    s_set (&opts->announce, cli->announce);
    s_set (&opts->idle, cli->idle);
    s_set (&opts->metrics_bind, cli->metrics_bind);
    s_set (&opts->log_level, cli->log_level);
    s_set (&opts->rotation_window, cli->rotation_window);
    char error [256];
    serverlimits_defaults (&opts->limits, SERVERLIMITS_MAINSERVER);
    if (config_path) {
        zconfig_t *config = zconfig_load (config_path);
        if (!config) {
            service_complain ("chat-mainserver", "cannot read config %s", config_path);
            return -1;
        }
        if (serverlimits_load_config (&opts->limits, SERVERLIMITS_MAINSERVER, config,
                                      "mainserver/limits", error, sizeof error) != 0) {
            service_complain ("chat-mainserver", "%s", error);
            zconfig_destroy (&config);
            return -1;
        }
        s_set (&opts->bind, zconfig_get (config, "mainserver/bind", NULL));
        s_set (&opts->push_bind, zconfig_get (config, "mainserver/push-bind", NULL));
        s_set (&opts->data, zconfig_get (config, "mainserver/data", NULL));
        s_set (&opts->store, zconfig_get (config, "mainserver/store", NULL));
        s_set (&opts->keyserver_key, zconfig_get (config, "mainserver/keyserver-key", NULL));
        s_set (&opts->push_public, zconfig_get (config, "mainserver/push-public", NULL));
        s_set (&opts->announce, zconfig_get (config, "mainserver/announce", NULL));
        s_set (&opts->idle, zconfig_get (config, "mainserver/idle-timeout", NULL));
        s_set (&opts->metrics_bind, zconfig_get (config, "mainserver/metrics-bind", NULL));
        s_set (&opts->log_level, zconfig_get (config, "mainserver/log-level", NULL));
        s_set (&opts->rotation_window,
               zconfig_get (config, "mainserver/rotation-window", NULL));
        const char *verbose = zconfig_get (config, "mainserver/verbose", "0");
        if (streq (verbose, "1") || streq (verbose, "true") || streq (verbose, "yes"))
            s_set (&opts->log_level, "debug");
        zconfig_destroy (&config);
    }
    s_set (&opts->bind, "tcp://127.0.0.1:5556");
    s_set (&opts->push_bind, "tcp://127.0.0.1:5557");
    s_set (&opts->data, "./var/mainserver");
    s_set (&opts->log_level, "info");
    opts->rotation_days = KEYROTATION_WINDOW_DAYS;
    if (opts->rotation_window
    &&  keyrotation_parse_window (opts->rotation_window, &opts->rotation_days)) {
        service_complain ("chat-mainserver", "rotation-window must be 0..%d days, not '%s'",
                          KEYROTATION_WINDOW_MAX, opts->rotation_window);
        return -1;
    }
    if (logsink_level_parse (opts->log_level) < 0) {
        service_complain ("chat-mainserver", "log level '%s' is not error, warning, notice, "
                 "info or debug", opts->log_level);
        return -1;
    }
    //  --idle-timeout (seconds) is the limit idle_timeout_ms; each --limit
    //  comes last
    if (opts->idle) {
        char *end = NULL;
        errno = 0;
        long long idle = strtoll (opts->idle, &end, 10);
        if (errno || !end || *end || idle < 0 || idle > 365LL * 24 * 3600) {
            service_complain ("chat-mainserver", "--idle-timeout wants seconds, not '%s'",
                              opts->idle);
            return -1;
        }
        opts->limits.idle_timeout_ms = idle * 1000;
    }
    if (serverlimits_set_assignments (&opts->limits, SERVERLIMITS_MAINSERVER,
                                      cli->limit_args, error, sizeof error) != 0) {
        service_complain ("chat-mainserver", "%s", error);
        return -1;
    }
    return 0;
}

//  Create the data directory (0700), the server key and its public file.
static int
s_init (const char *data)
{
    char error [512] = "";
    if (mainserver_prepare (data, error, sizeof error) != 0) {
        fprintf (stderr, "chat-mainserver: %s\n", error);
        return 1;
    }
    char *path = zsys_sprintf ("%s/%s", data, MAINSERVER_PUBLIC_FILE);
    rsakey_t *key = rsakey_load_public (path);
    if (!key) {
        fprintf (stderr, "chat-mainserver: cannot read %s\n", path);
        free (path);
        return 1;
    }
    //  stdout: what a script reads; stderr: what the operator does
    printf ("%s %s\n", path, rsakey_fingerprint_text (key));
    fprintf (stderr, "chat-mainserver: copy %s to the key server's host and give it as "
             "chat-keyserver --mainserver-key FILE\n", path);
    rsakey_destroy (&key);
    free (path);
    return 0;
}

//  Send one command to the actor and check its answer.
static int
    s_command (zsock_t *server, const char *command, const char *arg, char **answer);

//  What may change while the server runs, at start and on SIGHUP: the log
//  level and the limits.
static int
s_apply_runtime (zsock_t *server, const options_t *opts)
{
    int level = logsink_level_parse (opts->log_level);
    logsink_set_level (level);
    if (s_command (server, "VERBOSE", level == LOG_DEBUG ? "1" : "0", NULL) != 0)
        return -1;
    return serverlimits_send (&opts->limits, SERVERLIMITS_MAINSERVER, server, "chat-mainserver");
}

//  SIGHUP: the config file again; what cannot change at run time (binds,
//  data directory) is left as it is until a restart.
static int
s_reload (zsock_t *server, const char *config_path, void *cli)
{
    options_t opts;
    int rc = s_options_resolve (&opts, (const options_t *) cli, config_path);
    if (rc == 0)
        rc = s_apply_runtime (server, &opts);
    //  The key server's key file again: during its key's changeover it
    //  names two keys, after it the new one alone
    if (rc == 0 && opts.keyserver_key)
        rc = s_command (server, "KEYSERVER-KEY", opts.keyserver_key, NULL);
    if (rc == 0) {
        char *limits = serverlimits_summary (&opts.limits, SERVERLIMITS_MAINSERVER);
        zsys_info ("chat-mainserver: log level %s, limits %s", opts.log_level, limits);
        free (limits);
    }
    s_options_free (&opts);
    return rc;
}

static int
s_command (zsock_t *server, const char *command, const char *arg, char **answer)
{
    if (arg)
        zstr_sendx (server, command, arg, NULL);
    else
        zstr_send (server, command);
    char *reply = service_recv (server);
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

int
main (int argc, char *argv [])
{
    //  A SIGHUP (reload) from now on never ends the process
    service_init ();
    //  Every file the server makes is the server's alone, from birth
    umask (077);
    enum { OPT_LIMIT = 1000, OPT_ROTATE, OPT_ROTATION_WINDOW, OPT_STORE };
    static struct option long_options [] = {
        { "bind",          required_argument, 0, 'b' },
        { "push-bind",     required_argument, 0, 'p' },
        { "data",          required_argument, 0, 'd' },
        { "store",         required_argument, 0, OPT_STORE },
        { "keyserver-key", required_argument, 0, 'k' },
        { "push-public",   required_argument, 0, 'P' },
        { "config",        required_argument, 0, 'c' },
        { "announce",      required_argument, 0, 'a' },
        { "idle-timeout",  required_argument, 0, 'i' },
        { "metrics-bind",  required_argument, 0, 'm' },
        { "log-level",     required_argument, 0, 'l' },
        { "init",          no_argument,       0, 'I' },
        { "rotate-key",    no_argument,       0, OPT_ROTATE },
        { "rotation-window", required_argument, 0, OPT_ROTATION_WINDOW },
        { "limit",         required_argument, 0, OPT_LIMIT },
        { "verbose",       no_argument,       0, 'v' },
        { "help",          no_argument,       0, 'h' },
        { "version",       no_argument,       0, 'V' },
        { 0, 0, 0, 0 }
    };
    options_t cli = { 0 };
    cli.limit_args = zlist_new ();
    const char *config_path = NULL;
    bool init = false;
    bool rotate = false;
    int opt;
    while ((opt = getopt_long (argc, argv, "b:p:d:k:P:c:a:i:m:l:vhV", long_options, NULL)) != -1) {
        switch (opt) {
            case 'b': s_set (&cli.bind, optarg); break;
            case 'p': s_set (&cli.push_bind, optarg); break;
            case 'd': s_set (&cli.data, optarg); break;
            case OPT_STORE: s_set (&cli.store, optarg); break;
            case 'k': s_set (&cli.keyserver_key, optarg); break;
            case 'P': s_set (&cli.push_public, optarg); break;
            case 'c': config_path = optarg; break;
            case 'a': s_set (&cli.announce, optarg); break;
            case 'i': s_set (&cli.idle, optarg); break;
            case 'm': s_set (&cli.metrics_bind, optarg); break;
            case 'l': s_set (&cli.log_level, optarg); break;
            case 'I': init = true; break;
            case OPT_ROTATE: rotate = true; break;
            case OPT_ROTATION_WINDOW: s_set (&cli.rotation_window, optarg); break;
            case OPT_LIMIT: zlist_append (cli.limit_args, optarg); break;
            case 'v': s_set (&cli.log_level, "debug"); break;
            case 'h': s_usage (stdout); s_options_free (&cli); return 0;
            case 'V': printf ("chat-mainserver %s\n", CHAT_VERSION); s_options_free (&cli); return 0;
            default:  s_usage (stderr); s_options_free (&cli); return EXIT_USAGE;
        }
    }
    if (optind < argc || (init && rotate)) {
        if (optind < argc)
            fprintf (stderr, "chat-mainserver: unexpected argument %s\n", argv [optind]);
        else
            fprintf (stderr, "chat-mainserver: --init and --rotate-key are two steps\n");
        s_usage (stderr);
        s_options_free (&cli);
        return EXIT_USAGE;
    }
    options_t opts;
    if (s_options_resolve (&opts, &cli, config_path) != 0) {
        s_options_free (&opts);
        s_options_free (&cli);
        return EXIT_USAGE;
    }

    int status = 1;
    if (init)
        status = s_init (opts.data);
    else
    if (rotate)
        status = keyrotation_command (opts.data, "mainserver", MAINSERVER_KEY_BITS,
                                      opts.rotation_days, (int64_t) time (NULL));
    else
    if (!opts.keyserver_key || !*opts.keyserver_key) {
        service_complain ("chat-mainserver", "the key server's public key is needed: copy "
                 "keyserver.pub from the key server's data directory (chat-keyserver "
                 "--init writes it) to this host and name it with --keyserver-key FILE "
                 "(or mainserver/keyserver-key in the config file)");
        status = EXIT_USAGE;
    }
    else {
        //  stdout is for what a program answers; logs go to stderr (the
        //  journal under systemd, with priorities)
        logsink_install ("chat-mainserver");
        actorthread_t *actor = actorthread_new (mainserver_actor, NULL);
        assert (actor);
        zsock_t *server = actorthread_sock (actor);
        char *fingerprint = NULL;
        char days [24];
        snprintf (days, sizeof days, "%lld", (long long) opts.rotation_days);
        if (s_apply_runtime (server, &opts) == 0
        &&  s_command (server, "DATA", opts.data, NULL) == 0
        &&  (!opts.store || s_command (server, "STORE", opts.store, NULL) == 0)
        &&  s_command (server, "KEYSERVER-KEY", opts.keyserver_key, NULL) == 0
        &&  s_command (server, "ROTATION-WINDOW", days, NULL) == 0
        &&  (!opts.push_public
             || s_command (server, "PUSH-PUBLIC", opts.push_public, NULL) == 0)
        &&  s_command (server, "START", NULL, NULL) == 0
        &&  s_command (server, "BIND", opts.bind, NULL) == 0
        &&  s_command (server, "PUSH-BIND", opts.push_bind, NULL) == 0
        &&  (!opts.metrics_bind
             || s_command (server, "METRICS-BIND", opts.metrics_bind, NULL) == 0)
        &&  (!opts.announce || s_command (server, "ANNOUNCE", opts.announce, NULL) == 0)
        &&  s_command (server, "FINGERPRINT", NULL, &fingerprint) == 0) {
            zsys_info ("chat-mainserver %s ready, key %s", CHAT_VERSION, fingerprint);
            char *ready = zsys_sprintf ("serving on %s, pushes on %s", opts.bind,
                                        opts.push_bind);
            service_ready (ready);
            zstr_free (&ready);
            status = service_run (server, config_path, s_reload, &cli);
            if (status == 0)
                zsys_info ("chat-mainserver: signal received, stopping");
        }
        zstr_free (&fingerprint);
        actorthread_destroy (&actor);
    }
    s_options_free (&opts);
    s_options_free (&cli);
    return status;
}
