/*  cl_flow - register and login in progress, and the worker thread that
    runs their slow key derivation (PBKDF2, SCRAM) off the caller's thread

    Internal to libchatclient (see cl_client.h).
*/
#ifndef CL_FLOW_H_INCLUDED
#define CL_FLOW_H_INCLUDED

#include "chatclient.h"
#include "scram.h"
#include "wire.h"

typedef enum { FLOW_REGISTER, FLOW_LOGIN } flow_kind_t;

//  A register or login in progress; also the worker's job.
typedef struct {
    flow_kind_t kind;
    uint32_t cmd;
    char *username;
    char *password;
    scram_client_t *scram;
    char *server_first;
    const char *client_final;   //  owned by scram
    uint8_t salt [64];
    size_t salt_len;
    uint32_t iterations;
    uint8_t stored_key [SCRAM_KEY_SIZE];
    uint8_t server_key [SCRAM_KEY_SIZE];
    int rc;                     //  worker's result
    bool at_worker;             //  the worker owns it right now
    bool dead;                  //  failed while at the worker: free on return
} flow_t;

//  A new flow, on the client's list of live ones.
flow_t *
    cl_flow_new (chatclient_t *self, flow_kind_t kind, uint32_t cmd,
                 const char *username, const char *password);
void
    cl_flow_destroy (flow_t **flow_p);

//  Queue the flow's first key server request (RegisterParams or
//  LoginStart, built by the caller) and send it when the link is ready; on
//  failure the flow fails.
void
    cl_flow_start (chatclient_t *self, flow_t *flow, Chat__KeyRequest *req);
//  The flow is over: forget it (freed now, or when the worker returns it).
void
    cl_flow_end (chatclient_t *self, flow_t *flow);
//  The flow failed: REGISTER_FAILED or LOGIN_FAILED, then end it.
void
    cl_flow_fail (chatclient_t *self, flow_t *flow, int code, const char *text,
                  uint32_t retry_ms);
//  A login is under way.
bool
    cl_flow_login_busy (chatclient_t *self);

//  The worker actor: derives the flow's keys off the caller's thread.
void
    cl_flow_worker (zsock_t *pipe, void *args);
void
    cl_flow_to_worker (chatclient_t *self, flow_t *flow);
//  The worker's pipe is readable: take the flow back and take its next step.
void
    cl_flow_worker_done (chatclient_t *self);

#endif
