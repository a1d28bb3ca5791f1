/*  benchfloor - the floors from the ceilings; see benchfloor.h  */
#include <assert.h>
#include "benchfloor.h"

void
benchfloor_compute (const benchfloor_ceilings_t *c, int members, benchfloor_t *floor)
{
    assert (c && floor && members >= 1);
    double others = (double) (members - 1);
    floor->push_us = c->seal_message_us;
    floor->server_us = c->open_message_us + c->seal_small_us
                     + others * c->seal_message_us + c->store_cpu_us;
    floor->client_us = 0;
    if (c->rsa_sign_per_s > 0 && c->rsa_verify_per_s > 0)
        floor->client_us = 2 * c->seal_message_us + 1e6 / c->rsa_sign_per_s
                         + c->open_small_us
                         + others * (2 * c->open_message_us + 1e6 / c->rsa_verify_per_s);
}
