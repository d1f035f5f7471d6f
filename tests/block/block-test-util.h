/*
 * tests/block/block-test-util.h - what the block tests share: a temporary
 * directory on a real disk (O_DIRECT must mean something), files in it,
 * counting a file's descriptors, making a file unwritable.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef BLOCK_TEST_UTIL_H
#define BLOCK_TEST_UTIL_H

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <linux/fs.h>
#include <linux/magic.h>

#include <glib.h>

/* Set by main() with make_test_dir(); NULL when only tmpfs is available. */
static char *test_dir;

/* A directory on a real disk (O_DIRECT must mean something), or NULL. */
static inline char *make_test_dir(void)
{
    const char *candidates[] = {g_get_tmp_dir(), "/var/tmp"};

    for (size_t i = 0; i < G_N_ELEMENTS(candidates); i++) {
        struct statfs sfs;
        char *tmpl;

        if (statfs(candidates[i], &sfs) < 0 || sfs.f_type == TMPFS_MAGIC) {
            continue;
        }
        tmpl = g_build_filename(candidates[i], "qcontext-block-XXXXXX", NULL);
        if (g_mkdtemp(tmpl)) {
            return tmpl;
        }
        g_free(tmpl);
    }
    return NULL;
}

static inline char *make_file(const char *name, off_t size)
{
    char *path = g_build_filename(test_dir, name, NULL);
    int fd = open(path, O_CREAT | O_TRUNC | O_RDWR | O_CLOEXEC, 0600);

    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(ftruncate(fd, size), ==, 0);
    close(fd);
    return path;
}

/*
 * The descriptors of this process that refer to @path: how many, and the
 * last one found in *@fd_out.
 */
static inline int count_fds_of(const char *path, int *fd_out)
{
    char *real = realpath(path, NULL);
    DIR *dir = opendir("/proc/self/fd");
    struct dirent *de;
    int n = 0;

    g_assert_nonnull(real);
    g_assert_nonnull(dir);
    while ((de = readdir(dir))) {
        char target[PATH_MAX];
        ssize_t len;

        if (de->d_name[0] == '.') {
            continue;
        }
        len = readlinkat(dirfd(dir), de->d_name, target, sizeof(target) - 1);
        if (len < 0) {
            continue;
        }
        target[len] = '\0';
        if (strcmp(target, real) == 0) {
            n++;
            *fd_out = atoi(de->d_name);
        }
    }
    closedir(dir);
    free(real);
    return n;
}

/*
 * Make @path unwritable for this process: chmod 0444, or for root (whom
 * permissions do not stop) the immutable attribute.  false if neither works.
 */
static inline bool make_not_writable(const char *path)
{
    int fd, flags = 0;
    bool ok;

    if (geteuid() != 0) {
        return chmod(path, 0444) == 0;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return false;
    }
    ok = ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0 &&
         (flags |= FS_IMMUTABLE_FL, ioctl(fd, FS_IOC_SETFLAGS, &flags) == 0);
    close(fd);
    return ok;
}

/* Undo make_not_writable() (so that the file can be removed). */
static inline void make_writable(const char *path)
{
    int fd, flags = 0;

    if (geteuid() != 0) {
        chmod(path, 0644);
        return;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd >= 0 && ioctl(fd, FS_IOC_GETFLAGS, &flags) == 0) {
        flags &= ~FS_IMMUTABLE_FL;
        ioctl(fd, FS_IOC_SETFLAGS, &flags);
    }
    if (fd >= 0) {
        close(fd);
    }
}

#endif /* BLOCK_TEST_UTIL_H */
