/* Batched socket sends through io_uring, with the raw system calls (see CSystem.h). The rings are
 * shared with the kernel: our side writes the submission tail and the completion head with
 * release stores, reads the kernel's side with acquire loads (as liburing does). */
#define _GNU_SOURCE
#include "CSystem.h"
#include <errno.h>
#include <linux/io_uring.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

struct gw_uring {
    int fd;
    unsigned sq_entries;
    unsigned *sq_head, *sq_tail, *sq_mask, *sq_array;
    unsigned *cq_head, *cq_tail, *cq_mask;
    struct io_uring_sqe *sqes;
    struct io_uring_cqe *cqes;
    void *sq_ring, *cq_ring;
    size_t sq_ring_size, cq_ring_size, sqes_size;
};

static int sys_setup(unsigned entries, struct io_uring_params *p) {
    return (int)syscall(__NR_io_uring_setup, entries, p);
}

static int sys_enter(int fd, unsigned submit, unsigned min_complete, unsigned flags) {
    return (int)syscall(__NR_io_uring_enter, fd, submit, min_complete, flags, NULL, 0);
}

static unsigned reap(gw_uring *r, int32_t *results, uint32_t count);

/* Fills the submission entry at ring position `pos` with a non-blocking send of buf[0..<len] to
 * `fd`; its completion carries `user_data`. */
static void prep_send(gw_uring *r, unsigned pos, int32_t fd, const uint8_t *buf, uint32_t len, uint64_t user_data) {
    unsigned idx = pos & *r->sq_mask;
    struct io_uring_sqe *sqe = &r->sqes[idx];
    memset(sqe, 0, sizeof *sqe);
    sqe->opcode = IORING_OP_SEND;
    sqe->fd = fd;
    sqe->addr = (uint64_t)(uintptr_t)buf;
    sqe->len = len;
    sqe->msg_flags = MSG_NOSIGNAL | MSG_DONTWAIT;
    sqe->user_data = user_data;
    r->sq_array[idx] = idx;
}

/* The batch relies on two behaviours a kernel may lack (IORING_OP_SEND is Linux 5.6; older
 * kernels parked a MSG_DONTWAIT send on a full socket instead of answering -EAGAIN, which would
 * hold a buffer past the call): checked once on a socket pair, before the ring is used. */
static int self_test(gw_uring *r) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) return 1; /* cannot tell: trust the kernel */
    char fill[4096];
    memset(fill, 'x', sizeof fill);
    for (int k = 0; k < 100000 && send(sv[0], fill, sizeof fill, MSG_DONTWAIT | MSG_NOSIGNAL) > 0; k++) {}
    int32_t results[2] = {1, 0};
    unsigned first = *r->sq_tail;
    prep_send(r, first, sv[0], (const uint8_t *)fill, sizeof fill, 0); /* full: must answer -EAGAIN */
    prep_send(r, first + 1, sv[1], (const uint8_t *)fill, 1, 1);       /* empty: takes its byte */
    __atomic_store_n(r->sq_tail, first + 2, __ATOMIC_RELEASE);
    int ok = sys_enter(r->fd, 2, 0, 0) == 2 && reap(r, results, 2) == 2 && results[0] == -EAGAIN && results[1] == 1;
    close(sv[0]);
    close(sv[1]);
    return ok; /* on failure the caller closes the ring, which cancels anything left in it */
}

gw_uring *gw_uring_create(unsigned entries) {
    struct io_uring_params p;
    memset(&p, 0, sizeof p);
    /* SUBMIT_ALL (Linux 5.18): an entry that fails (a closed descriptor) does not stop the ones
     * after it. Older kernels refuse the flag; the batch loop copes without it. */
    p.flags = IORING_SETUP_SUBMIT_ALL;
    int fd = sys_setup(entries, &p);
    if (fd < 0 && errno == EINVAL) {
        memset(&p, 0, sizeof p);
        fd = sys_setup(entries, &p);
    }
    if (fd < 0) return NULL;
    gw_uring *r = calloc(1, sizeof *r);
    if (!r) {
        close(fd);
        errno = ENOMEM;
        return NULL;
    }
    r->fd = fd;
    r->sq_entries = p.sq_entries;
    r->sq_ring_size = p.sq_off.array + p.sq_entries * sizeof(unsigned);
    r->cq_ring_size = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
    int single = (p.features & IORING_FEAT_SINGLE_MMAP) != 0;
    if (single) {
        if (r->cq_ring_size > r->sq_ring_size) r->sq_ring_size = r->cq_ring_size;
        r->cq_ring_size = r->sq_ring_size;
    }
    r->sq_ring = mmap(NULL, r->sq_ring_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING);
    if (r->sq_ring == MAP_FAILED) goto fail;
    if (single) {
        r->cq_ring = r->sq_ring;
    } else {
        r->cq_ring = mmap(NULL, r->cq_ring_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_CQ_RING);
        if (r->cq_ring == MAP_FAILED) {
            r->cq_ring = NULL;
            goto fail;
        }
    }
    r->sqes_size = p.sq_entries * sizeof(struct io_uring_sqe);
    r->sqes = mmap(NULL, r->sqes_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
    if (r->sqes == MAP_FAILED) {
        r->sqes = NULL;
        goto fail;
    }
    char *sq = r->sq_ring, *cq = r->cq_ring;
    r->sq_head = (unsigned *)(sq + p.sq_off.head);
    r->sq_tail = (unsigned *)(sq + p.sq_off.tail);
    r->sq_mask = (unsigned *)(sq + p.sq_off.ring_mask);
    r->sq_array = (unsigned *)(sq + p.sq_off.array);
    r->cq_head = (unsigned *)(cq + p.cq_off.head);
    r->cq_tail = (unsigned *)(cq + p.cq_off.tail);
    r->cq_mask = (unsigned *)(cq + p.cq_off.ring_mask);
    r->cqes = (struct io_uring_cqe *)(cq + p.cq_off.cqes);
    if (!self_test(r)) {
        gw_uring_destroy(r);
        errno = EOPNOTSUPP;
        return NULL;
    }
    return r;
fail: {
        int e = errno;
        gw_uring_destroy(r);
        errno = e;
        return NULL;
    }
}

void gw_uring_destroy(gw_uring *r) {
    if (!r) return;
    if (r->sqes) munmap(r->sqes, r->sqes_size);
    if (r->cq_ring && r->cq_ring != r->sq_ring) munmap(r->cq_ring, r->cq_ring_size);
    if (r->sq_ring && r->sq_ring != MAP_FAILED) munmap(r->sq_ring, r->sq_ring_size);
    close(r->fd);
    free(r);
}

/* Takes every completion posted so far; returns how many. */
static unsigned reap(gw_uring *r, int32_t *results, uint32_t count) {
    unsigned head = *r->cq_head;
    unsigned tail = __atomic_load_n(r->cq_tail, __ATOMIC_ACQUIRE);
    unsigned n = 0;
    while (head != tail) {
        struct io_uring_cqe *cqe = &r->cqes[head & *r->cq_mask];
        if (cqe->user_data < count) results[cqe->user_data] = cqe->res;
        head++;
        n++;
    }
    __atomic_store_n(r->cq_head, head, __ATOMIC_RELEASE);
    return n;
}

/* How many of the entries up to `tail` the kernel has taken. */
static unsigned taken(gw_uring *r, unsigned first, unsigned chunk) {
    unsigned consumed = __atomic_load_n(r->sq_head, __ATOMIC_ACQUIRE) - first;
    return consumed < chunk ? consumed : chunk;
}

int gw_uring_send_batch(gw_uring *r, const int32_t *fds, const uint8_t *base, const uint32_t *offsets,
                        const uint32_t *lens, int32_t *results, uint32_t count) {
    uint32_t done = 0;
    for (uint32_t i = 0; i < count; i++) results[i] = -ECANCELED;
    while (done < count) {
        /* One ring-full at a time; the ring is empty between calls (everything is reaped). */
        unsigned chunk = count - done < r->sq_entries ? count - done : r->sq_entries;
        unsigned first = *r->sq_tail;
        for (unsigned k = 0; k < chunk; k++) {
            uint32_t i = done + k;
            prep_send(r, first + k, fds[i], base + offsets[i], lens[i], i);
        }
        __atomic_store_n(r->sq_tail, first + chunk, __ATOMIC_RELEASE);
        /* Submit without waiting: with MSG_DONTWAIT a send completes during its submission (a
         * full socket with -EAGAIN), so its completion is posted before the call returns. Asking
         * the call to wait for `chunk` completions could wait forever if the kernel stopped
         * submitting early (an invalid entry stops a batch on kernels without SUBMIT_ALL). */
        unsigned submitted = 0, completed = 0;
        int failure = 0;
        for (int attempts = 0; submitted < chunk && attempts < 64; attempts++) {
            int ret = sys_enter(r->fd, chunk - submitted, 0, 0);
            int e = errno;
            submitted = taken(r, first, chunk);
            if (ret < 0 && e != EINTR) {
                failure = -e;
                break;
            }
        }
        if (submitted < chunk && failure == 0) failure = -EAGAIN;
        /* Whatever the kernel took must complete before the buffers are given back. */
        completed += reap(r, results, count);
        for (int attempts = 0; completed < submitted && attempts < 1000; attempts++) {
            if (sys_enter(r->fd, 0, submitted - completed, IORING_ENTER_GETEVENTS) < 0 && errno != EINTR) break;
            completed += reap(r, results, count);
        }
        if (submitted < chunk) {
            /* Take back what the kernel did not take. */
            __atomic_store_n(r->sq_tail, first + submitted, __ATOMIC_RELEASE);
            return failure;
        }
        if (completed < submitted) return -EIO;
        done += chunk;
    }
    return 0;
}
