/*  scen_client - the scenarios driven by the client library (chatclient.h):
    login and messages, every client a real chatclient_t with its own key,
    sockets and key-derivation worker, all polled by one loop here
*/
#include <string.h>
#include <czmq.h>
#include "chaterror.h"
#include "chatclient.h"
#include "identity.h"
#include "bench.h"
#include "benchprogress.h"
#include "benchrows.h"
#include "benchserver.h"
#include "benchstats.h"
#include "abuser.h"

#define SETUP_TIMEOUT_MS 120000
#define SLOTS 4096                      //  send times kept per client, by cmd
#define TEXT_SIZE BENCH_TEXT_SIZE        //  bytes of text per message
#define TEXT_TAG "bench "

typedef struct {
    chatclient_t *client;
    uint32_t cmd;                       //  the setup command in hand
    bool done;
    chatclient_event_type_t result;
    int code;
    uint8_t conversation [CHATCLIENT_ID_SIZE];
    bool have_conversation;
    size_t in_flight;
    int64_t sent_ns [SLOTS];
    uint64_t change_epoch;              //  epoch of the last CHANGE event seen
} member_t;

typedef struct {
    bench_t *bench;
    member_t *members;
    size_t count;
    zmq_pollitem_t *items;
    size_t *item_owner;
    size_t nitems;
    //  measured
    bool measuring;
    size_t acks;
    size_t send_errors;
    size_t pushes;
    int64_t last_ack_ns;
    int64_t last_push_ns;
    benchstats_t *ack_us;
    benchstats_t *push_us;
    char first_error [128];
    benchserver_t *mainserver;          //  to read its CPU time
    double server_cpu_ms;               //  at the start of a phase
    double bench_cpu_ms;
} group_t;

static void
s_group_destroy (group_t *group)
{
    for (size_t i = 0; i < group->count; i++)
        chatclient_destroy (&group->members [i].client);
    free (group->members);
    free (group->items);
    free (group->item_owner);
    benchstats_destroy (&group->ack_us);
    benchstats_destroy (&group->push_us);
    memset (group, 0, sizeof *group);
}

static int
s_group_new (group_t *group, bench_t *bench, bench_servers_t *servers, size_t count,
             const char *label)
{
    memset (group, 0, sizeof *group);
    group->bench = bench;
    group->members = (member_t *) zmalloc (count * sizeof (member_t));
    group->items = (zmq_pollitem_t *) zmalloc (count * CHATCLIENT_MAX_SOCKETS
                                               * sizeof (zmq_pollitem_t));
    group->item_owner = (size_t *) zmalloc (count * CHATCLIENT_MAX_SOCKETS * sizeof (size_t));
    char *known = zsys_sprintf ("%s/known_servers", bench->tmpdir);
    chatclient_config_t config = {
        .keyserver = benchserver_endpoint (servers->keyserver),
        .mainserver = benchserver_endpoint (servers->mainserver),
        .push = benchserver_push_endpoint (servers->mainserver),
        .keyserver_pin = benchserver_fingerprint (servers->keyserver),
        .mainserver_pin = benchserver_fingerprint (servers->mainserver),
        .known_servers = known,
        .request_timeout_ms = 30000,
        .command_timeout_ms = 60000,
    };
    //  Each client makes its RSA key: the slow part of starting many
    benchprogress_t *bar = benchprogress_new (label, count);
    int rc = 0;
    for (size_t i = 0; i < count && rc == 0; i++) {
        group->members [i].client = chatclient_new (&config);
        if (!group->members [i].client)
            rc = -1;
        else {
            zsock_t *socks [CHATCLIENT_MAX_SOCKETS];
            size_t n = chatclient_sockets (group->members [i].client, socks,
                                           CHATCLIENT_MAX_SOCKETS);
            for (size_t s = 0; s < n; s++) {
                group->items [group->nitems].socket = zsock_resolve (socks [s]);
                group->items [group->nitems].events = ZMQ_POLLIN;
                group->item_owner [group->nitems] = i;
                group->nitems++;
            }
        }
        group->count = i + 1;
        benchprogress_update (bar, i + 1);
    }
    benchprogress_destroy (&bar);
    free (known);
    group->ack_us = benchstats_new ();
    group->push_us = benchstats_new ();
    return rc;
}

static void
s_event (group_t *group, size_t index, chatclient_event_t *event)
{
    member_t *member = &group->members [index];
    int64_t now = bench_now_ns ();
    if (event->cmd && event->cmd == member->cmd) {
        member->done = true;
        member->result = event->type;
        member->code = event->code;
        //  What a command's failure said, for the note (a refused login
        //  or registration is an event of its own, not EV_ERROR)
        if ((event->type == CHATCLIENT_EV_ERROR || event->type == CHATCLIENT_EV_LOGIN_FAILED
        ||   event->type == CHATCLIENT_EV_REGISTER_FAILED) && !group->first_error [0])
            snprintf (group->first_error, sizeof group->first_error, "%s: %s",
                      chatclient_errname (event->code), event->text? event->text: "");
    }
    if (event->type == CHATCLIENT_EV_CHANGE && event->conversation
    &&  event->conversation->epoch > member->change_epoch)
        member->change_epoch = event->conversation->epoch;
    if ((event->type == CHATCLIENT_EV_CONVERSATION || event->type == CHATCLIENT_EV_OPENED)
    &&  event->conversation && !member->have_conversation) {
        memcpy (member->conversation, event->conversation->id, CHATCLIENT_ID_SIZE);
        member->have_conversation = true;
    }
    if (event->type == CHATCLIENT_EV_SENT && event->cmd) {
        if (member->in_flight)
            member->in_flight--;
        int64_t sent = member->sent_ns [event->cmd % SLOTS];
        if (group->measuring && sent) {
            group->acks++;
            group->last_ack_ns = now;
            benchstats_add (group->ack_us, (double) (now - sent) / 1000.0);
        }
        member->sent_ns [event->cmd % SLOTS] = 0;
    }
    else
    if (event->type == CHATCLIENT_EV_ERROR && event->cmd
    &&  member->sent_ns [event->cmd % SLOTS]) {
        if (member->in_flight)
            member->in_flight--;
        member->sent_ns [event->cmd % SLOTS] = 0;
        group->send_errors++;
        if (!group->first_error [0])
            snprintf (group->first_error, sizeof group->first_error, "send: %s",
                      chatclient_errname (event->code));
    }
    else
    if (event->type == CHATCLIENT_EV_MESSAGE && event->message && !event->message->local
    &&  event->message->live && group->measuring
    &&  strncmp (event->message->text, TEXT_TAG, strlen (TEXT_TAG)) == 0) {
        //  "bench <send time ns> xxxx..."
        int64_t sent = strtoll (event->message->text + strlen (TEXT_TAG), NULL, 10);
        group->pushes++;
        group->last_push_ns = now;
        if (sent > 0 && sent <= now)
            benchstats_add (group->push_us, (double) (now - sent) / 1000.0);
    }
}

//  One turn: poll, handle, tick, take events.
static int
s_turn (group_t *group, int timeout_ms)
{
    int rc = zmq_poll (group->items, (int) group->nitems, timeout_ms);
    if (rc < 0 && zsys_interrupted)
        return -1;
    for (size_t i = 0; rc > 0 && i < group->nitems; i++)
        if (group->items [i].revents & ZMQ_POLLIN) {
            chatclient_t *client = group->members [group->item_owner [i]].client;
            zsock_t *socks [CHATCLIENT_MAX_SOCKETS];
            size_t n = chatclient_sockets (client, socks, CHATCLIENT_MAX_SOCKETS);
            for (size_t s = 0; s < n; s++)
                if (zsock_resolve (socks [s]) == group->items [i].socket)
                    chatclient_handle (client, socks [s]);
        }
    for (size_t c = 0; c < group->count; c++) {
        chatclient_tick (group->members [c].client);
        chatclient_event_t *event;
        while ((event = chatclient_next_event (group->members [c].client))) {
            s_event (group, c, event);
            chatclient_event_destroy (&event);
        }
    }
    return 0;
}

//  Wait until every member's command is done (or timeout). Returns how
//  many completed with the wanted event type.
static size_t
s_wait_all (group_t *group, chatclient_event_type_t wanted, int timeout_ms)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    while (!zsys_interrupted && zclock_mono () < deadline) {
        bool all = true;
        for (size_t i = 0; i < group->count && all; i++)
            if (group->members [i].cmd && !group->members [i].done)
                all = false;
        if (all)
            break;
        s_turn (group, 5);
    }
    size_t good = 0;
    for (size_t i = 0; i < group->count; i++)
        if (group->members [i].done && group->members [i].result == wanted)
            good++;
    return good;
}

static bool
s_wait_connected (group_t *group, int timeout_ms)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    while (!zsys_interrupted && zclock_mono () < deadline) {
        bool all = true;
        for (size_t i = 0; i < group->count && all; i++)
            if (!chatclient_connected (group->members [i].client, CHATCLIENT_KEYSERVER)
            ||  !chatclient_connected (group->members [i].client, CHATCLIENT_MAINSERVER))
                all = false;
        if (all)
            return true;
        s_turn (group, 10);
    }
    return false;
}

static void
s_start (member_t *member, uint32_t cmd)
{
    member->cmd = cmd;
    member->done = false;
    member->code = 0;
}

//  Register (and log in as) <prefix><i> on every member. -1 with a note.
static int
s_register_all (group_t *group, const char *scenario, const char *prefix)
{
    for (size_t i = 0; i < group->count; i++) {
        char name [64];
        snprintf (name, sizeof name, "%s%zu", prefix, i);
        s_start (&group->members [i], chatclient_register (group->members [i].client, name,
                                                           "bench-password", "bench-password",
                                                           "bench-password"));
    }
    if (s_wait_all (group, CHATCLIENT_EV_REGISTERED, SETUP_TIMEOUT_MS) != group->count) {
        benchreport_note (group->bench->report, scenario, "registration failed: %s",
                          group->first_error);
        return -1;
    }
    for (size_t i = 0; i < group->count; i++) {
        char name [64];
        snprintf (name, sizeof name, "%s%zu", prefix, i);
        s_start (&group->members [i], chatclient_login (group->members [i].client, name,
                                                        "bench-password"));
    }
    if (s_wait_all (group, CHATCLIENT_EV_LOGGED_IN, SETUP_TIMEOUT_MS) != group->count) {
        benchreport_note (group->bench->report, scenario, "login failed: %s",
                          group->first_error);
        return -1;
    }
    for (size_t i = 0; i < group->count; i++)
        group->members [i].cmd = 0;
    return 0;
}

//  A group of count clients, connected, each registered and logged in as
//  <prefix><i>. 0, or -1 with *why (and a note) saying what failed.
static int
s_group_ready (group_t *group, bench_t *bench, bench_servers_t *servers, size_t count,
               const char *scenario, const char *prefix, const char **why)
{
    char label [64];
    snprintf (label, sizeof label, "%s: client keys", scenario);
    *why = "the clients did not start";
    if (s_group_new (group, bench, servers, count, label) != 0)
        return -1;
    group->mainserver = servers->mainserver;
    *why = "the clients could not connect";
    if (!s_wait_connected (group, 60000))
        return -1;
    *why = "registration or login failed";
    return s_register_all (group, scenario, prefix);
}

//  ---------------------------------------------------------------- login

int
bench_login (bench_t *bench)
{
    const char *name = "login";
    bench_servers_t servers = { 0 };
    if (bench_servers_start (bench, name, &servers, true, true) != 0)
        return -1;
    group_t group;
    int rc = -1;
    const char *why = "the clients did not start";
    size_t clients = (size_t) bench->login_clients;
    if (s_group_new (&group, bench, &servers, clients, "login: client keys") != 0)
        goto done;
    why = "the clients could not connect";
    if (!s_wait_connected (&group, 30000))
        goto done;

    //  Registrations: each client registers its share of the users, one
    //  command at a time
    size_t total = (size_t) bench->logins;
    size_t *next = (size_t *) zmalloc (clients * sizeof (size_t));
    benchstats_t *latency [2] = { benchstats_new (), benchstats_new () };
    int64_t *started = (int64_t *) zmalloc (clients * sizeof (int64_t));
    double rates [2] = { 0, 0 };
    why = "a registration or login failed";
    for (int phase = 0; phase < 2; phase++) {
        benchprogress_t *bar = benchprogress_new (phase? "login: logins":
                                                  "login: registrations", total);
        memset (next, 0, clients * sizeof (size_t));
        for (size_t c = 0; c < clients; c++)
            group.members [c].cmd = 0;
        size_t finished = 0;
        bool failed = false;
        bool logging_out [64] = { false };
        int64_t start = bench_now_ns ();
        int64_t deadline = zclock_mono () + SETUP_TIMEOUT_MS;
        while (finished < total && !failed && !zsys_interrupted
           &&  zclock_mono () < deadline) {
            for (size_t c = 0; c < clients; c++) {
                member_t *member = &group.members [c];
                if (member->cmd && !member->done)
                    continue;
                if (member->cmd && member->done) {
                    if (c < 64 && logging_out [c]) {
                        logging_out [c] = false;
                        member->cmd = 0;
                    }
                    else
                    if (member->result == (phase? CHATCLIENT_EV_LOGGED_IN
                                                : CHATCLIENT_EV_REGISTERED)) {
                        benchstats_add (latency [phase],
                                        (double) (bench_now_ns () - started [c]) / 1e6);
                        finished++;
                        member->cmd = 0;
                        if (phase == 1) {
                            //  Out again, so the next login is a fresh one
                            s_start (member, chatclient_logout (member->client));
                            if (c < 64)
                                logging_out [c] = true;
                            continue;
                        }
                    }
                    else {
                        benchreport_note (bench->report, name, "%s failed: %s",
                                          phase? "login": "registration", group.first_error);
                        failed = true;
                        break;
                    }
                }
                //  User k of client c is "l<c>x<k>"; client c takes k = c, c + clients...
                size_t k = c + next [c] * clients;
                if (k >= total)
                    continue;
                next [c]++;
                char user [64];
                snprintf (user, sizeof user, "l%zux%zu", c, k);
                started [c] = bench_now_ns ();
                s_start (member, phase
                    ? chatclient_login (member->client, user, "bench-password")
                    : chatclient_register (member->client, user, "bench-password",
                                           "bench-password", "bench-password"));
            }
            benchprogress_update (bar, finished);
            s_turn (&group, 5);
        }
        benchprogress_destroy (&bar);
        if (finished < total)
            break;
        rates [phase] = (double) total / bench_seconds_since (start);
    }
    if (rates [0] > 0 && rates [1] > 0) {
        double ceiling = bench->pbkdf2_iter_per_s / bench->iterations;
        benchreport_add (bench->report, name, "registrations/s", rates [0], "/s",
                         "pbkdf2-1c", ceiling, BENCH_NO_TARGET, 0, NULL);
        benchreport_add (bench->report, name, "registration p50", benchstats_percentile (latency [0], 50),
                         "ms", NULL, 0, BENCH_NO_TARGET, 0, NULL);
        benchreport_add (bench->report, name, "logins/s (SCRAM + main server)", rates [1], "/s",
                         "pbkdf2-1c", ceiling, BENCH_NO_TARGET, 0, NULL);
        benchreport_add (bench->report, name, "login p50", benchstats_percentile (latency [1], 50),
                         "ms", NULL, 0, BENCH_NO_TARGET, 0, NULL);
        benchreport_note (bench->report, name, "%d users, %zu clients at once, %d PBKDF2 "
                          "iterations; the client derives the password (PBKDF2) once per "
                          "registration and per login; a registration also makes the "
                          "user's RSA-%d identity key and seals it, a login opens it "
                          "(protocol 2), so the bound is PBKDF2 and RSA key generation on "
                          "the clients' cores; logins/s counts a logout after each login",
                          bench->logins, clients, bench->iterations, IDENTITY_KEY_BITS);
        rc = 0;
    }
    free (next);
    free (started);
    benchstats_destroy (&latency [0]);
    benchstats_destroy (&latency [1]);
done:
    if (rc != 0)
        benchreport_fail (bench->report, name, why);
    s_group_destroy (&group);
    bench_servers_stop (&servers);
    return rc;
}

//  ---------------------------------------------------------------- create

#define CREATE_ROUNDS 3

//  Register users <prefix>0 .. <prefix>count-1, spread over the group's
//  clients (each registration makes an identity key on its client's
//  worker). 0, or -1 with a note.
static int
s_register_many (group_t *group, const char *scenario, const char *prefix, size_t count)
{
    size_t done = 0, next = 0;
    int64_t deadline = zclock_mono () + SETUP_TIMEOUT_MS * 4;
    benchprogress_t *bar = benchprogress_new ("create: registrations", count);
    for (size_t c = 0; c < group->count; c++)
        group->members [c].cmd = 0;
    while (done < count && !zsys_interrupted && zclock_mono () < deadline) {
        for (size_t c = 0; c < group->count; c++) {
            member_t *member = &group->members [c];
            if (member->cmd && !member->done)
                continue;
            if (member->cmd) {
                if (member->result != CHATCLIENT_EV_REGISTERED) {
                    benchprogress_destroy (&bar);
                    benchreport_note (group->bench->report, scenario, "registration failed: %s",
                                      group->first_error);
                    return -1;
                }
                done++;
                member->cmd = 0;
            }
            if (next < count) {
                char user [64];
                snprintf (user, sizeof user, "%s%zu", prefix, next++);
                s_start (member, chatclient_register (member->client, user, "bench-password",
                                                      "bench-password", "bench-password"));
            }
        }
        benchprogress_update (bar, done);
        s_turn (group, 5);
    }
    benchprogress_destroy (&bar);
    return done == count? 0: -1;
}

//  A change that re-keys the creator's first conversation (a title: a new
//  epoch key wrapped for every member and stored), timed to its completion;
//  and, when there is a second client, the time that member's client (m1,
//  logged in) takes to catch up: the push, the chain fetched and the new
//  link verified (its CHANGE event). 0, or -1 with a note.
static int
s_rekey_rounds (bench_t *bench, group_t *group, const char *name, size_t members)
{
    member_t *creator = &group->members [0];
    member_t *member = group->count > 1? &group->members [1]: NULL;
    if (!creator->have_conversation)
        return -1;
    if (member) {
        s_start (member, chatclient_login (member->client, "m1", "bench-password"));
        s_wait_all (group, CHATCLIENT_EV_LOGGED_IN, SETUP_TIMEOUT_MS);
        if (member->result != CHATCLIENT_EV_LOGGED_IN)
            member = NULL;
        else
            member->cmd = 0;
    }
    benchstats_t *rekey = benchstats_new ();
    benchstats_t *catchup = benchstats_new ();
    int rc = 0;
    for (int round = 0; round < CREATE_ROUNDS && rc == 0; round++) {
        char title [32];
        snprintf (title, sizeof title, "round %d", round);
        uint64_t epoch = 2 + (uint64_t) round;
        int64_t start = bench_now_ns ();
        s_start (creator, chatclient_set_title (creator->client, creator->conversation, title));
        s_wait_all (group, CHATCLIENT_EV_CONVERSATION, SETUP_TIMEOUT_MS);
        if (creator->result != CHATCLIENT_EV_CONVERSATION) {
            benchreport_note (bench->report, name, "re-key: %s", group->first_error);
            rc = -1;
            break;
        }
        benchstats_add (rekey, (double) (bench_now_ns () - start) / 1e6);
        creator->cmd = 0;
        int64_t deadline = zclock_mono () + SETUP_TIMEOUT_MS;
        while (member && member->change_epoch < epoch && zclock_mono () < deadline
        &&     !zsys_interrupted)
            s_turn (group, 5);
        if (member && member->change_epoch >= epoch)
            benchstats_add (catchup, (double) (bench_now_ns () - start) / 1e6);
    }
    if (rc == 0) {
        char figure [96];
        snprintf (figure, sizeof figure, "re-key, %zu members: p50", members);
        benchreport_add (bench->report, name, figure, benchstats_percentile (rekey, 50), "ms",
                         NULL, 0, BENCH_NO_TARGET, 0, NULL);
        if (benchstats_count (catchup) > 0) {
            snprintf (figure, sizeof figure, "a member caught up, %zu members: p50", members);
            benchreport_add (bench->report, name, figure, benchstats_percentile (catchup, 50),
                             "ms", NULL, 0, BENCH_NO_TARGET, 0, NULL);
        }
        benchreport_note (bench->report, name, "re-key: a TITLE change of the first "
                          "conversation (a new epoch: its key made, wrapped %zu times, stored "
                          "with a fresh ticket), timed to the command's completion; caught "
                          "up: from the same start until another member's client has the "
                          "pushed change verified (its chain fetched and checked)", members);
    }
    benchstats_destroy (&rekey);
    benchstats_destroy (&catchup);
    return rc;
}

//  One client makes conversations of `members` (itself and the others):
//  each looks up the others' identity keys, signs the CREATE, makes the
//  epoch key, wraps it for every member and stores the set; timed from the
//  command to its completion.
int
bench_create (bench_t *bench)
{
    const char *name = "create";
    bench_servers_t servers = { 0 };
    if (bench_servers_start (bench, name, &servers, true, true) != 0)
        return -1;
    group_t group;
    int rc = -1;
    const char *why = "the clients did not start";
    size_t members = (size_t) bench->fanout_members;
    size_t clients = (size_t) bench->login_clients;
    const char **others = (const char **) zmalloc (members * sizeof (char *));
    char (*names) [24] = zmalloc (members * sizeof *names);
    benchstats_t *latency = benchstats_new ();
    if (s_group_new (&group, bench, &servers, clients, "create: client keys") != 0)
        goto done;
    why = "the clients could not connect";
    if (!s_wait_connected (&group, 60000))
        goto done;
    why = "registration failed";
    if (s_register_many (&group, name, "m", members) != 0)
        goto done;
    member_t *creator = &group.members [0];
    s_start (creator, chatclient_login (creator->client, "m0", "bench-password"));
    why = "the creator could not log in";
    if (s_wait_all (&group, CHATCLIENT_EV_LOGGED_IN, SETUP_TIMEOUT_MS) < 1
    ||  creator->result != CHATCLIENT_EV_LOGGED_IN)
        goto done;
    for (size_t c = 0; c < clients; c++)
        group.members [c].cmd = 0;
    for (size_t i = 1; i < members; i++) {
        snprintf (names [i], sizeof names [i], "m%zu", i);
        others [i - 1] = names [i];
    }
    why = "a conversation could not be made";
    for (int round = 0; round < CREATE_ROUNDS; round++) {
        int64_t start = bench_now_ns ();
        s_start (creator, chatclient_create_conversation (creator->client, others,
                                                          members - 1));
        s_wait_all (&group, CHATCLIENT_EV_CONVERSATION, SETUP_TIMEOUT_MS);
        if (creator->result != CHATCLIENT_EV_CONVERSATION) {
            benchreport_note (bench->report, name, "create: %s", group.first_error);
            goto done;
        }
        benchstats_add (latency, (double) (bench_now_ns () - start) / 1e6);
        creator->cmd = 0;
    }
    char figure [96];
    snprintf (figure, sizeof figure, "create, %zu members: p50", members);
    benchreport_add (bench->report, name, figure, benchstats_percentile (latency, 50), "ms",
                     NULL, 0, BENCH_NO_TARGET, 0, NULL);
    snprintf (figure, sizeof figure, "create, %zu members: max", members);
    benchreport_add (bench->report, name, figure, benchstats_max (latency), "ms",
                     NULL, 0, BENCH_NO_TARGET, 0, NULL);
    benchreport_note (bench->report, name, "%d rounds: the others' %zu identity keys looked "
                      "up (the first round only: cached for the session) and pinned, the "
                      "CREATE statement signed, epoch 1's key wrapped %zu times (RSA-OAEP) "
                      "and stored at the key server with the main server's ticket; the "
                      "command completes when the key server has the set",
                      CREATE_ROUNDS, members - 1, members);
    why = "a re-key could not be made";
    if (s_rekey_rounds (bench, &group, name, members) != 0)
        goto done;
    rc = 0;
done:
    if (rc != 0)
        benchreport_fail (bench->report, name, why);
    benchstats_destroy (&latency);
    free (others);
    free (names);
    s_group_destroy (&group);
    bench_servers_stop (&servers);
    return rc;
}

//  ---------------------------------------------------------------- messages

static uint32_t
s_send (group_t *group, size_t index)
{
    member_t *member = &group->members [index];
    char text [TEXT_SIZE + 1];
    int64_t now = bench_now_ns ();
    int len = snprintf (text, sizeof text, TEXT_TAG "%lld ", (long long) now);
    memset (text + len, 'x', (size_t) (TEXT_SIZE - len));
    text [TEXT_SIZE] = 0;
    uint32_t cmd = chatclient_send (member->client, member->conversation, text, TEXT_SIZE);
    if (cmd) {
        member->sent_ns [cmd % SLOTS] = now;
        member->in_flight++;
    }
    return cmd;
}

//  Drain: let acks and pushes of what was sent arrive.
static void
s_drain (group_t *group, int timeout_ms)
{
    int64_t deadline = zclock_mono () + timeout_ms;
    size_t last_pushes = group->pushes;
    int64_t quiet_since = zclock_mono ();
    while (!zsys_interrupted && zclock_mono () < deadline) {
        s_turn (group, 5);
        bool idle = true;
        for (size_t i = 0; i < group->count && idle; i++)
            if (group->members [i].in_flight)
                idle = false;
        if (group->pushes != last_pushes) {
            last_pushes = group->pushes;
            quiet_since = zclock_mono ();
        }
        if (idle && zclock_mono () - quiet_since > 300)
            break;
    }
}

static void
s_measure_reset (group_t *group)
{
    group->acks = group->pushes = group->send_errors = 0;
    group->last_ack_ns = group->last_push_ns = 0;
    benchstats_destroy (&group->ack_us);
    benchstats_destroy (&group->push_us);
    group->ack_us = benchstats_new ();
    group->push_us = benchstats_new ();
    group->measuring = true;
    group->server_cpu_ms = benchserver_cpu_ms (group->mainserver);
    group->bench_cpu_ms = bench_cpu_ms ();
}

//  CPU per message on both sides since s_measure_reset: what the
//  figures would be on cores of their own.
static void
s_cpu_rows (group_t *group, bench_t *bench, const char *name, const char *phase,
            size_t messages)
{
    if (!messages)
        return;
    char figure [64];
    if (group->server_cpu_ms >= 0)
        benchrows_server_cpu (bench, name, phase,
                              benchserver_cpu_ms (group->mainserver) - group->server_cpu_ms,
                              messages);
    double own = bench_cpu_ms () - group->bench_cpu_ms;
    snprintf (figure, sizeof figure, "client CPU per message (%s)", phase);
    char target [32];
    snprintf (target, sizeof target, "<= %.0fx floor", TARGET_CLIENT_FLOOR);
    benchreport_add (bench->report, name, figure, own * 1000 / (double) messages, "us",
                     "floor", bench->floor_client_us, BENCH_AT_MOST,
                     TARGET_CLIENT_FLOOR * bench->floor_client_us, target);
}

//  As fast as acks allow: every client keeps window sends in flight.
static void
s_phase_max (group_t *group, bench_t *bench, const char *name)
{
    s_measure_reset (group);
    benchprogress_t *bar = benchprogress_new ("messages: as fast as acks",
                                              (uint64_t) bench->duration_ms);
    int64_t start = bench_now_ns ();
    int64_t end = zclock_mono () + bench->duration_ms;
    while (!zsys_interrupted && zclock_mono () < end) {
        for (size_t i = 0; i < group->count; i++)
            while (group->members [i].in_flight < (size_t) bench->window)
                if (!s_send (group, i))
                    break;
        s_turn (group, 1);
        benchprogress_update (bar, (uint64_t) (bench_seconds_since (start) * 1000));
    }
    benchprogress_destroy (&bar);
    s_drain (group, 10000);
    group->measuring = false;
    char figure [64];
    snprintf (figure, sizeof figure, "messages/s, %zu clients, %d conv", group->count,
              bench->conversations);
    bench->chat_msgs_per_s = benchrows_max (bench, name, figure, group->acks,
                                            (double) (group->last_ack_ns - start) / 1e9,
                                            group->pushes,
                                            (double) (group->last_push_ns - start) / 1e9,
                                            group->ack_us, group->push_us);
    s_cpu_rows (group, bench, name, "max", group->acks);
    if (group->send_errors)
        benchreport_note (bench->report, name, "max rate: %zu sends failed (%s)",
                          group->send_errors, group->first_error);
}

//  At a fixed rate, spread over the clients in turn.
static void
s_phase_rate (group_t *group, bench_t *bench, const char *name, int rate)
{
    s_measure_reset (group);
    char label [64];
    snprintf (label, sizeof label, "messages: %d/s", rate);
    benchprogress_t *bar = benchprogress_new (label, (uint64_t) bench->duration_ms);
    int64_t start = bench_now_ns ();
    int64_t end = zclock_mono () + bench->duration_ms;
    size_t sent = 0, skipped = 0, next = 0;
    while (!zsys_interrupted && zclock_mono () < end) {
        double due = (double) rate * bench_seconds_since (start);
        while ((double) sent + (double) skipped < due) {
            size_t index = next;
            next = (next + 1) % group->count;
            //  A client that has SLOTS / 2 in flight is too far behind
            if (group->members [index].in_flight >= SLOTS / 2 || !s_send (group, index))
                skipped++;
            else
                sent++;
        }
        //  Sleep in the poll until the next send is due, not spin: the
        //  clients share the machine with the servers they measure
        double next_due = ((double) sent + (double) skipped + 1) / (double) rate;
        int wait_ms = next_due - bench_seconds_since (start) >= 0.001? 1: 0;
        s_turn (group, wait_ms);
        benchprogress_update (bar, (uint64_t) (bench_seconds_since (start) * 1000));
    }
    double send_elapsed = bench_seconds_since (start);
    benchprogress_destroy (&bar);
    s_drain (group, 10000);
    group->measuring = false;
    benchrows_rate (bench, name, rate, sent, send_elapsed, group->ack_us, group->push_us,
                    TARGET_PUSH_P99_MS, "<= 2 ms");
    bench->chat_rate = rate;
    bench->chat_p99_ms = benchstats_percentile (group->push_us, 99) / 1000;
    s_cpu_rows (group, bench, name, "rate", group->acks);
    if (skipped || group->send_errors)
        benchreport_note (bench->report, name, "at %d/s: %zu sends skipped (clients too far "
                          "behind), %zu failed %s", rate, skipped, group->send_errors,
                          group->first_error);
}

int
bench_messages (bench_t *bench)
{
    const char *name = "messages";
    bench_servers_t servers = { 0 };
    if (bench_servers_start (bench, name, &servers, true, true) != 0)
        return -1;
    group_t group;
    int rc = -1;
    const char *why = "the clients did not start";
    size_t clients = (size_t) bench->clients;
    size_t convs = (size_t) bench->conversations;
    if (s_group_ready (&group, bench, &servers, clients, name, "msg", &why) != 0)
        goto done;

    //  Conversation k: the clients i with i % K == k; the first makes it
    why = "the conversations could not be made";
    for (size_t k = 0; k < convs; k++) {
        const char *others [256];
        size_t n = 0;
        for (size_t i = k + convs; i < clients && n < 256; i += convs) {
            others [n] = group.members [i].client? chatclient_username (group.members [i].client): NULL;
            if (others [n])
                n++;
        }
        s_start (&group.members [k], chatclient_create_conversation (group.members [k].client,
                                                                    others, n));
    }
    if (s_wait_all (&group, CHATCLIENT_EV_CONVERSATION, SETUP_TIMEOUT_MS) != convs) {
        benchreport_note (bench->report, name, "create: %s", group.first_error);
        goto done;
    }
    //  Every member learns its conversation by push (or a refresh), then
    //  opens it: the key is fetched from the key server
    int64_t deadline = zclock_mono () + 30000;
    bool all = false;
    int64_t next_refresh = zclock_mono () + 2000;
    while (!all && zclock_mono () < deadline && !zsys_interrupted) {
        s_turn (&group, 10);
        all = true;
        for (size_t i = 0; i < clients; i++)
            if (!group.members [i].have_conversation)
                all = false;
        if (!all && zclock_mono () > next_refresh) {
            for (size_t i = 0; i < clients; i++)
                if (!group.members [i].have_conversation)
                    chatclient_refresh (group.members [i].client);
            next_refresh = zclock_mono () + 2000;
        }
    }
    if (!all)
        goto done;
    for (size_t i = 0; i < clients; i++)
        s_start (&group.members [i], chatclient_open (group.members [i].client,
                                                      group.members [i].conversation));
    why = "the conversations could not be opened";
    if (s_wait_all (&group, CHATCLIENT_EV_OPENED, SETUP_TIMEOUT_MS) != clients) {
        benchreport_note (bench->report, name, "open: %s", group.first_error);
        goto done;
    }
    for (size_t i = 0; i < clients; i++)
        group.members [i].cmd = 0;

    //  Warm-up: a message from everyone, all delivered
    for (size_t i = 0; i < clients; i++)
        s_send (&group, i);
    s_drain (&group, 10000);

    if (bench->rate == 0)
        s_phase_max (&group, bench, name);
    s_phase_rate (&group, bench, name, bench_fixed_rate (bench));
    benchreport_note (bench->report, name, "%zu chatclient_t clients (own key, sockets and "
                      "worker each) on one poll loop in chat-bench, %zu conversations of %zu, "
                      "%d B of text, %d in flight per client at max rate, %.1f s per phase; "
                      "every message is stored and committed (synchronous=FULL) before its "
                      "ack, and opened and checked by each receiver", clients, convs,
                      clients / convs, TEXT_SIZE, bench->window, bench->duration_ms / 1000.0);
    rc = 0;
done:
    if (rc != 0)
        benchreport_fail (bench->report, name, why);
    s_group_destroy (&group);
    bench_servers_stop (&servers);
    return rc;
}

//  ---------------------------------------------------------------- abuse

#define ABUSE_LOGINS (bench->quick ? 3 : 20)
#define ABUSE_MESSAGES (bench->quick ? 10 : 200)
#define ABUSE_RATE 10                   //  messages/s: within the default quota

//  One phase: member 2 logs out and in ABUSE_LOGINS times (each login
//  timed: SCRAM at the key server, then the main server); member 0 sends
//  ABUSE_MESSAGES to member 1 at ABUSE_RATE a second (send->ack and
//  send->push timed). Rows are named after the phase.
static int
s_abuse_phase (group_t *group, bench_t *bench, const char *name, const char *phase,
               const char *login_name)
{
    benchstats_t *login_ms = benchstats_new ();
    member_t *user = &group->members [2];
    int rc = 0;
    for (int i = 0; i < ABUSE_LOGINS && rc == 0; i++) {
        s_start (user, chatclient_logout (user->client));
        s_wait_all (group, CHATCLIENT_EV_LOGGED_OUT, SETUP_TIMEOUT_MS);
        int64_t start = bench_now_ns ();
        s_start (user, chatclient_login (user->client, login_name, "bench-password"));
        if (s_wait_all (group, CHATCLIENT_EV_LOGGED_IN, SETUP_TIMEOUT_MS) != 1) {
            benchreport_note (bench->report, name, "%s: a login failed: %s", phase,
                              group->first_error);
            rc = -1;
        }
        else
            benchstats_add (login_ms, (double) (bench_now_ns () - start) / 1e6);
        user->cmd = 0;
    }
    s_measure_reset (group);
    int64_t start = bench_now_ns ();
    for (int i = 0; i < ABUSE_MESSAGES && rc == 0 && !zsys_interrupted; i++) {
        s_send (group, 0);
        int64_t due = start + (int64_t) (i + 1) * 1000000000LL / ABUSE_RATE;
        while (bench_now_ns () < due && !zsys_interrupted)
            s_turn (group, 1);
    }
    s_drain (group, 10000);
    group->measuring = false;
    char figure [80];
    snprintf (figure, sizeof figure, "login p50 (%s)", phase);
    benchreport_add (bench->report, name, figure, benchstats_percentile (login_ms, 50), "ms",
                     NULL, 0, BENCH_NO_TARGET, 0, NULL);
    snprintf (figure, sizeof figure, "login p99 (%s)", phase);
    benchreport_add (bench->report, name, figure, benchstats_percentile (login_ms, 99), "ms",
                     NULL, 0, BENCH_NO_TARGET, 0, NULL);
    snprintf (figure, sizeof figure, "send->ack p99 (%s)", phase);
    benchreport_add (bench->report, name, figure,
                     benchstats_percentile (group->ack_us, 99) / 1000, "ms",
                     "zmq-rtt", bench->zmq_rtt_p50_us / 1000, BENCH_NO_TARGET, 0, NULL);
    snprintf (figure, sizeof figure, "send->push p99 (%s)", phase);
    benchreport_add (bench->report, name, figure,
                     benchstats_percentile (group->push_us, 99) / 1000, "ms",
                     "zmq-rtt", bench->zmq_rtt_p50_us / 1000, BENCH_NO_TARGET, 0, NULL);
    if (group->acks < (size_t) ABUSE_MESSAGES || group->pushes < (size_t) ABUSE_MESSAGES)
        benchreport_note (bench->report, name, "%s: %zu of %d messages acknowledged, %zu "
                          "delivered live%s%s", phase, group->acks, ABUSE_MESSAGES,
                          group->pushes, group->first_error [0] ? ": " : "",
                          group->first_error);
    benchstats_destroy (&login_ms);
    return rc;
}

int
bench_abuse (bench_t *bench)
{
    const char *name = "abuse";
    if (!bench_servers_local (bench)) {
        benchreport_fail (bench->report, name, "needs servers started by chat-bench");
        return -1;
    }
    bench_servers_t servers = { 0 };
    //  The servers as they ship: every limit at its default
    bench_servers_prepare (bench, name, &servers);
    servers.default_limits = true;
    if (bench_servers_start (bench, name, &servers, true, true) != 0)
        return -1;
    group_t group;
    int rc = -1;
    const char *why = "the clients did not start";
    abuser_t *flood_key = NULL, *flood_main = NULL, *stuck = NULL;
    if (s_group_ready (&group, bench, &servers, 3, name, "abuse", &why) != 0)
        goto done;
    why = "the conversation could not be made";
    const char *other [] = { chatclient_username (group.members [1].client) };
    s_start (&group.members [0], chatclient_create_conversation (group.members [0].client,
                                                                other, 1));
    char create_why [200];
    if (s_wait_all (&group, CHATCLIENT_EV_CONVERSATION, SETUP_TIMEOUT_MS) != 1) {
        //  What the client was told, so that the failure says why
        snprintf (create_why, sizeof create_why, "%s (%s)", why,
                  group.first_error [0]? group.first_error: "no answer");
        why = create_why;
        goto done;
    }
    int64_t deadline = zclock_mono () + 30000;
    while (!group.members [1].have_conversation && zclock_mono () < deadline
       &&  !zsys_interrupted) {
        chatclient_refresh (group.members [1].client);
        for (int i = 0; i < 100; i++)
            s_turn (&group, 10);
    }
    if (!group.members [1].have_conversation) {
        why = "the other member did not see the new conversation in 30 s";
        goto done;
    }
    for (size_t i = 0; i < 2; i++)
        s_start (&group.members [i], chatclient_open (group.members [i].client,
                                                      group.members [i].conversation));
    if (s_wait_all (&group, CHATCLIENT_EV_OPENED, SETUP_TIMEOUT_MS) != 2) {
        snprintf (create_why, sizeof create_why, "the conversation could not be opened (%s)",
                  group.first_error [0]? group.first_error: "no answer");
        why = create_why;
        goto done;
    }
    for (size_t i = 0; i < 3; i++)
        group.members [i].cmd = 0;
    const char *login_name = chatclient_username (group.members [2].client);
    char *login_copy = strdup (login_name ? login_name : "abuse2");

    why = "a phase failed";
    rc = s_abuse_phase (&group, bench, name, "no attack", login_copy);
    char summary [3][200] = { "", "", "" };
    long rss [3] = { benchserver_rss_kib (servers.keyserver),
                     benchserver_rss_kib (servers.mainserver), 0 };
    if (rc == 0) {
        //  Hellos replayed at both servers, from 127.0.0.2
        flood_key = abuser_hello_flood (benchserver_endpoint (servers.keyserver),
                                        "127.0.0.2", 4);
        flood_main = abuser_hello_flood (benchserver_endpoint (servers.mainserver),
                                         "127.0.0.2", 4);
        zclock_sleep (1000);
        rc = s_abuse_phase (&group, bench, name, "Hello flood", login_copy);
        abuser_destroy (&flood_key, summary [0], sizeof summary [0]);
        abuser_destroy (&flood_main, summary [1], sizeof summary [1]);
    }
    if (rc == 0) {
        //  20 sessions whose subscribers never read, 100 KB messages to them
        stuck = abuser_stuck_subscribers (bench, benchserver_endpoint (servers.mainserver),
                                          benchserver_push_endpoint (servers.mainserver),
                                          "127.0.0.3", 20, 100000, 10);
        if (!stuck) {
            benchreport_note (bench->report, name, "no never-reading subscribers: %s",
                              bench->keyserver_key ? "setup failed"
                                                   : "no key server private key");
            rc = -1;
        }
        else {
            zclock_sleep (1000);
            rc = s_abuse_phase (&group, bench, name, "never-reading subscribers", login_copy);
            rss [2] = benchserver_rss_kib (servers.mainserver);
            abuser_destroy (&stuck, summary [2], sizeof summary [2]);
        }
    }
    free (login_copy);
    if (rc == 0) {
        benchreport_add (bench->report, name, "main server RSS, never-reading subscribers",
                         (double) rss [2], "KiB", NULL, 0, BENCH_NO_TARGET, 0, NULL);
        benchreport_note (bench->report, name, "servers with their default limits; a real "
                          "client (chatclient_t) logs in %d times and sends %d messages of "
                          "%d B at %d/s to another, in each phase; key server flood: %s; "
                          "main server flood: %s; %s; main server RSS %ld KiB after the "
                          "quiet phase", ABUSE_LOGINS, ABUSE_MESSAGES, TEXT_SIZE, ABUSE_RATE,
                          summary [0], summary [1], summary [2], rss [1]);
    }
done:
    abuser_destroy (&flood_key, NULL, 0);
    abuser_destroy (&flood_main, NULL, 0);
    abuser_destroy (&stuck, NULL, 0);
    if (rc != 0)
        benchreport_fail (bench->report, name, why);
    s_group_destroy (&group);
    bench_servers_stop (&servers);
    return rc;
}
