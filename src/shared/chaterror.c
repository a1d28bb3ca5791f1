/*  chaterror - the error codes every layer returns  */
#include "chaterror.h"
#include "wire.pb-c.h"
#include <stddef.h>

//  The enum above must stay the protocol's enum: the compiler proves it.
_Static_assert ((int) CHAT_ERR_BAD_MAC == (int) CHAT__ERROR_CODE__ERR_BAD_MAC, "ErrorCode drift");
_Static_assert ((int) CHAT_ERR_BUSY == (int) CHAT__ERROR_CODE__ERR_BUSY, "ErrorCode drift");
_Static_assert ((int) CHAT_ERR_INTERNAL == (int) CHAT__ERROR_CODE__ERR_INTERNAL, "ErrorCode drift");
_Static_assert ((int) CHAT_ERR_QUOTA == (int) CHAT__ERROR_CODE__ERR_QUOTA, "ErrorCode drift");
_Static_assert ((int) CHAT_ERR_WRONG_ROLE == (int) CHAT__ERROR_CODE__ERR_WRONG_ROLE, "ErrorCode drift");
_Static_assert ((int) CHAT_ERR_BAD_STATEMENT == (int) CHAT__ERROR_CODE__ERR_BAD_STATEMENT, "ErrorCode drift");
_Static_assert ((int) CHAT_ERR_OUT_OF_ORDER == (int) CHAT__ERROR_CODE__ERR_OUT_OF_ORDER, "ErrorCode drift");

static const struct {
    int code;
    const char *name;
    const char *text;
} s_errors [] = {
    { CHAT_OK, "OK", "ok" },
    { CHAT_ERR_MALFORMED, "ERR_MALFORMED", "malformed frame" },
    { CHAT_ERR_TOO_LARGE, "ERR_TOO_LARGE", "frame too large" },
    { CHAT_ERR_BAD_VERSION, "ERR_BAD_VERSION", "protocol version not supported" },
    { CHAT_ERR_BAD_KEY, "ERR_BAD_KEY", "unusable public key" },
    { CHAT_ERR_UNKNOWN_SESSION, "ERR_UNKNOWN_SESSION", "unknown session" },
    { CHAT_ERR_BAD_MAC, "ERR_BAD_MAC", "message authentication failed" },
    { CHAT_ERR_EXPIRED, "ERR_EXPIRED", "token expired" },
    { CHAT_ERR_FUTURE, "ERR_FUTURE", "token timestamp too far in the future" },
    { CHAT_ERR_REPLAYED, "ERR_REPLAYED", "replayed frame" },
    { CHAT_ERR_REORDERED, "ERR_REORDERED", "reordered frame" },
    { CHAT_ERR_BAD_SIGNATURE, "ERR_BAD_SIGNATURE", "server signature did not verify" },
    { CHAT_ERR_PIN_MISMATCH, "ERR_PIN_MISMATCH", "server key does not match the pinned key" },
    { CHAT_ERR_BUSY, "ERR_BUSY", "server busy" },
    { CHAT_ERR_BAD_REQUEST, "ERR_BAD_REQUEST", "bad request" },
    { CHAT_ERR_NOT_LOGGED_IN, "ERR_NOT_LOGGED_IN", "not logged in" },
    { CHAT_ERR_INVALID_USERNAME, "ERR_INVALID_USERNAME",
      "invalid username (1-32 letters, digits, '_', '-', '.')" },
    { CHAT_ERR_USERNAME_TAKEN, "ERR_USERNAME_TAKEN", "Username already in use" },
    { CHAT_ERR_AUTH_FAILED, "ERR_AUTH_FAILED", "Wrong username or password" },
    { CHAT_ERR_RATE_LIMITED, "ERR_RATE_LIMITED", "too many attempts, try again later" },
    { CHAT_ERR_BAD_CERTIFICATE, "ERR_BAD_CERTIFICATE", "certificate not valid" },
    { CHAT_ERR_BAD_TICKET, "ERR_BAD_TICKET", "key ticket not valid" },
    { CHAT_ERR_NOT_FOUND, "ERR_NOT_FOUND", "not found" },
    { CHAT_ERR_UNKNOWN_USER, "ERR_UNKNOWN_USER", "unknown user" },
    { CHAT_ERR_TOO_MANY_MEMBERS, "ERR_TOO_MANY_MEMBERS", "too many members" },
    { CHAT_ERR_MESSAGE_TOO_LARGE, "ERR_MESSAGE_TOO_LARGE", "message too large" },
    { CHAT_ERR_OUT_OF_ORDER, "ERR_OUT_OF_ORDER", "request not valid now" },
    { CHAT_ERR_INTERNAL, "ERR_INTERNAL", "internal server error" },
    { CHAT_ERR_QUOTA, "ERR_QUOTA", "over a per-user quota" },
    { CHAT_ERR_STALE_EPOCH, "ERR_STALE_EPOCH", "the conversation has a newer key" },
    { CHAT_ERR_KEY_EXISTS, "ERR_KEY_EXISTS", "the keys of this epoch are stored already" },
    { CHAT_ERR_CHAIN_CONFLICT, "ERR_CHAIN_CONFLICT", "the conversation changed meanwhile" },
    { CHAT_ERR_BAD_STATEMENT, "ERR_BAD_STATEMENT", "membership change refused" },
    { CHAT_ERR_WRONG_ROLE, "ERR_WRONG_ROLE", "that endpoint is the other server" },
};

static int
s_find (int code)
{
    for (size_t i = 0; i < sizeof s_errors / sizeof s_errors [0]; i++)
        if (s_errors [i].code == code)
            return (int) i;
    return -1;
}

const char *
chat_strerror (int code)
{
    int i = s_find (code);
    return i < 0 ? "unknown error" : s_errors [i].text;
}

const char *
chat_errname (int code)
{
    int i = s_find (code);
    return i < 0 ? "ERR_UNKNOWN" : s_errors [i].name;
}
