/*  cltest - what the tests of libchatclient's layers share: both servers
    as in-process actors on 127.0.0.1, a stack of layers built up to the
    one under test (the layers below are the real ones), a recorder that
    is the listener on top of it, and a loop that drives it

    Nothing here asserts except the setup (servers that do not start, a
    stack that cannot be built): the tests check what they expect.
*/
#ifndef CLTEST_H_INCLUDED
#define CLTEST_H_INCLUDED

#include <czmq.h>
#include "chatclient.h"
#include "cl_contacts.h"
#include "cl_convs.h"
#include "cl_event.h"
#include "cl_link.h"
#include "cl_requests.h"
#include "cl_session.h"

//  How long a test waits for what it expects, in ms: a generous bound, not
//  a measure. 10 s, or $CLTEST_WAIT_MS (slow runs: valgrind).
int
    cltest_wait_ms (void);
#define CLTEST_WAIT (cltest_wait_ms ())
#define CLTEST_ANY_CMD UINT32_MAX   //  any command id, in searches

//  ---------------------------------------------------------------- servers

typedef struct {
    char ks_dir [64];
    char ms_dir [64];
    zactor_t *keyserver;
    zactor_t *mainserver;
    char *ks_endpoint;              //  tcp://127.0.0.1:port
    char *ms_endpoint;
    char *push_endpoint;
    char *ms_fingerprint;           //  "SHA256:..."
} cltest_servers_t;

//  Both servers, each on its own fresh data directory, bound to ephemeral
//  ports on 127.0.0.1.
cltest_servers_t *
    cltest_servers_new (void);
//  Stop both and remove their data.
void
    cltest_servers_destroy (cltest_servers_t **self_p);
//  Stop a server (as a crash would: its sessions are gone).
void
    cltest_mainserver_stop (cltest_servers_t *self);
void
    cltest_keyserver_stop (cltest_servers_t *self);
//  Start it again on the same data and endpoints (same key).
void
    cltest_mainserver_start (cltest_servers_t *self);
void
    cltest_keyserver_start (cltest_servers_t *self);
//  Start whichever is stopped (after a test that failed halfway).
void
    cltest_servers_ensure (cltest_servers_t *self);

//  cmocka fixtures: the group's state is a cltest_servers_t, each test
//  starts with both servers up (whatever the last one did).
int
    cltest_group_setup (void **state);
int
    cltest_group_teardown (void **state);
int
    cltest_test_setup (void **state);

//  ---------------------------------------------------------------- recorder

//  One event as a layer sent it up; a public one is kept whole.
typedef struct {
    cl_event_kind_t kind;
    chatclient_server_t server;
    int code;
    char *text;
    uint32_t retry_ms;
    char *fingerprint;
    char *pinned;
    char *endpoint;                 //  SKIPPED, DOWN, FAILOVER (or NULL)
    char *from;                     //  FAILOVER
    uint8_t *data;                  //  REPLY, PUSH: a copy
    size_t size;
    chatclient_event_t *pub;        //  PUBLIC: owned by the recorder
} cltest_event_t;

typedef struct _cltest_recorder_t cltest_recorder_t;

cltest_recorder_t *
    cltest_recorder_new (void);
void
    cltest_recorder_destroy (cltest_recorder_t **self_p);
//  The listener function: set it with the recorder as its argument.
void
    cltest_recorder_listen (void *recorder, cl_event_t *event);
size_t
    cltest_recorder_size (cltest_recorder_t *self);
//  Event number index (0: the first), or NULL.
cltest_event_t *
    cltest_recorder_at (cltest_recorder_t *self, size_t index);
//  How many events of kind came from server (-1: either).
size_t
    cltest_recorder_count (cltest_recorder_t *self, cl_event_kind_t kind, int server);
//  The first event of kind (from server; -1: either) at or after index
//  from, or NULL.
cltest_event_t *
    cltest_recorder_find (cltest_recorder_t *self, cl_event_kind_t kind, int server,
                          size_t from);
//  The first public event of type for command cmd (CLTEST_ANY_CMD: any)
//  at or after index from, or NULL.
chatclient_event_t *
    cltest_recorder_public (cltest_recorder_t *self, chatclient_event_type_t type,
                            uint32_t cmd, size_t from);
//  Forget every event recorded so far.
void
    cltest_recorder_clear (cltest_recorder_t *self);

//  ---------------------------------------------------------------- stack

typedef enum {
    CLTEST_LINKS,                   //  two links; the recorder on both
    CLTEST_REQUESTS,                //  ... their requests; recorder on both
    CLTEST_SESSION,                 //  ... the session; recorder on it
    CLTEST_CONTACTS,                //  ... the contacts; recorder on them
    CLTEST_CONVS                    //  ... the conversations; recorder on them
} cltest_top_t;

typedef struct {
    rsakey_t *key;
    char pin_path [128];
    char users_path [128];          //  the contacts' known_users
    pinstore_t *pins;
    cl_link_t *links [2];           //  by chatclient_server_t
    cl_requests_t *requests [2];
    cl_session_t *session;
    cl_contacts_t *contacts;
    cl_convs_t *convs;
    cltest_recorder_t *recorder;
    uint32_t next_cmd;
} cltest_stack_t;

//  Changes to a stack's defaults: handshake and request timeouts of 1 s,
//  commands of 10 s (a tenth of CLTEST_WAIT, and CLTEST_WAIT), a monitor
//  on the main server's link, pins from a fresh pin file.
typedef struct {
    //  the pin, pin name, handshake timeout or endpoint of one link (the
    //  one its server names); NULL: none
    const cl_link_config_t *link;
    int request_timeout_ms;         //  0: the default
    int command_timeout_ms;         //  0: the default
} cltest_options_t;

//  The layers up to top over servers, links started. options may be NULL.
cltest_stack_t *
    cltest_stack_new (cltest_servers_t *servers, cltest_top_t top,
                      const cltest_options_t *options);
void
    cltest_stack_destroy (cltest_stack_t **self_p);
//  A fresh command id.
uint32_t
    cltest_stack_cmd (cltest_stack_t *self);

//  A stack up to top (CLTEST_SESSION or above) whose user name registers
//  (password "pw") and, when login, logs in; asserts each step. At
//  CLTEST_CONVS a login also waits for the first list of conversations.
cltest_stack_t *
    cltest_user (cltest_servers_t *servers, cltest_top_t top, const char *name, bool login);

//  An endpoint where nothing listens: a free port, bound and let go.
void
    cltest_dead_endpoint (char *endpoint, size_t size);

//  A condition the loop waits for.
typedef bool (cltest_until_fn) (cltest_stack_t *stack, void *arg);

//  Poll the stack's sockets, handle and tick its layers until until says
//  so (true) or timeout_ms passed (false). until NULL: run the whole time.
bool
    cltest_stack_run (cltest_stack_t *self, int timeout_ms, cltest_until_fn *until,
                      void *arg);
//  Run until an event of kind from server (-1: either) has been recorded
//  at or after index from; it, or NULL after timeout_ms.
cltest_event_t *
    cltest_stack_wait (cltest_stack_t *self, cl_event_kind_t kind, int server,
                       size_t from, int timeout_ms);
//  Run until the public event type for cmd (CLTEST_ANY_CMD: any) has been
//  recorded at or after index from; it, or NULL after timeout_ms.
chatclient_event_t *
    cltest_stack_wait_public (cltest_stack_t *self, chatclient_event_type_t type,
                              uint32_t cmd, size_t from, int timeout_ms);

#endif
