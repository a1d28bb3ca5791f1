/*  keyserver - chat-keyserver as a CZMQ actor

    One thread owns every socket here: the pipe, the ROUTER the clients talk
    to (wrapped by chanserver, which does the whole secure channel), and the
    admin REP. When the ROUTER is readable the server drains what is already
    waiting (up to BATCH_MAX frames) inside one transaction, each write in a
    savepoint of its own, and commits once: one fsync for the lot (group
    commit, DESIGN.md section 6). Replies wait in an outbox, in request
    order, and leave only after the COMMIT; nothing the server says "done"
    to is still in memory only. If the commit fails, every reply of the
    batch becomes ERR_INTERNAL (a read may have seen a write of the batch),
    and logins made in the batch are undone (they may rest on a user
    registered in it).
*/
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include "chanserver.h"
#include "channel.h"
#include "chaterror.h"
#include "credential.h"
#include "beacon.h"
#include "fernet.h"
#include "adminsock.h"
#include "metrics.h"
#include "metricshttp.h"
#include "watchdog.h"
#include "keyserver.h"
#include "keystore.h"
#include "ratelimit.h"
#include "serverlimits.h"
#include "resume.h"
#include "rsakey.h"
#include "scram.h"
#include "secret.h"
#include "wire.h"

#ifndef CHAT_VERSION
#   define CHAT_VERSION "0.0.0"
#endif

#define SALT_SIZE         16            //  salt handed out for registration
#define FAKE_SALT_INFO    "chat/1 fake salt"
#define HOUSEKEEPING_MS   1000
#define ADMIN_MAX_USERS   1000          //  users listed on the admin socket
#define BEACON_INTERVAL   1000
#define BATCH_MAX         256           //  frames drained into one commit

//  Per-session state, session->app
typedef struct {
    scram_server_t *scram;              //  between login_start and login_finish
    char login_name [USERNAME_MAX + 1]; //  name in the pending login
    bool login_known;                   //  it names a registered user
} ks_session_t;

typedef struct {
    zsock_t *pipe;
    zsock_t *router;
    zsock_t *admin;
    zpoller_t *poller;
    zlistx_t *outbox;                   //  outgoing_t, for the batch in hand
    chanserver_t *chanserver;
    rsakey_t *server_key;
    keystore_t *store;
    ratelimit_t *ratelimit;
    serverlimits_t limits;              //  applied by s_apply_limits
    credential_keys_t keys;
    uint8_t fake_salt_key [32];
    uint8_t resume_key [FERNET_KEY_SIZE];
    char *data_dir;
    char *announce;                     //  interface, or NULL
    zactor_t *beacon;
    metrics_t *metrics;                 //  read by the HTTP thread and admin
    metricshttp_t *http;                //  METRICS-BIND, or NULL
    watchdog_t *watchdog;
    char *endpoint;                     //  last bound request endpoint
    uint32_t iterations;
    bool verbose;
    bool started;
    bool terminated;
    int64_t started_at;                 //  unix ms
    int64_t next_housekeeping;
} server_t;

//  A reply waiting for its batch's commit. By session id, not pointer: the
//  session may be dropped before the reply leaves.
typedef struct {
    uint8_t session_id [CHANNEL_SESSION_ID_SIZE];
    uint64_t request_id;
    uint8_t *payload;                   //  packed KeyReply; may hold a key
    size_t len;
    bool login;                         //  changed the session's login
} outgoing_t;

static void
s_outgoing_destroy (outgoing_t **self_p)
{
    outgoing_t *self = *self_p;
    if (self) {
        if (self->payload)
            secret_wipe (self->payload, self->len);
        free (self->payload);
        free (self);
        *self_p = NULL;
    }
}

//  Everything one reply may hold, so that one function can pack and free
typedef struct {
    Chat__KeyReply reply;
    Chat__Error error;
    Chat__RegisterParams register_params;
    Chat__Registered registered;
    Chat__LoginChallenge login_challenge;
    Chat__LoggedIn logged_in;
    Chat__ConversationKey conversation_key;
    Chat__LoggedOut logged_out;
    uint8_t salt [SALT_SIZE];
    uint8_t key [KEYSTORE_KEY_SIZE];
    uint8_t conversation_id [CONVERSATION_ID_SIZE];
    uint8_t *certificate;               //  owned
    uint8_t *resume_token;              //  owned
    char *text;                         //  owned: server_first / server_final
} reply_t;

static void
s_reply_init (reply_t *r, uint64_t request_id)
{
    memset (r, 0, sizeof *r);
    chat__key_reply__init (&r->reply);
    chat__error__init (&r->error);
    chat__register_params__init (&r->register_params);
    chat__registered__init (&r->registered);
    chat__login_challenge__init (&r->login_challenge);
    chat__logged_in__init (&r->logged_in);
    chat__conversation_key__init (&r->conversation_key);
    chat__logged_out__init (&r->logged_out);
    r->reply.request_id = request_id;
}

static void
s_reply_free (reply_t *r)
{
    free (r->certificate);
    free (r->resume_token);
    if (r->text)
        secret_wipe (r->text, strlen (r->text));
    free (r->text);
    secret_wipe (r->key, sizeof r->key);
}

//  Answer with an error. text NULL: the code's standard text.
static void
s_error (reply_t *r, int code, const char *text)
{
    wire_error_init (&r->error, code, text? text: chat_strerror (code));
    r->reply.body_case = CHAT__KEY_REPLY__BODY_ERROR;
    r->reply.error = &r->error;
}

//  ---------------------------------------------------------------- helpers


int
keyserver_prepare (const char *data_dir, bool init)
{
    assert (data_dir);
    if (secret_dir_create (data_dir)) {
        zsys_error ("keyserver: cannot create %s: %s", data_dir, strerror (errno));
        return -1;
    }
    struct stat st;
    if (stat (data_dir, &st) || !S_ISDIR (st.st_mode)) {
        zsys_error ("keyserver: %s is not a directory", data_dir);
        return -1;
    }
    secret_dir_check (data_dir, "keyserver");

    char *secret_path = zsys_sprintf ("%s/%s", data_dir, KEYSERVER_SECRET);
    char *key_path = zsys_sprintf ("%s/%s", data_dir, KEYSERVER_KEY_FILE);
    char *resume_path = zsys_sprintf ("%s/%s", data_dir, KEYSERVER_RESUME);
    assert (secret_path && key_path && resume_path);
    int rc = 0;
    bool secret_exists = stat (secret_path, &st) == 0;
    if (init && secret_exists) {
        zsys_error ("keyserver: %s exists already; it is never replaced "
                    "(the main server holds a copy)", secret_path);
        rc = -1;
    }
    if (rc == 0 && !secret_exists && secret_shared_create (secret_path)) {
        zsys_error ("keyserver: cannot create %s", secret_path);
        rc = -1;
    }
    if (rc == 0) {
        rsakey_t *key = rsakey_load_or_create (key_path, KEYSERVER_KEY_BITS);
        if (!key) {
            zsys_error ("keyserver: cannot load or create %s", key_path);
            rc = -1;
        }
        rsakey_destroy (&key);
    }
    if (rc == 0) {
        uint8_t resume [FERNET_KEY_SIZE];
        if (resume_key_load (resume_path, resume) != CHAT_OK) {
            zsys_error ("keyserver: cannot load or create %s", resume_path);
            rc = -1;
        }
        secret_wipe (resume, sizeof resume);
    }
    zstr_free (&secret_path);
    zstr_free (&key_path);
    zstr_free (&resume_path);
    return rc;
}

//  The salt an unknown user gets: stable per (lower-case) name, so asking
//  twice shows nothing, and unpredictable without the shared secret.
static int
s_fake_salt (server_t *self, const char *username, uint8_t salt [SALT_SIZE])
{
    size_t len = strlen (username);
    char *lower = (char *) malloc (len + 1);
    if (!lower)
        return -1;
    credential_username_fold (username, lower, len + 1);
    uint8_t mac [EVP_MAX_MD_SIZE];
    size_t mac_len = 0;
    int rc = -1;
    if (EVP_Q_mac (NULL, "HMAC", NULL, "SHA256", NULL,
                   self->fake_salt_key, sizeof self->fake_salt_key,
                   (const uint8_t *) lower, len, mac, sizeof mac, &mac_len)
    &&  mac_len >= SALT_SIZE) {
        memcpy (salt, mac, SALT_SIZE);
        rc = 0;
    }
    secret_wipe (mac, sizeof mac);
    free (lower);
    return rc;
}

static void
s_session_free (chansession_t *session, void *arg)
{
    (void) arg;
    ks_session_t *state = (ks_session_t *) session->app;
    if (state) {
        scram_server_destroy (&state->scram);
        secret_wipe (state, sizeof *state);
        free (state);
        session->app = NULL;
    }
}

static ks_session_t *
s_session_state (chansession_t *session)
{
    if (!session->app) {
        session->app = zmalloc (sizeof (ks_session_t));
        assert (session->app);
    }
    return (ks_session_t *) session->app;
}

static void
s_login_clear (ks_session_t *state)
{
    scram_server_destroy (&state->scram);
    state->login_name [0] = 0;
    state->login_known = false;
}

//  Log the session in as username (NULL: out). CHAT_OK, or CHAT_ERR_QUOTA
//  when the user has all the sessions it may have.
static int
s_set_username (server_t *self, chansession_t *session, const char *username)
{
    return chanserver_set_username (self->chanserver, session, username);
}

//  Certificate and resume token for a login on this session, into r.
static int
s_logged_in (server_t *self, chansession_t *session, const char *username,
             reply_t *r)
{
    const uint8_t *fingerprint = channel_peer_fingerprint (session->channel);
    size_t cert_len = 0, resume_len = 0;
    int64_t now = wire_now ();
    if (credential_cert_issue (&self->keys, CREDENTIAL_LOGGED_IN, username,
                               fingerprint, now, &r->certificate, &cert_len) != CHAT_OK
    ||  resume_issue (self->resume_key, username, fingerprint, now,
                      &r->resume_token, &resume_len) != CHAT_OK)
        return CHAT_ERR_INTERNAL;
    int rc = s_set_username (self, session, username);
    if (rc != CHAT_OK) {
        metrics_quota_refusal (self->metrics, "sessions_per_user");
        zsys_info ("keyserver: %s has %lld sessions already; login refused (session %.8s)",
                   username, (long long) self->limits.sessions_per_user, session->id_hex);
        return rc;
    }
    r->logged_in.server_final = r->text? r->text: (char *) "";
    r->logged_in.certificate.data = r->certificate;
    r->logged_in.certificate.len = cert_len;
    r->logged_in.username = session->username;
    r->logged_in.resume_token.data = r->resume_token;
    r->logged_in.resume_token.len = resume_len;
    r->reply.body_case = CHAT__KEY_REPLY__BODY_LOGGED_IN;
    r->reply.logged_in = &r->logged_in;
    return CHAT_OK;
}

//  ---------------------------------------------------------------- requests

static void
s_register_params (server_t *self, const Chat__RegisterParamsRequest *req,
                   reply_t *r)
{
    if (!credential_username_valid (req->username)) {
        s_error (r, CHAT_ERR_INVALID_USERNAME, NULL);
        return;
    }
    //  Whether the name is taken is for the register request to say
    if (secret_random (r->salt, sizeof r->salt)) {
        s_error (r, CHAT_ERR_INTERNAL, NULL);
        return;
    }
    r->register_params.salt.data = r->salt;
    r->register_params.salt.len = sizeof r->salt;
    r->register_params.iterations = self->iterations;
    r->reply.body_case = CHAT__KEY_REPLY__BODY_REGISTER_PARAMS;
    r->reply.register_params = &r->register_params;
}

static void
s_register (server_t *self, chansession_t *session,
            const Chat__RegisterRequest *req, reply_t *r)
{
    if (!credential_username_valid (req->username)) {
        s_error (r, CHAT_ERR_INVALID_USERNAME, NULL);
        return;
    }
    if (req->iterations < SCRAM_MIN_ITERATIONS
    ||  req->iterations > SCRAM_MAX_ITERATIONS
    ||  req->salt.len < KEYSTORE_SALT_MIN || req->salt.len > KEYSTORE_SALT_MAX
    ||  req->stored_key.len != SCRAM_KEY_SIZE
    ||  req->server_key.len != SCRAM_KEY_SIZE) {
        s_error (r, CHAT_ERR_BAD_REQUEST, "bad registration parameters");
        return;
    }
    //  Certificate first, so that a stored user always got its reply
    size_t cert_len = 0;
    if (credential_cert_issue (&self->keys, CREDENTIAL_REGISTERED, req->username,
                               channel_peer_fingerprint (session->channel),
                               wire_now (), &r->certificate, &cert_len) != CHAT_OK) {
        s_error (r, CHAT_ERR_INTERNAL, NULL);
        return;
    }
    keystore_user_t user;
    memset (&user, 0, sizeof user);
    snprintf (user.username, sizeof user.username, "%s", req->username);
    memcpy (user.salt, req->salt.data, req->salt.len);
    user.salt_len = req->salt.len;
    user.iterations = req->iterations;
    memcpy (user.stored_key, req->stored_key.data, SCRAM_KEY_SIZE);
    memcpy (user.server_key, req->server_key.data, SCRAM_KEY_SIZE);
    user.created_at = wire_now_ms ();
    int rc = keystore_user_insert (self->store, &user);
    secret_wipe (&user, sizeof user);
    if (rc != CHAT_OK) {
        if (rc == CHAT_ERR_USERNAME_TAKEN)
            zsys_info ("keyserver: registration refused, %s is taken", req->username);
        s_error (r, rc, NULL);
        return;
    }
    zsys_info ("keyserver: registered %s (%u iterations, session %.8s)",
               req->username, req->iterations, session->id_hex);
    r->registered.certificate.data = r->certificate;
    r->registered.certificate.len = cert_len;
    r->reply.body_case = CHAT__KEY_REPLY__BODY_REGISTERED;
    r->reply.registered = &r->registered;
}

static void
s_rate_limited (reply_t *r, int64_t wait_ms)
{
    s_error (r, CHAT_ERR_RATE_LIMITED, NULL);
    r->error.retry_after_ms = wait_ms > UINT32_MAX? UINT32_MAX: (uint32_t) wait_ms;
}

static void
s_login_start (server_t *self, chansession_t *session,
               const Chat__LoginStart *req, reply_t *r)
{
    ks_session_t *state = s_session_state (session);
    //  A new login replaces whatever this session was logged in as
    s_login_clear (state);
    if (session->username)
        zsys_info ("keyserver: %s logged out by a new login (session %.8s)",
                   session->username, session->id_hex);
    s_set_username (self, session, NULL);       //  its login timeout starts again

    const char *username = NULL;
    state->scram = scram_server_new ();
    assert (state->scram);
    if (!req->client_first
    ||  scram_server_first (state->scram, req->client_first, &username) != CHAT_OK) {
        s_login_clear (state);
        s_error (r, CHAT_ERR_MALFORMED, "bad SCRAM client-first message");
        return;
    }
    //  A name that cannot exist goes the unknown user's way, so the client
    //  shows the one "Wrong username or password"; it is never tracked by
    //  name nor logged (it may hold anything).
    bool valid = credential_username_valid (username);
    int64_t wait = ratelimit_check (self->ratelimit, session->address,
                                    valid? username: NULL, wire_now_ms ());
    if (wait > 0) {
        zsys_info ("keyserver: login for %s from %s refused for %lld ms (back-off, "
                   "session %.8s)", valid? username: "(invalid name)", session->address,
                   (long long) wait, session->id_hex);
        s_login_clear (state);
        s_rate_limited (r, wait);
        return;
    }
    keystore_user_t user;
    int rc = valid? keystore_user_lookup (self->store, username, &user)
                  : CHAT_ERR_NOT_FOUND;
    if (rc == CHAT_ERR_NOT_FOUND) {
        //  Same steps, same shapes: a salt stable for the name, the
        //  current count, and verifiers no proof can match
        memset (&user, 0, sizeof user);
        if (valid)
            snprintf (user.username, sizeof user.username, "%s", username);
        user.salt_len = SALT_SIZE;
        user.iterations = self->iterations;
        if (s_fake_salt (self, username, user.salt)
        ||  secret_random (user.stored_key, sizeof user.stored_key)
        ||  secret_random (user.server_key, sizeof user.server_key))
            rc = CHAT_ERR_INTERNAL;
        else
            state->login_known = false;
    }
    else
    if (rc == CHAT_OK)
        state->login_known = true;

    const char *server_first = NULL;
    if (rc != CHAT_ERR_INTERNAL)
        //  MALFORMED here: a client nonce too long to answer
        rc = scram_server_challenge (state->scram, user.salt, user.salt_len,
                                     user.iterations, user.stored_key,
                                     user.server_key, NULL, &server_first);
    if (rc != CHAT_OK) {
        secret_wipe (&user, sizeof user);
        s_login_clear (state);
        s_error (r, rc == CHAT_ERR_MALFORMED? rc: CHAT_ERR_INTERNAL, NULL);
        return;
    }
    //  The canonical spelling for a real user, the name as asked for an
    //  unknown one, "" for an impossible one
    snprintf (state->login_name, sizeof state->login_name, "%s", user.username);
    secret_wipe (&user, sizeof user);
    r->text = strdup (server_first);
    assert (r->text);
    r->login_challenge.server_first = r->text;
    r->reply.body_case = CHAT__KEY_REPLY__BODY_LOGIN_CHALLENGE;
    r->reply.login_challenge = &r->login_challenge;
}

static void
s_login_finish (server_t *self, chansession_t *session,
                const Chat__LoginFinish *req, reply_t *r)
{
    ks_session_t *state = s_session_state (session);
    if (!state->scram) {
        s_error (r, CHAT_ERR_OUT_OF_ORDER, "login-finish without login-start");
        return;
    }
    char name [USERNAME_MAX + 1];
    snprintf (name, sizeof name, "%s", state->login_name);
    int64_t now = wire_now_ms ();
    //  Checked again here: many sessions could start at once, before any
    //  of them failed, and would otherwise all get to guess
    int64_t wait = ratelimit_check (self->ratelimit, session->address, name, now);
    if (wait > 0) {
        s_login_clear (state);
        s_rate_limited (r, wait);
        return;
    }
    const char *server_final = NULL;
    int rc = scram_server_final (state->scram,
                                 req->client_final? req->client_final: "",
                                 &server_final);
    const char *shown = name [0]? name: "(invalid name)";
    if (rc == CHAT_OK && state->login_known) {
        r->text = strdup (server_final);
        assert (r->text);
        s_login_clear (state);
        //  The password was right, whatever else refuses the login
        ratelimit_success (self->ratelimit, session->address, name);
        rc = s_logged_in (self, session, name, r);
        if (rc != CHAT_OK) {
            s_set_username (self, session, NULL);
            s_error (r, rc, rc == CHAT_ERR_QUOTA ? "too many sessions of this user" : NULL);
            return;
        }
        zsys_info ("keyserver: login ok for %s (session %.8s, client %s)", name,
                   session->id_hex, channel_peer_fingerprint_text (session->channel));
    }
    else
    if (rc == CHAT_ERR_MALFORMED) {
        //  Not a guess at all (parsing comes before any check, for real and
        //  unknown users alike); the login must start again
        s_login_clear (state);
        zsys_info ("keyserver: login for %s abandoned: bad client-final (session %.8s)",
                   shown, session->id_hex);
        s_error (r, CHAT_ERR_MALFORMED, "bad SCRAM client-final message");
    }
    else {
        //  Wrong password, unknown user, wrong nonce: one answer for all
        s_login_clear (state);
        ratelimit_failure (self->ratelimit, session->address, name [0]? name: NULL, now);
        zsys_info ("keyserver: login failed for %s from %s (session %.8s)", shown,
                   session->address, session->id_hex);
        s_error (r, CHAT_ERR_AUTH_FAILED, NULL);
    }
}

static void
s_conversation_key (server_t *self, chansession_t *session,
                    const Chat__ConversationKeyRequest *req, bool create,
                    reply_t *r)
{
    const char *verb = create? "create": "get";
    if (!session->username) {
        s_error (r, CHAT_ERR_NOT_LOGGED_IN, NULL);
        return;
    }
    if (!req->conversation_id.data || req->conversation_id.len != CONVERSATION_ID_SIZE) {
        s_error (r, CHAT_ERR_BAD_REQUEST, "conversation id must be 16 bytes");
        return;
    }
    memcpy (r->conversation_id, req->conversation_id.data, CONVERSATION_ID_SIZE);
    char id_hex [9];
    for (int i = 0; i < 4; i++)
        snprintf (id_hex + 2 * i, 3, "%02x", r->conversation_id [i]);

    if (credential_ticket_check (&self->keys, req->ticket.data, req->ticket.len,
                                 session->username, r->conversation_id,
                                 channel_peer_fingerprint (session->channel),
                                 wire_now ()) != CHAT_OK) {
        zsys_info ("keyserver: key %s for %s refused: bad ticket (conversation %s...)",
                   verb, session->username, id_hex);
        s_error (r, CHAT_ERR_BAD_TICKET, NULL);
        return;
    }
    int rc;
    if (create) {
        uint8_t candidate [KEYSTORE_KEY_SIZE];
        if (fernet_key_generate (candidate))
            rc = CHAT_ERR_INTERNAL;
        else
            rc = keystore_key_create (self->store, r->conversation_id, candidate, r->key);
        secret_wipe (candidate, sizeof candidate);
    }
    else
        rc = keystore_key_get (self->store, r->conversation_id, r->key);
    if (rc != CHAT_OK) {
        zsys_info ("keyserver: key %s for %s: %s (conversation %s...)",
                   verb, session->username, chat_errname (rc), id_hex);
        s_error (r, rc, NULL);
        return;
    }
    zsys_info ("keyserver: key %s for %s (conversation %s...)",
               verb, session->username, id_hex);
    r->conversation_key.conversation_id.data = r->conversation_id;
    r->conversation_key.conversation_id.len = CONVERSATION_ID_SIZE;
    r->conversation_key.key.data = r->key;
    r->conversation_key.key.len = KEYSTORE_KEY_SIZE;
    r->reply.body_case = CHAT__KEY_REPLY__BODY_CONVERSATION_KEY;
    r->reply.conversation_key = &r->conversation_key;
}

static void
s_logout (server_t *self, chansession_t *session, reply_t *r)
{
    if (session->username)
        zsys_info ("keyserver: %s logged out (session %.8s)",
                   session->username, session->id_hex);
    s_login_clear (s_session_state (session));
    s_set_username (self, session, NULL);
    r->reply.body_case = CHAT__KEY_REPLY__BODY_LOGGED_OUT;
    r->reply.logged_out = &r->logged_out;
}

static void
s_resume (server_t *self, chansession_t *session,
          const Chat__ResumeRequest *req, reply_t *r)
{
    s_login_clear (s_session_state (session));
    char *username = NULL;
    if (resume_check (self->resume_key, req->resume_token.data,
                      req->resume_token.len,
                      channel_peer_fingerprint (session->channel),
                      wire_now (), &username) != CHAT_OK) {
        zsys_info ("keyserver: resume refused (session %.8s)", session->id_hex);
        s_error (r, CHAT_ERR_BAD_CERTIFICATE, NULL);
        return;
    }
    //  The user must still exist; the stored spelling is the one given out
    keystore_user_t user;
    int rc = keystore_user_lookup (self->store, username, &user);
    free (username);
    if (rc != CHAT_OK) {
        s_error (r, rc == CHAT_ERR_NOT_FOUND? CHAT_ERR_BAD_CERTIFICATE: rc, NULL);
        return;
    }
    char name [USERNAME_MAX + 1];
    snprintf (name, sizeof name, "%s", user.username);
    secret_wipe (&user, sizeof user);
    rc = s_logged_in (self, session, name, r);
    if (rc != CHAT_OK) {
        s_set_username (self, session, NULL);
        s_error (r, rc, rc == CHAT_ERR_QUOTA ? "too many sessions of this user" : NULL);
        return;
    }
    zsys_info ("keyserver: login resumed for %s (session %.8s)", name, session->id_hex);
}

static const char *
s_request_name (Chat__KeyRequest__BodyCase body)
{
    switch (body) {
        case CHAT__KEY_REQUEST__BODY_REGISTER_PARAMS: return "register-params";
        case CHAT__KEY_REQUEST__BODY_REGISTER: return "register";
        case CHAT__KEY_REQUEST__BODY_LOGIN_START: return "login-start";
        case CHAT__KEY_REQUEST__BODY_LOGIN_FINISH: return "login-finish";
        case CHAT__KEY_REQUEST__BODY_CREATE_KEY: return "create-key";
        case CHAT__KEY_REQUEST__BODY_GET_KEY: return "get-key";
        case CHAT__KEY_REQUEST__BODY_LOGOUT: return "logout";
        case CHAT__KEY_REQUEST__BODY_RESUME: return "resume";
        default: return "unknown";
    }
}

//  Pack r into a reply for the outbox; on a failed pack (memory), a bare
//  ERR_INTERNAL with the request's id.
static int
s_pack (reply_t *r, uint8_t **packed, size_t *len)
{
    if (wire_pack (&r->reply.base, packed, len) == CHAT_OK)
        return CHAT_OK;
    Chat__KeyReply reply = CHAT__KEY_REPLY__INIT;
    Chat__Error error = CHAT__ERROR__INIT;
    wire_error_init (&error, CHAT_ERR_INTERNAL, chat_strerror (CHAT_ERR_INTERNAL));
    reply.request_id = r->reply.request_id;
    reply.body_case = CHAT__KEY_REPLY__BODY_ERROR;
    reply.error = &error;
    return wire_pack (&reply.base, packed, len);
}

static void
s_queue (server_t *self, chansession_t *session, reply_t *r, bool login)
{
    outgoing_t *out = (outgoing_t *) zmalloc (sizeof (outgoing_t));
    assert (out);
    memcpy (out->session_id, channel_session_id (session->channel),
            CHANNEL_SESSION_ID_SIZE);
    out->request_id = r->reply.request_id;
    out->login = login;
    if (s_pack (r, &out->payload, &out->len) != CHAT_OK) {
        zsys_error ("keyserver: cannot pack a reply");
        free (out);
        return;
    }
    zlistx_add_end (self->outbox, out);
}

//  Handle one request of the batch; its reply goes to the outbox.
static void
s_handle_request (server_t *self, chansession_t *session,
                  const uint8_t *payload, size_t len)
{
    reply_t r;
    bool login = false;
    Chat__KeyRequest *req = NULL;
    int rc = wire_unpack (&chat__key_request__descriptor, payload, len,
                          (ProtobufCMessage **) &req);
    if (rc != CHAT_OK) {
        s_reply_init (&r, 0);
        s_error (&r, rc, NULL);
        zsys_info ("keyserver: undecodable request (session %.8s)", session->id_hex);
        metrics_request (self->metrics, "undecodable", rc);
    }
    else {
        s_reply_init (&r, req->request_id);
        if (self->verbose)
            zsys_info ("keyserver: %s #%llu (session %.8s, user %s)",
                       s_request_name (req->body_case),
                       (unsigned long long) req->request_id, session->id_hex,
                       session->username? session->username: "-");
        //  A write takes back only its own work when it fails
        bool write = req->body_case == CHAT__KEY_REQUEST__BODY_REGISTER
                  || req->body_case == CHAT__KEY_REQUEST__BODY_CREATE_KEY;
        login = req->body_case == CHAT__KEY_REQUEST__BODY_LOGIN_START
             || req->body_case == CHAT__KEY_REQUEST__BODY_LOGIN_FINISH
             || req->body_case == CHAT__KEY_REQUEST__BODY_RESUME;
        //  A client on its way to a login is given its login timeout again
        //  at each step (a person may take a while to type a password)
        if (!session->username
        &&  (req->body_case == CHAT__KEY_REQUEST__BODY_REGISTER_PARAMS
          || req->body_case == CHAT__KEY_REQUEST__BODY_REGISTER
          || req->body_case == CHAT__KEY_REQUEST__BODY_LOGIN_START))
            chanserver_login_progress (self->chanserver, session);
        if (write && keystore_savepoint (self->store) != CHAT_OK)
            s_error (&r, CHAT_ERR_INTERNAL, NULL);
        else {
            switch (req->body_case) {
                case CHAT__KEY_REQUEST__BODY_REGISTER_PARAMS:
                    s_register_params (self, req->register_params, &r);
                    break;
                case CHAT__KEY_REQUEST__BODY_REGISTER:
                    s_register (self, session, req->register_, &r);
                    break;
                case CHAT__KEY_REQUEST__BODY_LOGIN_START:
                    s_login_start (self, session, req->login_start, &r);
                    break;
                case CHAT__KEY_REQUEST__BODY_LOGIN_FINISH:
                    s_login_finish (self, session, req->login_finish, &r);
                    break;
                case CHAT__KEY_REQUEST__BODY_CREATE_KEY:
                    s_conversation_key (self, session, req->create_key, true, &r);
                    break;
                case CHAT__KEY_REQUEST__BODY_GET_KEY:
                    s_conversation_key (self, session, req->get_key, false, &r);
                    break;
                case CHAT__KEY_REQUEST__BODY_LOGOUT:
                    s_logout (self, session, &r);
                    break;
                case CHAT__KEY_REQUEST__BODY_RESUME:
                    s_resume (self, session, req->resume, &r);
                    break;
                default:
                    s_error (&r, CHAT_ERR_BAD_REQUEST, "unknown request");
                    break;
            }
            if (write) {
                if (r.reply.body_case == CHAT__KEY_REPLY__BODY_ERROR
                &&  (int) r.error.code == CHAT_ERR_INTERNAL)
                    keystore_savepoint_rollback (self->store);
                else
                if (keystore_release (self->store) != CHAT_OK) {
                    //  Nothing of it stays: nor may its reply
                    s_reply_free (&r);
                    s_reply_init (&r, req->request_id);
                    s_error (&r, CHAT_ERR_INTERNAL, NULL);
                }
            }
        }
        metrics_request (self->metrics, s_request_name (req->body_case),
                         r.reply.body_case == CHAT__KEY_REPLY__BODY_ERROR
                         ? (int) r.error.code : CHAT_OK);
        if (self->verbose && r.reply.body_case == CHAT__KEY_REPLY__BODY_ERROR)
            zsys_info ("keyserver: %s #%llu -> %s", s_request_name (req->body_case),
                       (unsigned long long) req->request_id,
                       chat_errname (r.error.code));
    }
    s_queue (self, session, &r, login);
    s_reply_free (&r);
    if (req)
        protobuf_c_message_free_unpacked (&req->base, NULL);
}

//  Send what the batch produced: after a good commit as it is; after a
//  failed one, every reply as ERR_INTERNAL, and the logins of the batch
//  undone, since they may rest on what was not stored.
static void
s_flush (server_t *self, bool committed)
{
    outgoing_t *out = (outgoing_t *) zlistx_first (self->outbox);
    while (out) {
        chansession_t *session = chanserver_lookup (self->chanserver, out->session_id);
        if (session && !committed) {
            if (out->login) {
                if (session->app)
                    s_login_clear ((ks_session_t *) session->app);
                s_set_username (self, session, NULL);
            }
            reply_t r;
            s_reply_init (&r, out->request_id);
            s_error (&r, CHAT_ERR_INTERNAL, "storage failed, nothing was stored");
            secret_wipe (out->payload, out->len);
            free (out->payload);
            out->payload = NULL;
            out->len = 0;
            if (s_pack (&r, &out->payload, &out->len) != CHAT_OK)
                session = NULL;
            s_reply_free (&r);
        }
        if (session) {
            int rc = chanserver_reply (self->chanserver, session, out->payload, out->len);
            if (rc != CHAT_OK)
                zsys_warning ("keyserver: reply to session %.8s failed: %s",
                              session->id_hex, chat_errname (rc));
        }
        out = (outgoing_t *) zlistx_next (self->outbox);
    }
    zlistx_purge (self->outbox);
}

//  Drain what is waiting on the ROUTER, in one transaction.
static void
s_handle_batch (server_t *self)
{
    bool in_transaction = keystore_begin (self->store) == CHAT_OK;
    size_t handled = 0, requests = 0;
    while (handled < BATCH_MAX) {
        if (handled > 0 && !(zsock_events (self->router) & ZMQ_POLLIN))
            break;
        uint8_t *payload = NULL;
        size_t len = 0;
        chansession_t *session = chanserver_recv (self->chanserver, &payload, &len);
        handled++;              //  handshakes and refusals count too
        if (session) {
            requests++;
            if (in_transaction)
                s_handle_request (self, session, payload, len);
            else {
                //  Nothing is handled, so nothing in memory changes
                reply_t r;
                s_reply_init (&r, 0);
                s_error (&r, CHAT_ERR_INTERNAL, "storage unavailable");
                s_queue (self, session, &r, false);
                s_reply_free (&r);
            }
            secret_wipe (payload, len);
        }
        free (payload);
    }
    int64_t commit_start = zclock_usecs ();
    bool committed = in_transaction && keystore_commit (self->store) == CHAT_OK;
    if (in_transaction)
        metrics_commit (self->metrics, zclock_usecs () - commit_start, requests, committed);
    if (in_transaction && !committed)
        zsys_error ("keyserver: commit failed, a batch of %zu was answered ERR_INTERNAL",
                    zlistx_size (self->outbox));
    s_flush (self, committed);
}

//  ---------------------------------------------------------------- admin

typedef struct {
    Chat__AdminUser *users;
    Chat__AdminUser **user_ptrs;
    char (*names) [USERNAME_MAX + 1];
    char (*shorts) [9];
    size_t count;
} admin_users_t;

static int
s_admin_user (const keystore_user_t *user, void *arg)
{
    admin_users_t *list = (admin_users_t *) arg;
    size_t i = list->count++;
    chat__admin_user__init (&list->users [i]);
    snprintf (list->names [i], sizeof list->names [i], "%s", user->username);
    for (int b = 0; b < 4; b++)
        snprintf (list->shorts [i] + 2 * b, 3, "%02x", user->stored_key [b]);
    list->users [i].username = list->names [i];
    list->users [i].iterations = user->iterations;
    list->users [i].stored_key_short = list->shorts [i];
    list->users [i].created_at = user->created_at;
    list->user_ptrs [i] = &list->users [i];
    return 0;
}

//  The metrics instead of the overview
static void
s_admin_metrics (server_t *self)
{
    Chat__AdminReply reply = CHAT__ADMIN_REPLY__INIT;
    reply.role = (char *) "keyserver";
    reply.version = (char *) CHAT_VERSION;
    reply.server_key_fingerprint = (char *) rsakey_fingerprint_text (self->server_key);
    reply.started_at = self->started_at;
    reply.metrics = metrics_render (self->metrics);
    uint8_t *packed = NULL;
    size_t packed_len = 0;
    if (reply.metrics && wire_pack (&reply.base, &packed, &packed_len) == CHAT_OK) {
        zsock_send (self->admin, "b", packed, packed_len);
        free (packed);
    }
    else
        zsock_send (self->admin, "b", "", (size_t) 0);
    free (reply.metrics);
}

static void
s_handle_admin (server_t *self)
{
    zframe_t *frame = zframe_recv (self->admin);
    if (!frame)
        return;
    Chat__AdminRequest *req = NULL;
    int rc = wire_unpack (&chat__admin_request__descriptor, zframe_data (frame),
                          zframe_size (frame), (ProtobufCMessage **) &req);
    zframe_destroy (&frame);
    if (rc != CHAT_OK || req->version != 1) {
        //  REP must answer something; an empty frame means "not understood"
        if (req)
            protobuf_c_message_free_unpacked (&req->base, NULL);
        zsock_send (self->admin, "b", "", (size_t) 0);
        return;
    }
    bool metrics = req->metrics;
    protobuf_c_message_free_unpacked (&req->base, NULL);
    if (metrics) {
        s_admin_metrics (self);
        return;
    }

    Chat__AdminReply reply = CHAT__ADMIN_REPLY__INIT;
    reply.role = (char *) "keyserver";
    reply.version = (char *) CHAT_VERSION;
    reply.server_key_fingerprint = (char *) rsakey_fingerprint_text (self->server_key);
    reply.started_at = self->started_at;
    int64_t keys = keystore_key_count (self->store);
    reply.conversation_key_count = keys > 0? (uint64_t) keys: 0;

    admin_users_t list = { 0 };
    list.users = (Chat__AdminUser *) calloc (ADMIN_MAX_USERS, sizeof (Chat__AdminUser));
    list.user_ptrs = (Chat__AdminUser **) calloc (ADMIN_MAX_USERS, sizeof (Chat__AdminUser *));
    list.names = calloc (ADMIN_MAX_USERS, sizeof *list.names);
    list.shorts = calloc (ADMIN_MAX_USERS, sizeof *list.shorts);
    assert (list.users && list.user_ptrs && list.names && list.shorts);
    keystore_user_each (self->store, ADMIN_MAX_USERS, s_admin_user, &list);
    reply.n_users = list.count;
    reply.users = list.user_ptrs;

    reply.n_sessions = chanserver_admin_sessions (self->chanserver, &reply.sessions);

    uint8_t *packed = NULL;
    size_t packed_len = 0;
    if (wire_pack (&reply.base, &packed, &packed_len) == CHAT_OK) {
        zsock_send (self->admin, "b", packed, packed_len);
        free (packed);
    }
    else
        zsock_send (self->admin, "b", "", (size_t) 0);
    chanserver_admin_sessions_free (&reply.sessions);
    free (list.users);
    free (list.user_ptrs);
    free (list.names);
    free (list.shorts);
}

//  ---------------------------------------------------------------- lifecycle

static void
s_announce (server_t *self)
{
    if (!self->announce || !self->started || !self->endpoint || self->beacon)
        return;
    char payload [BEACON_MAX + 1];
    if (beacon_format (payload, sizeof payload, "keyserver", self->endpoint, NULL,
                       rsakey_fingerprint_text (self->server_key)) < 0) {
        zsys_error ("keyserver: endpoint too long to announce");
        return;
    }
    self->beacon = beacon_announce (self->announce, BEACON_PORT, payload,
                                    BEACON_INTERVAL);
    if (self->beacon)
        zsys_info ("keyserver: announcing on %s: %s", self->announce, payload);
    else
        zsys_error ("keyserver: cannot announce on %s", self->announce);
}

//  Every limit to where it is enforced; again whenever one changes
static void
s_apply_limits (server_t *self)
{
    const serverlimits_t *limits = &self->limits;
    if (self->chanserver)
        chanserver_set_limits (self->chanserver, limits);
    ratelimit_set_policy (self->ratelimit, (uint32_t) limits->login_failures_per_user,
                          limits->login_backoff_ms, limits->login_backoff_max_ms
                          < limits->login_backoff_ms ? limits->login_backoff_ms
                                                     : limits->login_backoff_max_ms,
                          limits->login_failures_per_address_per_hour,
                          (size_t) limits->login_tracked);
}

static int
s_start (server_t *self)
{
    if (self->started)
        return 0;
    if (!self->data_dir) {
        zsys_error ("keyserver: START without DATA");
        return -1;
    }
    if (keyserver_prepare (self->data_dir, false))
        return -1;
    char *path = zsys_sprintf ("%s/%s", self->data_dir, KEYSERVER_KEY_FILE);
    self->server_key = rsakey_load (path);
    zstr_free (&path);
    if (!self->server_key) {
        zsys_error ("keyserver: cannot load the server key");
        return -1;
    }
    uint8_t shared [SECRET_SHARED_SIZE];
    path = zsys_sprintf ("%s/%s", self->data_dir, KEYSERVER_SECRET);
    int rc = secret_shared_load (path, shared);
    zstr_free (&path);
    if (rc == 0)
        rc = credential_keys_derive (shared, &self->keys) == CHAT_OK
          && secret_hkdf (shared, sizeof shared, FAKE_SALT_INFO,
                          self->fake_salt_key, sizeof self->fake_salt_key) == 0? 0: -1;
    secret_wipe (shared, sizeof shared);
    if (rc) {
        zsys_error ("keyserver: cannot load the shared secret");
        return -1;
    }
    path = zsys_sprintf ("%s/%s", self->data_dir, KEYSERVER_RESUME);
    rc = resume_key_load (path, self->resume_key);
    zstr_free (&path);
    if (rc != CHAT_OK) {
        zsys_error ("keyserver: cannot load the resume secret");
        return -1;
    }
    path = zsys_sprintf ("%s/%s", self->data_dir, KEYSERVER_DB);
    self->store = keystore_open (path);
    zstr_free (&path);
    if (!self->store)
        return -1;

    self->chanserver = chanserver_new (self->router, self->server_key);
    assert (self->chanserver);
    chanserver_set_free_fn (self->chanserver, s_session_free, self);
    chanserver_set_metrics (self->chanserver, self->metrics);
    //  RSA signatures are the cost of a handshake: they run on one worker
    //  per core, and only the finished sessions come back to this thread
    if (chanserver_set_workers (self->chanserver, CHANSERVER_WORKERS_PER_CORE) == CHAT_OK)
        zpoller_add (self->poller, chanserver_handshakes (self->chanserver));
    chanserver_set_verbose (self->chanserver, self->verbose);
    s_apply_limits (self);

    //  The admin socket is for the operator only: the directory is 0700
    //  and the socket file 0600. Without it the server still serves.
    self->admin = adminsock_bind (self->data_dir, NULL);
    if (self->admin)
        zpoller_add (self->poller, self->admin);

    zpoller_add (self->poller, self->router);
    self->started = true;
    self->started_at = wire_now_ms ();
    zsys_info ("keyserver: started, data %s, key %s, %lld users, %lld conversation keys",
               self->data_dir, rsakey_fingerprint_text (self->server_key),
               (long long) keystore_user_count (self->store),
               (long long) keystore_key_count (self->store));
    char *limits = serverlimits_summary (&self->limits, SERVERLIMITS_KEYSERVER);
    zsys_info ("keyserver: limits %s", limits);
    free (limits);
    s_announce (self);
    return 0;
}

static void
s_handle_pipe (server_t *self)
{
    zmsg_t *msg = zmsg_recv (self->pipe);
    if (!msg) {
        self->terminated = true;
        return;
    }
    char *command = zmsg_popstr (msg);
    char *arg = zmsg_popstr (msg);
    if (!command)
        ;
    else
    if (streq (command, "$TERM"))
        self->terminated = true;
    else
    if (streq (command, "VERBOSE")) {
        self->verbose = !arg || !streq (arg, "0");
        if (self->chanserver)
            chanserver_set_verbose (self->chanserver, self->verbose);
    }
    else
    if (streq (command, "DATA") && arg) {
        free (self->data_dir);
        self->data_dir = strdup (arg);
    }
    else
    if (streq (command, "ITERATIONS") && arg) {
        long n = atol (arg);
        if (n >= SCRAM_MIN_ITERATIONS && n <= SCRAM_MAX_ITERATIONS)
            self->iterations = (uint32_t) n;
        else
            zsys_error ("keyserver: ITERATIONS %s out of range", arg);
    }
    else
    if (streq (command, "ANNOUNCE") && arg) {
        free (self->announce);
        self->announce = strdup (arg);
        s_announce (self);
    }
    else
    if (streq (command, "LIMIT") && arg) {
        char *value = zmsg_popstr (msg);
        char error [256];
        if (serverlimits_set (&self->limits, SERVERLIMITS_KEYSERVER, arg, value,
                              error, sizeof error) == 0) {
            s_apply_limits (self);
            zstr_send (self->pipe, "OK");
        }
        else
            zstr_sendf (self->pipe, "ERROR %s", error);
        zstr_free (&value);
    }
    else
    if (streq (command, "METRICS-BIND") && arg) {
        char error [256] = "";
        metricshttp_destroy (&self->http);
        self->http = metricshttp_new (self->metrics, arg, error, sizeof error);
        if (self->http) {
            zsys_info ("keyserver: metrics on http://%s/metrics", metricshttp_address (self->http));
            zstr_send (self->pipe, metricshttp_address (self->http));
        }
        else {
            zsys_error ("keyserver: %s", error);
            zstr_send (self->pipe, "ERROR");
        }
    }
    else
    if (streq (command, "START"))
        zstr_send (self->pipe, s_start (self) == 0? "OK": "ERROR");
    else
    if (streq (command, "BIND") && arg) {
        if (zsock_bind (self->router, "%s", arg) >= 0) {
            free (self->endpoint);
            self->endpoint = strdup (zsock_endpoint (self->router));
            zsys_info ("keyserver: listening on %s", self->endpoint);
            zstr_send (self->pipe, self->endpoint);
            s_announce (self);
        }
        else {
            zsys_error ("keyserver: cannot bind %s: %s", arg, zmq_strerror (zmq_errno ()));
            zstr_send (self->pipe, "ERROR");
        }
    }
    else
        zsys_error ("keyserver: invalid command %s", command);
    zstr_free (&command);
    zstr_free (&arg);
    zmsg_destroy (&msg);
}

static void
s_housekeeping (server_t *self)
{
    int64_t now = wire_now_ms ();
    if (now < self->next_housekeeping)
        return;
    self->next_housekeeping = now + HOUSEKEEPING_MS;
    if (self->chanserver) {
        size_t dropped = chanserver_expire (self->chanserver, now);
        if (dropped && self->verbose)
            zsys_info ("keyserver: dropped %zu idle sessions", dropped);
    }
    ratelimit_prune (self->ratelimit, now);
    //  The gauges only this thread may compute, for the metrics' readers
    if (self->chanserver) {
        size_t handshaking, anonymous, logged_in;
        chanserver_census (self->chanserver, &handshaking, &anonymous, &logged_in);
        metrics_sessions (self->metrics, handshaking, anonymous, logged_in);
        char *path = zsys_sprintf ("%s/%s", self->data_dir, KEYSERVER_DB);
        metrics_store_bytes (self->metrics, metrics_db_bytes (path));
        zstr_free (&path);
    }
}

static server_t *
s_server_new (zsock_t *pipe)
{
    server_t *self = (server_t *) zmalloc (sizeof (server_t));
    assert (self);
    self->pipe = pipe;
    self->router = zsock_new (ZMQ_ROUTER);
    assert (self->router);
    zsock_set_maxmsgsize (self->router, WIRE_MAX_FRAME);
    self->poller = zpoller_new (pipe, NULL);
    assert (self->poller);
    //  Only $TERM stops the actor; main() decides what a signal means
    zpoller_set_nonstop (self->poller, true);
    self->ratelimit = ratelimit_new ();
    serverlimits_defaults (&self->limits, SERVERLIMITS_KEYSERVER);
    s_apply_limits (self);
    self->outbox = zlistx_new ();
    assert (self->outbox);
    zlistx_set_destructor (self->outbox, (zlistx_destructor_fn *) s_outgoing_destroy);
    self->iterations = KEYSERVER_ITERATIONS;
    self->metrics = metrics_new ("keyserver", CHAT_VERSION);
    self->watchdog = watchdog_new ();
    assert (self->metrics && self->watchdog);
    return self;
}

static void
s_server_destroy (server_t **self_p)
{
    server_t *self = *self_p;
    if (!self)
        return;
    zactor_destroy (&self->beacon);
    metricshttp_destroy (&self->http);
    zlistx_destroy (&self->outbox);
    chanserver_destroy (&self->chanserver);
    zpoller_destroy (&self->poller);
    zsock_destroy (&self->admin);
    zsock_destroy (&self->router);
    keystore_destroy (&self->store);
    ratelimit_destroy (&self->ratelimit);
    rsakey_destroy (&self->server_key);
    credential_keys_wipe (&self->keys);
    secret_wipe (self->fake_salt_key, sizeof self->fake_salt_key);
    secret_wipe (self->resume_key, sizeof self->resume_key);
    free (self->data_dir);
    free (self->announce);
    free (self->endpoint);
    metrics_destroy (&self->metrics);
    watchdog_destroy (&self->watchdog);
    free (self);
    *self_p = NULL;
}

void
keyserver_actor (zsock_t *pipe, void *args)
{
    (void) args;
    server_t *self = s_server_new (pipe);
    zsock_signal (pipe, 0);

    while (!self->terminated) {
        void *which = zpoller_wait (self->poller,
                                    watchdog_timeout (self->watchdog, HOUSEKEEPING_MS));
        if (which == self->pipe)
            s_handle_pipe (self);
        else
        if (which && which == self->router)
            s_handle_batch (self);
        else
        if (which && self->chanserver && which == chanserver_handshakes (self->chanserver))
            chanserver_handshake_done (self->chanserver);
        else
        if (which && which == self->admin)
            s_handle_admin (self);
        else
        if (!which && !zpoller_expired (self->poller) && zmq_errno () == ETERM)
            break;              //  context gone: nothing more can be done
        s_housekeeping (self);
        watchdog_kick (self->watchdog);
    }
    if (self->started)
        zsys_info ("keyserver: stopped");
    s_server_destroy (&self);
    //  Free this thread's OpenSSL state (its DRBGs) now: CZMQ's actor
    //  threads are detached, so main() may exit before the thread-exit
    //  handlers would have run, and the state would show up as a leak
    OPENSSL_thread_stop ();
}
