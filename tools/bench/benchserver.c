/*  benchserver - chat servers run by chat-bench; see benchserver.h  */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <czmq.h>
#include "benchserver.h"

#define START_TIMEOUT_MS 20000
#define STOP_TIMEOUT_MS  10000

struct _benchserver_t {
    benchserver_role_t role;
    pid_t pid;
    char *log_path;
    char *endpoint;
    char *push_endpoint;
    char *fingerprint;
};

static const char *
s_role_name (benchserver_role_t role)
{
    return role == BENCHSERVER_KEYSERVER? "keyserver":
           role == BENCHSERVER_MAINSERVER? "mainserver": "peer server";
}

//  The endpoint that follows marker in the log, or NULL.
static char *
s_find_endpoint (const char *log, const char *marker)
{
    const char *at = strstr (log, marker);
    if (!at)
        return NULL;
    at = strstr (at, "tcp://");
    if (!at)
        return NULL;
    size_t len = strcspn (at, " \t\r\n,");
    char *endpoint = (char *) malloc (len + 1);
    assert (endpoint);
    memcpy (endpoint, at, len);
    endpoint [len] = 0;
    return endpoint;
}

static char *
s_read_file (const char *path)
{
    FILE *file = fopen (path, "r");
    if (!file)
        return NULL;
    size_t size = 0, cap = 4096;
    char *text = (char *) malloc (cap);
    assert (text);
    size_t got;
    while ((got = fread (text + size, 1, cap - size - 1, file)) > 0) {
        size += got;
        if (cap - size < 2) {
            cap *= 2;
            text = (char *) realloc (text, cap);
            assert (text);
        }
    }
    text [size] = 0;
    fclose (file);
    return text;
}

//  Run argv [0] with stdout and stderr to self->log_path (made 0600),
//  killed if chat-bench dies. Its pid (also in self->pid), or -1.
static pid_t
s_spawn (benchserver_t *self, const char *const *argv)
{
    const char *bin = argv [0];
    int log_fd = open (self->log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (log_fd < 0) {
        fprintf (stderr, "chat-bench: cannot create %s: %s\n", self->log_path,
                 strerror (errno));
        return -1;
    }
    fflush (NULL);
    pid_t parent = getpid ();
    pid_t pid = fork ();
    if (pid == 0) {
        //  A server must not outlive the bench that started it
        prctl (PR_SET_PDEATHSIG, SIGKILL);
        if (getppid () != parent)
            _exit (127);
        dup2 (log_fd, STDOUT_FILENO);
        dup2 (log_fd, STDERR_FILENO);
        int null_fd = open ("/dev/null", O_RDONLY);
        if (null_fd >= 0)
            dup2 (null_fd, STDIN_FILENO);
        execv (bin, (char * const *) argv);
        fprintf (stderr, "chat-bench: cannot run %s: %s\n", bin, strerror (errno));
        _exit (127);
    }
    close (log_fd);
    if (pid < 0) {
        fprintf (stderr, "chat-bench: fork: %s\n", strerror (errno));
        return -1;
    }
    self->pid = pid;
    return pid;
}

benchserver_t *
benchserver_start (benchserver_role_t role, const char *bin, const char *dir,
                   rsakey_t *key, const char *other_public, int iterations,
                   const char *const *extra)
{
    if (!bin || access (bin, X_OK) != 0) {
        fprintf (stderr, "chat-bench: no %s binary at %s (use --%s-bin)\n",
                 s_role_name (role), bin? bin: "(none)", s_role_name (role));
        return NULL;
    }
    if (mkdir (dir, 0700) != 0 && errno != EEXIST) {
        fprintf (stderr, "chat-bench: cannot create %s: %s\n", dir, strerror (errno));
        return NULL;
    }
    benchserver_t *self = (benchserver_t *) zmalloc (sizeof *self);
    self->role = role;
    self->log_path = zsys_sprintf ("%s/server.log", dir);
    if (key) {
        char *path = zsys_sprintf ("%s/server.key", dir);
        if (rsakey_save (key, path) != 0) {
            fprintf (stderr, "chat-bench: cannot write %s\n", path);
            free (path);
            benchserver_destroy (&self);
            return NULL;
        }
        free (path);
        self->fingerprint = strdup (rsakey_fingerprint_text (key));
    }
    char iter_text [32];
    snprintf (iter_text, sizeof iter_text, "%d", iterations);
    const char *argv [64];
    int argc = 0;
    argv [argc++] = bin;
    argv [argc++] = "--bind";
    argv [argc++] = "tcp://127.0.0.1:*";
    argv [argc++] = "--data";
    argv [argc++] = dir;
    //  The other server's public key file, as an operator copies it
    if (other_public) {
        argv [argc++] = role == BENCHSERVER_MAINSERVER? "--keyserver-key": "--mainserver-key";
        argv [argc++] = other_public;
    }
    if (role == BENCHSERVER_MAINSERVER) {
        argv [argc++] = "--push-bind";
        argv [argc++] = "tcp://127.0.0.1:*";
        //  Idle sessions must stay for the whole run
        argv [argc++] = "--idle-timeout";
        argv [argc++] = "3600";
    }
    else
    if (iterations > 0) {
        argv [argc++] = "--iterations";
        argv [argc++] = iter_text;
    }
    for (size_t i = 0; extra && extra [i] && argc < 63; i++)
        argv [argc++] = extra [i];
    argv [argc] = NULL;

    pid_t pid = s_spawn (self, argv);
    if (pid < 0) {
        benchserver_destroy (&self);
        return NULL;
    }

    //  Wait for the endpoints to show in the log
    int64_t deadline = zclock_mono () + START_TIMEOUT_MS;
    while (zclock_mono () < deadline) {
        char *log = s_read_file (self->log_path);
        if (log) {
            if (role == BENCHSERVER_KEYSERVER) {
                if (!self->endpoint)
                    self->endpoint = s_find_endpoint (log, "");
            }
            else {
                if (!self->endpoint)
                    self->endpoint = s_find_endpoint (log, "requests on");
                if (!self->push_endpoint)
                    self->push_endpoint = s_find_endpoint (log, "pushes on");
            }
            free (log);
        }
        if (self->endpoint && (role == BENCHSERVER_KEYSERVER || self->push_endpoint))
            return self;
        int status;
        if (waitpid (pid, &status, WNOHANG) == pid) {
            self->pid = 0;
            fprintf (stderr, "chat-bench: %s exited at start (status %d)\n",
                     s_role_name (role), WIFEXITED (status)? WEXITSTATUS (status): -1);
            benchserver_dump_log (self);
            benchserver_destroy (&self);
            return NULL;
        }
        zclock_sleep (20);
    }
    fprintf (stderr, "chat-bench: %s did not show its endpoints within %d s\n",
             s_role_name (role), START_TIMEOUT_MS / 1000);
    benchserver_dump_log (self);
    benchserver_destroy (&self);
    return NULL;
}

benchserver_t *
benchserver_spawn (const char *const *argv, const char *dir)
{
    if (!argv [0] || access (argv [0], X_OK) != 0) {
        fprintf (stderr, "chat-bench: cannot run %s\n", argv [0]? argv [0]: "(none)");
        return NULL;
    }
    benchserver_t *self = (benchserver_t *) zmalloc (sizeof *self);
    self->role = BENCHSERVER_PEER;
    self->log_path = zsys_sprintf ("%s/server.log", dir);
    if (s_spawn (self, argv) < 0)
        benchserver_destroy (&self);
    return self;
}

bool
benchserver_running (benchserver_t *self)
{
    if (self->pid <= 0)
        return false;
    int status;
    if (waitpid (self->pid, &status, WNOHANG) == self->pid) {
        self->pid = 0;
        return false;
    }
    return true;
}

benchserver_t *
benchserver_external (benchserver_role_t role, const char *endpoint,
                      const char *push_endpoint)
{
    benchserver_t *self = (benchserver_t *) zmalloc (sizeof *self);
    self->role = role;
    self->endpoint = strdup (endpoint);
    if (push_endpoint)
        self->push_endpoint = strdup (push_endpoint);
    return self;
}

void
benchserver_destroy (benchserver_t **self_p)
{
    assert (self_p);
    benchserver_t *self = *self_p;
    if (!self)
        return;
    if (self->pid > 0) {
        double ms;
        benchserver_terminate (self, &ms);
    }
    free (self->log_path);
    free (self->endpoint);
    free (self->push_endpoint);
    free (self->fingerprint);
    free (self);
    *self_p = NULL;
}

const char *
benchserver_endpoint (benchserver_t *self)
{
    return self->endpoint;
}

const char *
benchserver_push_endpoint (benchserver_t *self)
{
    return self->push_endpoint;
}

pid_t
benchserver_pid (benchserver_t *self)
{
    return self->pid;
}

const char *
benchserver_fingerprint (benchserver_t *self)
{
    return self->fingerprint;
}

long
benchserver_rss_kib (benchserver_t *self)
{
    if (self->pid <= 0)
        return -1;
    char path [64];
    snprintf (path, sizeof path, "/proc/%d/status", (int) self->pid);
    FILE *file = fopen (path, "r");
    if (!file)
        return -1;
    char line [256];
    long rss = -1;
    while (fgets (line, sizeof line, file))
        if (strncmp (line, "VmRSS:", 6) == 0) {
            rss = strtol (line + 6, NULL, 10);
            break;
        }
    fclose (file);
    return rss;
}

double
benchserver_cpu_ms (benchserver_t *self)
{
    if (self->pid <= 0)
        return -1;
    char path [64];
    snprintf (path, sizeof path, "/proc/%d/stat", (int) self->pid);
    FILE *file = fopen (path, "r");
    if (!file)
        return -1;
    char line [1024];
    double ms = -1;
    if (fgets (line, sizeof line, file)) {
        //  Fields after the command (which may hold spaces): state is
        //  field 3, utime 14 and stime 15
        char *rest = strrchr (line, ')');
        unsigned long utime = 0, stime = 0;
        if (rest && sscanf (rest + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
                            &utime, &stime) == 2)
            ms = (double) (utime + stime) * 1000.0 / (double) sysconf (_SC_CLK_TCK);
    }
    fclose (file);
    return ms;
}

int
benchserver_terminate (benchserver_t *self, double *elapsed_ms)
{
    *elapsed_ms = -1;
    if (self->pid <= 0)
        return -1;
    struct timespec t0, t1;
    clock_gettime (CLOCK_MONOTONIC, &t0);
    kill (self->pid, SIGTERM);
    int status = 0;
    int64_t deadline = zclock_mono () + STOP_TIMEOUT_MS;
    bool gone = false;
    //  Poll briefly rather than block, so a hung server is killed
    while (!gone) {
        pid_t rc = waitpid (self->pid, &status, WNOHANG);
        if (rc == self->pid || (rc < 0 && errno == ECHILD))
            gone = true;
        else
        if (zclock_mono () > deadline) {
            fprintf (stderr, "chat-bench: %s ignored SIGTERM for %d s, killing it\n",
                     s_role_name (self->role), STOP_TIMEOUT_MS / 1000);
            kill (self->pid, SIGKILL);
            waitpid (self->pid, &status, 0);
            status = -1;
            gone = true;
        }
        else {
            struct timespec pause = { 0, 100000 };     //  0.1 ms
            nanosleep (&pause, NULL);
        }
    }
    clock_gettime (CLOCK_MONOTONIC, &t1);
    *elapsed_ms = (double) (t1.tv_sec - t0.tv_sec) * 1e3
                + (double) (t1.tv_nsec - t0.tv_nsec) / 1e6;
    self->pid = 0;
    if (status == -1 || !WIFEXITED (status))
        return -1;
    return WEXITSTATUS (status);
}

void
benchserver_dump_log (benchserver_t *self)
{
    if (!self->log_path)
        return;
    char *log = s_read_file (self->log_path);
    if (!log)
        return;
    size_t len = strlen (log);
    const char *tail = len > 2000? log + len - 2000: log;
    fprintf (stderr, "---- %s (%s), last lines:\n%s----\n", s_role_name (self->role),
             self->log_path, tail);
    free (log);
}
