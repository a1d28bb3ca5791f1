/*  chat-rogue - a key server that lies, so that e2e.rogue can show the real
    `chat` refusing it

    Usage: chat-rogue MODE --data DIR [--store URL] [--bind ENDPOINT] [--password PW]

    It holds the real key server's long-term key and reads its database
    (DIR is that server's data directory; --store names its store when that
    is not DIR/keyserver.db, e.g. its PostgreSQL database): the impostor a stolen key and a
    copied data directory make, so the client's pin matches and only the
    protocol's own checks can stop it. Built on libchat (channel,
    chanserver, wire, scram, credential) and the key server's own store
    (keystore): when the protocol changes, this changes with it, and nothing
    here packs a frame by hand.

    MODE, what each Hello or login gets:
      welcome-ok         an honest handshake (the control: the client connects)
      welcome-bad-sig    a Welcome whose transcript signature has one bit
                         flipped
      welcome-oversized  the honest Welcome twice on the same connection:
                         first padded past WIRE_MAX_FRAME with an unknown
                         field, then as it is. A client that drops the
                         connection at the oversized frame (ZMQ_MAXMSGSIZE)
                         never sees the second; one that reads past the
                         limit, or skips the frame and reads on, connects.
      scram-honest       an honest handshake; a login is answered with the
                         SCRAM server signature made from PW (with the
                         user's real salt and count, so that the sealed
                         identity opens), the user's identity key and sealed
                         identity from the database, and a logged-in
                         certificate the real main server accepts (the
                         control: the client logs in)
      scram-forged       the same, but the server signature made with a
                         ServerKey that is not the user's: the proof of
                         knowing the verifier is false, everything else true
      rotation-forged    a key of its own in every Welcome, with a key rotation
                         statement naming the real key as the old one and its
                         own as the new one, signed by its own key: what
                         anyone can make without the real key (the client
                         must refuse it)
      rotation-stolen    the same statement signed by the real key: what a
                         stolen key can do (the control: the client moves
                         its pin, which is why a leaked key is no case for
                         --rotate-key; see README)
    Every other request is refused (ERR_BAD_REQUEST).

    Prints "rogue: listening on ENDPOINT" when ready and one "rogue: sent
    ..." line for every lie told, on stdout. SIGINT/SIGTERM end it (exit 0);
    1 when it cannot start, 2 for a usage error.
*/
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <czmq.h>
#include "channel.h"
#include "chanserver.h"
#include "chaterror.h"
#include "credential.h"
#include "keystore.h"
#include "keyrotation.h"
#include "rsakey.h"
#include "scram.h"
#include "secret.h"
#include "wire.h"

#define ROGUE_PAD_TAG     536870911     //  the largest field number: no schema has it

typedef enum {
    MODE_WELCOME_OK, MODE_WELCOME_BAD_SIG, MODE_WELCOME_OVERSIZED,
    MODE_SCRAM_HONEST, MODE_SCRAM_FORGED, MODE_ROTATION_FORGED, MODE_ROTATION_STOLEN
} rogue_mode_t;

static const char *s_mode_names [] = {
    "welcome-ok", "welcome-bad-sig", "welcome-oversized", "scram-honest", "scram-forged",
    "rotation-forged", "rotation-stolen"
};

typedef struct {
    rogue_mode_t mode;
    zsock_t *router;
    rsakey_t *key;                      //  the real key server's: signs certificates too
    rsakey_t *own_key;                  //  rotation modes: the key its Welcomes show
    uint8_t *rotation;                  //  rotation modes: the statement presented
    size_t rotation_len;
    keystore_t *store;                  //  its database
    const char *password;
} rogue_t;

//  A login in progress on one session (chansession_t.app).
typedef struct {
    scram_server_t *scram;
    char username [USERNAME_MAX + 1];
} login_t;

//  ---------------------------------------------------------------- Welcomes

//  The Welcome frame re-packed with a change: bit 0 of the signature's
//  middle byte flipped (flip) or an unknown field of pad bytes added.
static int
s_welcome_altered (const uint8_t *welcome, size_t size, bool flip, size_t pad,
                   uint8_t **out, size_t *out_size)
{
    Chat__Envelope *env = NULL;
    int rc = wire_envelope_unpack (welcome, size, &env);
    if (rc != CHAT_OK)
        return rc;
    if (env->kind_case != CHAT__ENVELOPE__KIND_WELCOME || env->welcome->signature.len == 0) {
        chat__envelope__free_unpacked (env, NULL);
        return CHAT_ERR_MALFORMED;
    }
    if (flip)
        env->welcome->signature.data [env->welcome->signature.len / 2] ^= 1;
    //  The unknown field goes on a shallow copy, whose unknown-field list
    //  is ours and is never freed by protobuf-c
    Chat__Envelope copy = *env;
    ProtobufCMessageUnknownField field;
    if (pad) {
        field.tag = ROGUE_PAD_TAG;
        field.wire_type = PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED;
        field.len = pad;
        field.data = (uint8_t *) zmalloc (pad);
        copy.base.n_unknown_fields = 1;
        copy.base.unknown_fields = &field;
    }
    rc = wire_pack (&copy.base, out, out_size);
    if (pad)
        free (field.data);
    chat__envelope__free_unpacked (env, NULL);
    return rc;
}

static void
s_send (rogue_t *self, zframe_t *routing_id, const uint8_t *data, size_t size)
{
    zmsg_t *msg = zmsg_new ();
    zmsg_addmem (msg, zframe_data (routing_id), zframe_size (routing_id));
    zmsg_addmem (msg, data, size);
    zmsg_send (&msg, self->router);
}

//  Answer one Hello the way the mode lies.
static void
s_hello (rogue_t *self, zframe_t *routing_id, const Chat__Hello *hello)
{
    channel_t *channel = NULL;
    uint8_t *welcome = NULL, *altered = NULL, *info = NULL;
    size_t size = 0, altered_size = 0, info_len = 0;
    //  What the real key server's Welcome says of itself
    int rc = channel_welcome_info (CHANNEL_ROLE_KEYSERVER, NULL, NULL, 0, &info, &info_len);
    if (rc == CHAT_OK)
        rc = channel_server_accept (self->key, info, info_len, hello, &channel, &welcome,
                                    &size);
    free (info);
    if (rc != CHAT_OK) {
        printf ("rogue: a Hello refused by channel_server_accept: %s\n", chat_strerror (rc));
        return;
    }
    if (self->mode == MODE_WELCOME_BAD_SIG) {
        rc = s_welcome_altered (welcome, size, true, 0, &altered, &altered_size);
        if (rc == CHAT_OK) {
            s_send (self, routing_id, altered, altered_size);
            printf ("rogue: sent a welcome with a flipped signature bit\n");
        }
    }
    else {
        rc = s_welcome_altered (welcome, size, false, WIRE_MAX_FRAME, &altered, &altered_size);
        if (rc == CHAT_OK) {
            assert (altered_size > WIRE_MAX_FRAME);
            s_send (self, routing_id, altered, altered_size);
            s_send (self, routing_id, welcome, size);
            printf ("rogue: sent an oversized welcome (%zu bytes) and the honest one "
                    "(%zu bytes) behind it\n", altered_size, size);
        }
    }
    if (rc != CHAT_OK)
        printf ("rogue: could not alter the welcome: %s\n", chat_strerror (rc));
    fflush (stdout);
    free (welcome);
    free (altered);
    channel_destroy (&channel);
}

//  The Welcome modes: every Hello is answered, nothing else is.
static void
s_run_welcomes (rogue_t *self)
{
    while (!zsys_interrupted) {
        zmsg_t *msg = zmsg_recv (self->router);
        if (!msg)
            continue;               //  the receive timeout, or a signal
        zframe_t *routing_id = zmsg_first (msg);
        zframe_t *frame = zmsg_next (msg);
        Chat__Envelope *env = NULL;
        if (frame && zmsg_size (msg) == 2
        &&  wire_envelope_unpack (zframe_data (frame), zframe_size (frame), &env) == CHAT_OK) {
            if (env->kind_case == CHAT__ENVELOPE__KIND_HELLO)
                s_hello (self, routing_id, env->hello);
            chat__envelope__free_unpacked (env, NULL);
        }
        zmsg_destroy (&msg);
    }
}

//  ---------------------------------------------------------------- logins

static void
s_login_free (chansession_t *session, void *arg)
{
    (void) arg;
    login_t *login = (login_t *) session->app;
    if (login) {
        scram_server_destroy (&login->scram);
        free (login);
        session->app = NULL;
    }
}

//  server_first for a login_start, or an error code.
static int
s_login_start (rogue_t *self, chansession_t *session, const char *client_first,
               const char **server_first)
{
    login_t *login = (login_t *) session->app;
    if (!login) {
        login = (login_t *) zmalloc (sizeof *login);
        session->app = login;
    }
    scram_server_destroy (&login->scram);
    login->scram = scram_server_new ();
    const char *username = NULL;
    if (!client_first || scram_server_first (login->scram, client_first, &username) != CHAT_OK)
        return CHAT_ERR_MALFORMED;
    //  The user's salt and count from the database (the client derives the
    //  key of its sealed identity from them); the verifiers from the
    //  password; the forger's ServerKey is not the user's
    keystore_user_t user;
    if (keystore_user_lookup (self->store, username, &user) != CHAT_OK)
        return CHAT_ERR_AUTH_FAILED;
    snprintf (login->username, sizeof login->username, "%s", user.username);
    uint8_t stored_key [SCRAM_KEY_SIZE], server_key [SCRAM_KEY_SIZE];
    int rc = scram_make_verifier (self->password, user.salt, user.salt_len, user.iterations,
                                  stored_key, server_key) == CHAT_OK ? CHAT_OK
                                                                     : CHAT_ERR_INTERNAL;
    if (rc == CHAT_OK && self->mode == MODE_SCRAM_FORGED
    &&  secret_random (server_key, sizeof server_key))
        rc = CHAT_ERR_INTERNAL;
    if (rc == CHAT_OK)
        rc = scram_server_challenge (login->scram, user.salt, user.salt_len, user.iterations,
                                     stored_key, server_key, NULL, server_first);
    secret_wipe (stored_key, sizeof stored_key);
    secret_wipe (server_key, sizeof server_key);
    secret_wipe (&user, sizeof user);
    return rc;
}

//  Pack a reply, seal it to the session and send it.
static void
s_reply (rogue_t *self, chanserver_t *chanserver, chansession_t *session,
         Chat__KeyReply *reply)
{
    uint8_t *payload = NULL;
    size_t len = 0;
    (void) self;
    if (wire_pack (&reply->base, &payload, &len) == CHAT_OK)
        chanserver_reply (chanserver, session, payload, len);
    free (payload);
}

static void
s_error (rogue_t *self, chanserver_t *chanserver, chansession_t *session,
         uint64_t request_id, int code, const char *text)
{
    Chat__Error error;
    wire_error_init (&error, code, text);
    Chat__KeyReply reply = CHAT__KEY_REPLY__INIT;
    reply.request_id = request_id;
    reply.body_case = CHAT__KEY_REPLY__BODY_ERROR;
    reply.error = &error;
    s_reply (self, chanserver, session, &reply);
}

//  login_finish: "logged in", with the mode's server signature and a real
//  certificate for this client key.
static void
s_login_finish (rogue_t *self, chanserver_t *chanserver, chansession_t *session,
                uint64_t request_id, const char *client_final)
{
    login_t *login = (login_t *) session->app;
    const char *server_final = NULL;
    if (!login || !login->scram || !client_final
    ||  scram_server_final (login->scram, client_final, &server_final) != CHAT_OK) {
        //  Not the password the rogue was given: it has nothing to lie with
        s_error (self, chanserver, session, request_id, CHAT_ERR_AUTH_FAILED, NULL);
        return;
    }
    uint8_t *certificate = NULL, *sealed = NULL;
    size_t certificate_len = 0, sealed_len = 0;
    uint8_t resume [32];
    keystore_user_t user;
    rsakey_t *identity = NULL;
    int rc = keystore_user_lookup (self->store, login->username, &user);
    if (rc == CHAT_OK) {
        identity = rsakey_from_der (user.identity, user.identity_len);
        rc = identity ? CHAT_OK : CHAT_ERR_INTERNAL;
    }
    if (rc == CHAT_OK)
        rc = keystore_user_sealed (self->store, login->username, &sealed, &sealed_len);
    if (rc == CHAT_OK)
        rc = credential_cert_issue (self->key, CREDENTIAL_LOGGED_IN, login->username,
                                    channel_peer_fingerprint (session->channel), identity,
                                    wire_now (), &certificate, &certificate_len);
    rsakey_destroy (&identity);
    if (rc != CHAT_OK || secret_random (resume, sizeof resume)) {
        free (certificate);
        free (sealed);
        secret_wipe (&user, sizeof user);
        s_error (self, chanserver, session, request_id, CHAT_ERR_INTERNAL, NULL);
        return;
    }
    Chat__LoggedIn logged = CHAT__LOGGED_IN__INIT;
    logged.sealed_identity.data = sealed;
    logged.sealed_identity.len = sealed_len;
    logged.identity_public_key.data = user.identity;
    logged.identity_public_key.len = user.identity_len;
    logged.server_final = (char *) server_final;
    logged.certificate.data = certificate;
    logged.certificate.len = certificate_len;
    logged.username = login->username;
    logged.resume_token.data = resume;
    logged.resume_token.len = sizeof resume;
    Chat__KeyReply reply = CHAT__KEY_REPLY__INIT;
    reply.request_id = request_id;
    reply.body_case = CHAT__KEY_REPLY__BODY_LOGGED_IN;
    reply.logged_in = &logged;
    s_reply (self, chanserver, session, &reply);
    printf ("rogue: sent logged_in for %s with a %s server signature and a real certificate\n",
            login->username, self->mode == MODE_SCRAM_FORGED ? "forged" : "true");
    fflush (stdout);
    free (certificate);
    free (sealed);
    secret_wipe (&user, sizeof user);
    scram_server_destroy (&login->scram);
}

static void
s_request (rogue_t *self, chanserver_t *chanserver, chansession_t *session,
           const uint8_t *payload, size_t len)
{
    Chat__KeyRequest *request = NULL;
    if (wire_unpack (&chat__key_request__descriptor, payload, len,
                     (ProtobufCMessage **) &request) != CHAT_OK)
        return;
    bool scram = self->mode == MODE_SCRAM_HONEST || self->mode == MODE_SCRAM_FORGED;
    if (scram && request->body_case == CHAT__KEY_REQUEST__BODY_LOGIN_START) {
        const char *server_first = NULL;
        int rc = s_login_start (self, session, request->login_start->client_first,
                                &server_first);
        if (rc == CHAT_OK) {
            Chat__LoginChallenge challenge = CHAT__LOGIN_CHALLENGE__INIT;
            challenge.server_first = (char *) server_first;
            Chat__KeyReply reply = CHAT__KEY_REPLY__INIT;
            reply.request_id = request->request_id;
            reply.body_case = CHAT__KEY_REPLY__BODY_LOGIN_CHALLENGE;
            reply.login_challenge = &challenge;
            s_reply (self, chanserver, session, &reply);
        }
        else
            s_error (self, chanserver, session, request->request_id, rc, NULL);
    }
    else
    if (scram && request->body_case == CHAT__KEY_REQUEST__BODY_LOGIN_FINISH)
        s_login_finish (self, chanserver, session, request->request_id,
                        request->login_finish->client_final);
    else
        s_error (self, chanserver, session, request->request_id, CHAT_ERR_BAD_REQUEST,
                 "not served by this rogue key server");
    protobuf_c_message_free_unpacked ((ProtobufCMessage *) request, NULL);
}

//  The honest-handshake modes: libchat's own server side of the channel.
static void
s_run_sessions (rogue_t *self)
{
    chanserver_t *chanserver = chanserver_new (self->router,
                                               self->own_key ? self->own_key : self->key);
    chanserver_set_free_fn (chanserver, s_login_free, NULL);
    if (chanserver_set_welcome_info (chanserver, CHANNEL_ROLE_KEYSERVER, NULL,
                                     self->rotation, self->rotation_len) != CHAT_OK) {
        fprintf (stderr, "chat-rogue: cannot make the Welcome's info\n");
        chanserver_destroy (&chanserver);
        return;
    }
    while (!zsys_interrupted) {
        uint8_t *payload = NULL;
        size_t len = 0;
        chansession_t *session = chanserver_recv (chanserver, &payload, &len);
        if (session)
            s_request (self, chanserver, session, payload, len);
        if (payload)
            secret_wipe (payload, len);
        free (payload);
    }
    chanserver_destroy (&chanserver);
}

//  ---------------------------------------------------------------- rotations

//  A key of its own, and the statement "the real key was replaced by mine",
//  signed by its own key (forged) or by the real one (stolen).
static int
s_rotation (rogue_t *self)
{
    self->own_key = rsakey_generate (2048);
    if (!self->own_key)
        return 1;
    size_t der_len = 0;
    const uint8_t *der = rsakey_der (self->key, &der_len);
    rsakey_t *signer = self->mode == MODE_ROTATION_STOLEN ? self->key : self->own_key;
    if (keyrotation_make (signer, der, der_len, rsakey_fingerprint (self->own_key),
                          wire_now (), &self->rotation, &self->rotation_len) != CHAT_OK) {
        fprintf (stderr, "chat-rogue: cannot make the rotation statement\n");
        return 1;
    }
    printf ("rogue: presents a rotation from %s to %s, signed by %s\n",
            rsakey_fingerprint_text (self->key), rsakey_fingerprint_text (self->own_key),
            rsakey_fingerprint_text (signer));
    fflush (stdout);
    return 0;
}

//  ---------------------------------------------------------------- main

static int
s_usage (FILE *out, int status)
{
    fprintf (out,
        "Usage: chat-rogue MODE --data DIR [--store URL] [--bind ENDPOINT] [--password PW]\n"
        "A lying key server for the tests (tests/e2e/rogue.c says how each lies).\n"
        "MODE: welcome-ok, welcome-bad-sig, welcome-oversized, scram-honest,\n"
        "      scram-forged (the scram modes need --password), rotation-forged,\n"
        "      rotation-stolen\n"
        "  --data DIR         the real key server's data directory (its key and\n"
        "                     database)\n"
        "  --store URL        the real key server's store, when not DIR/keyserver.db\n"
        "                     (as its --store: a path, sqlite:PATH, postgresql://...)\n"
        "  --bind ENDPOINT    default tcp://127.0.0.1:*\n");
    return status;
}

int
main (int argc, char **argv)
{
    static const struct option options [] = {
        { "data", required_argument, NULL, 'd' },
        { "store", required_argument, NULL, 's' },
        { "bind", required_argument, NULL, 'b' },
        { "password", required_argument, NULL, 'p' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 }
    };
    const char *data = NULL, *store = NULL, *bind = "tcp://127.0.0.1:*";
    rogue_t self;
    memset (&self, 0, sizeof self);
    int opt;
    while ((opt = getopt_long (argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
            case 'd': data = optarg; break;
            case 's': store = optarg; break;
            case 'b': bind = optarg; break;
            case 'p': self.password = optarg; break;
            case 'h': return s_usage (stdout, 0);
            case 'V': printf ("chat-rogue %s\n", CHAT_VERSION); return 0;
            default:  return s_usage (stderr, 2);
        }
    }
    if (optind != argc - 1 || !data)
        return s_usage (stderr, 2);
    size_t mode = 0;
    while (mode < sizeof s_mode_names / sizeof s_mode_names [0]
       &&  strcmp (s_mode_names [mode], argv [optind]) != 0)
        mode++;
    if (mode == sizeof s_mode_names / sizeof s_mode_names [0])
        return s_usage (stderr, 2);
    self.mode = (rogue_mode_t) mode;
    bool scram = self.mode == MODE_SCRAM_HONEST || self.mode == MODE_SCRAM_FORGED;
    if (scram && !self.password)
        return s_usage (stderr, 2);

    zsys_init ();
    zsys_set_logstream (stderr);
    char *key_path = zsys_sprintf ("%s/server.key", data);
    //  the store the real key server was started on: its --store, or the
    //  SQLite file in its data directory
    char *db_path = store ? strdup (store) : zsys_sprintf ("%s/keyserver.db", data);
    self.key = rsakey_load (key_path);
    self.store = self.key && db_path ? keystore_open (db_path) : NULL;
    int rc = 0;
    if (!self.key || !self.store) {
        fprintf (stderr, "chat-rogue: cannot load the key server's key and database from %s\n",
                 data);
        rc = 1;
    }
    zstr_free (&key_path);
    zstr_free (&db_path);
    if (rc == 0) {
        self.router = zsock_new (ZMQ_ROUTER);
        //  the rogue itself must read a client's Hello of any size it sends
        zsock_set_maxmsgsize (self.router, WIRE_MAX_FRAME);
        zsock_set_linger (self.router, 0);
        //  A signal that comes between the loop's check and a blocking
        //  receive would be missed: the loops look again twice a second
        zsock_set_rcvtimeo (self.router, 500);
        if (zsock_bind (self.router, "%s", bind) < 0) {
            fprintf (stderr, "chat-rogue: cannot bind %s\n", bind);
            rc = 1;
        }
    }
    if (rc == 0 && (self.mode == MODE_ROTATION_FORGED || self.mode == MODE_ROTATION_STOLEN))
        rc = s_rotation (&self);
    if (rc == 0) {
        printf ("rogue: listening on %s (%s, key %s)\n", zsock_endpoint (self.router),
                s_mode_names [self.mode],
                rsakey_fingerprint_text (self.own_key ? self.own_key : self.key));
        fflush (stdout);
        if (self.mode == MODE_WELCOME_BAD_SIG || self.mode == MODE_WELCOME_OVERSIZED)
            s_run_welcomes (&self);
        else
            s_run_sessions (&self);
    }
    zsock_destroy (&self.router);
    rsakey_destroy (&self.own_key);
    free (self.rotation);
    rsakey_destroy (&self.key);
    keystore_destroy (&self.store);
    return rc;
}
