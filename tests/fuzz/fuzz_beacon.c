/*  fuzz_beacon - a UDP beacon payload as a client reads it (beacon_parse),
    with and without the sender's address
*/
#include "beacon.h"
#include "wire.h"
#include "fuzz_util.h"

static void
s_check (const uint8_t *data, size_t size, const char *sender)
{
    beacon_info_t info;
    memset (&info, 0xA5, sizeof info);
    int rc = beacon_parse (data, size, sender, &info);
    FUZZ_CHECK_RC (rc, rc == 0 || rc == -1);
    FUZZ_CHECK (memchr (info.role, 0, sizeof info.role));
    FUZZ_CHECK (memchr (info.endpoint, 0, sizeof info.endpoint));
    FUZZ_CHECK (memchr (info.push_endpoint, 0, sizeof info.push_endpoint));
    FUZZ_CHECK (memchr (info.fingerprint, 0, sizeof info.fingerprint));
    if (rc == 0) {
        FUZZ_CHECK (streq (info.role, "keyserver") || streq (info.role, "mainserver"));
        FUZZ_CHECK (info.endpoint [0] && info.fingerprint [0]);
        //  What was read formats back within the limit
        char again [BEACON_MAX + 1];
        FUZZ_CHECK (beacon_format (again, sizeof again, info.role, info.endpoint,
                                   info.push_endpoint,
                                   info.fingerprint) > 0);
    }
    else
        FUZZ_CHECK (info.role [0] == 0 && info.endpoint [0] == 0);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    s_check (data, size, NULL);
    s_check (data, size, "192.0.2.7");
    return 0;
}
