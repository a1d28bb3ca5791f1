/*  msgstore_backend - what one storage engine of msgstore gives: the calls
    of msgstore.h on the engine's own handle. msgstore.c picks the engine
    from the URL it is opened with and calls through this table; the
    engines (msgstore_sqlite.c, msgstore_pg.c) never call msgstore.c.

    Each engine defines struct _msgstore_db_t for itself (one per .c: the
    type is opaque everywhere else). The contracts are msgstore.h's.
*/
#ifndef MSGSTORE_BACKEND_H_INCLUDED
#define MSGSTORE_BACKEND_H_INCLUDED

#include "msgstore.h"

typedef struct _msgstore_db_t msgstore_db_t;

typedef struct {
    const char *name;                   //  "sqlite", "postgresql"
    msgstore_db_t *(*open) (const char *location);
    void (*destroy) (msgstore_db_t **self_p);
    int (*begin) (msgstore_db_t *self);
    int (*commit) (msgstore_db_t *self);
    int (*rollback) (msgstore_db_t *self);
    int (*savepoint) (msgstore_db_t *self);
    int (*savepoint_release) (msgstore_db_t *self);
    int (*savepoint_rollback) (msgstore_db_t *self);
    int (*user_add) (msgstore_db_t *self, const char *name, const uint8_t *identity,
                     size_t identity_len, int64_t now_ms, bool *added);
    int (*user_get) (msgstore_db_t *self, const char *name, msgstore_user_t *user);
    int (*user_each) (msgstore_db_t *self, msgstore_user_fn *fn, void *arg);
    int (*conv_create) (msgstore_db_t *self, const msgstore_conv_t *conv,
                        const char *const *members, size_t count,
                        const msgstore_link_t *link);
    int (*conv_append) (msgstore_db_t *self, const msgstore_link_t *link,
                        const char *title, const char *const *members, size_t count);
    int (*conv_find_direct) (msgstore_db_t *self, const char *a, const char *b,
                             msgstore_conv_t *conv);
    int (*conv_get) (msgstore_db_t *self, const uint8_t *id, size_t id_len,
                     msgstore_conv_t *conv);
    int (*conv_get_as_member) (msgstore_db_t *self, const uint8_t *id, size_t id_len,
                               const char *name, msgstore_conv_t *conv);
    int (*conv_members) (msgstore_db_t *self, const uint8_t id [MSGSTORE_ID_SIZE],
                         zlistx_t **names);
    int (*member_accept) (msgstore_db_t *self, const uint8_t id [MSGSTORE_ID_SIZE],
                          const char *name);
    int (*conv_each_of) (msgstore_db_t *self, const char *name,
                         msgstore_conv_fn *fn, void *arg);
    int (*conv_page_of) (msgstore_db_t *self, const char *name,
                         const msgstore_conv_t *after, uint32_t limit,
                         msgstore_conv_fn *fn, void *arg);
    int (*conv_each) (msgstore_db_t *self, msgstore_conv_fn *fn, void *arg);
    int (*link_each) (msgstore_db_t *self, const uint8_t id [MSGSTORE_ID_SIZE],
                      uint64_t after_epoch, uint32_t limit,
                      msgstore_link_fn *fn, void *arg);
    int (*msg_add) (msgstore_db_t *self, const uint8_t id [MSGSTORE_ID_SIZE],
                    const char *sender, const uint8_t *client_message_id,
                    size_t client_message_id_len, const char *token,
                    size_t token_len, uint64_t epoch, int64_t now_ms,
                    uint64_t *seq, int64_t *server_time, bool *duplicate);
    //  adds in conversation order; NULL: msgstore.c runs begin, msg_add
    //  each, commit
    int (*msg_add_batch) (msgstore_db_t *self, msgstore_add_t *const *adds, size_t count);
    int (*msg_each) (msgstore_db_t *self, const uint8_t id [MSGSTORE_ID_SIZE],
                     uint64_t after_seq, uint32_t limit,
                     msgstore_msg_fn *fn, void *arg);
    int (*msg_last_token) (msgstore_db_t *self, const uint8_t id [MSGSTORE_ID_SIZE],
                           char **token);
    int (*read_state) (msgstore_db_t *self, const uint8_t id [MSGSTORE_ID_SIZE],
                       const char *name, uint64_t *read_seq, uint64_t *unread);
    int (*read_set) (msgstore_db_t *self, const uint8_t id [MSGSTORE_ID_SIZE],
                     const char *name, uint64_t read_seq, bool *moved);
    //  The cluster bus (PostgreSQL only; NULL elsewhere): NOTIFY in a
    //  transaction of its own, and the backend's process id
    int (*notify) (msgstore_db_t *self, const char *channel, const char *payload);
    int (*backend_pid) (msgstore_db_t *self);
    int (*server_beat) (msgstore_db_t *self, const msgstore_server_t *server);
    int (*server_remove) (msgstore_db_t *self, const char *id);
    int (*server_each) (msgstore_db_t *self, msgstore_server_fn *fn, void *arg);
    //  Statements run since open (NULL: not counted)
    uint64_t (*statements) (msgstore_db_t *self);
} msgstore_backend_t;

#endif
