/*  tui - the full-screen client: the screen manager (tui_run, declared in
    chatclient.h as the library's TUI hook)

    Three screens, one object each, mapped to the report's figures:
      figure 2 (welcome window, N clients)   tools/demo --clients N, --add
      figures 3-7 (login / register, the     tui_login: "Login:" and "Or make
        answers under each button)             a new account:", same messages
      figure 8 (conversation window titled   tui_main: "User: <name>", list
        with the user, buttons, textbox)       left, messages right, input
      figure 9 (create new conversation)     tui_picker: Space selects, Enter
                                               creates, Esc = "Back"
      figures 10-13 (1:1 and group chats)    tui_main, live by push
      figures 14-15 (server overviews)       chat-admin, the demo's "servers"
                                               window
    tui.c owns the event loop (zmq_poll over stdin and the client's
    sockets), routes keys to the current screen and client events to all of
    them, carries out the actions they return (switch screen, open a
    conversation, quit), and redraws the whole screen from state whenever
    something changed, which is also all a terminal resize needs. What the
    screens share (title bar, status line, pin warnings, colours) is
    tui_frame, below them all:

        tui  ->  tui_login, tui_main, tui_picker  ->  tui_frame  ->  tui_input, tui_text
*/
#ifndef TUI_H_INCLUDED
#define TUI_H_INCLUDED

#include "chatclient.h"

#endif
