/*  replay - a fuzz target as a plain program: every file of the folders
    given (or each file given) is fed once to LLVMFuzzerTestOneInput, in
    name order, the way libFuzzer replays a corpus

    Linked with each fuzz_*.c in the normal build, so ctest replays every
    seed corpus (fuzz.replay.*) with gcc, and under ASan+UBSan in the
    sanitizer build; a target's failed check aborts. Each input sits in a
    buffer of exactly its size, so a decoder reading past it is caught there.
    Exit 0 when every input passed, 1 when a file could not be read or there
    was no input at all (a replay of nothing proves nothing), 2 usage.
*/
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int
    LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
//  Only some targets set up state first
int
    LLVMFuzzerInitialize (int *argc, char ***argv) __attribute__ ((weak));

//  Feed one file; 0, or -1 when it cannot be read.
static int
s_replay_file (const char *path)
{
    FILE *file = fopen (path, "rb");
    if (!file) {
        perror (path);
        return -1;
    }
    struct stat st;
    if (fstat (fileno (file), &st) != 0 || !S_ISREG (st.st_mode)) {
        fprintf (stderr, "replay: %s is not a regular file\n", path);
        fclose (file);
        return -1;
    }
    size_t size = (size_t) st.st_size;
    uint8_t *data = (uint8_t *) malloc (size ? size : 1);
    if (!data || fread (data, 1, size, file) != size) {
        fprintf (stderr, "replay: cannot read %s\n", path);
        free (data);
        fclose (file);
        return -1;
    }
    fclose (file);
    LLVMFuzzerTestOneInput (data, size);
    free (data);
    return 0;
}

static int
s_compare (const void *a, const void *b)
{
    return strcmp (*(char *const *) a, *(char *const *) b);
}

//  Feed every file of a folder, in name order; the count fed, or -1.
static int
s_replay_dir (const char *path)
{
    DIR *dir = opendir (path);
    if (!dir) {
        perror (path);
        return -1;
    }
    char **names = NULL;
    size_t count = 0, alloc = 0;
    struct dirent *entry;
    while ((entry = readdir (dir))) {
        if (entry->d_name [0] == '.')
            continue;
        if (count == alloc) {
            alloc = alloc ? alloc * 2 : 64;
            names = (char **) realloc (names, alloc * sizeof (char *));
            if (!names)
                abort ();
        }
        size_t len = strlen (path) + strlen (entry->d_name) + 2;
        names [count] = (char *) malloc (len);
        if (!names [count])
            abort ();
        snprintf (names [count++], len, "%s/%s", path, entry->d_name);
    }
    closedir (dir);
    if (count)
        qsort (names, count, sizeof (char *), s_compare);
    int fed = 0;
    for (size_t i = 0; i < count; i++) {
        if (fed >= 0 && s_replay_file (names [i]) == 0)
            fed++;
        else
            fed = -1;
        free (names [i]);
    }
    free (names);
    return fed;
}

int
main (int argc, char **argv)
{
    if (argc < 2) {
        fprintf (stderr, "usage: %s CORPUS_DIR_OR_FILE...\n", argv [0]);
        return 2;
    }
    if (LLVMFuzzerInitialize)
        LLVMFuzzerInitialize (&argc, &argv);
    int total = 0;
    for (int i = 1; i < argc; i++) {
        struct stat st;
        int fed = stat (argv [i], &st) == 0 && S_ISDIR (st.st_mode)
                ? s_replay_dir (argv [i])
                : (s_replay_file (argv [i]) == 0 ? 1 : -1);
        if (fed < 0)
            return 1;
        total += fed;
    }
    if (total == 0) {
        fprintf (stderr, "replay: no input at all\n");
        return 1;
    }
    printf ("replay: %d inputs, every check held\n", total);
    return 0;
}
