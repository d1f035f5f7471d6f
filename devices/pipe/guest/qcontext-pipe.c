/*
 * qcontext-pipe - the guest side of the pipe device: open pipe SERVICE over
 * AF_VSOCK and copy stdin to it and it to stdout.  A small program with no
 * library but libc, built static so that it runs in any guest.
 *
 *   qcontext-pipe [--port PORT] [--cid CID] [--no-open-reply] SERVICE
 *
 * It connects to CID 2 (the host) port 5555, sends "pipe:SERVICE\0", reads
 * the status byte (unless --no-open-reply: the device's open-reply=off),
 * then shuttles bytes.  End of stdin shuts down the sending side (the host
 * reads end-of-file); it exits once the host has shut down its side and
 * stdin is done (or the host no longer reads).
 *
 * Exit status: 0 done, 1 error (connection refused, reset), 2 unknown
 * service, 3 refused by the service, 64 bad usage.
 *
 * --unix PATH connects to a unix socket instead of vsock: tests use it to
 * stand in for the host without a VM.
 *
 * SPDX-License-Identifier: MIT
 */
#include <errno.h>
#include <getopt.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define DEFAULT_PORT 5555
#define NAME_MAX_LEN 255
#define BUF (64 * 1024)

enum { EXIT_OK = 0, EXIT_ERR = 1, EXIT_UNKNOWN = 2, EXIT_REFUSED = 3, EXIT_USAGE = 64 };

static const char *prog = "qcontext-pipe";

static void usage(FILE *f)
{
    fprintf(f,
            "usage: %s [--port PORT] [--cid CID] [--no-open-reply] SERVICE\n"
            "Open pipe SERVICE on the host's pipe device (vsock CID 2, port %d)\n"
            "and copy stdin to it and it to stdout.\n"
            "Exit status: 0 done, 1 error, 2 unknown service, 3 refused.\n",
            prog, DEFAULT_PORT);
}

static int open_vsock(unsigned cid, unsigned port)
{
    struct sockaddr_vm sa = {.svm_family = AF_VSOCK, .svm_cid = cid, .svm_port = port};
    int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);

    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        fprintf(stderr, "%s: cannot connect to vsock %u:%u: %s\n", prog, cid, port,
                strerror(errno));
        return -1;
    }
    return fd;
}

static int open_unix(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        fprintf(stderr, "%s: cannot connect to %s: %s\n", prog, path, strerror(errno));
        return -1;
    }
    return fd;
}

static int write_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);

        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        buf += n;
        len -= n;
    }
    return 0;
}

/* Send the name; with open-reply, read and judge the status byte. */
static int handshake(int fd, const char *service, int open_reply)
{
    char hello[NAME_MAX_LEN + 7];
    int len = snprintf(hello, sizeof(hello), "pipe:%s", service);
    unsigned char status;
    ssize_t n;

    if (write_all(fd, hello, len + 1) < 0) {
        fprintf(stderr, "%s: cannot send the pipe name: %s\n", prog, strerror(errno));
        return EXIT_ERR;
    }
    if (!open_reply) {
        return EXIT_OK;
    }
    do {
        n = read(fd, &status, 1);
    } while (n < 0 && errno == EINTR);
    if (n != 1) {
        fprintf(stderr, "%s: no answer to opening '%s': %s\n", prog, service,
                n == 0 ? "connection closed" : strerror(errno));
        return EXIT_ERR;
    }
    switch (status) {
    case 0:
        return EXIT_OK;
    case 1:
        fprintf(stderr, "%s: unknown service '%s'\n", prog, service);
        return EXIT_UNKNOWN;
    case 2:
        fprintf(stderr, "%s: service '%s' refused the pipe\n", prog, service);
        return EXIT_REFUSED;
    default:
        fprintf(stderr, "%s: unexpected status %u opening '%s'\n", prog, status,
                service);
        return EXIT_ERR;
    }
}

typedef struct Shuttle {
    int sock;
    char out[BUF]; /* stdin bytes not yet sent */
    size_t out_len, out_off;
    int stdin_done; /* EOF read and the sending side shut down */
    int sock_done;  /* the host sends no more */
} Shuttle;

/* Host -> stdout.  Returns -1 on a fatal error. */
static int from_host(Shuttle *s)
{
    char buf[BUF];
    ssize_t n = read(s->sock, buf, sizeof(buf));

    if (n < 0) {
        if (errno == EINTR || errno == EAGAIN) {
            return 0;
        }
        fprintf(stderr, "%s: pipe %s\n", prog,
                errno == ECONNRESET ? "reset by the host" : strerror(errno));
        return -1;
    }
    if (n == 0) {
        s->sock_done = 1;
        return 0;
    }
    if (write_all(STDOUT_FILENO, buf, n) < 0) {
        fprintf(stderr, "%s: cannot write stdout: %s\n", prog, strerror(errno));
        return -1;
    }
    return 0;
}

/* stdin -> host, never blocking on the socket (the host may wait for us). */
static int to_host(Shuttle *s, int stdin_ready)
{
    if (s->out_off == s->out_len && stdin_ready) {
        ssize_t n = read(STDIN_FILENO, s->out, sizeof(s->out));

        if (n < 0 && errno != EINTR && errno != EAGAIN) {
            fprintf(stderr, "%s: cannot read stdin: %s\n", prog, strerror(errno));
            return -1;
        }
        if (n == 0) {
            s->stdin_done = 1;
            shutdown(s->sock, SHUT_WR);
            return 0;
        }
        s->out_len = n > 0 ? n : 0;
        s->out_off = 0;
    }
    if (s->out_off < s->out_len) {
        ssize_t n = send(s->sock, s->out + s->out_off, s->out_len - s->out_off,
                         MSG_DONTWAIT | MSG_NOSIGNAL);

        if (n < 0 && errno != EAGAIN && errno != EINTR) {
            if (errno == EPIPE) {
                s->stdin_done = 1; /* the host reads no more */
                return 0;
            }
            fprintf(stderr, "%s: cannot send: %s\n", prog, strerror(errno));
            return -1;
        }
        s->out_off += n > 0 ? n : 0;
    }
    return 0;
}

static int shuttle(int sock)
{
    static Shuttle s;

    s.sock = sock;
    while (!(s.sock_done && s.stdin_done)) {
        struct pollfd p[2] = {
            {.fd = sock, .events = (s.sock_done ? 0 : POLLIN)},
            {.fd = STDIN_FILENO, .events = 0},
        };
        int pending = s.out_off < s.out_len;

        if (pending) {
            p[0].events |= POLLOUT;
        } else if (!s.stdin_done) {
            p[1].events = POLLIN;
        }
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR) {
                continue;
            }
            return EXIT_ERR;
        }
        if ((p[0].revents & (POLLIN | POLLHUP | POLLERR)) && !s.sock_done &&
            from_host(&s) < 0) {
            return EXIT_ERR;
        }
        if (s.sock_done && (p[0].revents & POLLHUP)) {
            s.stdin_done = 1; /* the host closed both ways: nobody to send to */
        }
        if (((p[0].revents & (POLLOUT | POLLERR)) && pending) ||
            (p[1].revents & (POLLIN | POLLHUP))) {
            if (to_host(&s, (p[1].revents & (POLLIN | POLLHUP)) != 0) < 0) {
                return EXIT_ERR;
            }
        }
    }
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"port", required_argument, NULL, 'p'},
        {"cid", required_argument, NULL, 'c'},
        {"no-open-reply", no_argument, NULL, 'n'},
        {"unix", required_argument, NULL, 'u'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    unsigned port = DEFAULT_PORT, cid = VMADDR_CID_HOST;
    const char *unix_path = NULL;
    int open_reply = 1, c, fd, status;
    char *end;

    while ((c = getopt_long(argc, argv, "p:c:nu:h", opts, NULL)) != -1) {
        switch (c) {
        case 'p':
        case 'c':
            errno = 0;
            *(c == 'p' ? &port : &cid) = strtoul(optarg, &end, 10);
            if (errno || *end || !*optarg) {
                fprintf(stderr, "%s: bad %s '%s'\n", prog, c == 'p' ? "port" : "cid",
                        optarg);
                return EXIT_USAGE;
            }
            break;
        case 'n':
            open_reply = 0;
            break;
        case 'u':
            unix_path = optarg;
            break;
        case 'h':
            usage(stdout);
            return EXIT_OK;
        default:
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind != argc - 1 || !*argv[optind] || strlen(argv[optind]) > NAME_MAX_LEN) {
        usage(stderr);
        return EXIT_USAGE;
    }
    signal(SIGPIPE, SIG_IGN);
    fd = unix_path ? open_unix(unix_path) : open_vsock(cid, port);
    if (fd < 0) {
        return EXIT_ERR;
    }
    status = handshake(fd, argv[optind], open_reply);
    if (status == EXIT_OK) {
        status = shuttle(fd);
    }
    close(fd);
    return status;
}
