/*  test_actorthread - a joined actor has closed every socket when it stops  */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "actorthread.h"

//  Echoes commands; owns a socket of its own, like a server actor
static void
s_echo_actor (zsock_t *pipe, void *args)
{
    int *stopped = (int *) args;
    zsock_t *own = zsock_new (ZMQ_PAIR);
    zsock_signal (pipe, 0);
    while (true) {
        char *command = zstr_recv (pipe);
        if (!command || streq (command, "$TERM")) {
            zstr_free (&command);
            break;
        }
        zstr_send (pipe, command);
        zstr_free (&command);
    }
    zsock_destroy (&own);
    *stopped = 1;
}

//  Returns as soon as it is ready: a dead actor
static void
s_quitter (zsock_t *pipe, void *args)
{
    (void) args;
    zsock_signal (pipe, 0);
}

static void
test_commands_and_join (void **state)
{
    (void) state;
    int stopped = 0;
    actorthread_t *actor = actorthread_new (s_echo_actor, &stopped);
    assert_non_null (actor);
    zstr_send (actorthread_sock (actor), "hello");
    char *answer = zstr_recv (actorthread_sock (actor));
    assert_string_equal (answer, "hello");
    zstr_free (&answer);
    actorthread_destroy (&actor);
    assert_null (actor);
    //  Joined: the actor ran to its end before destroy returned
    assert_int_equal (stopped, 1);
}

static void
test_dead_actor (void **state)
{
    (void) state;
    actorthread_t *actor = actorthread_new (s_quitter, NULL);
    assert_non_null (actor);
    actorthread_destroy (&actor);
    assert_null (actor);
}

int
main (void)
{
    const struct CMUnitTest tests [] = {
        cmocka_unit_test (test_commands_and_join),
        cmocka_unit_test (test_dead_actor),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
