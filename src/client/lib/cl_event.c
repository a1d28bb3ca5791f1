/*  cl_event - the events of libchatclient; see cl_event.h
*/
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include "cl_event.h"
#include "chaterror.h"
#include "convlog.h"

//  ---------------------------------------------------------------- listeners

void
cl_listener_emit (const cl_listener_t *self, cl_event_t *event)
{
    if (self->fn)
        self->fn (self->arg, event);
}

void
cl_listener_signal (const cl_listener_t *self, cl_event_kind_t kind,
                    chatclient_server_t server)
{
    cl_event_t event = { .kind = kind, .server = server };
    cl_listener_emit (self, &event);
}

void
cl_listener_publish (const cl_listener_t *self, chatclient_event_t *pub)
{
    cl_event_t event = { .kind = CL_EV_PUBLIC, .pub = pub };
    cl_listener_emit (self, &event);
    chatclient_event_destroy (&event.pub);
}

void
cl_listener_fail (const cl_listener_t *self, chatclient_event_type_t type, uint32_t cmd,
                  int code, const char *server_text, uint32_t retry_ms)
{
    cl_listener_publish (self, cl_event_failure (type, cmd, code, server_text, retry_ms));
}

//  ---------------------------------------------------------------- public

chatclient_event_t *
cl_event_new (chatclient_event_type_t type, uint32_t cmd)
{
    chatclient_event_t *event = calloc (1, sizeof (chatclient_event_t));
    assert (event);
    event->type = type;
    event->cmd = cmd;
    return event;
}

char *
cl_strdup (const char *text)
{
    return text ? strdup (text) : NULL;
}

char *
cl_format (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    char *text = NULL;
    if (vasprintf (&text, format, args) < 0)
        text = NULL;
    va_end (args);
    return text;
}

void
cl_conversation_copy (chatclient_conversation_t *dest, const chatclient_conversation_t *src)
{
    *dest = *src;
    dest->members = calloc (src->member_count + 1, sizeof (char *));
    assert (dest->members);
    for (size_t i = 0; i < src->member_count; i++)
        dest->members [i] = strdup (src->members [i]);
    dest->title = strdup (src->title? src->title: "");
    assert (dest->title);
}

void
cl_conversation_clear (chatclient_conversation_t *pub)
{
    if (pub->members) {
        for (size_t i = 0; i < pub->member_count; i++)
            free (pub->members [i]);
        free (pub->members);
    }
    pub->members = NULL;
    pub->member_count = 0;
    free (pub->title);
    pub->title = NULL;
}

chatclient_event_t *
cl_event_conversation (chatclient_event_type_t type, uint32_t cmd,
                       const chatclient_conversation_t *conversation)
{
    chatclient_event_t *event = cl_event_new (type, cmd);
    event->conversation = calloc (1, sizeof (chatclient_conversation_t));
    assert (event->conversation);
    cl_conversation_copy (event->conversation, conversation);
    return event;
}

chatclient_event_t *
cl_event_message (chatclient_event_type_t type, uint32_t cmd,
                  const chatclient_message_t *message)
{
    chatclient_event_t *event = cl_event_new (type, cmd);
    event->message = calloc (1, sizeof (chatclient_message_t));
    assert (event->message);
    convlog_message_copy (event->message, message);
    return event;
}

void
chatclient_event_destroy (chatclient_event_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    chatclient_event_t *self = *self_p;
    free (self->text);
    free (self->endpoint);
    free (self->name);
    free (self->fingerprint);
    free (self->pinned);
    free (self->from);
    free (self->username);
    for (size_t i = 0; i < self->user_count; i++)
        free (self->users [i]);
    free (self->users);
    if (self->conversation) {
        cl_conversation_clear (self->conversation);
        free (self->conversation);
    }
    for (size_t i = 0; i < self->conversation_count; i++)
        cl_conversation_clear (&self->conversations [i]);
    free (self->conversations);
    if (self->message) {
        convlog_message_clear (self->message);
        free (self->message);
    }
    for (size_t i = 0; i < self->message_count; i++)
        convlog_message_clear (&self->messages [i]);
    free (self->messages);
    free (self);
    *self_p = NULL;
}

const char *
chatclient_event_name (chatclient_event_type_t type)
{
    switch (type) {
        case CHATCLIENT_EV_CONNECTED:       return "connected";
        case CHATCLIENT_EV_DISCONNECTED:    return "reconnecting";
        case CHATCLIENT_EV_PIN_NEW:         return "pin-new";
        case CHATCLIENT_EV_PIN_MISMATCH:    return "pin-mismatch";
        case CHATCLIENT_EV_REGISTERED:      return "registered";
        case CHATCLIENT_EV_REGISTER_FAILED: return "register-failed";
        case CHATCLIENT_EV_LOGGED_IN:       return "logged-in";
        case CHATCLIENT_EV_LOGIN_FAILED:    return "login-failed";
        case CHATCLIENT_EV_LOGGED_OUT:      return "logged-out";
        case CHATCLIENT_EV_USERS:           return "users";
        case CHATCLIENT_EV_CONVERSATIONS:   return "conversations";
        case CHATCLIENT_EV_CONVERSATION:    return "conversation";
        case CHATCLIENT_EV_MESSAGE:         return "message";
        case CHATCLIENT_EV_SENT:            return "sent";
        case CHATCLIENT_EV_OPENED:          return "opened";
        case CHATCLIENT_EV_HISTORY:         return "history";
        case CHATCLIENT_EV_MEMBERS:         return "members";
        case CHATCLIENT_EV_ERROR:           return "error";
        case CHATCLIENT_EV_PASSWORD_CHANGED: return "password-changed";
        case CHATCLIENT_EV_SAFETY_NUMBER:   return "safety-number";
        case CHATCLIENT_EV_VERIFIED:        return "verified";
        case CHATCLIENT_EV_IDENTITY_CHANGED: return "identity-changed";
        case CHATCLIENT_EV_WRONG_ROLE:      return "wrong-role";
        case CHATCLIENT_EV_PIN_MOVED:       return "pin-moved";
        case CHATCLIENT_EV_READ:            return "read";
        case CHATCLIENT_EV_CHANGE:          return "change";
        case CHATCLIENT_EV_FAILOVER:        return "failover";
    }
    return "unknown";
}

const char *
chatclient_identity_name (chatclient_identity_t identity)
{
    switch (identity) {
        case CHATCLIENT_IDENTITY_UNKNOWN:    return "unknown";
        case CHATCLIENT_IDENTITY_UNVERIFIED: return "unverified";
        case CHATCLIENT_IDENTITY_VERIFIED:   return "verified";
        case CHATCLIENT_IDENTITY_CHANGED:    return "changed";
        case CHATCLIENT_IDENTITY_SELF:       return "you";
    }
    return "unknown";
}

const char *
chatclient_errname (int code)
{
    switch (code) {
        case CHATCLIENT_ERR_TIMEOUT:    return "ERR_TIMEOUT";
        case CHATCLIENT_ERR_CONNECTION: return "ERR_CONNECTION";
        case CHATCLIENT_ERR_USAGE:      return "ERR_USAGE";
        case CHATCLIENT_ERR_UNREACHABLE: return "ERR_UNREACHABLE";
        default:                        return chat_errname (code);
    }
}

//  The report's wording where it has one, else the server's text.
static char *
s_error_text (int code, const char *server_text, uint32_t retry_ms)
{
    switch (code) {
        case CHAT_ERR_AUTH_FAILED:
            return strdup ("Wrong username or password");
        case CHAT_ERR_USERNAME_TAKEN:
            return strdup ("Username already in use");
        case CHAT_ERR_INVALID_USERNAME:
            return strdup ("Invalid username: use 1 to 32 letters, digits, '_', '.' or '-'");
        case CHAT_ERR_RATE_LIMITED:
            return cl_format ("Too many failed attempts, try again in %u s",
                              (retry_ms + 999) / 1000);
        case CHAT_ERR_NOT_LOGGED_IN:
            return strdup ("Not logged in");
        default:
            if (server_text && *server_text)
                return strdup (server_text);
            return strdup (chat_strerror (code));
    }
}

chatclient_event_t *
cl_event_failure (chatclient_event_type_t type, uint32_t cmd, int code,
                  const char *server_text, uint32_t retry_ms)
{
    chatclient_event_t *event = cl_event_new (type, cmd);
    event->code = code ? code : CHAT_ERR_INTERNAL;
    event->retry_ms = retry_ms;
    event->text = s_error_text (event->code, server_text, retry_ms);
    return event;
}
