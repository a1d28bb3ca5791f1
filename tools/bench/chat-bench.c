/*  chat-bench - measures the chat servers against this machine's ceilings
    and the targets of issue 8

    It starts real servers as child processes on 127.0.0.1 (free ports, a
    scratch data directory), or uses the endpoints it is given, and drives
    them with in-process clients. Every figure is printed beside the ceiling
    it is bound by and its target.
*/
#include <getopt.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <czmq.h>
#include "chaterror.h"
#include "bench.h"
#include "benchserver.h"

#ifndef CHAT_VERSION
#   define CHAT_VERSION "0.0.0"
#endif
#define EXIT_USAGE 2

typedef struct {
    const char *name;
    int (*run) (bench_t *bench);
    const char *what;
} scenario_t;

static const scenario_t s_scenarios [] = {
    { "handshake",    bench_handshake,    "new secure channels per second, one server" },
    { "login",        bench_login,        "registrations and logins per second" },
    { "create",       bench_create,       "N members: create (N wraps, upload), re-key, "
                                          "catch-up" },
    { "messages",     bench_messages,     "C real clients in K conversations: rate, latency,\n"
                                          "               clients' CPU (runs messages-raw too)" },
    { "messages-raw", bench_messages_raw, "the messages shape on light raw sessions (tokens\n"
                                          "               signed beforehand): the main server's\n"
                                          "               rate, CPU per message and latency" },
    { "fanout",       bench_fanout,       "one sender, a group of N members, pushes per second" },
    { "peers",        bench_peers,        "Mosquitto (TLS, QoS 1, persistence) in the shapes of\n"
                                          "               messages and fanout, and chat / Mosquitto\n"
                                          "               (runs messages, messages-raw, fanout)" },
    { "history",      bench_history,      "a page from a conversation of 1,000,000 messages" },
    { "sessions",     bench_sessions,     "server memory per idle logged-in session" },
    { "shutdown",     bench_shutdown,     "SIGTERM to exit with 1,000 sessions" },
    { "cluster",      bench_cluster,      "N main servers on one PostgreSQL database (--store):\n"
                                          "               rate, send->push on the sender's and "
                                          "the others" },
    { "abuse",        bench_abuse,        "a real user's login and round trips, quiet and\n"
                                          "               under attack (Hello flood, "
                                          "never-reading subscribers)" },
};
#define SCENARIOS (sizeof (s_scenarios) / sizeof (s_scenarios [0]))

static void
s_usage (FILE *out)
{
    fprintf (out,
        "Usage: chat-bench [OPTION]... [SCENARIO]...\n"
        "Measure the chat servers against this machine's ceilings and the targets.\n"
        "\n"
        "Scenarios (default: all; the ceilings are always measured first):\n"
        "  all          every scenario below\n"
        "  ceiling      RSA-2048 signatures and verifications, Fernet (AES-128-CBC+\n"
        "               HMAC-SHA256; one-shot, and with the key kept at 256 B and at\n"
        "               a push's size), PBKDF2, raw ZMQ DEALER->ROUTER rate and round\n"
        "               trip, fdatasync, the store alone (one message of a commit\n"
        "               of 32)\n");
    for (size_t i = 0; i < SCENARIOS; i++)
        fprintf (out, "  %-12s %s\n", s_scenarios [i].name, s_scenarios [i].what);
    fprintf (out,
        "\n"
        "Options:\n"
        "  -q, --quick                tiny sizes (a smoke run, figures meaningless)\n"
        "  -j, --json                 print JSON instead of the table\n"
        "      --handshakes N         handshakes to time (2000)\n"
        "      --logins N             registrations+logins to time (100)\n"
        "      --iterations N         PBKDF2 iterations for registrations (4096)\n"
        "      --clients N            messages, messages-raw: clients, raw sessions (100)\n"
        "      --conversations N      messages, messages-raw: conversations (20)\n"
        "      --window N             messages, messages-raw: sends in flight per client\n"
        "                             (8)\n"
        "      --rate N               messages, messages-raw: only the fixed-rate phase,\n"
        "                             N messages/s (default: as fast as acks allow, then\n"
        "                             5000/s, 500/s with --quick); peers: its fixed rate\n"
        "      --duration SECONDS     messages, messages-raw: length of each phase (5)\n"
        "      --members N            fanout and create: group size (256)\n"
        "      --fanout-messages N    fanout: messages sent into the group (200)\n"
        "      --history N            history: messages in the conversation (1000000)\n"
        "      --fetches N            history: pages fetched (100)\n"
        "      --sessions N           sessions: idle sessions (10000)\n"
        "      --shutdown-sessions N  shutdown: sessions connected (1000)\n"
        "      --keyserver-bin PATH   chat-keyserver to start (default: beside this build)\n"
        "      --mainserver-bin PATH  chat-mainserver to start\n"
        "      --keyserver EP         use a running key server at EP (with --mainserver,\n"
        "      --mainserver EP        --push): nothing is started; raw-client scenarios\n"
        "      --push EP              need --keyserver-private, memory and shutdown are\n"
        "                             skipped\n"
        "      --keyserver-private FILE\n"
        "                             the given key server's private key (its\n"
        "                             server.key): raw clients' certificates are\n"
        "                             signed with it\n"
        "      --mainservers N        cluster: main servers sharing the store (2)\n"
        "      --store URL            cluster: their store, postgresql://..., or sqlite\n"
        "                             (one main server); without it the cluster\n"
        "                             scenario is not run, and says so\n"
        "      --mosquitto-bin PATH   peers: the mosquitto broker to start (default:\n"
        "                             /usr/sbin/mosquitto, else on PATH; none: the\n"
        "                             peers rows are skipped, and say so)\n"
        "      --keep                 keep the scratch directory (its path is printed)\n"
        "  -v, --verbose              say what is going on, on stderr\n"
        "  -h, --help                 show this help and exit\n"
        "  -V, --version              show the version and exit\n"
        "\n"
        "Floors (rows 'floor', from the ceilings of the same run, keys kept): the\n"
        "main server per message = open the Send + seal the reply + one push seal\n"
        "per other member + the store's CPU for one message of a commit of 32; per\n"
        "push = one seal; clients per message = seal the body and the Send + one\n"
        "RSA signature + open the reply + per receiver open the push and the body\n"
        "and verify the signature. The CPU rows of messages, messages-raw and\n"
        "fanout carry their floor as the bound: ratio = cost / floor.\n"
        "Loads: messages drives the main server with real clients (chatclient_t:\n"
        "each signs every message it sends and opens and verifies every one it\n"
        "gets, on the same cores): its rows measure clients' CPU, and the load\n"
        "bounds the server's. messages-raw has the same shape on light raw\n"
        "sessions: tokens made and signed before the timed phases, each Send only\n"
        "sealed on its channel and sent, each push opened (channel token) but no\n"
        "body opened nor signature verified: its rows measure the main server.\n"
        "Peers (rows 'peers'): Mosquitto's figures (libmosquitto clients), then\n"
        "chat's over Mosquitto's (bound 'mosquitto': ratio = chat / Mosquitto):\n"
        "msgs/s and send->push p99 at the fixed rate (5000/s; 500/s with --quick;\n"
        "--rate N) under the raw load (light clients on both sides; the ones held\n"
        "to the targets) and under real clients, and fan-out deliveries/s (raw\n"
        "members).\n"
        "\n"
        "A progress bar is drawn on stderr when it is a terminal.\n"
        "Exit status: 0 every scenario ran (targets met or not), 1 a scenario\n"
        "failed, 2 bad usage.\n");
}

//  ---------------------------------------------------------------- shared helpers

int64_t
bench_now_ns (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int
bench_fixed_rate (bench_t *bench)
{
    if (bench->rate)
        return bench->rate;
    return bench->quick? BENCH_QUICK_RATE: (int) TARGET_PUSH_RATE;
}

double
bench_seconds_since (int64_t start_ns)
{
    return (double) (bench_now_ns () - start_ns) / 1e9;
}

double
bench_cpu_ms (void)
{
    struct rusage usage;
    if (getrusage (RUSAGE_SELF, &usage) != 0)
        return -1;
    return (double) (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1e3
         + (double) (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e3;
}

static rsakey_t *s_client_key;

rsakey_t *
bench_client_key (void)
{
    if (!s_client_key)
        s_client_key = rsakey_generate (2048);
    return s_client_key;
}

static rsakey_t *s_server_keys [2];

bool
bench_servers_local (bench_t *bench)
{
    return bench->mainserver == NULL;
}

int
bench_servers_prepare (bench_t *bench, const char *name, bench_servers_t *servers)
{
    memset (servers, 0, sizeof *servers);
    if (!bench_servers_local (bench))
        return 0;
    servers->dir = zsys_sprintf ("%s/%s", bench->tmpdir, name);
    servers->ms_dir = zsys_sprintf ("%s/ms", servers->dir);
    if (mkdir (servers->dir, 0700) != 0 && errno != EEXIST)
        return -1;
    if (mkdir (servers->ms_dir, 0700) != 0 && errno != EEXIST)
        return -1;
    return 0;
}

//  The main server's limits that would cap what a scenario measures, off;
//  room for "--store URL" after them
#define NO_MAIN_LIMITS \
    "--limit", "handshakes_per_second=0", "--limit", "handshakes_per_second_per_address=0", \
    "--limit", "handshakes_pending=0", "--limit", "sessions=0", \
    "--limit", "sessions_per_address=0", "--limit", "sessions_per_user=0", \
    "--limit", "messages_per_second=0", "--limit", "bytes_per_day=0", \
    "--limit", "conversations_per_hour=0", "--limit", "push_hwm=100000", \
    "--limit", "push_queue_bytes=0", "--limit", "login_timeout_ms=0"
static const char *const no_main_limits [] = { NO_MAIN_LIMITS, NULL };

struct _benchserver_t *
bench_mainserver_start (bench_t *bench, const char *dir, const char *url)
{
    const char *extra [] = { NO_MAIN_LIMITS, url? "--store": NULL, url, NULL };
    return benchserver_start (BENCHSERVER_MAINSERVER, bench->mainserver_bin, dir,
                              s_server_keys [1], bench->keyserver_public, 0, extra);
}

int
bench_servers_start (bench_t *bench, const char *name, bench_servers_t *servers,
                     bool keyserver, bool mainserver)
{
    if (!bench_servers_local (bench)) {
        if (keyserver && !bench->keyserver) {
            benchreport_fail (bench->report, name, "needs --keyserver");
            return -1;
        }
        if (keyserver)
            servers->keyserver = benchserver_external (BENCHSERVER_KEYSERVER,
                                                       bench->keyserver, NULL);
        if (mainserver)
            servers->mainserver = benchserver_external (BENCHSERVER_MAINSERVER,
                                                        bench->mainserver, bench->push);
        return 0;
    }
    if (!servers->dir && bench_servers_prepare (bench, name, servers) != 0) {
        benchreport_fail (bench->report, name, "cannot make the data directories");
        return -1;
    }
    //  What the capacity scenarios measure must not be capped by the
    //  limits that protect a server from strangers: they come from one
    //  address, as one user, as fast as they can. The key server's login
    //  timeout too: 100 clients making their identity keys at once on this
    //  machine's cores may take longer than it to come to their logins,
    //  and a session dropped between a login's two steps fails that login
    static const char *const no_limits [] = {
        "--limit", "handshakes_per_second=0", "--limit", "handshakes_per_second_per_address=0",
        "--limit", "handshakes_pending=0", "--limit", "sessions=0",
        "--limit", "sessions_per_address=0", "--limit", "sessions_per_user=0",
        "--limit", "login_timeout_ms=0", NULL
    };
    if (keyserver) {
        char *dir = zsys_sprintf ("%s/ks", servers->dir);
        servers->keyserver = benchserver_start (BENCHSERVER_KEYSERVER, bench->keyserver_bin,
                                                dir, s_server_keys [0],
                                                bench->mainserver_public, bench->iterations,
                                                servers->default_limits ? NULL : no_limits);
        free (dir);
        if (!servers->keyserver) {
            benchreport_fail (bench->report, name, "the key server did not start");
            return -1;
        }
    }
    if (mainserver) {
        servers->mainserver = benchserver_start (BENCHSERVER_MAINSERVER, bench->mainserver_bin,
                                                 servers->ms_dir, s_server_keys [1],
                                                 bench->keyserver_public, 0,
                                                 servers->default_limits ? NULL
                                                                         : no_main_limits);
        if (!servers->mainserver) {
            benchreport_fail (bench->report, name, "the main server did not start");
            benchserver_destroy (&servers->keyserver);
            return -1;
        }
    }
    //  With the pids, to profile a server during a scenario (perf -p)
    if (bench->verbose)
        fprintf (stderr, "chat-bench: %s: servers %s (pid %ld) %s (pid %ld)\n", name,
                 servers->keyserver? benchserver_endpoint (servers->keyserver): "-",
                 servers->keyserver? (long) benchserver_pid (servers->keyserver): 0L,
                 servers->mainserver? benchserver_endpoint (servers->mainserver): "-",
                 servers->mainserver? (long) benchserver_pid (servers->mainserver): 0L);
    return 0;
}

void
bench_servers_stop (bench_servers_t *servers)
{
    benchserver_destroy (&servers->keyserver);
    benchserver_destroy (&servers->mainserver);
    zstr_free (&servers->dir);
    zstr_free (&servers->ms_dir);
}

int
bench_certificate (bench_t *bench, int purpose, const char *username,
                   uint8_t **token, size_t *len)
{
    if (!bench->keyserver_key || !bench->identity)
        return CHAT_ERR_BAD_CERTIFICATE;
    return credential_cert_issue (bench->keyserver_key, purpose, username,
                                  rsakey_fingerprint (bench_client_key ()), bench->identity,
                                  wire_now (), token, len);
}

//  The servers' key pairs, made once, and their public key files in the
//  scratch directory (what an operator copies from one to the other)
static int
s_server_keys_make (bench_t *bench)
{
    for (int i = 0; i < 2; i++)
        if (!s_server_keys [i])
            s_server_keys [i] = rsakey_generate (2048);
    if (!s_server_keys [0] || !s_server_keys [1])
        return -1;
    bench->keyserver_public = zsys_sprintf ("%s/keyserver.pub", bench->tmpdir);
    bench->mainserver_public = zsys_sprintf ("%s/mainserver.pub", bench->tmpdir);
    if (rsakey_save_public (s_server_keys [0], bench->keyserver_public)
    ||  rsakey_save_public (s_server_keys [1], bench->mainserver_public))
        return -1;
    bench->keyserver_key = s_server_keys [0];
    return 0;
}

//  ---------------------------------------------------------------- setup

//  The server binaries of this build: compiled in, else beside us.
static char *
s_default_bin (const char *compiled, const char *relative)
{
    if (compiled && *compiled && access (compiled, X_OK) == 0)
        return strdup (compiled);
    char self [PATH_MAX];
    ssize_t len = readlink ("/proc/self/exe", self, sizeof self - 1);
    if (len <= 0)
        return NULL;
    self [len] = 0;
    char *slash = strrchr (self, '/');
    if (slash)
        *slash = 0;
    char *path = zsys_sprintf ("%s/%s", self, relative);
    if (access (path, X_OK) == 0)
        return path;
    free (path);
    return NULL;
}

#ifndef BENCH_KEYSERVER_BIN
#   define BENCH_KEYSERVER_BIN ""
#endif
#ifndef BENCH_MAINSERVER_BIN
#   define BENCH_MAINSERVER_BIN ""
#endif

static void
s_remove_tree (const char *path)
{
    //  Our own scratch directory only: made by mkdtemp under /tmp
    zdir_t *dir = zdir_new (path, NULL);
    if (dir) {
        zdir_remove (dir, true);
        zdir_destroy (&dir);
    }
    rmdir (path);
}

static double
s_loadavg (void)
{
    double load = -1;
    FILE *file = fopen ("/proc/loadavg", "r");
    if (file) {
        if (fscanf (file, "%lf", &load) != 1)
            load = -1;
        fclose (file);
    }
    return load;
}

static int
s_positive (const char *text, int *value, const char *option)
{
    char *end = NULL;
    errno = 0;
    long n = strtol (text, &end, 10);
    if (errno || !end || *end || end == text || n < 0 || n > INT_MAX) {
        fprintf (stderr, "chat-bench: %s wants a number, not '%s'\n", option, text);
        return -1;
    }
    *value = (int) n;
    return 0;
}

int
main (int argc, char *argv [])
{
    enum {
        OPT_HANDSHAKES = 1000, OPT_LOGINS, OPT_ITERATIONS, OPT_CLIENTS, OPT_CONVERSATIONS,
        OPT_WINDOW, OPT_RATE, OPT_DURATION, OPT_MEMBERS, OPT_FANOUT_MESSAGES, OPT_HISTORY,
        OPT_FETCHES, OPT_SESSIONS, OPT_SHUTDOWN_SESSIONS, OPT_KS_BIN, OPT_MS_BIN,
        OPT_KEYSERVER, OPT_MAINSERVER, OPT_PUSH, OPT_KS_PRIVATE, OPT_KEEP,
        OPT_MAINSERVERS, OPT_STORE, OPT_MOSQUITTO_BIN
    };
    static const struct option options [] = {
        { "quick",             no_argument,       NULL, 'q' },
        { "json",              no_argument,       NULL, 'j' },
        { "handshakes",        required_argument, NULL, OPT_HANDSHAKES },
        { "logins",            required_argument, NULL, OPT_LOGINS },
        { "iterations",        required_argument, NULL, OPT_ITERATIONS },
        { "clients",           required_argument, NULL, OPT_CLIENTS },
        { "conversations",     required_argument, NULL, OPT_CONVERSATIONS },
        { "window",            required_argument, NULL, OPT_WINDOW },
        { "rate",              required_argument, NULL, OPT_RATE },
        { "duration",          required_argument, NULL, OPT_DURATION },
        { "members",           required_argument, NULL, OPT_MEMBERS },
        { "fanout-messages",   required_argument, NULL, OPT_FANOUT_MESSAGES },
        { "history",           required_argument, NULL, OPT_HISTORY },
        { "fetches",           required_argument, NULL, OPT_FETCHES },
        { "sessions",          required_argument, NULL, OPT_SESSIONS },
        { "shutdown-sessions", required_argument, NULL, OPT_SHUTDOWN_SESSIONS },
        { "keyserver-bin",     required_argument, NULL, OPT_KS_BIN },
        { "mainserver-bin",    required_argument, NULL, OPT_MS_BIN },
        { "keyserver",         required_argument, NULL, OPT_KEYSERVER },
        { "mainserver",        required_argument, NULL, OPT_MAINSERVER },
        { "push",              required_argument, NULL, OPT_PUSH },
        { "keyserver-private", required_argument, NULL, OPT_KS_PRIVATE },
        { "keep",              no_argument,       NULL, OPT_KEEP },
        { "mainservers",       required_argument, NULL, OPT_MAINSERVERS },
        { "store",             required_argument, NULL, OPT_STORE },
        { "mosquitto-bin",     required_argument, NULL, OPT_MOSQUITTO_BIN },
        { "verbose",           no_argument,       NULL, 'v' },
        { "help",              no_argument,       NULL, 'h' },
        { "version",           no_argument,       NULL, 'V' },
        { NULL, 0, NULL, 0 }
    };
    //  Options are read twice: --quick first sets the sizes, then the
    //  explicit sizes win whatever their order.
    bool quick = false, json = false;
    int opt;
    opterr = 0;
    while ((opt = getopt_long (argc, argv, "qjvhV", options, NULL)) != -1)
        if (opt == 'q')
            quick = true;
    bench_t bench = {
        .quick = quick,
        .handshakes = quick? 40: 2000,
        .handshake_sockets = 4,
        .logins = quick? 4: 100,
        .login_clients = quick? 2: 4,
        .iterations = 4096,
        .clients = quick? 4: 100,
        .conversations = quick? 2: 20,
        .window = 8,
        .duration_ms = quick? 500: 5000,
        .rate = 0,
        .fanout_members = quick? 8: 256,
        .fanout_messages = quick? 10: 200,
        .history_size = quick? 2000: 1000000,
        .history_fetches = quick? 10: 100,
        .history_page = 100,
        .sessions = quick? 100: 10000,
        .sessions_per_socket = 100,
        .shutdown_sessions = quick? 50: 1000,
        .mainservers = 2,
        .ceiling_seconds = quick? 0.1: 1.0,
    };
    const char *ks_bin = NULL, *ms_bin = NULL;
    optind = 1;
    opterr = 1;
    int rc = 0;
    while (rc == 0 && (opt = getopt_long (argc, argv, "qjvhV", options, NULL)) != -1) {
        switch (opt) {
            case 'q': break;
            case 'j': json = true; break;
            case 'v': bench.verbose = true; break;
            case 'h': s_usage (stdout); rc = 1; break;
            case 'V': printf ("chat-bench %s\n", CHAT_VERSION); rc = 1; break;
            case OPT_HANDSHAKES: rc = s_positive (optarg, &bench.handshakes, "--handshakes"); break;
            case OPT_LOGINS: rc = s_positive (optarg, &bench.logins, "--logins"); break;
            case OPT_ITERATIONS: rc = s_positive (optarg, &bench.iterations, "--iterations"); break;
            case OPT_CLIENTS: rc = s_positive (optarg, &bench.clients, "--clients"); break;
            case OPT_CONVERSATIONS: rc = s_positive (optarg, &bench.conversations, "--conversations"); break;
            case OPT_WINDOW: rc = s_positive (optarg, &bench.window, "--window"); break;
            case OPT_RATE: rc = s_positive (optarg, &bench.rate, "--rate"); break;
            case OPT_DURATION: {
                int seconds = 0;
                rc = s_positive (optarg, &seconds, "--duration");
                bench.duration_ms = seconds * 1000;
                break;
            }
            case OPT_MEMBERS: rc = s_positive (optarg, &bench.fanout_members, "--members"); break;
            case OPT_FANOUT_MESSAGES: rc = s_positive (optarg, &bench.fanout_messages, "--fanout-messages"); break;
            case OPT_HISTORY: rc = s_positive (optarg, &bench.history_size, "--history"); break;
            case OPT_FETCHES: rc = s_positive (optarg, &bench.history_fetches, "--fetches"); break;
            case OPT_SESSIONS: rc = s_positive (optarg, &bench.sessions, "--sessions"); break;
            case OPT_SHUTDOWN_SESSIONS: rc = s_positive (optarg, &bench.shutdown_sessions, "--shutdown-sessions"); break;
            case OPT_KS_BIN: ks_bin = optarg; break;
            case OPT_MS_BIN: ms_bin = optarg; break;
            case OPT_KEYSERVER: bench.keyserver = strdup (optarg); break;
            case OPT_MAINSERVER: bench.mainserver = strdup (optarg); break;
            case OPT_PUSH: bench.push = strdup (optarg); break;
            case OPT_KS_PRIVATE: bench.keyserver_private = strdup (optarg); break;
            case OPT_KEEP: bench.keep = true; break;
            case OPT_MAINSERVERS: rc = s_positive (optarg, &bench.mainservers, "--mainservers"); break;
            case OPT_STORE: free (bench.store); bench.store = strdup (optarg); break;
            case OPT_MOSQUITTO_BIN:
                free (bench.mosquitto_bin);
                bench.mosquitto_bin = strdup (optarg);
                break;
            default: rc = -1; break;
        }
    }
    //  Sizes that make no sense
    if (rc == 0 && (bench.handshakes < 1 || bench.logins < 1 || bench.clients < 2
                ||  bench.conversations < 1 || bench.window < 1 || bench.duration_ms < 100
                ||  bench.fanout_members < 2 || bench.fanout_members > 256
                ||  bench.fanout_messages < 1 || bench.history_size < 1
                ||  bench.history_fetches < 1 || bench.sessions < 1
                ||  bench.shutdown_sessions < 1 || bench.iterations < 4096
                ||  bench.mainservers < 1 || bench.mainservers > 8)) {
        fprintf (stderr, "chat-bench: a size is out of range (clients >= 2, members 2..256, "
                         "iterations >= 4096, duration >= 1, mainservers 1..8, "
                         "others >= 1)\n");
        rc = -1;
    }
    if (rc == 0 && bench.clients < 2 * bench.conversations) {
        fprintf (stderr, "chat-bench: --clients must be at least twice --conversations\n");
        rc = -1;
    }
    if (rc == 0 && bench.mainserver && !bench.push) {
        fprintf (stderr, "chat-bench: --mainserver needs --push too\n");
        rc = -1;
    }
    bool wanted [SCENARIOS + 1] = { false };    //  last: ceiling
    bool any = false;
    for (int i = optind; rc == 0 && i < argc; i++) {
        if (streq (argv [i], "all")) {
            for (size_t s = 0; s <= SCENARIOS; s++)
                wanted [s] = true;
            any = true;
            continue;
        }
        if (streq (argv [i], "ceiling")) {
            wanted [SCENARIOS] = any = true;
            continue;
        }
        size_t s;
        for (s = 0; s < SCENARIOS; s++)
            if (streq (argv [i], s_scenarios [s].name))
                break;
        if (s == SCENARIOS) {
            fprintf (stderr, "chat-bench: no scenario '%s'\n", argv [i]);
            rc = -1;
        }
        else
            wanted [s] = any = true;
    }
    if (rc != 0) {
        //  rc 1: --help or --version answered, the options before them kept
        if (rc < 0)
            fprintf (stderr, "Try 'chat-bench --help'.\n");
        free (bench.keyserver); free (bench.mainserver); free (bench.push);
        free (bench.store);
        free (bench.keyserver_private);
        free (bench.mosquitto_bin);
        return rc < 0 ? EXIT_USAGE : 0;
    }
    if (!any)
        for (size_t s = 0; s <= SCENARIOS; s++)
            wanted [s] = true;
    //  peers sets chat's figures of this very run beside Mosquitto's; the
    //  messages shape is measured under both loads (real clients bound it
    //  long before the server: messages-raw measures the server)
    for (size_t s = 0; s < SCENARIOS; s++)
        if (wanted [s] && s_scenarios [s].run == bench_peers)
            for (size_t t = 0; t < SCENARIOS; t++)
                if (s_scenarios [t].run == bench_messages || s_scenarios [t].run == bench_fanout)
                    wanted [t] = true;
    for (size_t s = 0; s < SCENARIOS; s++)
        if (wanted [s] && s_scenarios [s].run == bench_messages)
            for (size_t t = 0; t < SCENARIOS; t++)
                if (s_scenarios [t].run == bench_messages_raw)
                    wanted [t] = true;

    zsys_init ();
    zsys_set_logstream (stderr);            //  stdout is the report's
    zsys_set_max_sockets (0);               //  the OS limit, not 1023
    zsys_set_linger (0);
    int status = 0;
    bench.report = benchreport_new ();

    //  A scratch directory always (known_servers, the fsync probe); the
    //  servers we start live in it too, and their public key files. The
    //  path is short because ipc:// paths are limited to about 100 bytes
    char template [] = "/tmp/chat-bench.XXXXXX";
    if (!mkdtemp (template)) {
        fprintf (stderr, "chat-bench: cannot make a scratch directory: %s\n",
                 strerror (errno));
        benchreport_destroy (&bench.report);
        return 1;
    }
    bench.tmpdir = strdup (template);
    if (bench_servers_local (&bench)) {
        bench.keyserver_bin = ks_bin? strdup (ks_bin)
                            : s_default_bin (BENCH_KEYSERVER_BIN, "chat-keyserver");
        bench.mainserver_bin = ms_bin? strdup (ms_bin)
                             : s_default_bin (BENCH_MAINSERVER_BIN, "chat-mainserver");
        if (s_server_keys_make (&bench) != 0) {
            fprintf (stderr, "chat-bench: cannot make the servers' keys in %s\n",
                     bench.tmpdir);
            status = 1;
        }
    }
    else
    if (bench.keyserver_private) {
        bench.keyserver_key = rsakey_load (bench.keyserver_private);
        if (!bench.keyserver_key)
            fprintf (stderr, "chat-bench: cannot read the key server's private key %s\n",
                     bench.keyserver_private);
    }
    bench.identity = rsakey_generate (2048);
    if (!bench.identity) {
        fprintf (stderr, "chat-bench: cannot make an identity key\n");
        status = 1;
    }

    double load_start = s_loadavg ();
    if (status == 0) {
        if (bench_ceiling (&bench) != 0)
            status = 1;
        for (size_t s = 0; s < SCENARIOS && !zsys_interrupted; s++) {
            if (!wanted [s])
                continue;
            if (bench.verbose)
                fprintf (stderr, "chat-bench: running %s\n", s_scenarios [s].name);
            if (s_scenarios [s].run (&bench) != 0)
                status = 1;
        }
    }
    benchreport_note (bench.report, "machine", "%ld cores; load average (1 min) %.2f at "
                      "the start, %.2f at the end: other processes share these cores",
                      sysconf (_SC_NPROCESSORS_ONLN), load_start, s_loadavg ());
    if (zsys_interrupted)
        status = 1;
    if (benchreport_failed (bench.report))
        status = 1;

    //  The command line, for the record
    char command [1024] = "chat-bench";
    for (int i = 1; i < argc; i++) {
        strncat (command, " ", sizeof command - strlen (command) - 1);
        strncat (command, argv [i], sizeof command - strlen (command) - 1);
    }
    if (json)
        benchreport_print_json (bench.report, stdout, command);
    else
        benchreport_print_table (bench.report, stdout);
    fflush (stdout);

    if (bench.tmpdir) {
        if (bench.keep)
            fprintf (stderr, "chat-bench: scratch directory kept: %s\n", bench.tmpdir);
        else
            s_remove_tree (bench.tmpdir);
    }
    if (bench.keyserver_key != s_server_keys [0])
        rsakey_destroy (&bench.keyserver_key);
    rsakey_destroy (&bench.identity);
    benchreport_destroy (&bench.report);
    rsakey_destroy (&s_client_key);
    rsakey_destroy (&s_server_keys [0]);
    rsakey_destroy (&s_server_keys [1]);
    free (bench.keyserver_bin);
    free (bench.mainserver_bin);
    free (bench.keyserver);
    free (bench.mainserver);
    free (bench.push);
    free (bench.store);
    free (bench.keyserver_private);
    free (bench.mosquitto_bin);
    free (bench.keyserver_public);
    free (bench.mainserver_public);
    free (bench.tmpdir);
    return status;
}
