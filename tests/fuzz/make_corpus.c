/*  make_corpus - writes the fuzzers' seed corpus: real frames made by
    libchat itself, plus a few edge cases, one file per sample

        make_corpus DIR      (DIR/<target>/<sample>)

    Certificates, tickets, statements, sealed identities and Fernet tokens
    use the fixed keys and clock of fuzz_util.h (and fuzz_chain.h's chain),
    so they pass the fuzz targets' checks and lead the fuzzer down the
    accepting paths. Frames made with fresh RSA keys (handshakes, sealed
    tokens) only show the fuzzer their shape.
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
#include "keyrotation.h"
#include "fernet.h"
#include "identity.h"
#include "scram.h"
#include "secret.h"
#include "wire.h"
#include "fuzz_chain.h"
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
    s_write_hello ("hello_version_1", 1, der, der_len, CHANNEL_NONCE_SIZE);
    s_write_hello ("hello_bad_version", 3, der, der_len, CHANNEL_NONCE_SIZE);
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
    uint8_t *info;
    size_t info_len;
    fuzz_welcome_info (&info, &info_len);
    FUZZ_CHECK (channel_server_accept (server_key, info, info_len, hello->hello, &server,
                                       &welcome, &welcome_size) == CHAT_OK);
    free (info);
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
    reg.identity_public_key.data = s_bytes32;
    reg.identity_public_key.len = 32;
    reg.sealed_identity.data = (uint8_t *) "gAAAAABlU_8A";
    reg.sealed_identity.len = 12;
    Chat__LoginStart start = CHAT__LOGIN_START__INIT;
    start.client_first = "n,,n=" FUZZ_SCRAM_USER ",r=" FUZZ_SCRAM_CNONCE;
    Chat__LoginFinish finish = CHAT__LOGIN_FINISH__INIT;
    finish.client_final = "c=biws,r=" FUZZ_SCRAM_CNONCE FUZZ_SCRAM_SNONCE
                          ",p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    Chat__PasswordFinish password = CHAT__PASSWORD_FINISH__INIT;
    password.client_final = finish.client_final;
    password.salt = reg.salt;
    password.iterations = 4096;
    password.stored_key = reg.stored_key;
    password.server_key = reg.server_key;
    password.sealed_identity = reg.sealed_identity;
    char *names [] = { "bob", "carol" };
    Chat__GetIdentitiesRequest identities = CHAT__GET_IDENTITIES_REQUEST__INIT;
    identities.usernames = names;
    identities.n_usernames = 2;
    Chat__WrappedKey wrapped = CHAT__WRAPPED_KEY__INIT;
    wrapped.username = "bob";
    wrapped.wrapped_key.data = s_bytes32;
    wrapped.wrapped_key.len = 32;
    Chat__WrappedKey *keys [] = { &wrapped, &wrapped };
    Chat__PutKeysRequest put = CHAT__PUT_KEYS_REQUEST__INIT;
    put.ticket.data = (uint8_t *) "ticket";
    put.ticket.len = 6;
    put.keys = keys;
    put.n_keys = 2;
    Chat__GetKeysRequest get = CHAT__GET_KEYS_REQUEST__INIT;
    get.conversation_id.data = s_id;
    get.conversation_id.len = 16;
    get.from_epoch = 2;
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
    KEYREQ ("password_start", PASSWORD_START, password_start, &start);
    KEYREQ ("password_finish", PASSWORD_FINISH, password_finish, &password);
    KEYREQ ("get_identities", GET_IDENTITIES, get_identities, &identities);
    KEYREQ ("put_keys", PUT_KEYS, put_keys, &put);
    KEYREQ ("get_keys", GET_KEYS, get_keys, &get);
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
    logged.sealed_identity = registered.certificate;
    logged.identity_public_key.data = s_bytes32;
    logged.identity_public_key.len = 32;
    Chat__PasswordChanged changed = CHAT__PASSWORD_CHANGED__INIT;
    changed.server_final = logged.server_final;
    Chat__Identity identity = CHAT__IDENTITY__INIT;
    identity.username = "bob";
    identity.public_key = logged.identity_public_key;
    Chat__Identity *list [] = { &identity, &identity };
    Chat__Identities identities = CHAT__IDENTITIES__INIT;
    identities.identities = list;
    identities.n_identities = 2;
    Chat__KeysStored stored = CHAT__KEYS_STORED__INIT;
    stored.conversation_id.data = s_id;
    stored.conversation_id.len = 16;
    stored.epoch = 3;
    stored.duplicate = 1;
    Chat__EpochKey key = CHAT__EPOCH_KEY__INIT;
    key.epoch = 1;
    key.wrapped_key.data = s_bytes32;
    key.wrapped_key.len = 32;
    key.uploader = FUZZ_USERNAME;
    Chat__EpochKey *key_list [] = { &key, &key };
    Chat__EpochKeys keys = CHAT__EPOCH_KEYS__INIT;
    keys.conversation_id = stored.conversation_id;
    keys.keys = key_list;
    keys.n_keys = 2;
    keys.more = 1;
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
    KEYREP ("password_changed", PASSWORD_CHANGED, password_changed, &changed);
    KEYREP ("identities", IDENTITIES, identities, &identities);
    KEYREP ("keys_stored", KEYS_STORED, keys_stored, &stored);
    KEYREP ("epoch_keys", EPOCH_KEYS, epoch_keys, &keys);
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
    list.cursor.data = s_bytes32;
    list.cursor.len = 24;                   //  a server cursor: created_at, id
    Chat__GetMessagesRequest get = CHAT__GET_MESSAGES_REQUEST__INIT;
    get.conversation_id.data = s_id;
    get.conversation_id.len = 16;
    get.after_seq = 3;
    get.limit = 1000;
    Chat__ListUsersRequest users = CHAT__LIST_USERS_REQUEST__INIT;
    char *members [] = { "bob", "carol" };
    Chat__SignedStatement statement = CHAT__SIGNED_STATEMENT__INIT;
    statement.statement.data = s_bytes32;
    statement.statement.len = 32;
    statement.signature.data = s_bytes32;
    statement.signature.len = 32;
    Chat__CreateConversationRequest create = CHAT__CREATE_CONVERSATION_REQUEST__INIT;
    create.statement = &statement;
    Chat__SendMessageRequest send = CHAT__SEND_MESSAGE_REQUEST__INIT;
    send.conversation_id = get.conversation_id;
    send.client_message_id.data = s_id;
    send.client_message_id.len = 16;
    send.token = "gAAAAABlU_8A";
    send.epoch = 2;
    Chat__GetMembersRequest gm = CHAT__GET_MEMBERS_REQUEST__INIT;
    gm.conversation_id = get.conversation_id;
    Chat__GetChainRequest chain = CHAT__GET_CHAIN_REQUEST__INIT;
    chain.conversation_id = get.conversation_id;
    chain.after_epoch = 1;
    Chat__KeyTicketRequest ticket = CHAT__KEY_TICKET_REQUEST__INIT;
    ticket.conversation_id = get.conversation_id;
    ticket.epoch = 2;
    Chat__AcceptConversationRequest accept = CHAT__ACCEPT_CONVERSATION_REQUEST__INIT;
    accept.conversation_id = get.conversation_id;
    Chat__ChangeConversationRequest change = CHAT__CHANGE_CONVERSATION_REQUEST__INIT;
    change.statement = &statement;
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
    MAINREQ ("get_chain", GET_CHAIN, get_chain, &chain);
    MAINREQ ("key_ticket", KEY_TICKET, key_ticket, &ticket);
    MAINREQ ("change_conversation", CHANGE_CONVERSATION, change_conversation, &change);
    MAINREQ ("accept_conversation", ACCEPT_CONVERSATION, accept_conversation, &accept);
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
    summary.epoch = 2;
    summary.title = "fuzz";
    summary.request = 1;
    Chat__ConversationSummary *summaries [] = { &summary, &summary };
    Chat__ConversationList clist = CHAT__CONVERSATION_LIST__INIT;
    clist.n_conversations = 2;
    clist.conversations = summaries;
    clist.next_cursor.data = s_bytes32;
    clist.next_cursor.len = 24;
    Chat__StoredMessage stored = CHAT__STORED_MESSAGE__INIT;
    stored.conversation_id = get.conversation_id;
    stored.seq = 12;
    stored.sender = "bob";
    stored.server_time = summary.last_time;
    stored.token = "gAAAAABlU_8A";
    stored.client_message_id = send.client_message_id;
    stored.epoch = 2;
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
    Chat__SignedStatement *links [] = { &statement, &statement };
    Chat__Chain chain_reply = CHAT__CHAIN__INIT;
    chain_reply.conversation_id = get.conversation_id;
    chain_reply.statements = links;
    chain_reply.n_statements = 2;
    Chat__KeyTicketReply ticket_reply = CHAT__KEY_TICKET_REPLY__INIT;
    ticket_reply.conversation_id = get.conversation_id;
    ticket_reply.epoch = 2;
    ticket_reply.ticket = reg.certificate;
    Chat__ConversationCreated created = CHAT__CONVERSATION_CREATED__INIT;
    created.conversation = &summary;
    created.ticket = reg.certificate;
    Chat__ConversationChanged changed = CHAT__CONVERSATION_CHANGED__INIT;
    changed.conversation = &summary;
    changed.ticket = reg.certificate;
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
    MAINREP ("created", CREATED, created, &created);
    MAINREP ("changed", CHANGED, changed, &changed);
    MAINREP ("accepted", ACCEPTED, accepted, &summary);
    MAINREP ("chain", CHAIN, chain, &chain_reply);
    MAINREP ("key_ticket", KEY_TICKET, key_ticket, &ticket_reply);
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
    body.epoch = 2;
    s_write_msg (t, "text", &body.base);
}

//  A SignedCredential over a packed body, signed by key under label
static void
s_write_signed (const char *target, const char *name, rsakey_t *key, const char *label,
                const ProtobufCMessage *body)
{
    uint8_t *packed, *sig, *out;
    size_t packed_len, sig_len, len;
    FUZZ_CHECK (wire_pack (body, &packed, &packed_len) == CHAT_OK);
    FUZZ_CHECK (rsakey_sign_labelled (key, label, packed, packed_len, &sig, &sig_len)
                == CHAT_OK);
    Chat__SignedCredential signed_ = CHAT__SIGNED_CREDENTIAL__INIT;
    signed_.body.data = packed;
    signed_.body.len = packed_len;
    signed_.signature.data = sig;
    signed_.signature.len = sig_len;
    FUZZ_CHECK (wire_pack (&signed_.base, &out, &len) == CHAT_OK);
    s_write (target, name, out, len);
    free (out);
    free (packed);
    free (sig);
}

static void
s_credentials (void)
{
    rsakey_t *keyserver = fuzz_load_key (FUZZ_KEYSERVER_KEY);
    rsakey_t *mainserver = fuzz_load_key (FUZZ_MAINSERVER_KEY);
    uint8_t fingerprint [32], conversation [CONVERSATION_ID_SIZE];
    memset (fingerprint, FUZZ_FINGERPRINT_BYTE, sizeof fingerprint);
    memset (conversation, FUZZ_CONVERSATION_BYTE, sizeof conversation);

    uint8_t *out;
    size_t len;
    FUZZ_CHECK (credential_cert_issue (keyserver, CREDENTIAL_REGISTERED, FUZZ_USERNAME,
                                       fingerprint, keyserver, FUZZ_NOW, &out, &len) == CHAT_OK);
    s_write ("certificate", "registered", out, len);
    s_write ("ticket", "certificate", out, len);
    free (out);
    //  a key rotation statement: the key server's key replaced by the main
    //  server's (fuzz_certificate checks its inputs as statements too)
    size_t der_len;
    const uint8_t *der = rsakey_der (keyserver, &der_len);
    FUZZ_CHECK (keyrotation_make (keyserver, der, der_len, rsakey_fingerprint (mainserver),
                                  FUZZ_NOW, &out, &len) == CHAT_OK);
    s_write ("certificate", "key_rotation", out, len);
    free (out);
    FUZZ_CHECK (credential_cert_issue (keyserver, CREDENTIAL_LOGGED_IN, FUZZ_USERNAME,
                                       fingerprint, mainserver, FUZZ_NOW, &out, &len) == CHAT_OK);
    s_write ("certificate", "logged_in", out, len);
    free (out);
    FUZZ_CHECK (credential_cert_issue (keyserver, CREDENTIAL_LOGGED_IN, FUZZ_USERNAME,
                                       fingerprint, keyserver, FUZZ_NOW - 1000, &out, &len)
                == CHAT_OK);
    s_write ("certificate", "expired", out, len);
    free (out);
    FUZZ_CHECK (credential_cert_issue (mainserver, CREDENTIAL_LOGGED_IN, FUZZ_USERNAME,
                                       fingerprint, keyserver, FUZZ_NOW, &out, &len) == CHAT_OK);
    s_write ("certificate", "wrong_signer", out, len);
    free (out);

    const char *members [] = { "alice", "bob", "carol" };
    credential_ticket_t ticket = { { 0 }, 2, (char **) members, 3, (char *) FUZZ_USERNAME };
    memcpy (ticket.conversation_id, conversation, sizeof conversation);
    FUZZ_CHECK (credential_ticket_issue (mainserver, &ticket, fingerprint, FUZZ_NOW,
                                         &out, &len) == CHAT_OK);
    s_write ("ticket", "ticket", out, len);
    s_write ("certificate", "ticket", out, len);
    free (out);
    FUZZ_CHECK (credential_ticket_issue (keyserver, &ticket, fingerprint, FUZZ_NOW,
                                         &out, &len) == CHAT_OK);
    s_write ("ticket", "wrong_signer", out, len);
    free (out);

    //  Bodies for the sign modes, and the same signed here (der: the key
    //  server's key, as above)
    Chat__Certificate cert = CHAT__CERTIFICATE__INIT;
    cert.purpose = CHAT__CERTIFICATE_PURPOSE__PURPOSE_LOGGED_IN;
    cert.username = FUZZ_USERNAME;
    cert.client_key_fingerprint.data = fingerprint;
    cert.client_key_fingerprint.len = 32;
    cert.issued_at = FUZZ_NOW;
    cert.expires_at = FUZZ_NOW + CREDENTIAL_CERT_LIFETIME;
    cert.identity_public_key.data = (uint8_t *) der;
    cert.identity_public_key.len = der_len;
    s_write_mode_msg ("certificate", "sign_logged_in", FUZZ_MODE_SEAL, &cert.base);
    s_write_mode_msg ("certificate", "forge_logged_in", FUZZ_MODE_FORGE, &cert.base);
    cert.expires_at = FUZZ_NOW + CREDENTIAL_CERT_LIFETIME + 1;
    s_write_mode_msg ("certificate", "sign_too_long", FUZZ_MODE_SEAL, &cert.base);
    cert.username = "al ice";
    s_write_mode_msg ("certificate", "sign_bad_name", FUZZ_MODE_SEAL, &cert.base);
    cert.username = FUZZ_USERNAME;
    cert.expires_at = INT64_MAX;
    cert.issued_at = INT64_MIN;
    s_write_mode_msg ("certificate", "sign_forever", FUZZ_MODE_SEAL, &cert.base);
    s_write_signed ("certificate", "signed_forever", keyserver, CREDENTIAL_CERT_LABEL,
                    &cert.base);
    cert.issued_at = FUZZ_NOW;
    cert.expires_at = FUZZ_NOW + 10;
    cert.purpose = CHAT__CERTIFICATE_PURPOSE__PURPOSE_RESUME;
    s_write_mode_msg ("certificate", "sign_resume", FUZZ_MODE_SEAL, &cert.base);
    cert.purpose = CHAT__CERTIFICATE_PURPOSE__PURPOSE_REGISTERED;
    cert.identity_public_key.len = der_len - 1;
    s_write_mode_msg ("certificate", "sign_bad_identity", FUZZ_MODE_SEAL, &cert.base);

    Chat__KeyTicket body = CHAT__KEY_TICKET__INIT;
    body.conversation_id.data = conversation;
    body.conversation_id.len = sizeof conversation;
    body.epoch = 2;
    body.members = (char **) members;
    body.n_members = 3;
    body.uploader = FUZZ_USERNAME;
    body.client_key_fingerprint.data = fingerprint;
    body.client_key_fingerprint.len = 32;
    body.issued_at = FUZZ_NOW;
    body.expires_at = FUZZ_NOW + CREDENTIAL_TICKET_LIFETIME;
    s_write_mode_msg ("ticket", "sign_ticket", FUZZ_MODE_SEAL, &body.base);
    s_write_mode_msg ("ticket", "forge_ticket", FUZZ_MODE_FORGE, &body.base);
    body.conversation_id.len = 15;
    s_write_mode_msg ("ticket", "sign_short_id", FUZZ_MODE_SEAL, &body.base);
    body.conversation_id.len = sizeof conversation;
    body.epoch = 0;
    s_write_mode_msg ("ticket", "sign_epoch_0", FUZZ_MODE_SEAL, &body.base);
    body.epoch = 2;
    body.uploader = "bob";
    s_write_mode_msg ("ticket", "sign_other_uploader", FUZZ_MODE_SEAL, &body.base);
    body.uploader = FUZZ_USERNAME;
    body.issued_at = INT64_MIN;
    s_write_mode_msg ("ticket", "sign_from_ever", FUZZ_MODE_SEAL, &body.base);
    rsakey_destroy (&keyserver);
    rsakey_destroy (&mainserver);
}

//  Links for fuzz_statement: valid next links of every kind on the fixed
//  chain, signed by alice or bob (whose keys are fixed) or left to the
//  sign mode, and a few that break a rule
static void
s_statements (void)
{
    rsakey_t *alice = fuzz_load_key (FUZZ_ALICE_KEY);
    rsakey_t *bob = fuzz_load_key (FUZZ_BOB_KEY);
    chain_link_t links [2];
    chain_t *chain = fuzz_chain_make (alice, bob, links);
    const char *t = "statement";
    Chat__SignedStatement view;
    chain_link_view (&links [0], &view);
    s_write_msg (t, "create", &view.base);      //  a CREATE on a chain that has one
    chain_link_view (&links [1], &view);
    s_write_msg (t, "replayed_head", &view.base);

    struct { const char *name; int action; const char *actor; const char *subject;
             const char *title; } changes [] = {
        { "add_erin", CHAIN_ADD, "bob", "erin", NULL },
        { "remove_carol", CHAIN_REMOVE, "alice", "carol", NULL },
        { "leave_bob", CHAIN_LEAVE, "bob", NULL, NULL },
        { "title", CHAIN_TITLE, "bob", NULL, "new title" },
        { "admin_bob", CHAIN_ADMIN, "alice", "bob", NULL },
        { "rekey", CHAIN_REKEY, "alice", NULL, NULL },
    };
    uint8_t check [32];
    fuzz_chain_check (3, check);
    for (size_t i = 0; i < sizeof changes / sizeof changes [0]; i++) {
        rsakey_t *key = strcmp (changes [i].actor, "alice") == 0 ? alice : bob;
        const char *subjects [1] = { changes [i].subject };
        chain_link_t link;
        FUZZ_CHECK (chain_make_change (chain, changes [i].action, changes [i].actor,
                                       subjects, changes [i].subject ? 1 : 0,
                                       changes [i].title,
                                       changes [i].action == CHAIN_LEAVE ? NULL : check,
                                       key, (int64_t) FUZZ_NOW * 1000 + 2, &link) == CHAT_OK);
        chain_link_view (&link, &view);
        s_write_msg (t, changes [i].name, &view.base);
        char name [64];
        snprintf (name, sizeof name, "sign_%s", changes [i].name);
        s_write_mode (t, name, FUZZ_MODE_SEAL, link.statement, link.statement_len);
        chain_link_free (&link);
    }
    //  What the rules refuse, for the sign mode: bob (no admin) removes
    //  carol; a stale previous hash
    chain_link_t link;
    const char *carol [] = { "carol" };
    FUZZ_CHECK (chain_make_change (chain, CHAIN_REMOVE, "alice", carol, 1, NULL, check, alice,
                                   (int64_t) FUZZ_NOW * 1000 + 2, &link) == CHAT_OK);
    Chat__MembershipStatement *st = chat__membership_statement__unpack (
        NULL, link.statement_len, link.statement);
    FUZZ_CHECK (st);
    Chat__MembershipStatement copy = *st;
    copy.actor = "bob";
    s_write_mode_msg (t, "sign_remove_by_member", FUZZ_MODE_SEAL, &copy.base);
    copy = *st;
    uint8_t stale [32];
    memset (stale, 0x77, sizeof stale);
    copy.previous_hash.data = stale;
    s_write_mode_msg (t, "sign_stale", FUZZ_MODE_SEAL, &copy.base);
    chat__membership_statement__free_unpacked (st, NULL);
    chain_link_free (&link);
    chain_link_free (&links [0]);
    chain_link_free (&links [1]);
    chain_destroy (&chain);
    rsakey_destroy (&alice);
    rsakey_destroy (&bob);
}

//  Sealed identities for fuzz_identity: alice's, under the fixed
//  SaltedPassword; and IdentitySecret bodies for its seal mode
static void
s_identities (void)
{
    rsakey_t *alice = fuzz_load_key (FUZZ_ALICE_KEY);
    rsakey_t *bob = fuzz_load_key (FUZZ_BOB_KEY);
    uint8_t salted [SCRAM_KEY_SIZE];
    memset (salted, FUZZ_SALTED_BYTE, sizeof salted);
    char *sealed;
    FUZZ_CHECK (identity_seal (alice, FUZZ_USERNAME, salted, FUZZ_NOW, &sealed) == CHAT_OK);
    s_write_str ("identity", "alice", sealed);
    s_write ("identity", "truncated", sealed, strlen (sealed) / 2);
    free (sealed);
    FUZZ_CHECK (identity_seal (bob, FUZZ_USERNAME, salted, FUZZ_NOW, &sealed) == CHAT_OK);
    s_write_str ("identity", "other_key", sealed);
    free (sealed);
    FUZZ_CHECK (identity_seal (alice, "ALICE", salted, FUZZ_NOW, &sealed) == CHAT_OK);
    s_write_str ("identity", "upper_case", sealed);
    free (sealed);
    uint8_t *der;
    size_t der_len;
    FUZZ_CHECK (rsakey_private_der (alice, &der, &der_len) == CHAT_OK);
    Chat__IdentitySecret secret = CHAT__IDENTITY_SECRET__INIT;
    secret.username = FUZZ_USERNAME;
    secret.private_key.data = der;
    secret.private_key.len = der_len;
    s_write_mode_msg ("identity", "seal_alice", FUZZ_MODE_SEAL, &secret.base);
    secret.username = "mallory";
    s_write_mode_msg ("identity", "seal_other_name", FUZZ_MODE_SEAL, &secret.base);
    secret.username = FUZZ_USERNAME;
    secret.private_key.len = der_len / 2;
    s_write_mode_msg ("identity", "seal_cut_key", FUZZ_MODE_SEAL, &secret.base);
    secret_wipe (der, der_len);
    free (der);
    rsakey_destroy (&alice);
    rsakey_destroy (&bob);
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
    s_statements ();
    s_identities ();
    s_fernet ();
    s_scram ();
    s_beacons ();
    printf ("make_corpus: %d samples in %s\n", s_count, s_root);
    return 0;
}
