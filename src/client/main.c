/*  chat - the terminal client: options, finding the servers, then the
    full-screen interface or plain line mode
*/
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "chatclient.h"
#include "plain.h"
#include "beacon.h"

#define DEFAULT_KEYSERVER  "tcp://127.0.0.1:5555"
#define DEFAULT_MAINSERVER "tcp://127.0.0.1:5556"

static void
s_help (FILE *out)
{
    fprintf (out,
"Usage: chat [OPTION]...\n"
"The secure chat client: a full-screen interface on a terminal, or plain\n"
"line mode (one command per line on stdin, one event per line on stdout)\n"
"with --plain or when stdin is not a terminal.\n"
"\n"
"Finding the servers:\n"
"  --keyserver ENDPOINT      key server, e.g. tcp://127.0.0.1:5555 (HOST:PORT\n"
"                            means tcp://HOST:PORT)\n"
"  --mainserver ENDPOINT     main server, e.g. tcp://127.0.0.1:5556; the\n"
"                            servers of one cluster (one database, one key):\n"
"                            repeat it or give A,B,...: one is chosen at\n"
"                            random, the next when it fails\n"
"  --push ENDPOINT           main server's push endpoint (default: the one\n"
"                            its signed Welcome names)\n"
"  --config FILE             read these from a ZPL file: client/keyserver,\n"
"                            client/mainserver, client/push,\n"
"                            client/pin_keyserver, client/pin_mainserver,\n"
"                            client/known_servers, client/known_users,\n"
"                            client/discover_timeout, client/refresh_interval\n"
"                            (any other setting is an error)\n"
"  --discover-timeout SECS   with no endpoints, listen this long for the\n"
"                            servers' beacons (default 5); every main server\n"
"                            heard is used as one cluster\n"
"  --refresh-interval SECS   re-list the conversations this often, to catch\n"
"                            what a lost push missed (default 30; messages\n"
"                            arrive live by push, not by this)\n"
"  Without endpoints (options or config) the client listens for beacons;\n"
"  with --local it uses " DEFAULT_KEYSERVER " and " DEFAULT_MAINSERVER ".\n"
"  --local                   use the default local endpoints, no discovery\n"
"\n"
"Server keys (trust on first use, refused when changed):\n"
"  --known-servers FILE      pin file (default\n"
"                            $XDG_CONFIG_HOME/chat/known_servers)\n"
"  --pin-keyserver SHA256:.. accept only this key server key\n"
"  --pin-mainserver SHA256:.. accept only this main server key\n"
"\n"
"Contacts' identity keys (trust on first use, a change is shown as a warning):\n"
"  --known-users FILE        pin file (default: known_users beside\n"
"                            known_servers)\n"
"\n"
"Interface:\n"
"  --plain                   plain line mode (see below and PLAIN.md); also\n"
"                            when the terminal cannot show the full-screen\n"
"                            interface (TERM=dumb)\n"
"  --json                    plain mode, one JSON object per line\n"
"  --verbose                 log connections on stderr\n"
"  -h, --help                this text\n"
"  --version                 the version\n"
"\n"
"Plain mode commands:\n");
    for (int i = 0; plain_help [i]; i++)
        fprintf (out, "  %s\n", plain_help [i]);
    fprintf (out,
"Every command ends with one line `ok COMMAND ...` or\n"
"`error CODE COMMAND MESSAGE`; `msg CONV SEQ SENDER UNIX_MS TEXT` lines\n"
"arrive whenever a message does, `event ...` lines on (re)connects and pins.\n"
"Exit status: 0 every command succeeded, 1 one failed, 2 usage error.\n");
}

static const char *s_config_keys [] = {
    "keyserver", "mainserver", "push", "pin_keyserver", "pin_mainserver",
    "known_servers", "known_users", "discover_timeout", "refresh_interval", NULL
};

//  The main server endpoints given: every --mainserver, or every
//  client/mainserver of the config file, each a comma-separated list.
typedef struct {
    char *given [CHATCLIENT_MAINSERVERS_MAX];     //  as given (HOST:PORT too)
    size_t count;
    bool too_many;
} mainservers_t;

//  Add each endpoint of a comma-separated list (empty items skipped, the
//  same endpoint once)
static void
s_mainservers_add (mainservers_t *list, const char *value)
{
    char *copy = strdup (value);
    char *save = NULL;
    for (char *item = strtok_r (copy, ", \t", &save); item;
         item = strtok_r (NULL, ", \t", &save)) {
        bool seen = false;
        for (size_t i = 0; i < list->count && !seen; i++)
            seen = streq (list->given [i], item);
        if (seen)
            continue;
        if (list->count == CHATCLIENT_MAINSERVERS_MAX)
            list->too_many = true;
        else
            list->given [list->count++] = strdup (item);
    }
    free (copy);
}

//  Static, so that an early exit leaves nothing unreachable behind
static mainservers_t mains;

//  Every client/mainserver of the config file (the key may repeat)
static void
s_mainservers_config (mainservers_t *list, zconfig_t *config)
{
    zconfig_t *client = zconfig_locate (config, "client");
    for (zconfig_t *item = client? zconfig_child (client): NULL; item;
         item = zconfig_next (item)) {
        const char *value = zconfig_value (item);
        if (zconfig_name (item) && streq (zconfig_name (item), "mainserver") && value)
            s_mainservers_add (list, value);
    }
}

static void
s_mainservers_clear (mainservers_t *list)
{
    for (size_t i = 0; i < list->count; i++)
        free (list->given [i]);
    list->count = 0;
}

static char *
s_config_get (zconfig_t *config, const char *path)
{
    if (!config)
        return NULL;
    char *value = zconfig_get (config, path, NULL);
    return value && *value ? value : NULL;
}

//  A whole number of seconds, 1..max.
static bool
s_seconds (const char *text, long max, int *seconds)
{
    char *end = NULL;
    long value = strtol (text, &end, 10);
    if (!end || end == text || *end || value < 1 || value > max)
        return false;
    *seconds = (int) value;
    return true;
}

//  The config file, or NULL with the reason on stderr: unreadable, not
//  ZPL (CZMQ's own complaint, caught and said with the file's name), or
//  holding a setting the client does not know (a typo would otherwise be
//  ignored without a word)
static zconfig_t *
s_config_load (const char *path)
{
    FILE *file = fopen (path, "r");
    if (!file) {
        fprintf (stderr, "chat: cannot read the config file %s: %s\n", path, strerror (errno));
        return NULL;
    }
    fclose (file);
    //  CZMQ's parser prints its complaint on stdout (zclock_log): catch it
    char said [256] = "";
    FILE *caught = tmpfile ();
    int saved = dup (STDOUT_FILENO);
    fflush (stdout);
    if (caught && saved >= 0)
        dup2 (fileno (caught), STDOUT_FILENO);
    //  (parsed from memory: CZMQ 4.2's zconfig_load leaks its zfile_t
    //  when the text is not ZPL)
    zchunk_t *chunk = zchunk_slurp (path, 0);
    zconfig_t *config = chunk? zconfig_chunk_load (chunk): NULL;
    zchunk_destroy (&chunk);
    fflush (stdout);
    if (saved >= 0) {
        dup2 (saved, STDOUT_FILENO);
        close (saved);
    }
    if (caught) {
        rewind (caught);
        size_t got = fread (said, 1, sizeof said - 1, caught);
        said [got] = 0;
        fclose (caught);
    }
    if (!config) {
        //  CZMQ says "... E (zconfig): (LINE) what"
        char *what = strstr (said, "(zconfig): (");
        int line = 0, skip = 0;
        if (what && sscanf (what, "(zconfig): (%d) %n", &line, &skip) == 1 && skip > 0) {
            what += skip;
            what [strcspn (what, "\n")] = 0;
            fprintf (stderr, "chat: the config file %s is not valid ZPL: line %d: %s\n",
                     path, line, what);
        }
        else
            fprintf (stderr, "chat: the config file %s is not valid ZPL\n", path);
        return NULL;
    }
    for (zconfig_t *section = zconfig_child (config); section;
         section = zconfig_next (section)) {
        const char *name = zconfig_name (section);
        if (!name || !streq (name, "client")) {
            fprintf (stderr, "chat: %s: unknown section '%s' (the client reads only "
                     "client/...)\n", path, name? name: "");
            zconfig_destroy (&config);
            return NULL;
        }
        for (zconfig_t *item = zconfig_child (section); item; item = zconfig_next (item)) {
            bool known = false;
            for (int i = 0; s_config_keys [i] && !known; i++)
                known = zconfig_name (item) && streq (zconfig_name (item), s_config_keys [i]);
            if (!known) {
                fprintf (stderr, "chat: %s: unknown setting 'client/%s' (known: keyserver, "
                         "mainserver, push, pin_keyserver, pin_mainserver, known_servers, "
                         "known_users, discover_timeout, refresh_interval)\n", path, zconfig_name (item)? zconfig_name (item): "");
                zconfig_destroy (&config);
                return NULL;
            }
        }
    }
    return config;
}

//  An endpoint as given: "tcp://HOST:PORT", or "HOST:PORT" meaning that.
//  A fresh string, or NULL with a message naming the option.
static char *
s_endpoint (const char *option, const char *value)
{
    if (!value)
        return NULL;
    if (strstr (value, "://")) {
        if (strncmp (value, "tcp://", 6) == 0 || strncmp (value, "ipc://", 6) == 0)
            return strdup (value);
    }
    else {
        const char *colon = strrchr (value, ':');
        if (colon && colon > value && colon [1]
        &&  strspn (colon + 1, "0123456789") == strlen (colon + 1)) {
            char *full = NULL;
            if (asprintf (&full, "tcp://%s", value) < 0)
                return NULL;
            return full;
        }
    }
    fprintf (stderr, "chat: %s wants tcp://HOST:PORT (or HOST:PORT), not '%s'\n",
             option, value);
    return NULL;
}

static bool
s_pin_ok (const char *pin)
{
    return !pin || (strncmp (pin, "SHA256:", 7) == 0 && strlen (pin) >= 20);
}

int
main (int argc, char **argv)
{
    enum {
        OPT_KEYSERVER = 256, OPT_MAINSERVER, OPT_PUSH, OPT_PIN_KEY, OPT_PIN_MAIN,
        OPT_KNOWN, OPT_CONFIG, OPT_DISCOVER, OPT_PLAIN, OPT_JSON, OPT_VERBOSE,
        OPT_HELP, OPT_VERSION, OPT_LOCAL, OPT_KNOWN_USERS, OPT_REFRESH
    };
    static const struct option options [] = {
        { "keyserver", required_argument, NULL, OPT_KEYSERVER },
        { "mainserver", required_argument, NULL, OPT_MAINSERVER },
        { "push", required_argument, NULL, OPT_PUSH },
        { "pin-keyserver", required_argument, NULL, OPT_PIN_KEY },
        { "pin-mainserver", required_argument, NULL, OPT_PIN_MAIN },
        { "known-servers", required_argument, NULL, OPT_KNOWN },
        { "known-users", required_argument, NULL, OPT_KNOWN_USERS },
        { "config", required_argument, NULL, OPT_CONFIG },
        { "discover-timeout", required_argument, NULL, OPT_DISCOVER },
        { "refresh-interval", required_argument, NULL, OPT_REFRESH },
        { "local", no_argument, NULL, OPT_LOCAL },
        { "plain", no_argument, NULL, OPT_PLAIN },
        { "json", no_argument, NULL, OPT_JSON },
        { "verbose", no_argument, NULL, OPT_VERBOSE },
        { "help", no_argument, NULL, OPT_HELP },
        { "version", no_argument, NULL, OPT_VERSION },
        { NULL, 0, NULL, 0 }
    };
    const char *keyserver = NULL, *mainserver = NULL, *push = NULL;
    const char *pin_key = NULL, *pin_main = NULL, *known = NULL, *known_users = NULL;
    const char *config_path = NULL, *discover_text = NULL, *refresh_text = NULL;
    bool plain = false, json = false, verbose = false, local = false;

    int opt;
    while ((opt = getopt_long (argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
            case OPT_KEYSERVER:  keyserver = optarg; break;
            case OPT_MAINSERVER: s_mainservers_add (&mains, optarg);
                                 mainserver = mains.count? mains.given [0]: optarg; break;
            case OPT_PUSH:       push = optarg; break;
            case OPT_PIN_KEY:    pin_key = optarg; break;
            case OPT_PIN_MAIN:   pin_main = optarg; break;
            case OPT_KNOWN:      known = optarg; break;
            case OPT_KNOWN_USERS: known_users = optarg; break;
            case OPT_CONFIG:     config_path = optarg; break;
            case OPT_DISCOVER:   discover_text = optarg; break;
            case OPT_REFRESH:    refresh_text = optarg; break;
            case OPT_LOCAL:      local = true; break;
            case OPT_PLAIN:      plain = true; break;
            case OPT_JSON:       json = plain = true; break;
            case OPT_VERBOSE:    verbose = true; break;
            case 'h':
            case OPT_HELP:
                s_help (stdout);
                return 0;
            case OPT_VERSION:
                printf ("chat %s\n", CHAT_VERSION);
                return 0;
            default:
                fprintf (stderr, "Try 'chat --help'.\n");
                return 2;
        }
    }
    if (optind < argc) {
        fprintf (stderr, "chat: unexpected argument '%s'\nTry 'chat --help'.\n", argv [optind]);
        return 2;
    }
    zsys_init ();
    zsys_set_logstream (stderr);
    zsys_set_logsystem (false);

    zconfig_t *config = NULL;
    const char *keyserver_option = "--keyserver", *mainserver_option = "--mainserver";
    const char *push_option = "--push";
    if (config_path) {
        config = s_config_load (config_path);
        if (!config)
            return 2;
        if (!keyserver)  keyserver_option = "client/keyserver in the config file";
        if (!mainserver) mainserver_option = "client/mainserver in the config file";
        if (!push)       push_option = "client/push in the config file";
        if (!keyserver)  keyserver = s_config_get (config, "client/keyserver");
        if (!mainserver) {
            s_mainservers_config (&mains, config);
            mainserver = mains.count? mains.given [0]: NULL;
        }
        if (!push)       push = s_config_get (config, "client/push");
        if (!pin_key)    pin_key = s_config_get (config, "client/pin_keyserver");
        if (!pin_main)   pin_main = s_config_get (config, "client/pin_mainserver");
        if (!known)      known = s_config_get (config, "client/known_servers");
        if (!known_users) known_users = s_config_get (config, "client/known_users");
        if (!discover_text) discover_text = s_config_get (config, "client/discover_timeout");
        if (!refresh_text) refresh_text = s_config_get (config, "client/refresh_interval");
    }
    int discover_timeout = 5, refresh_interval = 0;
    if (discover_text && !s_seconds (discover_text, 3600, &discover_timeout)) {
        fprintf (stderr, "chat: --discover-timeout wants 1..3600 seconds\n");
        zconfig_destroy (&config);
        return 2;
    }
    if (refresh_text && !s_seconds (refresh_text, 86400, &refresh_interval)) {
        fprintf (stderr, "chat: --refresh-interval wants 1..86400 seconds\n");
        zconfig_destroy (&config);
        return 2;
    }
    if (!s_pin_ok (pin_key) || !s_pin_ok (pin_main)) {
        fprintf (stderr, "chat: a pin looks like SHA256:<base64>, not '%s'\n",
                 s_pin_ok (pin_key) ? pin_main : pin_key);
        zconfig_destroy (&config);
        return 2;
    }
    if (mains.too_many) {
        fprintf (stderr, "chat: at most %d main server endpoints\n", CHATCLIENT_MAINSERVERS_MAX);
        zconfig_destroy (&config);
        return 2;
    }
    if (mains.count > 1 && push) {
        fprintf (stderr, "chat: %s names one main server's push endpoint: with several "
                 "main servers leave it out (each server's signed Welcome names its own)\n",
                 push_option);
        zconfig_destroy (&config);
        return 2;
    }
    if ((keyserver == NULL) != (mainserver == NULL)) {
        fprintf (stderr, "chat: give both --keyserver and --mainserver (or neither, to discover them)\n");
        zconfig_destroy (&config);
        return 2;
    }
    if (local && !keyserver) {
        keyserver = DEFAULT_KEYSERVER;
        mainserver = DEFAULT_MAINSERVER;
        s_mainservers_add (&mains, DEFAULT_MAINSERVER);
    }

    //  Endpoints without a scheme get tcp://; anything else is refused here,
    //  naming the option, rather than later with a puzzling complaint
    char *endpoints [3] = { NULL, NULL, NULL };
    const char *given [3] = { keyserver, mainserver, push };
    const char *options_named [3] = { keyserver_option, mainserver_option, push_option };
    for (int i = 0; i < 3; i++)
        if (given [i] && !(endpoints [i] = s_endpoint (options_named [i], given [i]))) {
            for (int j = 0; j < 3; j++)
                free (endpoints [j]);
            zconfig_destroy (&config);
            return 2;
        }
    if (endpoints [0])
        keyserver = endpoints [0];
    if (endpoints [1])
        mainserver = endpoints [1];
    if (endpoints [2])
        push = endpoints [2];
    //  the cluster's endpoints, each checked the same way
    for (size_t i = 0; i < mains.count; i++) {
        char *full = s_endpoint (mainserver_option, mains.given [i]);
        if (!full) {
            for (int j = 0; j < 3; j++)
                free (endpoints [j]);
            zconfig_destroy (&config);
            return 2;
        }
        free (mains.given [i]);
        mains.given [i] = full;
    }

    chatclient_config_t cc;
    memset (&cc, 0, sizeof (cc));
    beacon_info_t found_key, found_main [CHATCLIENT_MAINSERVERS_MAX];
    size_t found_mains = 0;
    if (!keyserver) {
        fprintf (stderr, "chat: looking for chat servers (up to %d s)...\n", discover_timeout);
        if (beacon_discover_all (BEACON_PORT, discover_timeout * 1000, BEACON_LINGER_MS,
                                 &found_key, found_main, CHATCLIENT_MAINSERVERS_MAX,
                                 &found_mains) != 0) {
            if (found_key.role [0] || found_mains > 0)
                fprintf (stderr, "chat: only the %s answered within %d s; "
                         "give --keyserver and --mainserver\n",
                         found_key.role [0] ? "key server" : "main server",
                         discover_timeout);
            else
                fprintf (stderr, "chat: no chat servers answered within %d s; "
                         "give --keyserver and --mainserver (or --local)\n",
                         discover_timeout);
            zconfig_destroy (&config);
            for (int j = 0; j < 3; j++)
                free (endpoints [j]);
            return 1;
        }
        keyserver = found_key.endpoint;
        mainserver = found_main [0].endpoint;
        //  every main server heard: one cluster, one pin (the name below)
        for (size_t i = 0; i < found_mains; i++)
            s_mainservers_add (&mains, found_main [i].endpoint);
        //  the beacon's push endpoint is never used: the main server's
        //  signed Welcome names its own, and a beacon is anyone's to send
        cc.keyserver_pin_name = "keyserver@discovery";
        cc.mainserver_pin_name = "mainserver@discovery";
        if (verbose)
            for (size_t i = 0; i < mains.count; i++)
                fprintf (stderr, "chat: found key server %s and main server %s\n",
                         keyserver, mains.given [i]);
    }
    cc.keyserver = keyserver;
    cc.mainserver = mainserver;
    cc.mainservers = (const char *const *) mains.given;
    cc.mainserver_count = mains.count;
    cc.push = push;
    cc.keyserver_pin = pin_key;
    cc.mainserver_pin = pin_main;
    cc.known_servers = known;
    cc.known_users = known_users;
    cc.refresh_interval_ms = refresh_interval * 1000;
    cc.verbose = verbose;

    chatclient_t *client = chatclient_new (&cc);
    zconfig_destroy (&config);
    s_mainservers_clear (&mains);
    for (int j = 0; j < 3; j++)
        free (endpoints [j]);
    if (!client)
        return 1;

    int rc;
    bool tty = isatty (STDIN_FILENO) && isatty (STDOUT_FILENO);
#ifdef CHAT_HAVE_TUI
    char why [160];
    if (!plain && tty && !tui_possible (why, sizeof why)) {
        fprintf (stderr, "chat: %s; using plain mode (type help)\n", why);
        plain = true;
    }
    if (!plain && tty)
        rc = tui_run (client, verbose);
    else
#endif
    {
#ifndef CHAT_HAVE_TUI
        if (!plain && tty)
            fprintf (stderr, "chat: this build has no full-screen interface; "
                     "using plain mode (type help)\n");
#endif
        plain_options_t po = { .json = json, .in_fd = STDIN_FILENO, .out = stdout };
        rc = plain_run (client, &po);
    }
    chatclient_destroy (&client);
    return rc;
}
