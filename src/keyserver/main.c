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
#include <time.h>
#include <syslog.h>
#include <czmq.h>
#include "actorthread.h"
#include "keyrotation.h"
#include "keyserver.h"
#include "logsink.h"
#include "service.h"
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
        "  -d, --data DIR          data directory (default " DEFAULT_DATA "): the\n"
        "                          server key, own secret, lock and admin socket,\n"
        "                          also with a PostgreSQL store\n"
        "      --store URL         the store: a path, sqlite:PATH or\n"
        "                          postgresql://... (default DIR/keyserver.db); key\n"
        "                          servers on one PostgreSQL database must share\n"
        "                          server.key and keyserver.secret\n"
        "  -k, --mainserver-key FILE\n"
        "                          the main server's public key (its mainserver.pub,\n"
        "                          written by chat-mainserver --init; while its key\n"
        "                          changes, its mainserver-changeover.pub): checks\n"
        "                          key tickets; required; SIGHUP reads it again\n"
        "  -c, --config FILE       zconfig file (keyserver/bind, keyserver/data,\n"
        "                          keyserver/store, keyserver/mainserver-key,\n"
        "                          keyserver/iterations,\n"
        "                          keyserver/announce, keyserver/rotation-window,\n"
        "                          keyserver/metrics-bind, keyserver/log-level,\n"
        "                          keyserver/verbose, keyserver/limits/NAME);\n"
        "                          options override it; SIGHUP rereads\n"
        "                          log-level, iterations, the limits and\n"
        "                          mainserver-key\n"
        "  -a, --announce IFACE    announce the server by UDP beacon on IFACE\n"
        "                          (off unless given)\n"
        "  -i, --iterations N      PBKDF2 iterations for new registrations\n"
        "                          (default %d, at least %d)\n"
        "      --init              create the data directory, server key, its public\n"
        "                          key file and the server's own secret (what is\n"
        "                          missing), print the public file's path and the\n"
        "                          key's fingerprint, and exit\n"
        "      --rotate-key        replace the server key (in DIR, made by --init):\n"
        "                          keep the old one, make a new one and a statement\n"
        "                          signed by the old one that clients which pinned\n"
        "                          the old key accept; print the new public file's\n"
        "                          path and fingerprint and what to copy where,\n"
        "                          and exit\n"
        "      --rotation-window DAYS\n"
        "                          present the statement of the last --rotate-key\n"
        "                          this many days after it was made (default %d;\n"
        "                          0: never); read at start\n"
        "  -m, --metrics-bind HOST:PORT\n"
        "                          serve Prometheus metrics on\n"
        "                          http://HOST:PORT/metrics (off unless given;\n"
        "                          use a loopback address)\n"
        "  -l, --log-level LEVEL   error, warning, notice, info (default) or debug\n"
        "                          (every request too)\n"
        "      --limit SETTING     set an abuse limit, SETTING being NAME=VALUE\n"
        "                          (again for each; over the config file's);\n"
        "                          see below\n"
        "  -v, --verbose           the same as --log-level debug\n"
        "  -h, --help              show this and exit\n"
        "  -V, --version           show the version and exit\n"
        "\n"
        "Files in DIR: keyserver.db, server.key, keyserver.pub (public: copy it to the\n"
        "main server's host, for its --keyserver-key), keyserver.secret (never copied),\n"
        "admin.sock; after --rotate-key also server.rotation, server.key.old-TIME and\n"
        "keyserver-changeover.pub.\n"
        "Signals: SIGTERM/SIGINT stop, SIGHUP reloads.\n"
        "Exit status: 0 ok, 1 failure, 2 usage error.\n"
        "\n"
        "Limits (NAME and default; 0 turns a rate or cap off):\n",
        KEYSERVER_ITERATIONS, SCRAM_MIN_ITERATIONS, KEYROTATION_WINDOW_DAYS);
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

typedef struct {
    const char *bind;
    const char *data;
    const char *store;                  //  NULL: DIR/keyserver.db
    const char *mainserver_key;
    const char *announce;
    const char *iterations;
    const char *metrics_bind;
    const char *log_level;
    const char *rotation_window;
    int64_t rotation_days;          //  resolved
    zlist_t *limit_args;            //  each --limit, borrowed from argv
    serverlimits_t limits;          //  resolved: defaults, config, --limit
    zconfig_t *config;              //  owns the strings that came from it
} options_t;

//  What is in force: the command line, then the config file, then the
//  defaults. The same at start and on SIGHUP. 0, or 2 (usage) with the
//  reason said.
static int
s_options_resolve (options_t *opts, const options_t *cli, const char *config_path,
                   uint32_t *iterations)
{
    *opts = *cli;
    opts->config = NULL;
    if (config_path) {
        opts->config = zconfig_load (config_path);
        if (!opts->config) {
            service_complain ("chat-keyserver", "cannot read config file %s", config_path);
            return 2;
        }
        zconfig_t *root = opts->config;
        if (!opts->bind)
            opts->bind = zconfig_get (root, "keyserver/bind", NULL);
        if (!opts->data)
            opts->data = zconfig_get (root, "keyserver/data", NULL);
        if (!opts->store)
            opts->store = zconfig_get (root, "keyserver/store", NULL);
        if (!opts->mainserver_key)
            opts->mainserver_key = zconfig_get (root, "keyserver/mainserver-key", NULL);
        if (!opts->announce)
            opts->announce = zconfig_get (root, "keyserver/announce", NULL);
        if (!opts->iterations)
            opts->iterations = zconfig_get (root, "keyserver/iterations", NULL);
        if (!opts->metrics_bind)
            opts->metrics_bind = zconfig_get (root, "keyserver/metrics-bind", NULL);
        if (!opts->log_level)
            opts->log_level = zconfig_get (root, "keyserver/log-level", NULL);
        if (!opts->rotation_window)
            opts->rotation_window = zconfig_get (root, "keyserver/rotation-window", NULL);
        if (!opts->log_level && s_truthy (zconfig_get (root, "keyserver/verbose", NULL)))
            opts->log_level = "debug";
    }
    if (!opts->bind)
        opts->bind = DEFAULT_BIND;
    if (!opts->data)
        opts->data = DEFAULT_DATA;
    if (!opts->log_level || !*opts->log_level)
        opts->log_level = "info";
    if (opts->announce && !*opts->announce)
        opts->announce = NULL;
    if (opts->metrics_bind && !*opts->metrics_bind)
        opts->metrics_bind = NULL;
    *iterations = KEYSERVER_ITERATIONS;
    if (opts->iterations && s_parse_iterations (opts->iterations, iterations)) {
        service_complain ("chat-keyserver", "iterations must be %d..%d, not '%s'",
                 SCRAM_MIN_ITERATIONS, SCRAM_MAX_ITERATIONS, opts->iterations);
        return 2;
    }
    opts->rotation_days = KEYROTATION_WINDOW_DAYS;
    if (opts->rotation_window
    &&  keyrotation_parse_window (opts->rotation_window, &opts->rotation_days)) {
        service_complain ("chat-keyserver", "rotation-window must be 0..%d days, not '%s'",
                          KEYROTATION_WINDOW_MAX, opts->rotation_window);
        return 2;
    }
    if (logsink_level_parse (opts->log_level) < 0) {
        service_complain ("chat-keyserver", "log level '%s' is not error, warning, notice, "
                 "info or debug", opts->log_level);
        return 2;
    }
    //  Limits: defaults, then the config file, then each --limit in order
    char error [256];
    serverlimits_defaults (&opts->limits, SERVERLIMITS_KEYSERVER);
    if (serverlimits_load_config (&opts->limits, SERVERLIMITS_KEYSERVER, opts->config,
                                  "keyserver/limits", error, sizeof error) != 0
    ||  serverlimits_set_assignments (&opts->limits, SERVERLIMITS_KEYSERVER,
                                      opts->limit_args, error, sizeof error) != 0) {
        service_complain ("chat-keyserver", "%s", error);
        return 2;
    }
    return 0;
}

//  What may change while the server runs, at start and on SIGHUP: the log
//  level, the iteration count for new registrations and the limits. 0, or
//  -1 when a limit was refused.
static int
s_apply_runtime (zsock_t *server, const options_t *opts, uint32_t iterations)
{
    int level = logsink_level_parse (opts->log_level);
    logsink_set_level (level);
    zstr_sendx (server, "VERBOSE", level == LOG_DEBUG ? "1" : "0", NULL);
    char iterations_arg [16];
    snprintf (iterations_arg, sizeof iterations_arg, "%u", iterations);
    zstr_sendx (server, "ITERATIONS", iterations_arg, NULL);
    return serverlimits_send (&opts->limits, SERVERLIMITS_KEYSERVER, server, "chat-keyserver");
}

//  SIGHUP: the config file again; binds, the data directory and the store
//  stay as they are until a restart.
static int
s_reload (zsock_t *server, const char *config_path, void *cli)
{
    options_t opts;
    uint32_t iterations;
    int rc = s_options_resolve (&opts, (const options_t *) cli, config_path, &iterations);
    if (rc == 0)
        rc = s_apply_runtime (server, &opts, iterations);
    //  The main server's key file again: during its key's changeover it
    //  names two keys, after it the new one alone
    if (rc == 0 && opts.mainserver_key && *opts.mainserver_key) {
        zstr_sendx (server, "MAINSERVER-KEY", opts.mainserver_key, NULL);
        char *reply = service_recv (server);
        if (!reply || !streq (reply, "OK"))
            rc = -1;
        zstr_free (&reply);
    }
    if (rc == 0) {
        char *limits = serverlimits_summary (&opts.limits, SERVERLIMITS_KEYSERVER);
        zsys_info ("chat-keyserver: log level %s, %u iterations for new accounts, limits %s",
                   opts.log_level, iterations, limits);
        free (limits);
    }
    zconfig_destroy (&opts.config);
    return rc == 0 ? 0 : -1;
}

int
main (int argc, char *argv [])
{
    //  A SIGHUP (reload) from now on never ends the process
    service_init ();
    //  Every file the server makes is the server's alone, from birth
    umask (077);
    options_t cli = { 0 };
    const char *config = NULL;
    bool init = false;
    bool rotate = false;

    enum { OPT_INIT = 1000, OPT_LIMIT, OPT_ROTATE, OPT_ROTATION_WINDOW, OPT_STORE };
    static const struct option options [] = {
        { "bind",         required_argument, NULL, 'b' },
        { "data",         required_argument, NULL, 'd' },
        { "store",        required_argument, NULL, OPT_STORE },
        { "mainserver-key", required_argument, NULL, 'k' },
        { "config",       required_argument, NULL, 'c' },
        { "announce",     required_argument, NULL, 'a' },
        { "iterations",   required_argument, NULL, 'i' },
        { "metrics-bind", required_argument, NULL, 'm' },
        { "log-level",    required_argument, NULL, 'l' },
        { "init",         no_argument,       NULL, OPT_INIT },
        { "rotate-key",   no_argument,       NULL, OPT_ROTATE },
        { "rotation-window", required_argument, NULL, OPT_ROTATION_WINDOW },
        { "limit",        required_argument, NULL, OPT_LIMIT },
        { "verbose",      no_argument,       NULL, 'v' },
        { "help",         no_argument,       NULL, 'h' },
        { "version",      no_argument,       NULL, 'V' },
        { NULL, 0, NULL, 0 }
    };
    cli.limit_args = zlist_new ();
    int opt;
    while ((opt = getopt_long (argc, argv, "b:d:k:c:a:i:m:l:vhV", options, NULL)) != -1) {
        switch (opt) {
            case 'b': cli.bind = optarg; break;
            case 'd': cli.data = optarg; break;
            case OPT_STORE: cli.store = optarg; break;
            case 'k': cli.mainserver_key = optarg; break;
            case 'c': config = optarg; break;
            case 'a': cli.announce = optarg; break;
            case 'i': cli.iterations = optarg; break;
            case 'm': cli.metrics_bind = optarg; break;
            case 'l': cli.log_level = optarg; break;
            case OPT_INIT: init = true; break;
            case OPT_ROTATE: rotate = true; break;
            case OPT_ROTATION_WINDOW: cli.rotation_window = optarg; break;
            case OPT_LIMIT: zlist_append (cli.limit_args, optarg); break;
            case 'v': cli.log_level = "debug"; break;
            case 'h': s_usage (stdout); zlist_destroy (&cli.limit_args); return 0;
            case 'V': printf ("chat-keyserver %s\n", CHAT_VERSION);
                      zlist_destroy (&cli.limit_args); return 0;
            default:  s_usage (stderr); zlist_destroy (&cli.limit_args); return 2;
        }
    }
    if (optind < argc || (init && rotate)) {
        if (optind < argc)
            fprintf (stderr, "chat-keyserver: unexpected argument '%s'\n", argv [optind]);
        else
            fprintf (stderr, "chat-keyserver: --init and --rotate-key are two steps\n");
        s_usage (stderr);
        zlist_destroy (&cli.limit_args);
        return 2;
    }

    //  Logs go to stderr (the journal under systemd, with priorities)
    logsink_install ("chat-keyserver");

    //  Defaults, then the config file, then the command line
    options_t opts;
    uint32_t iterations;
    if (s_options_resolve (&opts, &cli, config, &iterations) != 0) {
        zconfig_destroy (&opts.config);
        zlist_destroy (&cli.limit_args);
        return 2;
    }
    const char *data = opts.data;

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
        zconfig_destroy (&opts.config);
        zlist_destroy (&cli.limit_args);
        return rc == 0? 0: 1;
    }
    if (rotate) {
        int rc = keyrotation_command (data, "keyserver", KEYSERVER_KEY_BITS,
                                      opts.rotation_days, (int64_t) time (NULL));
        zconfig_destroy (&opts.config);
        zlist_destroy (&cli.limit_args);
        return rc;
    }
    if (!opts.mainserver_key || !*opts.mainserver_key) {
        service_complain ("chat-keyserver", "the main server's public key is needed: copy "
                 "mainserver.pub from the main server's data directory (chat-mainserver "
                 "--init writes it) to this host and name it with --mainserver-key FILE "
                 "(or keyserver/mainserver-key in the config file)");
        zconfig_destroy (&opts.config);
        zlist_destroy (&cli.limit_args);
        return 2;
    }

    int status = 1;
    actorthread_t *actor = actorthread_new (keyserver_actor, NULL);
    assert (actor);
    zsock_t *server = actorthread_sock (actor);
    char *reply = NULL;
    if (s_apply_runtime (server, &opts, iterations) == 0) {
        zstr_sendx (server, "DATA", data, NULL);
        if (opts.store && *opts.store)
            zstr_sendx (server, "STORE", opts.store, NULL);
        zstr_sendx (server, "MAINSERVER-KEY", opts.mainserver_key, NULL);
        char days [24];
        snprintf (days, sizeof days, "%lld", (long long) opts.rotation_days);
        zstr_sendx (server, "ROTATION-WINDOW", days, NULL);
        zstr_send (server, "START");
        reply = service_recv (server);
    }
    if (reply && streq (reply, "OK")) {
        zstr_free (&reply);
        zstr_sendx (server, "BIND", opts.bind, NULL);
        reply = service_recv (server);
        if (reply && !streq (reply, "ERROR")) {
            printf ("%s\n", reply);
            fflush (stdout);
            char *endpoint = reply;
            reply = NULL;
            if (opts.metrics_bind) {
                zstr_sendx (server, "METRICS-BIND", opts.metrics_bind, NULL);
                reply = service_recv (server);
            }
            if (!opts.metrics_bind || (reply && !streq (reply, "ERROR"))) {
                if (opts.announce)
                    zstr_sendx (server, "ANNOUNCE", opts.announce, NULL);
                char *ready = zsys_sprintf ("serving on %s", endpoint);
                service_ready (ready);
                zstr_free (&ready);
                status = service_run (server, config, s_reload, &cli);
            }
            else
            if (reply || !zsys_interrupted)
                fprintf (stderr, "chat-keyserver: cannot serve metrics on %s\n",
                         opts.metrics_bind);
            else
                status = 0;
            zstr_free (&endpoint);
        }
        else
        if (reply || !zsys_interrupted)
            fprintf (stderr, "chat-keyserver: cannot bind %s\n", opts.bind);
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
    zconfig_destroy (&opts.config);
    zlist_destroy (&cli.limit_args);
    return status;
}
