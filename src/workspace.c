/*
 * The driver's per-call workspace (scratch rows, split mode's staging and kept exponentials),
 * kept between calls. Allocating it per call let the allocator hand back fresh pages whenever it
 * had returned the previous ones to the system (a large block is mmap'ed, or the heap's top
 * trimmed), and a call then paid a page fault per 4 KiB of its workspace: 8x262144 bf16 fused
 * at 2 threads took 2.0 ms instead of 0.75 with glibc made to do so every call.
 *
 * One workspace of at most SOFTCE__WORKSPACE_KEEP_MAX bytes is kept in a single atomic slot: a
 * call takes it (exchanging the slot with NULL), uses it if it is large enough (else frees it
 * and allocates one of its own size) and puts it back after; a call that finds the slot empty
 * (another call has it) allocates, and whichever call returns second frees its workspace. So
 * concurrent calls never share one, and the library holds at most one kept workspace. It is
 * freed when the library is unloaded (or the process exits).
 */
#include "internal.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

/* The allocation: a header on its own cache line, then the buffer (64-byte aligned). */
typedef struct workspace_head {
    size_t cap; /* bytes of the buffer */
} workspace_head;

enum { HEAD_BYTES = 64 };

static _Atomic(workspace_head *) kept;

static void *buffer_of(workspace_head *h) { return (char *)h + HEAD_BYTES; }

static workspace_head *head_of(void *buf) {
    return (workspace_head *)(void *)((char *)buf - HEAD_BYTES);
}

void *softce__workspace_take(size_t bytes) {
    if (bytes > SIZE_MAX - HEAD_BYTES - 63)
        return NULL;
    workspace_head *h = atomic_exchange_explicit(&kept, NULL, memory_order_acquire);
    if (h && h->cap >= bytes)
        return buffer_of(h);
    free(h);
    const size_t cap = (bytes + 63) & ~(size_t)63;
    h = aligned_alloc(64, HEAD_BYTES + cap);
    if (!h)
        return NULL;
    h->cap = cap;
    return buffer_of(h);
}

void softce__workspace_give(void *buf) {
    if (!buf)
        return;
    workspace_head *h = head_of(buf), *none = NULL;
    if (h->cap > SOFTCE__WORKSPACE_KEEP_MAX ||
        !atomic_compare_exchange_strong_explicit(&kept, &none, h, memory_order_release,
                                                 memory_order_relaxed))
        free(h);
}

#if defined(__GNUC__) || defined(__clang__)
/* At unload (dlclose, or the process's exit): the kept workspace goes back to the allocator. */
__attribute__((destructor)) static void release_kept(void) {
    free(atomic_exchange_explicit(&kept, NULL, memory_order_acquire));
}
#endif
