/*  attacker-tool - the network half of e2e.attacker: someone who holds
    both servers' data directories (every file in them) talks to the real
    servers with whatever those files let them mint

        attacker-tool --keyserver EP --mainserver EP --ks-dir DIR --ms-dir DIR

    It reads the key server's private key (DIR/server.key) and own secret
    (DIR/keyserver.secret) and the main server's private key, makes one
    client key, and then takes commands on stdin, one per line, answering
    each with one line ("ok ..." or "refused ERR_NAME [text]") after any
    lines of data. Binary arguments and results are hex.

        login USER IDENTITY_DER     main server: log in as USER with a
                                    LOGGED_IN certificate minted with the key
                                    server's private key, naming IDENTITY_DER
        resume USER                 key server: log in as USER with a resume
                                    token minted from the key server's secret
        messages CONV               the stored messages: "message SEQ EPOCH
                                    SENDER TOKEN" lines
        chain CONV                  "link STATEMENT SIGNATURE" lines
        send CONV EPOCH TOKEN       a message as the logged-in user
        create STATEMENT SIGNATURE  a conversation: "ok CONV TICKET"
        ticket CONV EPOCH UPLOADER MEMBER...
                                    a key ticket minted with the main server's
                                    private key for this tool's client key
        putkeys TICKET NAME WRAPPED [NAME WRAPPED]...
                                    key server: store a set of wrapped keys
        identities NAME...          key server: "identity NAME DER" lines

        attacker-tool --scan TOKENS FILE...

    tries every 32-byte value found in the files as a Fernet key on the
    tokens (TOKENS: lines "LABEL TOKEN"): every 32-byte window of each file
    as it is, and of what every run of hex digits and of base64 (standard or
    URL-safe, at each of the four alignments) in it decodes to. A key opens
    a token when its HMAC checks and the token then decrypts. Prints
    "opened LABEL FILE OFFSET FORM" for each, then "ok scan CANDIDATES
    TOKENS OPENED". It is in C because it makes millions of tries.

    Tests only: it does on purpose what no client may do. Exit 0 at the end
    of input, 1 when a server cannot be reached, 2 on bad arguments.
*/
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include "chaterror.h"
#include "codec.h"
#include "credential.h"
#include "fernet.h"
#include "rsakey.h"
#include "secret.h"
#include "testclient.h"
#include "wire.h"

#define MAX_WORDS 300

typedef struct {
    rsakey_t *client_key;
    rsakey_t *keyserver_key;        //  private, from the key server's dir
    rsakey_t *mainserver_key;       //  private, from the main server's dir
    uint8_t resume_key [FERNET_KEY_SIZE];
    testclient_t *key;
    testclient_t *main;
    uint64_t next_id;
} tool_t;

static void
s_refused (int code, const char *text)
{
    printf ("refused %s%s%s\n", chat_errname (code), text? " ": "", text? text: "");
}

static uint8_t *
s_unhex (const char *hex, size_t *len)
{
    size_t digits = hex? strlen (hex): 0;
    if (digits == 0 || digits % 2)
        return NULL;
    uint8_t *data = malloc (digits / 2);
    assert (data);
    if (codec_unhex (hex, data, digits / 2) != 0) {
        free (data);
        return NULL;
    }
    *len = digits / 2;
    return data;
}

static void
s_print_hex (const uint8_t *data, size_t len)
{
    for (size_t i = 0; i < len; i++)
        printf ("%02x", data [i]);
}

//  A request to one server and its reply; NULL after printing the refusal.
static ProtobufCMessage *
s_call (tool_t *self, bool key, ProtobufCMessage *request)
{
    testclient_t *client = key? self->key: self->main;
    if (key)
        ((Chat__KeyRequest *) request)->request_id = ++self->next_id;
    else
        ((Chat__MainRequest *) request)->request_id = ++self->next_id;
    ProtobufCMessage *reply = NULL;
    int rc = testclient_call (client, request,
                              key? &chat__key_reply__descriptor: &chat__main_reply__descriptor,
                              &reply);
    if (rc != CHAT_OK) {
        s_refused (rc < 0? CHAT_ERR_INTERNAL: rc, "no reply");
        return NULL;
    }
    Chat__Error *error = key
        ? (((Chat__KeyReply *) reply)->body_case == CHAT__KEY_REPLY__BODY_ERROR
           ? ((Chat__KeyReply *) reply)->error: NULL)
        : (((Chat__MainReply *) reply)->body_case == CHAT__MAIN_REPLY__BODY_ERROR
           ? ((Chat__MainReply *) reply)->error: NULL);
    if (error) {
        s_refused ((int) error->code, error->message);
        protobuf_c_message_free_unpacked (reply, NULL);
        return NULL;
    }
    return reply;
}

//  ---------------------------------------------------------------- commands

static void
s_login (tool_t *self, char **words, int count)
{
    size_t der_len = 0;
    uint8_t *der = count == 3? s_unhex (words [2], &der_len): NULL;
    rsakey_t *identity = der? rsakey_from_der (der, der_len): NULL;
    free (der);
    uint8_t *cert = NULL;
    size_t cert_len = 0;
    if (!identity
    ||  credential_cert_issue (self->keyserver_key, CREDENTIAL_LOGGED_IN, words [1],
                               rsakey_fingerprint (self->client_key), identity, wire_now (),
                               &cert, &cert_len) != CHAT_OK) {
        rsakey_destroy (&identity);
        s_refused (CHAT_ERR_BAD_REQUEST, "usage: login USER IDENTITY_DER");
        return;
    }
    rsakey_destroy (&identity);
    Chat__LoginRequest body = CHAT__LOGIN_REQUEST__INIT;
    body.certificate.data = cert;
    body.certificate.len = cert_len;
    Chat__MainRequest req = CHAT__MAIN_REQUEST__INIT;
    req.body_case = CHAT__MAIN_REQUEST__BODY_LOGIN;
    req.login = &body;
    Chat__MainReply *reply = (Chat__MainReply *) s_call (self, false, &req.base);
    free (cert);
    if (reply) {
        printf ("ok login %s\n", reply->logged_in? reply->logged_in->username: "?");
        protobuf_c_message_free_unpacked (&reply->base, NULL);
    }
}

static void
s_resume (tool_t *self, char **words, int count)
{
    uint8_t *token = NULL;
    size_t token_len = 0;
    if (count != 2
    ||  credential_cert_seal (self->resume_key, CREDENTIAL_RESUME, words [1],
                              rsakey_fingerprint (self->client_key), wire_now (),
                              24 * 3600, &token, &token_len) != CHAT_OK) {
        s_refused (CHAT_ERR_BAD_REQUEST, "usage: resume USER");
        return;
    }
    Chat__ResumeRequest body = CHAT__RESUME_REQUEST__INIT;
    body.resume_token.data = token;
    body.resume_token.len = token_len;
    Chat__KeyRequest req = CHAT__KEY_REQUEST__INIT;
    req.body_case = CHAT__KEY_REQUEST__BODY_RESUME;
    req.resume = &body;
    Chat__KeyReply *reply = (Chat__KeyReply *) s_call (self, true, &req.base);
    free (token);
    if (reply) {
        printf ("ok resume %s\n", reply->logged_in? reply->logged_in->username: "?");
        protobuf_c_message_free_unpacked (&reply->base, NULL);
    }
}

static bool
s_conv_id (const char *hex, uint8_t id [CONVERSATION_ID_SIZE])
{
    size_t len = 0;
    uint8_t *data = s_unhex (hex, &len);
    bool ok = data && len == CONVERSATION_ID_SIZE;
    if (ok)
        memcpy (id, data, CONVERSATION_ID_SIZE);
    free (data);
    return ok;
}

static void
s_messages (tool_t *self, char **words, int count)
{
    uint8_t id [CONVERSATION_ID_SIZE];
    if (count != 2 || !s_conv_id (words [1], id)) {
        s_refused (CHAT_ERR_BAD_REQUEST, "usage: messages CONV");
        return;
    }
    uint64_t after = 0;
    while (true) {
        Chat__GetMessagesRequest body = CHAT__GET_MESSAGES_REQUEST__INIT;
        body.conversation_id.data = id;
        body.conversation_id.len = CONVERSATION_ID_SIZE;
        body.after_seq = after;
        body.limit = 1000;
        Chat__MainRequest req = CHAT__MAIN_REQUEST__INIT;
        req.body_case = CHAT__MAIN_REQUEST__BODY_GET_MESSAGES;
        req.get_messages = &body;
        Chat__MainReply *reply = (Chat__MainReply *) s_call (self, false, &req.base);
        if (!reply)
            return;
        Chat__MessagePage *page = reply->messages;
        for (size_t i = 0; page && i < page->n_messages; i++) {
            Chat__StoredMessage *m = page->messages [i];
            printf ("message %llu %llu %s %s\n", (unsigned long long) m->seq,
                    (unsigned long long) m->epoch, m->sender, m->token);
            after = m->seq;
        }
        bool more = page && page->more && page->n_messages > 0;
        protobuf_c_message_free_unpacked (&reply->base, NULL);
        if (!more)
            break;
    }
    printf ("ok messages\n");
}

static void
s_chain (tool_t *self, char **words, int count)
{
    uint8_t id [CONVERSATION_ID_SIZE];
    if (count != 2 || !s_conv_id (words [1], id)) {
        s_refused (CHAT_ERR_BAD_REQUEST, "usage: chain CONV");
        return;
    }
    Chat__GetChainRequest body = CHAT__GET_CHAIN_REQUEST__INIT;
    body.conversation_id.data = id;
    body.conversation_id.len = CONVERSATION_ID_SIZE;
    Chat__MainRequest req = CHAT__MAIN_REQUEST__INIT;
    req.body_case = CHAT__MAIN_REQUEST__BODY_GET_CHAIN;
    req.get_chain = &body;
    Chat__MainReply *reply = (Chat__MainReply *) s_call (self, false, &req.base);
    if (!reply)
        return;
    for (size_t i = 0; reply->chain && i < reply->chain->n_statements; i++) {
        Chat__SignedStatement *link = reply->chain->statements [i];
        printf ("link ");
        s_print_hex (link->statement.data, link->statement.len);
        printf (" ");
        s_print_hex (link->signature.data, link->signature.len);
        printf ("\n");
    }
    protobuf_c_message_free_unpacked (&reply->base, NULL);
    printf ("ok chain\n");
}

static void
s_send (tool_t *self, char **words, int count)
{
    uint8_t id [CONVERSATION_ID_SIZE], cmid [16];
    if (count != 4 || !s_conv_id (words [1], id) || secret_random (cmid, sizeof cmid)) {
        s_refused (CHAT_ERR_BAD_REQUEST, "usage: send CONV EPOCH TOKEN");
        return;
    }
    Chat__SendMessageRequest body = CHAT__SEND_MESSAGE_REQUEST__INIT;
    body.conversation_id.data = id;
    body.conversation_id.len = CONVERSATION_ID_SIZE;
    body.client_message_id.data = cmid;
    body.client_message_id.len = sizeof cmid;
    body.epoch = strtoull (words [2], NULL, 10);
    body.token = words [3];
    Chat__MainRequest req = CHAT__MAIN_REQUEST__INIT;
    req.body_case = CHAT__MAIN_REQUEST__BODY_SEND_MESSAGE;
    req.send_message = &body;
    Chat__MainReply *reply = (Chat__MainReply *) s_call (self, false, &req.base);
    if (reply) {
        printf ("ok send %llu\n", (unsigned long long) (reply->sent? reply->sent->seq: 0));
        protobuf_c_message_free_unpacked (&reply->base, NULL);
    }
}

static void
s_create (tool_t *self, char **words, int count)
{
    size_t statement_len = 0, signature_len = 0;
    uint8_t *statement = count == 3? s_unhex (words [1], &statement_len): NULL;
    uint8_t *signature = count == 3? s_unhex (words [2], &signature_len): NULL;
    if (!statement || !signature) {
        free (statement);
        free (signature);
        s_refused (CHAT_ERR_BAD_REQUEST, "usage: create STATEMENT SIGNATURE");
        return;
    }
    Chat__SignedStatement link = CHAT__SIGNED_STATEMENT__INIT;
    link.statement.data = statement;
    link.statement.len = statement_len;
    link.signature.data = signature;
    link.signature.len = signature_len;
    Chat__CreateConversationRequest body = CHAT__CREATE_CONVERSATION_REQUEST__INIT;
    body.statement = &link;
    Chat__MainRequest req = CHAT__MAIN_REQUEST__INIT;
    req.body_case = CHAT__MAIN_REQUEST__BODY_CREATE_CONVERSATION;
    req.create_conversation = &body;
    Chat__MainReply *reply = (Chat__MainReply *) s_call (self, false, &req.base);
    free (statement);
    free (signature);
    if (!reply)
        return;
    Chat__ConversationCreated *created = reply->created;
    printf ("ok create ");
    if (created && created->conversation)
        s_print_hex (created->conversation->conversation_id.data,
                     created->conversation->conversation_id.len);
    printf (" ");
    if (created)
        s_print_hex (created->ticket.data, created->ticket.len);
    printf ("\n");
    protobuf_c_message_free_unpacked (&reply->base, NULL);
}

static void
s_ticket (tool_t *self, char **words, int count)
{
    credential_ticket_t ticket = { 0 };
    if (count < 5 || !s_conv_id (words [1], ticket.conversation_id)) {
        s_refused (CHAT_ERR_BAD_REQUEST, "usage: ticket CONV EPOCH UPLOADER MEMBER...");
        return;
    }
    ticket.epoch = strtoull (words [2], NULL, 10);
    ticket.uploader = words [3];
    ticket.members = words + 4;
    ticket.member_count = (size_t) (count - 4);
    uint8_t *out = NULL;
    size_t len = 0;
    int rc = credential_ticket_issue (self->mainserver_key, &ticket,
                                      rsakey_fingerprint (self->client_key), wire_now (),
                                      &out, &len);
    if (rc != CHAT_OK) {
        s_refused (rc, "could not mint it");
        return;
    }
    printf ("ok ticket ");
    s_print_hex (out, len);
    printf ("\n");
    free (out);
}

static void
s_putkeys (tool_t *self, char **words, int count)
{
    size_t ticket_len = 0;
    uint8_t *ticket = count >= 4 && count % 2 == 0? s_unhex (words [1], &ticket_len): NULL;
    if (!ticket) {
        s_refused (CHAT_ERR_BAD_REQUEST, "usage: putkeys TICKET NAME WRAPPED...");
        return;
    }
    size_t n = (size_t) (count - 2) / 2;
    Chat__WrappedKey *keys = calloc (n, sizeof (Chat__WrappedKey));
    Chat__WrappedKey **keys_p = calloc (n, sizeof (Chat__WrappedKey *));
    assert (keys && keys_p);
    for (size_t i = 0; i < n; i++) {
        chat__wrapped_key__init (&keys [i]);
        keys [i].username = words [2 + 2 * i];
        keys [i].wrapped_key.data = s_unhex (words [3 + 2 * i], &keys [i].wrapped_key.len);
        keys_p [i] = &keys [i];
    }
    Chat__PutKeysRequest body = CHAT__PUT_KEYS_REQUEST__INIT;
    body.ticket.data = ticket;
    body.ticket.len = ticket_len;
    body.keys = keys_p;
    body.n_keys = n;
    Chat__KeyRequest req = CHAT__KEY_REQUEST__INIT;
    req.body_case = CHAT__KEY_REQUEST__BODY_PUT_KEYS;
    req.put_keys = &body;
    Chat__KeyReply *reply = (Chat__KeyReply *) s_call (self, true, &req.base);
    if (reply) {
        printf ("ok putkeys%s\n", reply->keys_stored && reply->keys_stored->duplicate
                                  ? " duplicate": "");
        protobuf_c_message_free_unpacked (&reply->base, NULL);
    }
    for (size_t i = 0; i < n; i++)
        free (keys [i].wrapped_key.data);
    free (keys);
    free (keys_p);
    free (ticket);
}

static void
s_identities (tool_t *self, char **words, int count)
{
    Chat__GetIdentitiesRequest body = CHAT__GET_IDENTITIES_REQUEST__INIT;
    body.usernames = words + 1;
    body.n_usernames = (size_t) (count - 1);
    Chat__KeyRequest req = CHAT__KEY_REQUEST__INIT;
    req.body_case = CHAT__KEY_REQUEST__BODY_GET_IDENTITIES;
    req.get_identities = &body;
    Chat__KeyReply *reply = (Chat__KeyReply *) s_call (self, true, &req.base);
    if (!reply)
        return;
    for (size_t i = 0; reply->identities && i < reply->identities->n_identities; i++) {
        Chat__Identity *identity = reply->identities->identities [i];
        printf ("identity %s ", identity->username);
        s_print_hex (identity->public_key.data, identity->public_key.len);
        printf ("\n");
    }
    protobuf_c_message_free_unpacked (&reply->base, NULL);
    printf ("ok identities\n");
}

static void
s_execute (tool_t *self, char *line)
{
    char *words [MAX_WORDS];
    int count = 0;
    char *save = NULL;
    for (char *word = strtok_r (line, " \t\r\n", &save); word && count < MAX_WORDS;
         word = strtok_r (NULL, " \t\r\n", &save))
        words [count++] = word;
    if (count == 0)
        return;
    const char *command = words [0];
    if (streq (command, "login") && count == 3)
        s_login (self, words, count);
    else
    if (streq (command, "resume"))
        s_resume (self, words, count);
    else
    if (streq (command, "messages"))
        s_messages (self, words, count);
    else
    if (streq (command, "chain"))
        s_chain (self, words, count);
    else
    if (streq (command, "send"))
        s_send (self, words, count);
    else
    if (streq (command, "create"))
        s_create (self, words, count);
    else
    if (streq (command, "ticket"))
        s_ticket (self, words, count);
    else
    if (streq (command, "putkeys"))
        s_putkeys (self, words, count);
    else
    if (streq (command, "identities") && count >= 2)
        s_identities (self, words, count);
    else
        s_refused (CHAT_ERR_BAD_REQUEST, "unknown command");
    fflush (stdout);
}

//  ---------------------------------------------------------------- scan

typedef struct {
    char *label;
    char *text;                     //  the token as stored
    uint8_t *raw;                   //  decoded
    size_t raw_len;
    bool opened;
} target_t;

typedef struct {
    target_t *targets;
    size_t count;
    EVP_MAC *mac;
    size_t candidates;
    size_t opened;
} scan_t;

//  key opens target: its HMAC checks (the cheap test), and then it really
//  decrypts (no age limit).
static bool
s_opens (scan_t *scan, target_t *target, const uint8_t *key)
{
    uint8_t mac [32];
    size_t mac_len = 0;
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new (scan->mac);
    OSSL_PARAM params [] = {
        OSSL_PARAM_construct_utf8_string (OSSL_MAC_PARAM_DIGEST, "SHA256", 0),
        OSSL_PARAM_construct_end ()
    };
    bool match = ctx && EVP_MAC_init (ctx, key, 16, params)
              && EVP_MAC_update (ctx, target->raw, target->raw_len - 32)
              && EVP_MAC_final (ctx, mac, &mac_len, sizeof mac)
              && mac_len == 32 && memcmp (mac, target->raw + target->raw_len - 32, 32) == 0;
    EVP_MAC_CTX_free (ctx);
    if (!match)
        return false;
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    int rc = fernet_decrypt (key, target->text, strlen (target->text), 0, INT64_MAX / 2,
                             &plain, &plain_len);
    free (plain);
    return rc == CHAT_OK;
}

static void
s_try (scan_t *scan, const uint8_t *key, const char *file, size_t offset, const char *form)
{
    scan->candidates++;
    for (size_t i = 0; i < scan->count; i++)
        if (s_opens (scan, &scan->targets [i], key)) {
            scan->targets [i].opened = true;
            scan->opened++;
            printf ("opened %s %s %zu %s\n", scan->targets [i].label, file, offset, form);
        }
}

static void
s_try_windows (scan_t *scan, const uint8_t *data, size_t len, const char *file,
               const char *form)
{
    for (size_t i = 0; i + 32 <= len; i++) {
        //  a window of one byte repeated is no key anyone made
        bool flat = true;
        for (size_t j = 1; j < 32 && flat; j++)
            flat = data [i + j] == data [i];
        if (!flat)
            s_try (scan, data + i, file, i, form);
    }
}

static int
s_hexval (int c)
{
    return c >= '0' && c <= '9'? c - '0': c >= 'a' && c <= 'f'? c - 'a' + 10
         : c >= 'A' && c <= 'F'? c - 'A' + 10: -1;
}

//  Every run of 64 or more hex digits, decoded at both alignments.
static void
s_try_hex (scan_t *scan, const uint8_t *data, size_t len, const char *file)
{
    size_t i = 0;
    while (i < len) {
        size_t start = i;
        while (i < len && s_hexval (data [i]) >= 0)
            i++;
        size_t run = i - start;
        for (size_t align = 0; run >= 64 + align && align < 2; align++) {
            size_t bytes = (run - align) / 2;
            uint8_t *out = malloc (bytes);
            assert (out);
            for (size_t b = 0; b < bytes; b++)
                out [b] = (uint8_t) (s_hexval (data [start + align + 2 * b]) * 16
                                     + s_hexval (data [start + align + 2 * b + 1]));
            s_try_windows (scan, out, bytes, file, "hex");
            free (out);
        }
        if (i == start)
            i++;
    }
}

static bool
s_b64_char (uint8_t c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')
        || c == '+' || c == '/' || c == '-' || c == '_';
}

//  Every run of 43 or more base64 characters (either alphabet), decoded at
//  each alignment.
static void
s_try_base64 (scan_t *scan, const uint8_t *data, size_t len, const char *file)
{
    size_t i = 0;
    while (i < len) {
        size_t start = i;
        while (i < len && s_b64_char (data [i]))
            i++;
        size_t run = i - start;
        for (size_t align = 0; run >= 43 + align && align < 4; align++) {
            //  whole groups of four, and a last group of two or three
            //  characters padded as its encoder would have
            size_t chars = run - align;
            size_t tail = chars % 4;
            size_t padding = tail >= 2? 4 - tail: 0;
            if (tail == 1)
                chars--;
            unsigned char *text = malloc (chars + padding + 1);
            uint8_t *out = malloc ((chars + padding) / 4 * 3 + 1);
            assert (text && out);
            for (size_t c = 0; c < chars; c++) {
                uint8_t ch = data [start + align + c];
                text [c] = ch == '-'? '+': ch == '_'? '/': ch;
            }
            for (size_t p = 0; p < padding; p++)
                text [chars + p] = '=';
            int bytes = EVP_DecodeBlock (out, text, (int) (chars + padding));
            //  EVP_DecodeBlock counts the padding's bytes too
            if (bytes > (int) padding)
                s_try_windows (scan, out, (size_t) bytes - padding, file, "base64");
            free (text);
            free (out);
        }
        if (i == start)
            i++;
    }
}

static int
s_scan (const char *tokens_path, char **files, int count)
{
    scan_t scan = { 0 };
    FILE *tokens = fopen (tokens_path, "r");
    if (!tokens)
        return 2;
    char *line = NULL;
    size_t size = 0;
    while (getline (&line, &size, tokens) > 0) {
        char *save = NULL;
        char *label = strtok_r (line, " \n", &save);
        char *text = strtok_r (NULL, " \n", &save);
        if (!label || !text)
            continue;
        target_t target = { .label = strdup (label), .text = strdup (text) };
        if (codec_b64url_decode (text, strlen (text), &target.raw, &target.raw_len) != 0
        ||  target.raw_len < 1 + 8 + 16 + 16 + 32) {
            fprintf (stderr, "attacker-tool: %s is not a Fernet token\n", label);
            return 2;
        }
        scan.targets = realloc (scan.targets, (scan.count + 1) * sizeof (target_t));
        assert (scan.targets);
        scan.targets [scan.count++] = target;
    }
    free (line);
    fclose (tokens);
    scan.mac = EVP_MAC_fetch (NULL, "HMAC", NULL);
    assert (scan.mac);
    for (int f = 0; f < count; f++) {
        zfile_t *file = zfile_new (NULL, files [f]);
        zchunk_t *chunk = file && zfile_input (file) == 0? zfile_read (file, zfile_cursize (file), 0)
                                                        : NULL;
        if (chunk) {
            const uint8_t *data = zchunk_data (chunk);
            size_t len = zchunk_size (chunk);
            s_try_windows (&scan, data, len, files [f], "raw");
            s_try_hex (&scan, data, len, files [f]);
            s_try_base64 (&scan, data, len, files [f]);
        }
        zchunk_destroy (&chunk);
        zfile_destroy (&file);
    }
    printf ("ok scan %zu %zu %zu\n", scan.candidates, scan.count, scan.opened);
    for (size_t i = 0; i < scan.count; i++) {
        free (scan.targets [i].label);
        free (scan.targets [i].text);
        free (scan.targets [i].raw);
    }
    free (scan.targets);
    EVP_MAC_free (scan.mac);
    return 0;
}

//  ---------------------------------------------------------------- setup

static int
s_load (tool_t *self, const char *ks_dir, const char *ms_dir)
{
    char path [512];
    snprintf (path, sizeof path, "%s/server.key", ks_dir);
    self->keyserver_key = rsakey_load (path);
    snprintf (path, sizeof path, "%s/server.key", ms_dir);
    self->mainserver_key = rsakey_load (path);
    snprintf (path, sizeof path, "%s/keyserver.secret", ks_dir);
    uint8_t secret [SECRET_FILE_SIZE];
    if (!self->keyserver_key || !self->mainserver_key
    ||  secret_file_load (path, secret) != 0)
        return -1;
    //  the key server's resume key, derived as its data directory says
    int rc = secret_hkdf (secret, sizeof secret, "chat/2 resume", self->resume_key,
                          sizeof self->resume_key);
    secret_wipe (secret, sizeof secret);
    return rc;
}

static testclient_t *
s_connect (tool_t *self, const char *endpoint, const char *role)
{
    testclient_t *client = testclient_new (endpoint, self->client_key);
    if (!client)
        return NULL;
    testclient_expect_role (client, role);
    testclient_set_timeout (client, 15000);
    if (testclient_handshake (client) != CHAT_OK)
        testclient_destroy (&client);
    return client;
}

int
main (int argc, char **argv)
{
    static const struct option options [] = {
        { "keyserver", required_argument, NULL, 'k' },
        { "mainserver", required_argument, NULL, 'm' },
        { "ks-dir", required_argument, NULL, 'K' },
        { "ms-dir", required_argument, NULL, 'M' },
        { "scan", required_argument, NULL, 'S' },
        { NULL, 0, NULL, 0 }
    };
    const char *ks = NULL, *ms = NULL, *ks_dir = NULL, *ms_dir = NULL, *scan = NULL;
    int opt;
    while ((opt = getopt_long (argc, argv, "", options, NULL)) != -1) {
        switch (opt) {
            case 'k': ks = optarg; break;
            case 'm': ms = optarg; break;
            case 'K': ks_dir = optarg; break;
            case 'M': ms_dir = optarg; break;
            case 'S': scan = optarg; break;
            default:
                return 2;
        }
    }
    if (scan)
        return s_scan (scan, argv + optind, argc - optind);
    if (!ks || !ms || !ks_dir || !ms_dir) {
        fprintf (stderr, "usage: attacker-tool --keyserver EP --mainserver EP "
                         "--ks-dir DIR --ms-dir DIR\n");
        return 2;
    }
    zsys_init ();
    zsys_set_logstream (stderr);
    tool_t self = { 0 };
    self.client_key = rsakey_generate (2048);
    int rc = 0;
    if (!self.client_key || s_load (&self, ks_dir, ms_dir) != 0) {
        fprintf (stderr, "attacker-tool: cannot read the data directories' keys\n");
        rc = 1;
    }
    else {
        self.key = s_connect (&self, ks, CHANNEL_ROLE_KEYSERVER);
        self.main = s_connect (&self, ms, CHANNEL_ROLE_MAINSERVER);
        if (!self.key || !self.main) {
            fprintf (stderr, "attacker-tool: cannot reach both servers\n");
            rc = 1;
        }
    }
    char *line = NULL;
    size_t size = 0;
    while (rc == 0 && getline (&line, &size, stdin) > 0)
        s_execute (&self, line);
    free (line);
    testclient_destroy (&self.key);
    testclient_destroy (&self.main);
    rsakey_destroy (&self.client_key);
    rsakey_destroy (&self.keyserver_key);
    rsakey_destroy (&self.mainserver_key);
    secret_wipe (self.resume_key, sizeof self.resume_key);
    return rc;
}
