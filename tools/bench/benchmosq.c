/*  benchmosq - the Mosquitto broker of chat-bench peers; see benchmosq.h  */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include <czmq.h>
#include "benchserver.h"
#include "benchmosq.h"

#define START_TIMEOUT_MS 20000
#define START_TRIES      3          //  a free port may be taken before the broker binds it

struct _benchmosq_t {
    benchserver_t *server;
    int port;
    char *cafile;
    char *version;
};

char *
benchmosq_find (const char *path)
{
    if (path)
        return access (path, X_OK) == 0? strdup (path): NULL;
    if (access ("/usr/sbin/mosquitto", X_OK) == 0)
        return strdup ("/usr/sbin/mosquitto");
    const char *env = getenv ("PATH");
    char *dirs = strdup (env? env: "/usr/local/bin:/usr/bin:/bin");
    char *found = NULL, *save = NULL;
    for (char *dir = strtok_r (dirs, ":", &save); dir && !found;
         dir = strtok_r (NULL, ":", &save)) {
        char *candidate = zsys_sprintf ("%s/mosquitto", dir);
        if (access (candidate, X_OK) == 0)
            found = candidate;
        else
            free (candidate);
    }
    free (dirs);
    return found;
}

//  A port nobody listens on now, on 127.0.0.1 (the kernel's pick), or -1.
static int
s_free_port (void)
{
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = 0,
                                .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
    socklen_t len = sizeof addr;
    int port = -1;
    if (bind (fd, (struct sockaddr *) &addr, sizeof addr) == 0
    &&  getsockname (fd, (struct sockaddr *) &addr, &len) == 0)
        port = ntohs (addr.sin_port);
    close (fd);
    return port;
}

//  A self-signed RSA-2048 certificate for 127.0.0.1 and localhost, valid a
//  day, and its key (0600), both PEM. Thrown away with the directory.
static int
s_certificate (const char *cert_path, const char *key_path)
{
    EVP_PKEY *key = EVP_RSA_gen (2048);
    X509 *cert = X509_new ();
    int rc = -1;
    if (!key || !cert)
        goto done;
    uint8_t serial [8];
    BIGNUM *number = NULL;
    if (RAND_bytes (serial, sizeof serial) != 1
    ||  !(number = BN_bin2bn (serial, sizeof serial, NULL))
    ||  !BN_to_ASN1_INTEGER (number, X509_get_serialNumber (cert))) {
        BN_free (number);
        goto done;
    }
    BN_free (number);
    X509_NAME *name = X509_get_subject_name (cert);
    X509V3_CTX ctx;
    X509V3_set_ctx (&ctx, cert, cert, NULL, NULL, 0);
    X509_EXTENSION *san = NULL;
    if (!X509_set_version (cert, 2)
    ||  !X509_gmtime_adj (X509_getm_notBefore (cert), -60)
    ||  !X509_gmtime_adj (X509_getm_notAfter (cert), 86400)
    ||  !X509_set_pubkey (cert, key)
    ||  !X509_NAME_add_entry_by_txt (name, "CN", MBSTRING_ASC,
                                     (const unsigned char *) "chat-bench mosquitto", -1, -1, 0)
    ||  !X509_set_issuer_name (cert, name)
    ||  !(san = X509V3_EXT_conf_nid (NULL, &ctx, NID_subject_alt_name,
                                     "IP:127.0.0.1,DNS:localhost"))
    ||  !X509_add_ext (cert, san, -1)) {
        X509_EXTENSION_free (san);
        goto done;
    }
    X509_EXTENSION_free (san);
    if (!X509_sign (cert, key, EVP_sha256 ()))
        goto done;
    FILE *file = fopen (cert_path, "w");
    if (!file)
        goto done;
    bool written = PEM_write_X509 (file, cert) == 1;
    if (fclose (file) != 0 || !written)
        goto done;
    int fd = open (key_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    file = fd >= 0? fdopen (fd, "w"): NULL;
    if (!file) {
        if (fd >= 0)
            close (fd);
        goto done;
    }
    written = PEM_write_PrivateKey (file, key, NULL, NULL, 0, NULL, NULL) == 1;
    if (fclose (file) == 0 && written)
        rc = 0;
done:
    X509_free (cert);
    EVP_PKEY_free (key);
    return rc;
}

static int
s_config (const char *path, const char *dir, int port)
{
    FILE *file = fopen (path, "w");
    if (!file)
        return -1;
    fprintf (file,
        "# chat-bench peers: a throwaway broker, loopback only\n"
        "per_listener_settings false\n"
        "listener %d 127.0.0.1\n"
        "certfile %s/cert.pem\n"
        "keyfile %s/key.pem\n"
        "allow_anonymous true\n"
        "persistence true\n"
        "persistence_location %s/\n"
        "set_tcp_nodelay true\n"
        "# as chat's capacity scenarios run their server: no queue bound (a\n"
        "# QoS 1 message over it would be dropped, not delivered)\n"
        "max_queued_messages 0\n"
        "log_dest stderr\n"
        "log_type error\n"
        "log_type warning\n"
        "log_type notice\n",
        port, dir, dir, dir);
    //  As root, the broker would switch to the mosquitto user, who cannot
    //  enter our 0700 scratch directory: it stays the user we are
    if (geteuid () == 0)
        fprintf (file, "user root\n");
    return fclose (file) == 0? 0: -1;
}

//  Whether something accepts TCP connections on 127.0.0.1:port.
static bool
s_listening (int port)
{
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return false;
    struct sockaddr_in addr = { .sin_family = AF_INET, .sin_port = htons ((uint16_t) port),
                                .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
    bool up = connect (fd, (struct sockaddr *) &addr, sizeof addr) == 0;
    close (fd);
    return up;
}

//  "mosquitto X" from what `bin -h` prints first ("mosquitto version X"),
//  or NULL. Run before the broker: its log is the same file.
static char *
s_version (const char *bin, const char *dir)
{
    const char *argv [] = { bin, "-h", NULL };
    benchserver_t *help = benchserver_spawn (argv, dir);
    if (!help)
        return NULL;
    int64_t deadline = zclock_mono () + 5000;
    while (benchserver_running (help) && zclock_mono () < deadline)
        zclock_sleep (10);
    benchserver_destroy (&help);
    char *path = zsys_sprintf ("%s/server.log", dir);
    FILE *file = fopen (path, "r");
    free (path);
    if (!file)
        return NULL;
    char line [512], number [64];
    char *version = NULL;
    while (!version && fgets (line, sizeof line, file)) {
        char *at = strstr (line, "mosquitto version ");
        if (at && sscanf (at, "mosquitto version %63s", number) == 1)
            version = zsys_sprintf ("mosquitto %s", number);
    }
    fclose (file);
    return version;
}

benchmosq_t *
benchmosq_start (const char *bin, const char *dir)
{
    if (mkdir (dir, 0700) != 0 && errno != EEXIST) {
        fprintf (stderr, "chat-bench: cannot create %s: %s\n", dir, strerror (errno));
        return NULL;
    }
    benchmosq_t *self = (benchmosq_t *) zmalloc (sizeof *self);
    self->cafile = zsys_sprintf ("%s/cert.pem", dir);
    char *key = zsys_sprintf ("%s/key.pem", dir);
    char *config = zsys_sprintf ("%s/mosquitto.conf", dir);
    self->version = s_version (bin, dir);
    int rc = s_certificate (self->cafile, key);
    if (rc != 0)
        fprintf (stderr, "chat-bench: cannot make the broker's certificate in %s\n", dir);
    for (int attempt = 0; rc == 0 && !self->server && attempt < START_TRIES; attempt++) {
        self->port = s_free_port ();
        if (self->port <= 0 || s_config (config, dir, self->port) != 0) {
            fprintf (stderr, "chat-bench: cannot write %s\n", config);
            break;
        }
        const char *argv [] = { bin, "-c", config, NULL };
        self->server = benchserver_spawn (argv, dir);
        if (!self->server)
            break;
        int64_t deadline = zclock_mono () + START_TIMEOUT_MS;
        while (benchserver_running (self->server) && !s_listening (self->port)
           &&  zclock_mono () < deadline)
            zclock_sleep (20);
        if (!benchserver_running (self->server) || !s_listening (self->port)) {
            fprintf (stderr, "chat-bench: %s did not listen on 127.0.0.1:%d\n", bin,
                     self->port);
            benchserver_dump_log (self->server);
            benchserver_destroy (&self->server);
        }
    }
    free (key);
    free (config);
    if (!self->server) {
        benchmosq_destroy (&self);
        return NULL;
    }
    return self;
}

void
benchmosq_destroy (benchmosq_t **self_p)
{
    benchmosq_t *self = *self_p;
    if (!self)
        return;
    benchserver_destroy (&self->server);
    free (self->cafile);
    free (self->version);
    free (self);
    *self_p = NULL;
}

int
benchmosq_port (benchmosq_t *self)
{
    return self->port;
}

const char *
benchmosq_cafile (benchmosq_t *self)
{
    return self->cafile;
}

double
benchmosq_cpu_ms (benchmosq_t *self)
{
    return benchserver_cpu_ms (self->server);
}

const char *
benchmosq_version (benchmosq_t *self)
{
    return self->version? self->version: "mosquitto";
}
