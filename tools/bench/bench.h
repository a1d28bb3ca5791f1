/*  bench - what every chat-bench scenario shares: the options, the
    measured ceilings, the report, and the scenarios themselves

    Each scenario starts its own servers (benchserver.h) in a fresh data
    directory, drives them with in-process clients (the client library, or
    rawclient.h where thousands of sessions are needed), and adds its rows to
    the report. A scenario returns 0 when it ran (whatever the figures), -1
    when it could not run at all.
*/
#ifndef BENCH_H_INCLUDED
#define BENCH_H_INCLUDED

#include <stdbool.h>
#include <stdint.h>
#include <czmq.h>
#include "benchreport.h"
#include "credential.h"
#include "rsakey.h"
#include "wire.h"

//  The targets of issue 8.
#define TARGET_HANDSHAKE_RATIO   0.80      //  of one core's RSA-2048 sign rate
#define TARGET_MESSAGES_PER_S    50000.0
#define TARGET_PUSH_P99_MS       2.0
#define TARGET_PUSH_RATE         5000.0    //  messages/s the p99 is measured at
#define TARGET_FANOUT_PER_S      200000.0
#define TARGET_SESSION_KIB       16.0
#define TARGET_HISTORY_MS        5.0
#define TARGET_SHUTDOWN_MS       200.0

//  Bytes of text in each message the messages and fanout scenarios send
#define BENCH_TEXT_SIZE          100
//  Messages per commit when the store alone is timed for the floor
#define BENCH_STORE_BATCH        32

//  The targets of issue 19, against the floors and Mosquitto
#define TARGET_SERVER_FLOOR      2.0       //  main server CPU per message, x its floor
#define TARGET_PUSH_FLOOR        1.5       //  CPU per push, x one seal
#define TARGET_CLIENT_FLOOR      2.0       //  clients' CPU per message, x theirs
#define TARGET_PEER_RATIO        1.0       //  msgs/s, x Mosquitto's in the same run
#define TARGET_RAW_PUSH_P99_MS   5.0       //  send->push p99 at TARGET_PUSH_RATE (messages-raw)

typedef struct {
    //  Sizes (set from the defaults, --quick, then options)
    bool quick;
    int handshakes;             //  handshakes to time
    int handshake_sockets;      //  connecting DEALERs
    int logins;                 //  registrations and logins to time
    int login_clients;          //  clients logging in at once
    int iterations;             //  PBKDF2 count for registrations
    int clients;                //  messages: C
    int conversations;          //  messages: K
    int window;                 //  sends in flight per client
    int duration_ms;            //  messages: each phase
    int rate;                   //  messages at a fixed rate (0: as fast as acks allow)
    int fanout_members;
    int fanout_messages;
    int history_size;
    int history_fetches;
    int history_page;
    int sessions;
    int sessions_per_socket;
    int shutdown_sessions;
    int mainservers;            //  cluster: main servers on one database
    char *store;                //  cluster: their --store (postgresql://...)
    double ceiling_seconds;     //  per ceiling measurement

    //  Where the servers are
    char *keyserver_bin;
    char *mainserver_bin;
    char *keyserver;            //  given endpoints (then nothing is started)
    char *mainserver;
    char *push;
    char *keyserver_private;    //  given servers: the key server's private key file
    char *tmpdir;               //  our scratch directory (when we start servers)
    bool keep;                  //  leave tmpdir behind
    bool verbose;

    //  Ceilings, measured first
    double rsa_sign_per_s;      //  RSA-2048 PSS signatures/s, one core
    double rsa_decrypt_per_s;   //  RSA-2048 OAEP decryptions/s, one core
    double fernet_1k_per_s;     //  fernet_encrypt tokens/s on 1 KiB
    double fernet_1k_mb_s;      //  plaintext MB/s on 1 KiB
    double fernet_small_per_s;  //  fernet_encrypt tokens/s on 256 bytes
    double pbkdf2_iter_per_s;   //  PBKDF2-HMAC-SHA256 iterations/s, one core
    double zmq_msgs_per_s;      //  DEALER->ROUTER, no crypto
    double zmq_rtt_p50_us;      //  DEALER->ROUTER->DEALER round trip
    double zmq_rtt_p99_us;
    double fsync_p50_ms;        //  4 KiB write + fdatasync in the scratch directory
    double fsync_p99_ms;
    double rsa_verify_per_s;    //  RSA-2048 PSS verifications/s, one core
    double seal_small_us;       //  fernet_key_encrypt / _decrypt of 256 B, key kept
    double open_small_us;
    size_t message_size;        //  a message's push (StoredMessage of a real token)
    double seal_message_us;     //  fernet_key_encrypt / _decrypt of message_size, key kept
    double open_message_us;
    double store_cpu_us;        //  CPU per message stored in a batch of STORE_BATCH

    //  Floors, from the ceilings above: the work a message cannot avoid in
    //  this protocol, in CPU us (bench_floor_note says what is in each)
    double floor_server_us;     //  main server per message
    double floor_push_us;       //  main server per push: one seal
    double floor_client_us;     //  all clients together per message

    //  What the peers scenario sets chat beside, from this run's messages
    //  and fanout scenarios (0: not measured), and the peer's figures
    char *mosquitto_bin;        //  --mosquitto-bin (NULL: search)
    double chat_msgs_per_s;     //  messages, as fast as acks allow
    double chat_p99_ms;         //  messages, send->push p99 at chat_rate
    int chat_rate;
    double raw_msgs_per_s;      //  messages-raw (light clients), as fast as acks allow
    double raw_p99_ms;          //  messages-raw, send->push p99 at raw_rate
    int raw_rate;
    double chat_fanout_per_s;   //  fanout, pushes delivered/s
    double peer_msgs_per_s;
    double peer_p99_ms;         //  send->receive p99 at peer_rate
    int peer_rate;
    double peer_fanout_per_s;

    //  The key server's key pair, to sign certificates for raw clients (a
    //  harness shortcut: real clients log in at the key server), and the
    //  one identity key every raw user registers with (only the creator of
    //  a conversation signs anything)
    rsakey_t *keyserver_key;
    rsakey_t *identity;
    //  Servers we start: the public key files each is given of the other
    char *keyserver_public;
    char *mainserver_public;

    benchreport_t *report;
} bench_t;

//  The servers of one scenario: started by us in <tmpdir>/<name>/ks and
//  .../ms (the directories exist before the start, so a scenario may fill
//  ms first), or the given endpoints.
typedef struct {
    struct _benchserver_t *keyserver;
    struct _benchserver_t *mainserver;
    char *dir;                  //  <tmpdir>/<name>, NULL with given servers
    char *ms_dir;
    //  false (the default): the servers start with the abuse limits that
    //  would cap what a scenario measures turned off (rates, per-address
    //  and per-user caps, quotas) and a deep push queue; true: every limit
    //  at its default, as the servers ship
    bool default_limits;
} bench_servers_t;

//  Make the scenario's directories (no server yet). -1 on failure.
int bench_servers_prepare (bench_t *bench, const char *name, bench_servers_t *servers);
//  Start what is asked for (or take the given endpoints). -1 on failure,
//  with the reason in the report.
int bench_servers_start (bench_t *bench, const char *name, bench_servers_t *servers,
                         bool keyserver, bool mainserver);
void bench_servers_stop (bench_servers_t *servers);
//  One more main server in dir, with the same key as the others and the
//  same limits off, on the store at url (NULL: its own SQLite file); NULL
//  when it did not start.
struct _benchserver_t *bench_mainserver_start (bench_t *bench, const char *dir,
                                               const char *url);
//  True when the servers are ours (RSS, SIGTERM, database files).
bool bench_servers_local (bench_t *bench);

//  Sign a certificate for a raw client on the shared client key and the
//  shared identity (CREDENTIAL_REGISTERED or _LOGGED_IN) with the key
//  server's key. CHAT_OK and a malloc'd SignedCredential.
int bench_certificate (bench_t *bench, int purpose, const char *username,
                       uint8_t **token, size_t *len);

//  Scenarios, in the order `all` runs them. Ceiling runs first always.
int bench_ceiling (bench_t *bench);
int bench_handshake (bench_t *bench);
int bench_login (bench_t *bench);
int bench_create (bench_t *bench);
int bench_messages (bench_t *bench);
int bench_messages_raw (bench_t *bench);
int bench_fanout (bench_t *bench);
int bench_history (bench_t *bench);
int bench_sessions (bench_t *bench);
int bench_shutdown (bench_t *bench);
int bench_abuse (bench_t *bench);
int bench_cluster (bench_t *bench);
int bench_peers (bench_t *bench);

//  The fixed rate messages and peers measure send->push p99 at: --rate,
//  else TARGET_PUSH_RATE (BENCH_QUICK_RATE with --quick).
#define BENCH_QUICK_RATE 500
int bench_fixed_rate (bench_t *bench);

//  Monotonic clock in nanoseconds / as double seconds.
int64_t bench_now_ns (void);
double bench_seconds_since (int64_t start_ns);

//  CPU time this process has used (all threads), ms.
double bench_cpu_ms (void);

//  A message token as a client makes it (msgseal): text_len bytes of text,
//  epoch 1, signed with identity, sealed under an epoch key of our own.
//  Malloc'd, or NULL.
char *bench_message_token (const uint8_t conversation_id [16], const char *sender,
                           size_t text_len, rsakey_t *identity);

//  A process-wide RSA-2048 client key for raw clients (generated once).
rsakey_t *bench_client_key (void);

#endif
