/*
 * fuzz/replay-main.c - run a libFuzzer target over files and directories
 * (its seed corpus) without libFuzzer: every seed becomes a regression test
 * in ordinary builds, plain and under the sanitizers.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdint.h>
#include <stdio.h>
#include <glib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));

static unsigned replay_file(const char *path)
{
    g_autofree char *data = NULL;
    gsize len;

    if (!g_file_get_contents(path, &data, &len, NULL)) {
        fprintf(stderr, "replay: cannot read %s\n", path);
        exit(1);
    }
    LLVMFuzzerTestOneInput((const uint8_t *)data, len);
    return 1;
}

static unsigned replay(const char *path)
{
    GDir *dir = g_dir_open(path, 0, NULL);
    const char *name;
    unsigned n = 0;

    if (!dir) {
        return replay_file(path);
    }
    while ((name = g_dir_read_name(dir))) {
        g_autofree char *p = g_build_filename(path, name, NULL);

        n += replay(p);
    }
    g_dir_close(dir);
    return n;
}

int main(int argc, char **argv)
{
    unsigned n = 0;

    if (LLVMFuzzerInitialize) {
        LLVMFuzzerInitialize(&argc, &argv);
    }
    for (int i = 1; i < argc; i++) {
        n += replay(argv[i]);
    }
    if (n == 0) {
        fprintf(stderr, "replay: no input\n");
        return 1;
    }
    printf("replayed %u inputs\n", n);
    return 0;
}
