/*  benchfloor - the floors: what a message of the messages scenario cannot
    avoid in this protocol, computed from ceilings measured in the same run

    Pure arithmetic on the ceilings (no clock, no I/O), so that a test can
    feed it known ceilings and check each formula (tests/bench).
*/
#ifndef BENCHFLOOR_H_INCLUDED
#define BENCHFLOOR_H_INCLUDED

//  The ceilings a floor is made of, all with the key kept (as channels and
//  seal workers keep theirs); times in CPU microseconds
typedef struct {
    double seal_small_us;       //  fernet_key_encrypt of 256 B (the reply)
    double open_small_us;       //  fernet_key_decrypt of 256 B
    double seal_message_us;     //  fernet_key_encrypt of a push-sized token
    double open_message_us;     //  fernet_key_decrypt of a push-sized token
    double store_cpu_us;        //  the store's CPU for one message of a commit
    double rsa_sign_per_s;      //  RSA-2048 PSS signatures/s, one core
    double rsa_verify_per_s;    //  RSA-2048 PSS verifications/s, one core
} benchfloor_ceilings_t;

typedef struct {
    double server_us;           //  main server per message
    double push_us;             //  main server per push
    double client_us;           //  all clients together per message
} benchfloor_t;

//  The floors for a conversation of members people (>= 1):
//    main server: open the Send (message-sized), seal the reply (small),
//                 seal members-1 pushes (message-sized), store it (share)
//    per push:    one message-sized seal
//    clients:     the sender seals the body and the Send (message-sized),
//                 signs the body (RSA-PSS) and opens the reply (small); each
//                 of members-1 receivers opens the push and the body
//                 (message-sized) and verifies the signature
//  A rate of zero or less (not measured) makes the client floor 0.
void
    benchfloor_compute (const benchfloor_ceilings_t *ceilings, int members,
                        benchfloor_t *floor);

#endif
