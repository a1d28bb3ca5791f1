/*  ksreply - one key server reply being built; see ksreply.h  */
#include <assert.h>
#include <string.h>
#include "chaterror.h"
#include "ksreply.h"
#include "secret.h"

void
ksreply_init (ksreply_t *self, uint64_t request_id)
{
    assert (self);
    memset (self, 0, sizeof *self);
    chat__key_reply__init (&self->reply);
    chat__error__init (&self->error);
    chat__register_params__init (&self->register_params);
    chat__registered__init (&self->registered);
    chat__login_challenge__init (&self->login_challenge);
    chat__logged_in__init (&self->logged_in);
    chat__logged_out__init (&self->logged_out);
    chat__password_changed__init (&self->password_changed);
    chat__identities__init (&self->identities);
    chat__keys_stored__init (&self->keys_stored);
    chat__epoch_keys__init (&self->epoch_keys);
    self->reply.request_id = request_id;
    self->allocs = zlistx_new ();
    assert (self->allocs);
    zlistx_set_destructor (self->allocs, (zlistx_destructor_fn *) zstr_free);
}

void
ksreply_free (ksreply_t *self)
{
    assert (self);
    if (self->text)
        secret_wipe (self->text, strlen (self->text));
    free (self->text);
    self->text = NULL;
    zlistx_destroy (&self->allocs);
    secret_wipe (self->salt, sizeof self->salt);
}

void
ksreply_error (ksreply_t *self, int code, const char *text)
{
    wire_error_init (&self->error, code, text? text: chat_strerror (code));
    self->reply.body_case = CHAT__KEY_REPLY__BODY_ERROR;
    self->reply.error = &self->error;
}

void
ksreply_rate_limited (ksreply_t *self, int64_t wait_ms)
{
    ksreply_error (self, CHAT_ERR_RATE_LIMITED, NULL);
    self->error.retry_after_ms = wait_ms > UINT32_MAX? UINT32_MAX: (uint32_t) wait_ms;
}

bool
ksreply_is_error (ksreply_t *self, int code)
{
    return self->reply.body_case == CHAT__KEY_REPLY__BODY_ERROR
        && (int) self->error.code == code;
}

void *
ksreply_keep (ksreply_t *self, void *ptr)
{
    assert (self && ptr);
    zlistx_add_end (self->allocs, ptr);
    return ptr;
}

void *
ksreply_alloc (ksreply_t *self, size_t size)
{
    void *ptr = zmalloc (size? size: 1);
    assert (ptr);
    return ksreply_keep (self, ptr);
}

const char *
ksreply_set_text (ksreply_t *self, const char *text)
{
    if (self->text)
        secret_wipe (self->text, strlen (self->text));
    free (self->text);
    self->text = strdup (text? text: "");
    assert (self->text);
    return self->text;
}

int
ksreply_pack_internal (uint64_t request_id, const char *text,
                       uint8_t **packed, size_t *len)
{
    Chat__KeyReply reply = CHAT__KEY_REPLY__INIT;
    Chat__Error error = CHAT__ERROR__INIT;
    wire_error_init (&error, CHAT_ERR_INTERNAL, text? text: chat_strerror (CHAT_ERR_INTERNAL));
    reply.request_id = request_id;
    reply.body_case = CHAT__KEY_REPLY__BODY_ERROR;
    reply.error = &error;
    return wire_pack (&reply.base, packed, len) == CHAT_OK? CHAT_OK: CHAT_ERR_INTERNAL;
}

int
ksreply_pack (ksreply_t *self, uint8_t **packed, size_t *len)
{
    if (wire_pack (&self->reply.base, packed, len) == CHAT_OK)
        return CHAT_OK;
    return ksreply_pack_internal (self->reply.request_id, NULL, packed, len);
}
