/*  cl_flow - register and login in progress, and the worker thread that
    runs their slow key derivation (PBKDF2, SCRAM) off the caller's thread

    Internal to libchatclient (see cl_client.h).
*/
#ifndef CL_FLOW_H_INCLUDED
#define CL_FLOW_H_INCLUDED

#include "chatclient.h"
#include "scram.h"

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

#endif
