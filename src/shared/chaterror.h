/*  chaterror - the error codes every layer returns

    One set of numbers for the whole system: the values are those of the
    protocol's ErrorCode (proto/wire.proto), so a code travels from a
    decoder through a server to the client's screen unchanged. Functions in
    libchat return CHAT_OK (0) or one of these.
*/
#ifndef CHATERROR_H_INCLUDED
#define CHATERROR_H_INCLUDED

typedef enum {
    CHAT_OK                   = 0,
    CHAT_ERR_MALFORMED        = 1,
    CHAT_ERR_TOO_LARGE        = 2,
    CHAT_ERR_BAD_VERSION      = 3,
    CHAT_ERR_BAD_KEY          = 4,
    CHAT_ERR_UNKNOWN_SESSION  = 5,
    CHAT_ERR_BAD_MAC          = 6,
    CHAT_ERR_EXPIRED          = 7,
    CHAT_ERR_FUTURE           = 8,
    CHAT_ERR_REPLAYED         = 9,
    CHAT_ERR_REORDERED        = 10,
    CHAT_ERR_BAD_SIGNATURE    = 11,
    CHAT_ERR_PIN_MISMATCH     = 12,
    CHAT_ERR_BUSY             = 13,
    CHAT_ERR_BAD_REQUEST      = 20,
    CHAT_ERR_NOT_LOGGED_IN    = 21,
    CHAT_ERR_INVALID_USERNAME = 22,
    CHAT_ERR_USERNAME_TAKEN   = 23,
    CHAT_ERR_AUTH_FAILED      = 24,
    CHAT_ERR_RATE_LIMITED     = 25,
    CHAT_ERR_BAD_CERTIFICATE  = 26,
    CHAT_ERR_BAD_TICKET       = 27,
    CHAT_ERR_NOT_FOUND        = 28,
    CHAT_ERR_UNKNOWN_USER     = 29,
    CHAT_ERR_TOO_MANY_MEMBERS = 30,
    CHAT_ERR_MESSAGE_TOO_LARGE = 31,
    CHAT_ERR_OUT_OF_ORDER     = 32,
    CHAT_ERR_INTERNAL         = 33,
    CHAT_ERR_QUOTA            = 34,
    CHAT_ERR_STALE_EPOCH      = 35,
    CHAT_ERR_KEY_EXISTS       = 36,
    CHAT_ERR_CHAIN_CONFLICT   = 37,
    CHAT_ERR_BAD_STATEMENT    = 38,
    CHAT_ERR_WRONG_ROLE       = 39
} chat_err_t;

//  Short English text for a code, for logs and the client's messages.
//  Never NULL; unknown codes give "unknown error".
const char *
    chat_strerror (int code);

//  Symbolic name, e.g. "ERR_BAD_MAC", as in proto/README.md.
const char *
    chat_errname (int code);

#endif
