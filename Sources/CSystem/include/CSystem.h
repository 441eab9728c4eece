#ifndef GW_CSYSTEM_H
#define GW_CSYSTEM_H
/* Linux interfaces Swift's Glibc module does not export (epoll, eventfd), plus
 * small wrappers for variadic or macro-based calls. Every symbol is prefixed gw_. */
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/types.h>

static const uint32_t GW_EPOLLIN = EPOLLIN;
static const uint32_t GW_EPOLLOUT = EPOLLOUT;
static const uint32_t GW_EPOLLERR = EPOLLERR;
static const uint32_t GW_EPOLLHUP = EPOLLHUP;
static const uint32_t GW_EPOLLRDHUP = EPOLLRDHUP;
static const uint32_t GW_EPOLLEXCLUSIVE = EPOLLEXCLUSIVE;

int gw_epoll_create(void);
int gw_epoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data);
/* Waits; fills parallel arrays (events, data). Returns count, or -1 with errno. */
int gw_epoll_wait(int epfd, uint32_t *events, uint64_t *data, int max, int timeout_ms);
int gw_epoll_ctl_add(void);
int gw_epoll_ctl_mod(void);
int gw_epoll_ctl_del(void);

int gw_eventfd(void);
int gw_eventfd_signal(int fd);
int gw_eventfd_drain(int fd);

/* fcntl is variadic in C; Swift cannot call it directly with all argument shapes. */
int gw_set_nonblocking(int fd);
int gw_set_cloexec(int fd);

/* Blocks the given signal set in the calling thread (inherited by threads it creates). */
int gw_block_signals(const int *signals, int count);
/* Waits for one of the given signals; returns the signal number or -1. */
int gw_sigwait(const int *signals, int count);
/* Sets SIGPIPE to ignored for the whole process. */
void gw_ignore_sigpipe(void);

/* Current thread's kernel id. */
int gw_gettid(void);
/* A descriptor that becomes readable when process `pid` exits (pidfd_open, Linux 5.3+; close-on-exec).
   -1 with errno set (ENOSYS on older kernels): callers fall back to polling waitpid. */
int gw_pidfd_open(int pid);
/* accept4 (needs _GNU_SOURCE, which the Swift importer does not set). */
int gw_accept(int fd, struct sockaddr *addr, socklen_t *len, int nonblocking);
/* pipe2(O_CLOEXEC): the child side is dup2'ed by posix_spawn, nothing else leaks. */
int gw_pipe_cloexec(int fds[2]);
#include <spawn.h>
/* posix_spawn_file_actions_addchdir_np (glibc 2.29+). */
int gw_spawn_addchdir(posix_spawn_file_actions_t *actions, const char *path);

#include <sys/types.h>
/* Starts `path` (searched in PATH when it has no '/') as another user: fork, then in the child
 * only async-signal-safe calls (a new process group, default signal dispositions, an empty
 * signal mask, stdin/stdout/stderr from the given descriptors, chdir, setgroups({gid}), setgid,
 * setuid, execve) -- posix_spawn cannot change credentials. Returns 0 and sets *pid, or an errno
 * (also an errno of the child's setup or exec, reported back through a close-on-exec pipe). */
int gw_spawn_as(pid_t *pid, const char *path, char *const argv[], char *const envp[], int in_fd, int out_fd,
                int err_fd, const char *cwd, uid_t uid, gid_t gid);
/* Looks up a user or group by name (or a number); 0 on success. */
int gw_lookup_user(const char *name, uid_t *uid, gid_t *primary_gid);
int gw_lookup_group(const char *name, gid_t *gid);
/* Names the calling thread (pthread_setname_np; the kernel keeps 15 bytes). 0 or an errno. */
int gw_set_thread_name(const char *name);
#include <pthread.h>
/* Initializes `m` as an adaptive mutex (PTHREAD_MUTEX_ADAPTIVE_NP, a GNU extension the Swift
 * importer does not see): a contended lock spins briefly before sleeping in the kernel. */
int gw_mutex_init_adaptive(pthread_mutex_t *m);
/* The calling thread's name into buf (pthread_getname_np). 0 or an errno. */
int gw_get_thread_name(char *buf, size_t len);

/* Batched sends through io_uring (raw system calls, no liburing): one io_uring_enter hands the
 * kernel every answer an event-loop iteration produced, instead of one send() each. Why: with
 * a client on the same cores, every send() that wakes the client ends in a context switch at its
 * return to user space; one call for the whole batch switches once. */
typedef struct gw_uring gw_uring;
/* A ring of `entries` submission slots (rounded up to a power of two by the kernel). NULL with
 * errno set when io_uring is unavailable (ENOSYS: old kernel; EPERM: disabled by sysctl or a
 * seccomp profile): callers then send one by one. */
gw_uring *gw_uring_create(unsigned entries);
void gw_uring_destroy(gw_uring *ring);
/* Sends `count` buffers, buffer i being base[offsets[i] ..< offsets[i] + lens[i]] to socket
 * fds[i], with MSG_NOSIGNAL | MSG_DONTWAIT (a full socket answers -EAGAIN at once, never waits
 * in the kernel). results[i] = bytes sent (maybe fewer than lens[i]) or -errno. Returns only once
 * every submitted send has completed, so the caller may reuse the buffers. Returns 0, or -errno
 * when the ring itself failed: then the sends not submitted have results[i] = -ECANCELED. */
int gw_uring_send_batch(gw_uring *ring, const int32_t *fds, const uint8_t *base, const uint32_t *offsets,
                        const uint32_t *lens, int32_t *results, uint32_t count);
/* Relaxed atomic add and load on plain memory: Swift's `Atomic` must live inside a value it
   owns, so an array of counters (a histogram's buckets) uses these on a buffer it allocated.
   Inlined through the module map: one `lock xadd`. */
static inline void gw_atomic_add_u64(uint64_t *p, uint64_t v) { __atomic_fetch_add(p, v, __ATOMIC_RELAXED); }
static inline uint64_t gw_atomic_load_u64(const uint64_t *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }

#endif
