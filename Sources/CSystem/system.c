#define _GNU_SOURCE
#include "CSystem.h"
#include <errno.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <unistd.h>
#include <string.h>
#include <sys/syscall.h>
#include <pthread.h>

int gw_epoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }
int gw_epoll_ctl_add(void) { return EPOLL_CTL_ADD; }
int gw_epoll_ctl_mod(void) { return EPOLL_CTL_MOD; }
int gw_epoll_ctl_del(void) { return EPOLL_CTL_DEL; }

int gw_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data) {
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = events;
    ev.data.u64 = data;
    return epoll_ctl(epfd, op, fd, &ev);
}

int gw_epoll_wait(int epfd, uint32_t *events, uint64_t *data, int max, int timeout_ms) {
    struct epoll_event evs[256];
    if (max > 256) max = 256;
    int n = epoll_wait(epfd, evs, max, timeout_ms);
    for (int i = 0; i < n; i++) {
        events[i] = evs[i].events;
        data[i] = evs[i].data.u64;
    }
    return n;
}

int gw_eventfd(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }

int gw_eventfd_signal(int fd) {
    uint64_t one = 1;
    ssize_t r;
    do { r = write(fd, &one, sizeof one); } while (r < 0 && errno == EINTR);
    return (r == sizeof one || (r < 0 && errno == EAGAIN)) ? 0 : -1;
}

int gw_eventfd_drain(int fd) {
    uint64_t v;
    ssize_t r;
    do { r = read(fd, &v, sizeof v); } while (r < 0 && errno == EINTR);
    return r == sizeof v ? 0 : -1;
}

int gw_set_nonblocking(int fd) {
    int flags = fcntl(fd, F_GETFL, 0);
    if (flags < 0) return -1;
    return fcntl(fd, F_SETFL, flags | O_NONBLOCK);
}

int gw_set_cloexec(int fd) {
    int flags = fcntl(fd, F_GETFD, 0);
    if (flags < 0) return -1;
    return fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
}

static void fill_set(sigset_t *set, const int *signals, int count) {
    sigemptyset(set);
    for (int i = 0; i < count; i++) sigaddset(set, signals[i]);
}

int gw_block_signals(const int *signals, int count) {
    sigset_t set;
    fill_set(&set, signals, count);
    return pthread_sigmask(SIG_BLOCK, &set, NULL);
}

int gw_sigwait(const int *signals, int count) {
    sigset_t set;
    fill_set(&set, signals, count);
    int sig = 0;
    int r = sigwait(&set, &sig);
    return r == 0 ? sig : -1;
}

void gw_ignore_sigpipe(void) { signal(SIGPIPE, SIG_IGN); }

int gw_gettid(void) { return (int)syscall(SYS_gettid); }

int gw_pidfd_open(int pid) {
#ifdef SYS_pidfd_open
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    errno = ENOSYS;
    return -1;
#endif
}

int gw_accept(int fd, struct sockaddr *addr, socklen_t *len, int nonblocking) {
    int flags = SOCK_CLOEXEC | (nonblocking ? SOCK_NONBLOCK : 0);
    return accept4(fd, addr, len, flags);
}

int gw_pipe_cloexec(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

#include <spawn.h>
int gw_spawn_addchdir(posix_spawn_file_actions_t *actions, const char *path) {
    return posix_spawn_file_actions_addchdir_np(actions, path);
}

#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <errno.h>
#include <sys/wait.h>

int gw_spawn_as(pid_t *pid, const char *path, char *const argv[], char *const envp[], int in_fd, int out_fd,
                int err_fd, const char *cwd, uid_t uid, gid_t gid) {
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) return errno;
    /* Block every signal across fork so no handler of ours runs in the child. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t child = fork();
    if (child == 0) {
        int err = 0;
        for (int s = 1; s < NSIG; s++) signal(s, SIG_DFL);
        if (setpgid(0, 0) != 0) err = errno;
        if (!err && (dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0)) err = errno;
        if (!err && cwd && chdir(cwd) != 0) err = errno;
        if (!err && setgroups(1, &gid) != 0) err = errno;
        if (!err && setgid(gid) != 0) err = errno;
        if (!err && setuid(uid) != 0) err = errno;
        if (!err) {
            sigset_t none;
            sigemptyset(&none);
            pthread_sigmask(SIG_SETMASK, &none, NULL);
            if (strchr(path, '/')) execve(path, argv, envp);
            else execvpe(path, argv, envp);
            err = errno;
        }
        (void)!write(report[1], &err, sizeof err);
        _exit(127);
    }
    int fork_errno = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    close(report[1]);
    if (child < 0) {
        close(report[0]);
        return fork_errno;
    }
    int child_err = 0;
    ssize_t n;
    do { n = read(report[0], &child_err, sizeof child_err); } while (n < 0 && errno == EINTR);
    close(report[0]);
    if (n == (ssize_t)sizeof child_err) {
        int status;
        while (waitpid(child, &status, 0) < 0 && errno == EINTR) {}
        return child_err ? child_err : EINVAL;
    }
    *pid = child;
    return 0;
}

int gw_lookup_user(const char *name, uid_t *uid, gid_t *primary_gid) {
    char buf[4096];
    struct passwd pw, *res = NULL;
    char *end;
    long n = strtol(name, &end, 10);
    int rc = (*name && !*end) ? getpwuid_r((uid_t)n, &pw, buf, sizeof buf, &res) : getpwnam_r(name, &pw, buf, sizeof buf, &res);
    if (rc != 0 || res == NULL) {
        if (*name && !*end && n >= 0) { *uid = (uid_t)n; *primary_gid = (gid_t)n; return 0; }
        return -1;
    }
    *uid = pw.pw_uid;
    *primary_gid = pw.pw_gid;
    return 0;
}

int gw_lookup_group(const char *name, gid_t *gid) {
    char buf[4096];
    struct group gr, *res = NULL;
    char *end;
    long n = strtol(name, &end, 10);
    if (*name && !*end && n >= 0) { *gid = (gid_t)n; return 0; }
    if (getgrnam_r(name, &gr, buf, sizeof buf, &res) != 0 || res == NULL) return -1;
    *gid = gr.gr_gid;
    return 0;
}

int gw_set_thread_name(const char *name) { return pthread_setname_np(pthread_self(), name); }
int gw_get_thread_name(char *buf, size_t len) { return pthread_getname_np(pthread_self(), buf, len); }

int gw_mutex_init_adaptive(pthread_mutex_t *m) {
    pthread_mutexattr_t a;
    int r = pthread_mutexattr_init(&a);
    if (r != 0) return r;
    r = pthread_mutexattr_settype(&a, PTHREAD_MUTEX_ADAPTIVE_NP);
    if (r == 0) r = pthread_mutex_init(m, &a);
    pthread_mutexattr_destroy(&a);
    return r;
}
