/*  make_corpus - writes the fuzzers' seed corpus: real frames made by
    libchat itself, plus a few edge cases, one file per sample

        make_corpus DIR      (DIR/<target>/<sample>)

    Certificates, tickets and Fernet tokens use the fixed keys and clock of
    fuzz_util.h, so they pass the fuzz targets' checks and lead the fuzzer
    down the accepting paths. Frames made with fresh RSA keys (handshakes,
    sealed tokens) only show the fuzzer their shape.
*/
#include <errno.h>
#include <sys/stat.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/rsa.h>
#include <openssl/ec.h>
#include "beacon.h"
#include "channel.h"
#include "chaterror.h"
#include "codec.h"
#include "credential.h"
#include "fernet.h"
#include "scram.h"
#include "wire.h"
#include "fuzz_util.h"

static const char *s_root;
static int s_count;

static void
s_write (const char *target, const char *name, const void *data, size_t size)
{
    char path [1024];
    snprintf (path, sizeof path, "%s/%s", s_root, target);
    if (mkdir (path, 0755) && errno != EEXIST) {
        fprintf (stderr, "make_corpus: cannot make %s: %s\n", path, strerror (errno));
        exit (1);
    }
    snprintf (path, sizeof path, "%s/%s/%s", s_root, target, name);
    FILE *file = fopen (path, "wb");
    if (!file || (size && fwrite (data, 1, size, file) != size) || fclose (file)) {
        fprintf (stderr, "make_corpus: cannot write %s\n", path);
        exit (1);
    }
    s_count++;
}

static void
s_write_str (const char *target, const char *name, const char *text)
{
    s_write (target, name, text, strlen (text));
}

//  The same, with the mode byte first
static void
s_write_mode (const char *target, const char *name, uint8_t mode,
              const void *data, size_t size)
{
    uint8_t *buf = malloc (size + 1);
    FUZZ_CHECK (buf);
    buf [0] = mode;
    memcpy (buf + 1, data, size);
    s_write (target, name, buf, size + 1);
    free (buf);
}

static void
s_write_msg (const char *target, const char *name, const ProtobufCMessage *msg)
{
    uint8_t *data;
    size_t size;
    FUZZ_CHECK (wire_pack (msg, &data, &size) == CHAT_OK);
    s_write (target, name, data, size);
    free (data);
}

static void
s_write_mode_msg (const char *target, const char *name, uint8_t mode,
                  const ProtobufCMessage *msg)
{
    uint8_t *data;
    size_t size;
    FUZZ_CHECK (wire_pack (msg, &data, &size) == CHAT_OK);
    s_write_mode (target, name, mode, data, size);
    free (data);
}

//  DER SubjectPublicKeyInfo of any OpenSSL key (for keys rsakey refuses)
static void
s_write_pkey_der (const char *target, const char *name, EVP_PKEY *pkey)
{
    unsigned char *der = NULL;
    int len = i2d_PUBKEY (pkey, &der);
    FUZZ_CHECK (len > 0);
    s_write (target, name, der, (size_t) len);
    OPENSSL_free (der);
}

static void
s_write_hello (const char *name, uint32_t version, const uint8_t *der,
               size_t der_len, size_t nonce_len)
{
    uint8_t nonce [64];
    memset (nonce, 0x5A, sizeof nonce);
    Chat__Hello hello = CHAT__HELLO__INIT;
    hello.version = version;
    hello.client_public_key.data = (uint8_t *) der;
    hello.client_public_key.len = der_len;
    hello.client_nonce.data = nonce;
    hello.client_nonce.len = nonce_len;
    Chat__Envelope env = CHAT__ENVELOPE__INIT;
    env.kind_case = CHAT__ENVELOPE__KIND_HELLO;
    env.hello = &hello;
    s_write_msg ("envelope", name, &env.base);
}

//  Handshake frames, sealed frames and pushes, and the keys they carry
static void
s_channel (void)
{
    rsakey_t *server_key = rsakey_generate (2048);
    rsakey_t *client_key = rsakey_generate (2048);
    FUZZ_CHECK (server_key && client_key);
    size_t der_len;
    const uint8_t *der = rsakey_der (client_key, &der_len);
    s_write ("der", "rsa2048", der, der_len);
    rsakey_t *big = rsakey_generate (3072);
    FUZZ_CHECK (big);
    const uint8_t *big_der = rsakey_der (big, &der_len);
    s_write ("der", "rsa3072", big_der, der_len);
    rsakey_destroy (&big);

    EVP_PKEY *small = EVP_RSA_gen (1024);
    EVP_PKEY *ec = EVP_EC_gen ("P-256");
    FUZZ_CHECK (small && ec);
    s_write_pkey_der ("der", "rsa1024", small);
    s_write_pkey_der ("der", "ec_p256", ec);
    unsigned char *small_der = NULL, *ec_der = NULL;
    int small_len = i2d_PUBKEY (small, &small_der);
    int ec_len = i2d_PUBKEY (ec, &ec_der);
    FUZZ_CHECK (small_len > 0 && ec_len > 0);
    s_write_str ("der", "empty", "");
    s_write ("der", "truncated", der, der_len / 2);

    der = rsakey_der (client_key, &der_len);
    s_write_hello ("hello_bad_version", 2, der, der_len, CHANNEL_NONCE_SIZE);
    s_write_hello ("hello_short_nonce", CHANNEL_VERSION, der, der_len, 8);
    s_write_hello ("hello_rsa1024", CHANNEL_VERSION, small_der, (size_t) small_len,
                   CHANNEL_NONCE_SIZE);
    s_write_hello ("hello_ec", CHANNEL_VERSION, ec_der, (size_t) ec_len,
                   CHANNEL_NONCE_SIZE);
    s_write_hello ("hello_no_key", CHANNEL_VERSION, NULL, 0, CHANNEL_NONCE_SIZE);
    OPENSSL_free (small_der);
    OPENSSL_free (ec_der);
    EVP_PKEY_free (small);
    EVP_PKEY_free (ec);

    channel_t *client = channel_client_new (client_key);
    uint8_t *hello_frame, *welcome, *frame;
    size_t hello_size, welcome_size, frame_size;
    FUZZ_CHECK (channel_client_hello (client, &hello_frame, &hello_size) == CHAT_OK);
    s_write ("envelope", "hello", hello_frame, hello_size);
    Chat__Envelope *hello = NULL;
    FUZZ_CHECK (wire_envelope_unpack (hello_frame, hello_size, &hello) == CHAT_OK);
    channel_t *server = NULL;
    FUZZ_CHECK (channel_server_accept (server_key, hello->hello, &server,
                                       &welcome, &welcome_size) == CHAT_OK);
    s_write ("envelope", "welcome", welcome, welcome_size);
    s_write ("envelope", "welcome_truncated", welcome, welcome_size - 7);
    FUZZ_CHECK (channel_client_accept (client, welcome, welcome_size) == CHAT_OK);
    chat__envelope__free_unpacked (hello, NULL);
    free (hello_frame);
    free (welcome);

    FUZZ_CHECK (wire_error_frame (CHAT_ERR_BUSY, NULL, 1000, &frame, &frame_size) == CHAT_OK);
    s_write ("envelope", "error_busy", frame, frame_size);
    free (frame);
    s_write_str ("envelope", "empty", "");

    Chat__KeyRequest request = CHAT__KEY_REQUEST__INIT;
    Chat__LogoutRequest logout = CHAT__LOGOUT_REQUEST__INIT;
    request.request_id = 7;
    request.body_case = CHAT__KEY_REQUEST__BODY_LOGOUT;
    request.logout = &logout;
    uint8_t *payload;
    size_t payload_size;
    FUZZ_CHECK (wire_pack (&request.base, &payload, &payload_size) == CHAT_OK);
    FUZZ_CHECK (channel_seal (client, payload, payload_size, &frame, &frame_size) == CHAT_OK);
    s_write ("envelope", "sealed", frame, frame_size);
    Chat__Envelope *sealed = NULL;
    FUZZ_CHECK (wire_envelope_unpack (frame, frame_size, &sealed) == CHAT_OK);
    s_write ("sealed", "token", sealed->sealed->token, strlen (sealed->sealed->token));
    s_write ("sealed", "token_truncated", sealed->sealed->token,
             strlen (sealed->sealed->token) - 5);
    chat__envelope__free_unpacked (sealed, NULL);
    free (frame);

    //  Seal mode: clock offset byte, then the payload
    uint8_t *shifted = malloc (payload_size + 1);
    FUZZ_CHECK (shifted);
    memcpy (shifted + 1, payload, payload_size);
    shifted [0] = 0;
    s_write_mode ("sealed", "seal_now", FUZZ_MODE_SEAL, shifted, payload_size + 1);
    shifted [0] = (uint8_t) (int8_t) -100;
    s_write_mode ("sealed", "seal_expired", FUZZ_MODE_SEAL, shifted, payload_size + 1);
    shifted [0] = 100;
    s_write_mode ("sealed", "seal_future", FUZZ_MODE_SEAL, shifted, payload_size + 1);
    free (shifted);

    FUZZ_CHECK (channel_seal_push (server, payload, payload_size,
                                   &frame, &frame_size) == CHAT_OK);
    s_write ("push", "push_frame", frame, frame_size);
    s_write ("push", "push_truncated", frame, frame_size / 2);
    free (frame);
    s_write_mode ("push", "seal_push", FUZZ_MODE_SEAL, payload, payload_size);
    free (payload);

    channel_destroy (&client);
    channel_destroy (&server);
    rsakey_destroy (&client_key);
    rsakey_destroy (&server_key);
}

static uint8_t s_id [16];
static uint8_t s_bytes32 [32];

static void
s_key_requests (void)
{
    const char *t = "key_request";
    Chat__KeyRequest r;
    Chat__RegisterParamsRequest params = CHAT__REGISTER_PARAMS_REQUEST__INIT;
    params.username = FUZZ_USERNAME;
    Chat__RegisterRequest reg = CHAT__REGISTER_REQUEST__INIT;
    reg.username = FUZZ_USERNAME;
    reg.salt.data = s_id;
    reg.salt.len = 16;
    reg.iterations = 4096;
    reg.stored_key.data = s_bytes32;
    reg.stored_key.len = 32;
    reg.server_key.data = s_bytes32;
    reg.server_key.len = 32;
    Chat__LoginStart start = CHAT__LOGIN_START__INIT;
    start.client_first = "n,,n=" FUZZ_SCRAM_USER ",r=" FUZZ_SCRAM_CNONCE;
    Chat__LoginFinish finish = CHAT__LOGIN_FINISH__INIT;
    finish.client_final = "c=biws,r=" FUZZ_SCRAM_CNONCE FUZZ_SCRAM_SNONCE
                          ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    Chat__ConversationKeyRequest key = CHAT__CONVERSATION_KEY_REQUEST__INIT;
    key.conversation_id.data = s_id;
    key.conversation_id.len = 16;
    key.ticket.data = (uint8_t *) "gAAAAABlU_8A";
    key.ticket.len = 12;
    Chat__LogoutRequest logout = CHAT__LOGOUT_REQUEST__INIT;
    Chat__ResumeRequest resume = CHAT__RESUME_REQUEST__INIT;
    resume.resume_token.data = (uint8_t *) "gAAAAABlU_8A";
    resume.resume_token.len = 12;

#define KEYREQ(name, CASE, field, value) \
    chat__key_request__init (&r); \
    r.request_id = 42; \
    r.body_case = CHAT__KEY_REQUEST__BODY_##CASE; \
    r.field = value; \
    s_write_msg (t, name, &r.base);
    KEYREQ ("register_params", REGISTER_PARAMS, register_params, &params);
    KEYREQ ("register", REGISTER, register_, &reg);
    KEYREQ ("login_start", LOGIN_START, login_start, &start);
    KEYREQ ("login_finish", LOGIN_FINISH, login_finish, &finish);
    KEYREQ ("create_key", CREATE_KEY, create_key, &key);
    KEYREQ ("get_key", GET_KEY, get_key, &key);
    KEYREQ ("logout", LOGOUT, logout, &logout);
    KEYREQ ("resume", RESUME, resume, &resume);
    chat__key_request__init (&r);
    r.request_id = 1;
    s_write_msg (t, "no_body", &r.base);
    //  An unknown oneof field (99, varint 1) after a request id
    static const uint8_t unknown [] = { 0x08, 0x01, 0x98, 0x06, 0x01 };
    s_write (t, "unknown_field", unknown, sizeof unknown);
}

static void
s_key_replies (void)
{
    const char *t = "key_reply";
    Chat__KeyReply r;
    Chat__Error error;
    wire_error_init (&error, CHAT_ERR_RATE_LIMITED, NULL);
    error.retry_after_ms = 2000;
    Chat__RegisterParams params = CHAT__REGISTER_PARAMS__INIT;
    params.salt.data = s_id;
    params.salt.len = 16;
    params.iterations = 4096;
    Chat__Registered registered = CHAT__REGISTERED__INIT;
    registered.certificate.data = (uint8_t *) "gAAAAABlU_8A";
    registered.certificate.len = 12;
    Chat__LoginChallenge challenge = CHAT__LOGIN_CHALLENGE__INIT;
    challenge.server_first = "r=" FUZZ_SCRAM_CNONCE FUZZ_SCRAM_SNONCE
                             ",s=" FUZZ_SCRAM_SALT_B64 ",i=4096";
    Chat__LoggedIn logged = CHAT__LOGGED_IN__INIT;
    logged.server_final = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";
    logged.certificate = registered.certificate;
    logged.username = FUZZ_USERNAME;
    logged.resume_token = registered.certificate;
    Chat__ConversationKey key = CHAT__CONVERSATION_KEY__INIT;
    key.conversation_id.data = s_id;
    key.conversation_id.len = 16;
    key.key.data = s_bytes32;
    key.key.len = 32;
    Chat__LoggedOut out = CHAT__LOGGED_OUT__INIT;
#define KEYREP(name, CASE, field, value) \
    chat__key_reply__init (&r); \
    r.request_id = 42; \
    r.body_case = CHAT__KEY_REPLY__BODY_##CASE; \
    r.field = value; \
    s_write_msg (t, name, &r.base);
    KEYREP ("error", ERROR, error, &error);
    KEYREP ("register_params", REGISTER_PARAMS, register_params, &params);
    KEYREP ("registered", REGISTERED, registered, &registered);
    KEYREP ("login_challenge", LOGIN_CHALLENGE, login_challenge, &challenge);
    KEYREP ("logged_in", LOGGED_IN, logged_in, &logged);
    KEYREP ("conversation_key", CONVERSATION_KEY, conversation_key, &key);
    KEYREP ("logged_out", LOGGED_OUT, logged_out, &out);
}

static void
s_main (void)
{
    const char *t = "main_request";
    Chat__MainRequest r;
    Chat__RegisterUserRequest reg = CHAT__REGISTER_USER_REQUEST__INIT;
    reg.certificate.data = (uint8_t *) "gAAAAABlU_8A";
    reg.certificate.len = 12;
    Chat__LoginRequest login = CHAT__LOGIN_REQUEST__INIT;
    login.certificate = reg.certificate;
    Chat__ListConversationsRequest list = CHAT__LIST_CONVERSATIONS_REQUEST__INIT;
    Chat__GetMessagesRequest get = CHAT__GET_MESSAGES_REQUEST__INIT;
    get.conversation_id.data = s_id;
    get.conversation_id.len = 16;
    get.after_seq = 3;
    get.limit = 1000;
    Chat__ListUsersRequest users = CHAT__LIST_USERS_REQUEST__INIT;
    char *members [] = { "bob", "carol" };
    Chat__CreateConversationRequest create = CHAT__CREATE_CONVERSATION_REQUEST__INIT;
    create.n_members = 2;
    create.members = members;
    Chat__SendMessageRequest send = CHAT__SEND_MESSAGE_REQUEST__INIT;
    send.conversation_id = get.conversation_id;
    send.client_message_id.data = s_id;
    send.client_message_id.len = 16;
    send.token = "gAAAAABlU_8A";
    Chat__GetMembersRequest gm = CHAT__GET_MEMBERS_REQUEST__INIT;
    gm.conversation_id = get.conversation_id;
    Chat__LogoutRequestMain logout = CHAT__LOGOUT_REQUEST_MAIN__INIT;
    Chat__PingRequest ping = CHAT__PING_REQUEST__INIT;
    Chat__MarkReadRequest mark = CHAT__MARK_READ_REQUEST__INIT;
    mark.conversation_id = get.conversation_id;
    mark.read_seq = 12;
#define MAINREQ(name, CASE, field, value) \
    chat__main_request__init (&r); \
    r.request_id = 9; \
    r.body_case = CHAT__MAIN_REQUEST__BODY_##CASE; \
    r.field = value; \
    s_write_msg (t, name, &r.base);
    MAINREQ ("register", REGISTER, register_, &reg);
    MAINREQ ("login", LOGIN, login, &login);
    MAINREQ ("list_conversations", LIST_CONVERSATIONS, list_conversations, &list);
    MAINREQ ("get_messages", GET_MESSAGES, get_messages, &get);
    MAINREQ ("list_users", LIST_USERS, list_users, &users);
    MAINREQ ("create_conversation", CREATE_CONVERSATION, create_conversation, &create);
    MAINREQ ("send_message", SEND_MESSAGE, send_message, &send);
    MAINREQ ("get_members", GET_MEMBERS, get_members, &gm);
    MAINREQ ("logout", LOGOUT, logout, &logout);
    MAINREQ ("ping", PING, ping, &ping);
    MAINREQ ("mark_read", MARK_READ, mark_read, &mark);

    t = "main_reply";
    Chat__MainReply p;
    Chat__Error error;
    wire_error_init (&error, CHAT_ERR_NOT_LOGGED_IN, NULL);
    Chat__Ack ack = CHAT__ACK__INIT;
    Chat__LoginReply lr = CHAT__LOGIN_REPLY__INIT;
    lr.username = FUZZ_USERNAME;
    Chat__ConversationSummary summary = CHAT__CONVERSATION_SUMMARY__INIT;
    summary.conversation_id = get.conversation_id;
    summary.n_members = 2;
    summary.members = members;
    summary.last_seq = 12;
    summary.last_time = (int64_t) FUZZ_NOW * 1000;
    summary.ticket = reg.certificate;
    Chat__ConversationSummary *summaries [] = { &summary, &summary };
    Chat__ConversationList clist = CHAT__CONVERSATION_LIST__INIT;
    clist.n_conversations = 2;
    clist.conversations = summaries;
    Chat__StoredMessage stored = CHAT__STORED_MESSAGE__INIT;
    stored.conversation_id = get.conversation_id;
    stored.seq = 12;
    stored.sender = "bob";
    stored.server_time = summary.last_time;
    stored.token = "gAAAAABlU_8A";
    stored.client_message_id = send.client_message_id;
    Chat__StoredMessage *stored_list [] = { &stored, &stored };
    Chat__MessagePage page = CHAT__MESSAGE_PAGE__INIT;
    page.conversation_id = get.conversation_id;
    page.n_messages = 2;
    page.messages = stored_list;
    page.more = 1;
    page.last_seq = 12;
    Chat__UserList ulist = CHAT__USER_LIST__INIT;
    ulist.n_usernames = 2;
    ulist.usernames = members;
    Chat__SendMessageReply sent = CHAT__SEND_MESSAGE_REPLY__INIT;
    sent.conversation_id = get.conversation_id;
    sent.seq = 13;
    sent.server_time = summary.last_time;
    sent.duplicate = 1;
#define MAINREP(name, CASE, field, value) \
    chat__main_reply__init (&p); \
    p.request_id = 9; \
    p.body_case = CHAT__MAIN_REPLY__BODY_##CASE; \
    p.field = value; \
    s_write_msg (t, name, &p.base);
    MAINREP ("error", ERROR, error, &error);
    MAINREP ("registered", REGISTERED, registered, &ack);
    MAINREP ("logged_in", LOGGED_IN, logged_in, &lr);
    MAINREP ("conversations", CONVERSATIONS, conversations, &clist);
    MAINREP ("messages", MESSAGES, messages, &page);
    MAINREP ("users", USERS, users, &ulist);
    MAINREP ("conversation", CONVERSATION, conversation, &summary);
    MAINREP ("sent", SENT, sent, &sent);
    MAINREP ("members", MEMBERS, members, &summary);
    MAINREP ("logged_out", LOGGED_OUT, logged_out, &ack);
    MAINREP ("pong", PONG, pong, &ack);
    Chat__ReadState read = CHAT__READ_STATE__INIT;
    read.conversation_id = get.conversation_id;
    read.read_seq = 10;
    read.unread = 2;
    read.last_seq = 12;
    MAINREP ("read", READ, read, &read);

    t = "push_payload";
    Chat__Push push = CHAT__PUSH__INIT;
    push.body_case = CHAT__PUSH__BODY_MESSAGE;
    push.message = &stored;
    s_write_msg (t, "message", &push.base);
    chat__push__init (&push);
    push.body_case = CHAT__PUSH__BODY_CONVERSATION;
    push.conversation = &summary;
    s_write_msg (t, "conversation", &push.base);
    chat__push__init (&push);
    push.body_case = CHAT__PUSH__BODY_READ;
    push.read = &read;
    s_write_msg (t, "read", &push.base);

    t = "message_body";
    Chat__MessageBody body = CHAT__MESSAGE_BODY__INIT;
    body.conversation_id = get.conversation_id;
    body.sender = FUZZ_USERNAME;
    body.sent_at = summary.last_time;
    body.client_message_id = send.client_message_id;
    body.text = "hello, \xc3\xa9t\xc3\xa9 \xf0\x9f\x98\x80";
    s_write_msg (t, "text", &body.base);
}

static void
s_credentials (void)
{
    uint8_t shared [SECRET_SHARED_SIZE];
    memset (shared, FUZZ_SHARED_BYTE, sizeof shared);
    credential_keys_t keys;
    FUZZ_CHECK (credential_keys_derive (shared, &keys) == CHAT_OK);
    uint8_t fingerprint [32], conversation [CONVERSATION_ID_SIZE];
    memset (fingerprint, FUZZ_FINGERPRINT_BYTE, sizeof fingerprint);
    memset (conversation, FUZZ_CONVERSATION_BYTE, sizeof conversation);

    uint8_t *token;
    size_t len;
    FUZZ_CHECK (credential_cert_issue (&keys, CREDENTIAL_REGISTERED, FUZZ_USERNAME,
                                       fingerprint, FUZZ_NOW, &token, &len) == CHAT_OK);
    s_write ("certificate", "registered", token, len);
    s_write ("ticket", "certificate", token, len);
    free (token);
    FUZZ_CHECK (credential_cert_issue (&keys, CREDENTIAL_LOGGED_IN, FUZZ_USERNAME,
                                       fingerprint, FUZZ_NOW, &token, &len) == CHAT_OK);
    s_write ("certificate", "logged_in", token, len);
    free (token);
    FUZZ_CHECK (credential_cert_issue (&keys, CREDENTIAL_LOGGED_IN, FUZZ_USERNAME,
                                       fingerprint, FUZZ_NOW - 1000, &token, &len) == CHAT_OK);
    s_write ("certificate", "expired", token, len);
    free (token);
    FUZZ_CHECK (credential_ticket_issue (&keys, FUZZ_USERNAME, conversation,
                                         fingerprint, FUZZ_NOW, &token, &len) == CHAT_OK);
    s_write ("ticket", "ticket", token, len);
    s_write ("certificate", "ticket", token, len);
    free (token);

    Chat__Certificate cert = CHAT__CERTIFICATE__INIT;
    cert.purpose = CHAT__CERTIFICATE_PURPOSE__PURPOSE_LOGGED_IN;
    cert.username = FUZZ_USERNAME;
    cert.client_key_fingerprint.data = fingerprint;
    cert.client_key_fingerprint.len = 32;
    cert.issued_at = FUZZ_NOW;
    cert.expires_at = FUZZ_NOW + CREDENTIAL_CERT_LIFETIME;
    s_write_mode_msg ("certificate", "seal_logged_in", FUZZ_MODE_SEAL, &cert.base);
    cert.username = "al ice";
    s_write_mode_msg ("certificate", "seal_bad_name", FUZZ_MODE_SEAL, &cert.base);
    cert.username = FUZZ_USERNAME;
    cert.expires_at = INT64_MAX;
    cert.issued_at = INT64_MIN;
    s_write_mode_msg ("certificate", "seal_forever", FUZZ_MODE_SEAL, &cert.base);
    cert.purpose = CHAT__CERTIFICATE_PURPOSE__PURPOSE_RESUME;
    s_write_mode_msg ("certificate", "seal_resume", FUZZ_MODE_SEAL, &cert.base);

    Chat__MembershipTicket ticket = CHAT__MEMBERSHIP_TICKET__INIT;
    ticket.username = FUZZ_USERNAME;
    ticket.conversation_id.data = conversation;
    ticket.conversation_id.len = sizeof conversation;
    ticket.client_key_fingerprint.data = fingerprint;
    ticket.client_key_fingerprint.len = 32;
    ticket.issued_at = FUZZ_NOW;
    ticket.expires_at = FUZZ_NOW + CREDENTIAL_TICKET_LIFETIME;
    s_write_mode_msg ("ticket", "seal_ticket", FUZZ_MODE_SEAL, &ticket.base);
    ticket.conversation_id.len = 15;
    s_write_mode_msg ("ticket", "seal_short_id", FUZZ_MODE_SEAL, &ticket.base);
    credential_keys_wipe (&keys);
}

static void
s_fernet (void)
{
    uint8_t key [FERNET_KEY_SIZE], iv [16];
    FUZZ_CHECK (fernet_key_decode ("cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=", key) == 0);
    for (int i = 0; i < 16; i++)
        iv [i] = (uint8_t) i;
    char *token;
    FUZZ_CHECK (fernet_encrypt_iv (key, (const uint8_t *) "hello", 5, FUZZ_NOW,
                                   iv, &token) == CHAT_OK);
    s_write ("fernet", "hello", token, strlen (token));
    uint8_t *raw;
    size_t raw_len;
    FUZZ_CHECK (codec_b64url_decode (token, strlen (token), &raw, &raw_len) == 0);
    //  Seal mode takes the token without its HMAC
    s_write_mode ("fernet", "seal_hello", FUZZ_MODE_SEAL, raw, raw_len - 32);
    raw [raw_len - 33] ^= 0x01;     //  last ciphertext byte: padding breaks
    s_write_mode ("fernet", "seal_bad_padding", FUZZ_MODE_SEAL, raw, raw_len - 32);
    free (raw);
    free (token);
    FUZZ_CHECK (fernet_encrypt_iv (key, (const uint8_t *) "", 0, FUZZ_NOW - 1000,
                                   iv, &token) == CHAT_OK);
    s_write ("fernet", "empty_expired", token, strlen (token));
    free (token);
    FUZZ_CHECK (fernet_encrypt_iv (key, (const uint8_t *) "0123456789abcdef", 16,
                                   FUZZ_NOW + 1000, iv, &token) == CHAT_OK);
    s_write ("fernet", "block_future", token, strlen (token));
    free (token);
    s_write_mode ("fernet", "roundtrip", 0x02, "plaintext", 9);
    s_write ("fernet", "not_base64", "gAAAAA!!", 8);
}

static void
s_scram (void)
{
    //  A whole exchange with the fixed nonces: the server seed passes
    static const uint8_t salt [] = {
        91, 109, 153, 104, 157, 18, 53, 142, 236, 160, 75, 20, 18, 54, 250, 129
    };
    uint8_t stored [SCRAM_KEY_SIZE], server_key [SCRAM_KEY_SIZE];
    FUZZ_CHECK (scram_make_verifier (FUZZ_SCRAM_PASSWORD, salt, sizeof salt,
                                     FUZZ_SCRAM_ITERATIONS, stored, server_key) == 0);
    scram_client_t *client = scram_client_new (FUZZ_SCRAM_USER, FUZZ_SCRAM_PASSWORD,
                                               FUZZ_SCRAM_CNONCE);
    scram_server_t *server = scram_server_new ();
    const char *first = scram_client_first (client), *user, *server_first,
               *client_final, *server_final;
    FUZZ_CHECK (scram_server_first (server, first, &user) == CHAT_OK);
    FUZZ_CHECK (scram_server_challenge (server, salt, sizeof salt, FUZZ_SCRAM_ITERATIONS,
                                        stored, server_key, FUZZ_SCRAM_SNONCE,
                                        &server_first) == CHAT_OK);
    FUZZ_CHECK (scram_client_final (client, server_first, &client_final) == CHAT_OK);
    FUZZ_CHECK (scram_server_final (server, client_final, &server_final) == CHAT_OK);
    FUZZ_CHECK (scram_client_verify (client, server_final) == CHAT_OK);

    char buf [2048];
    int n = snprintf (buf, sizeof buf, "%s%c%s", first, 0, client_final);
    s_write ("scram_server", "exchange", buf, (size_t) n);
    n = snprintf (buf, sizeof buf, "%s%c%s", first, 0, "c=biws,r=x,p=AAAA");
    s_write ("scram_server", "bad_proof", buf, (size_t) n);
    s_write ("scram_server", "first_only", first, strlen (first));
    s_write_str ("scram_server", "channel_binding", "p=tls-unique,,n=user,r=abc");
    s_write_str ("scram_server", "escaped_name", "n,,n=us=2Cer=3D,r=abc");
    s_write_str ("scram_server", "authzid", "n,a=admin,n=user,r=abc");
    n = snprintf (buf, sizeof buf, "%s%c%s", server_first, 0, server_final);
    s_write ("scram_client", "exchange", buf, (size_t) n);
    s_write_str ("scram_client", "bad_nonce", "r=other,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096");
    s_write_str ("scram_client", "low_iterations",
                 "r=" FUZZ_SCRAM_CNONCE "x,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=1");
    s_write_str ("scram_client", "extension", "m=ext,r=" FUZZ_SCRAM_CNONCE "x,s=AA==,i=4096");
    scram_client_destroy (&client);
    scram_server_destroy (&server);
}

static void
s_beacons (void)
{
    const char *fp = "SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU";
    char buf [BEACON_MAX + 1];
    int n = beacon_format (buf, sizeof buf, "keyserver", "tcp://192.0.2.1:5555", NULL, fp);
    FUZZ_CHECK (n > 0);
    s_write ("beacon", "keyserver", buf, (size_t) n);
    n = beacon_format (buf, sizeof buf, "mainserver", "tcp://192.0.2.1:5556",
                       "tcp://192.0.2.1:5557", fp);
    FUZZ_CHECK (n > 0);
    s_write ("beacon", "mainserver", buf, (size_t) n);
    n = beacon_format (buf, sizeof buf, "mainserver", "tcp://*:5556", "tcp://0.0.0.0:5557", fp);
    FUZZ_CHECK (n > 0);
    s_write ("beacon", "wildcard", buf, (size_t) n);
    s_write_str ("beacon", "two_spaces", "CHAT/1  keyserver tcp://a:1 - x");
}

int
main (int argc, char *argv [])
{
    if (argc != 2 || argv [1][0] == '-') {
        fprintf (stderr, "usage: make_corpus DIR\n");
        return 2;
    }
    s_root = argv [1];
    if (mkdir (s_root, 0755) && errno != EEXIST) {
        fprintf (stderr, "make_corpus: cannot make %s: %s\n", s_root, strerror (errno));
        return 1;
    }
    memset (s_id, 0x33, sizeof s_id);
    memset (s_bytes32, 0x44, sizeof s_bytes32);
    s_channel ();
    s_key_requests ();
    s_key_replies ();
    s_main ();
    s_credentials ();
    s_fernet ();
    s_scram ();
    s_beacons ();
    printf ("make_corpus: %d samples in %s\n", s_count, s_root);
    return 0;
}
