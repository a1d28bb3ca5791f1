/*  chat-admin - the servers' overview screens (the report's figures 14 and
    15): asks a server's admin socket for its overview and prints it

    The admin socket is ipc://<data dir>/admin.sock, mode 0600 in a 0700
    folder: only the server's owner can connect. One AdminRequest, one
    AdminReply, nothing secret in it.
*/
#include <czmq.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "adminview.h"
#include "dbbackup.h"
#include "chaterror.h"
#include "wire.h"

#define DEFAULT_TIMEOUT_MS 2000
#define ADMIN_SOCKET "admin.sock"

typedef struct {
    const char *role;               //  "keyserver" or "mainserver"; NULL: either
    bool metrics;                   //  ask for the metrics, not the overview
    char *path;                     //  the socket file
    char *endpoint;                 //  "ipc://" + path
    int timeout_ms;
} target_t;

//  Ask once. CHAT_OK and a reply, or an error with a sentence in `error`.
static int
s_query (const target_t *target, Chat__AdminReply **reply, char *error, size_t size)
{
    *reply = NULL;
    //  Say why before ZMQ would only time out: a missing file, or one we
    //  may not open (a unix socket needs write permission to connect).
    struct stat st;
    if (stat (target->path, &st) != 0 && errno != EACCES) {
        snprintf (error, size, "no server answering on %s (%s)", target->endpoint,
                  errno == ENOENT? "no socket there": strerror (errno));
        return CHAT_ERR_NOT_FOUND;
    }
    if (access (target->path, R_OK | W_OK) != 0) {
        snprintf (error, size, "cannot connect to %s: %s (the admin socket is for "
                  "the server's owner only)", target->endpoint, strerror (errno));
        return CHAT_ERR_NOT_FOUND;
    }
    zsock_t *req = zsock_new (ZMQ_REQ);
    if (!req) {
        snprintf (error, size, "cannot create a socket");
        return CHAT_ERR_INTERNAL;
    }
    zsock_set_linger (req, 0);
    zsock_set_rcvtimeo (req, target->timeout_ms);
    zsock_set_sndtimeo (req, target->timeout_ms);
    zsock_set_maxmsgsize (req, WIRE_MAX_FRAME);
    int rc = CHAT_ERR_INTERNAL;
    if (zsock_connect (req, "%s", target->endpoint) != 0) {
        snprintf (error, size, "cannot connect to %s", target->endpoint);
        goto done;
    }
    Chat__AdminRequest request = CHAT__ADMIN_REQUEST__INIT;
    request.version = 1;
    request.metrics = target->metrics;
    uint8_t *data;
    size_t len;
    if (wire_pack (&request.base, &data, &len) != CHAT_OK) {
        snprintf (error, size, "cannot build the request");
        goto done;
    }
    zframe_t *frame = zframe_new (data, len);
    free (data);
    if (zframe_send (&frame, req, 0) != 0) {
        zframe_destroy (&frame);
        snprintf (error, size, "no server answering on %s", target->endpoint);
        rc = CHAT_ERR_NOT_FOUND;
        goto done;
    }
    frame = zframe_recv (req);
    if (!frame) {
        snprintf (error, size, "no server answering on %s (no reply within %d ms)",
                  target->endpoint, target->timeout_ms);
        rc = CHAT_ERR_NOT_FOUND;
        goto done;
    }
    if (zframe_size (frame) == 0)
        snprintf (error, size, "the server at %s did not understand the request",
                  target->endpoint);
    else
    if (wire_unpack (&chat__admin_reply__descriptor, zframe_data (frame),
                     zframe_size (frame), (ProtobufCMessage **) reply) != CHAT_OK)
        snprintf (error, size, "unreadable reply from %s", target->endpoint);
    else
    if (target->role && (!(*reply)->role || strcmp ((*reply)->role, target->role) != 0)) {
        const char *other = (*reply)->role && (streq ((*reply)->role, "keyserver")
                                            || streq ((*reply)->role, "mainserver"))?
                            (*reply)->role: "different server";
        snprintf (error, size, "%s belongs to a %s, not a %s", target->endpoint,
                  other, target->role);
        protobuf_c_message_free_unpacked (&(*reply)->base, NULL);
        *reply = NULL;
    }
    else
        rc = CHAT_OK;
    zframe_destroy (&frame);
done:
    zsock_destroy (&req);
    return rc;
}

static void
s_print (FILE *out, const Chat__AdminReply *reply, bool json)
{
    if (reply->metrics && *reply->metrics)
        fputs (reply->metrics, out);
    else
    if (json)
        adminview_json (out, reply);
    else
        adminview_text (out, reply);
}

//  Once: print, or say why not on stderr. Exit code 0 or 1.
static int
s_once (const target_t *target, bool json)
{
    Chat__AdminReply *reply;
    char error [512] = "";
    if (s_query (target, &reply, error, sizeof error) != CHAT_OK) {
        fprintf (stderr, "chat-admin: %s\n", error);
        return 1;
    }
    s_print (stdout, reply, json);
    protobuf_c_message_free_unpacked (&reply->base, NULL);
    return 0;
}

//  Every second until SIGINT: the report's Refresh button, pressed for you.
//  Text mode redraws the screen; JSON mode writes one object per second.
static int
s_watch (const target_t *target, const char *title, bool json)
{
    while (!zsys_interrupted) {
        char *text = NULL;
        size_t size = 0;
        FILE *out = open_memstream (&text, &size);
        if (!out)
            return 1;
        Chat__AdminReply *reply;
        char error [512] = "";
        int rc = s_query (target, &reply, error, sizeof error);
        if (!json) {
            char now [32];
            adminview_time (zclock_time (), now, sizeof now);
            //  Home, clear: one frame drawn at once, no flicker
            fprintf (out, "\033[H\033[2J%s   every 1s, Ctrl-C to stop   %s\n\n", title, now);
        }
        if (rc == CHAT_OK) {
            s_print (out, reply, json);
            protobuf_c_message_free_unpacked (&reply->base, NULL);
        }
        else
        if (json)
            fprintf (stderr, "chat-admin: %s\n", error);
        else
            fprintf (out, "%s\n", error);
        fclose (out);
        fwrite (text, 1, size, stdout);
        fflush (stdout);
        free (text);
        for (int i = 0; i < 10 && !zsys_interrupted; i++)
            zclock_sleep (100);
    }
    return 0;
}

//  backup or restore, with a line saying what was done
static int
s_copy (const target_t *target, const char *which, const char *data, const char *file)
{
    char error [1024] = "";
    dbbackup_info_t info = { 0 };
    int rc;
    if (streq (which, "backup"))
        rc = dbbackup_save (data, file, &info, error, sizeof error);
    else {
        //  A server that answers is running: never swap its file under it
        Chat__AdminReply *reply = NULL;
        target_t probe = *target;
        probe.timeout_ms = probe.timeout_ms < 1000 ? probe.timeout_ms : 1000;
        char ignored [512];
        if (s_query (&probe, &reply, ignored, sizeof ignored) == CHAT_OK) {
            protobuf_c_message_free_unpacked (&reply->base, NULL);
            fprintf (stderr, "chat-admin: a server answers on %s: stop it first\n",
                     target->endpoint);
            return 1;
        }
        rc = dbbackup_restore (data, file, &info, error, sizeof error);
    }
    if (rc != 0) {
        fprintf (stderr, "chat-admin: %s\n", error);
        return 1;
    }
    printf ("%s: %s %s %s %s (%llu bytes, %lld %s)\n", which, info.role,
            streq (which, "backup") ? info.path : file,
            streq (which, "backup") ? "copied to" : "restored to",
            streq (which, "backup") ? file : info.path,
            (unsigned long long) info.bytes, (long long) info.rows,
            streq (info.role, "mainserver") ? "messages" : "users");
    return 0;
}

static void
s_usage (FILE *out)
{
    fprintf (out,
        "Usage: chat-admin main|key|metrics --data DIR [OPTIONS]\n"
        "       chat-admin backup|restore --data DIR FILE\n"
        "Show a chat server's overview: its key fingerprint, and for the key\n"
        "server the registered users and sessions, for the main server the saved\n"
        "conversations and connected sessions (on PostgreSQL also the main servers\n"
        "sharing its database). Never a secret: keys appear as\n"
        "fingerprints, StoredKeys and tokens as short prefixes.\n"
        "\n"
        "  main                  ask the main server\n"
        "  key                   ask the key server\n"
        "  metrics               print the server's metrics (Prometheus text, the\n"
        "                        same as its --metrics-bind endpoint serves)\n"
        "  backup                copy the server's database in DIR to FILE while it\n"
        "                        runs (SQLite's online backup: one consistent state)\n"
        "  restore               put the copy in FILE in place of the database in\n"
        "                        DIR; the server must be stopped\n"
        "  -d, --data DIR        the server's data directory (its admin socket is\n"
        "                        ipc://DIR/" ADMIN_SOCKET ", usable by its owner only)\n"
        "  -w, --watch           refresh every second until Ctrl-C\n"
        "  -j, --json            print the reply as one JSON object\n"
        "  -t, --timeout MS      wait this long for an answer (default %d)\n"
        "  -h, --help            this help\n"
        "  -V, --version         print the version\n"
        "\n"
        "Run as the server's user (sudo -u chat ... for the packaged services).\n"
        "Exit status: 0 ok, 1 no answer or an error, 2 usage error.\n",
        DEFAULT_TIMEOUT_MS);
}

int
main (int argc, char *argv [])
{
    const char *data = NULL;
    bool watch = false, json = false;
    long timeout = DEFAULT_TIMEOUT_MS;
    static const struct option options [] = {
        { "data", required_argument, NULL, 'd' },
        { "watch", no_argument, NULL, 'w' },
        { "json", no_argument, NULL, 'j' },
        { "timeout", required_argument, NULL, 't' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 }
    };
    int opt;
    while ((opt = getopt_long (argc, argv, "d:wjt:hV", options, NULL)) != -1) {
        switch (opt) {
            case 'd': data = optarg; break;
            case 'w': watch = true; break;
            case 'j': json = true; break;
            case 't': {
                char *end;
                timeout = strtol (optarg, &end, 10);
                if (*end || end == optarg || timeout < 1 || timeout > 600000) {
                    fprintf (stderr, "chat-admin: --timeout wants 1..600000 ms\n");
                    return 2;
                }
                break;
            }
            case 'h': s_usage (stdout); return 0;
            case 'V': printf ("chat-admin %s\n", CHAT_VERSION); return 0;
            default:
                fprintf (stderr, "Try 'chat-admin --help'.\n");
                return 2;
        }
    }
    if (optind >= argc) {
        fprintf (stderr, "chat-admin: say what: main, key, metrics, backup or restore\n"
                         "Try 'chat-admin --help'.\n");
        return 2;
    }
    const char *which = argv [optind];
    bool copy = streq (which, "backup") || streq (which, "restore");
    if (optind + (copy ? 2 : 1) != argc) {
        fprintf (stderr, copy ? "chat-admin: %s wants one FILE\nTry 'chat-admin --help'.\n"
                              : "chat-admin: %s takes no further argument\n"
                                "Try 'chat-admin --help'.\n", which);
        return 2;
    }
    target_t target = { 0 };
    if (streq (which, "main"))
        target.role = "mainserver";
    else
    if (streq (which, "key"))
        target.role = "keyserver";
    else
    if (streq (which, "metrics"))
        target.metrics = true;
    else
    if (!copy) {
        fprintf (stderr, "chat-admin: unknown command '%s': main, key, metrics, backup "
                         "or restore\nTry 'chat-admin --help'.\n", which);
        return 2;
    }
    if (!data) {
        fprintf (stderr, "chat-admin: --data DIR is needed\nTry 'chat-admin --help'.\n");
        return 2;
    }
    target.timeout_ms = (int) timeout;
    target.path = zsys_sprintf ("%s/%s", data, ADMIN_SOCKET);
    target.endpoint = zsys_sprintf ("ipc://%s", target.path);
    if (!target.path || !target.endpoint) {
        fprintf (stderr, "chat-admin: out of memory\n");
        return 1;
    }
    //  CZMQ's handler turns SIGINT/SIGTERM into zsys_interrupted (--watch).
    zsys_init ();
    zsys_set_logstream (stderr);

    int rc;
    if (copy)
        rc = s_copy (&target, which, data, argv [optind + 1]);
    else
    if (watch) {
        char *title = zsys_sprintf ("chat-admin %s --data %s", which, data);
        rc = s_watch (&target, title? title: "chat-admin", json);
        zstr_free (&title);
    }
    else
        rc = s_once (&target, json);
    zstr_free (&target.path);
    zstr_free (&target.endpoint);
    return rc;
}
