/*
 * main-loop/os-posix.c - pidfile and daemonizing.
 *
 * The pidfile is locked with a fcntl() write lock (open file description
 * lock) for the life of the process: a second daemon given the same pidfile sees the
 * lock, reports the running pid and leaves the file alone.  A stale file (no lock) is
 * reused.
 *
 * -daemonize forks before any thread exists.  The parent blocks on a pipe:
 * the child writes one status byte once it is ready (0), or an error
 * message; the parent exits 0 or prints the message and exits 1.  EOF
 * without a status means the child died.  Once ready the child changes to
 * "/" and points stdin/stdout/stderr at /dev/null.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "qcontext/main-loop/main-loop.h"

static int pidfile_fd = -1;
static char *pidfile_path; /* absolute; read by the signal handler */
static int daemon_pipe = -1;
static gboolean daemonized;

static void set_errno_error(GError **errp, int err, const char *what, const char *arg)
{
    g_set_error(errp, G_FILE_ERROR, g_file_error_from_errno(err), "%s%s: %s", what, arg,
                g_strerror(err));
}

/* The pid written in @fd, or 0. */
static long pidfile_read_pid(int fd)
{
    char buf[32] = "";
    ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

    return n > 0 ? strtol(buf, NULL, 10) : 0;
}

/*
 * Lock @fd; on failure explain who holds it.  Open-file-description locks:
 * unlike classic POSIX locks they are not dropped when this process closes
 * another fd of the same file (e.g. reading the pidfile).
 */
static gboolean pidfile_lock(int fd, const char *path, GError **errp)
{
    struct flock lock = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
    int ret = fcntl(fd, F_OFD_SETLK, &lock);

    if (ret < 0 && errno == EINVAL) {
        ret = fcntl(fd, F_SETLK, &lock); /* kernel without OFD locks */
    }
    if (ret == 0) {
        return TRUE;
    }
    if (errno == EAGAIN || errno == EACCES) {
        long pid = pidfile_read_pid(fd); /* 0 while the owner is writing it */
        g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_EXIST,
                    pid > 0 ? "pidfile '%s' is in use by a running process (pid %ld)"
                            : "pidfile '%s' is in use by a running process",
                    path, pid);
        return FALSE;
    }
    set_errno_error(errp, errno, "cannot lock pidfile ", path);
    return FALSE;
}

/* Open and lock @path, retrying if it was unlinked under us. */
static int pidfile_open_locked(const char *path, GError **errp)
{
    for (int tries = 0; tries < 10; tries++) {
        struct stat a, b;
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);

        if (fd < 0) {
            set_errno_error(errp, errno, "cannot create pidfile ", path);
            return -1;
        }
        if (!pidfile_lock(fd, path, errp)) {
            close(fd);
            return -1;
        }
        /* The previous owner may have removed the file between our open and
         * our lock: then we hold a lock on a dead inode, try again. */
        if (fstat(fd, &a) == 0 && stat(path, &b) == 0 && a.st_ino == b.st_ino &&
            a.st_dev == b.st_dev) {
            return fd;
        }
        close(fd);
    }
    g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_FAILED,
                "pidfile '%s' keeps being replaced", path);
    return -1;
}

gboolean os_pidfile_create(const char *path, GError **errp)
{
    g_autofree char *abs = g_canonicalize_filename(path, NULL);
    char buf[32];
    int fd, len;

    g_return_val_if_fail(pidfile_fd < 0, FALSE);
    fd = pidfile_open_locked(abs, errp);
    if (fd < 0) {
        return FALSE;
    }
    len = g_snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) < 0 || pwrite(fd, buf, (size_t)len, 0) != len) {
        set_errno_error(errp, errno, "cannot write pidfile ", abs);
        close(fd);
        return FALSE;
    }
    pidfile_fd = fd;
    pidfile_path = g_steal_pointer(&abs);
    return TRUE;
}

void os_pidfile_remove(void)
{
    /* Async-signal-safe: only unlink() and close(). */
    if (pidfile_fd >= 0) {
        unlink(pidfile_path);
        close(pidfile_fd);
        pidfile_fd = -1;
    }
}

/* ------------------------------------------------------------------------ */
/* Daemonizing                                                               */
/* ------------------------------------------------------------------------ */

/* The parent: wait for the child's verdict, never return. */
static void G_GNUC_NORETURN daemonize_parent(int fd, pid_t child)
{
    GString *msg = g_string_new(NULL);
    char buf[512];
    ssize_t n;
    int status;

    while ((n = read(fd, buf, sizeof(buf))) != 0) {
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            break;
        }
        g_string_append_len(msg, buf, n);
    }
    if (msg->len > 0 && msg->str[0] == '\0') {
        _exit(0); /* ready */
    }
    if (msg->len == 0) {
        waitpid(child, &status, 0);
        fprintf(stderr, "%s: the daemon exited during startup\n", g_get_prgname());
    } else {
        fprintf(stderr, "%s\n", msg->str);
    }
    _exit(1);
}

gboolean os_daemonize_start(GError **errp)
{
    int fds[2];
    pid_t pid;

    if (pipe2(fds, O_CLOEXEC) < 0) {
        set_errno_error(errp, errno, "cannot daemonize ", "pipe");
        return FALSE;
    }
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0) {
        set_errno_error(errp, errno, "cannot daemonize ", "fork");
        close(fds[0]);
        close(fds[1]);
        return FALSE;
    }
    if (pid > 0) {
        close(fds[1]);
        daemonize_parent(fds[0], pid);
    }
    close(fds[0]);
    setsid();
    daemon_pipe = fds[1];
    daemonized = TRUE;
    return TRUE;
}

static void daemonize_send(const char *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write(daemon_pipe, data, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        data += n;
        len -= (size_t)n;
    }
    close(daemon_pipe);
    daemon_pipe = -1;
}

void os_daemonize_ready(void)
{
    int null;

    if (daemon_pipe < 0) {
        return;
    }
    /* Like any daemon, do not keep a directory (a mount) busy.  The pidfile
     * and monitor socket paths were made absolute when they were created. */
    if (chdir("/") < 0) {
        g_warning("cannot change to /: %s", g_strerror(errno));
    }
    null = open("/dev/null", O_RDWR);
    if (null >= 0) {
        fflush(stdout);
        fflush(stderr);
        dup2(null, STDIN_FILENO);
        dup2(null, STDOUT_FILENO);
        dup2(null, STDERR_FILENO);
        if (null > STDERR_FILENO) {
            close(null);
        }
    }
    daemonize_send("", 1);
}

void os_daemonize_fail(const char *message)
{
    if (daemon_pipe >= 0) {
        daemonize_send(message, strlen(message));
    }
}

gboolean os_is_daemonized(void)
{
    return daemonized;
}
