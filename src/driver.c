/*
 * Parallel driver: the only file that includes <omp.h>.
 * Elements are cut into fixed-size blocks whose boundaries depend on the shape only; threads
 * take whole blocks, and block partial sums are combined serially in block order, so results
 * are bitwise identical for any thread count. Each block runs in row mode (rows.c) or tile
 * mode (tiles.c), chosen per call from the layout.
 */
#include "driver.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>

/* Roughly this many logits per block (shape-dependent only). */
#define SOFTCE__BLOCK_LOGITS 65536
#define SOFTCE__MAX_BLOCK_ROWS 4096
/* Below this many logits a call runs on one thread. */
#define SOFTCE__SERIAL_LOGITS 32768

/* ---- hard-target pre-scan: validate every class index, sum the weights of the counted ---- */

typedef struct target_scan {
    int64_t first_bad; /* element index, or -1 */
    int64_t bad_k;     /* top-k: which of the K */
    int64_t bad_value;
    double wsum;     /* PyTorch's denominator: sum of w[t] over non-ignored targets */
    double valid;    /* counted elements: not ignored, sample weight != 0 */
    double wapplied; /* sum of the weights applied: sample weight x w[t] */
} target_scan;

/* The common hard-target case (no class or sample weights): counts the non-ignored indices of
   a run and checks their range in a loop the compiler vectorises; returns the index of the
   first bad entry (the slow path finds it), or -1. */
#define SCAN_RUN(T)                                                                                \
    static int64_t scan_run_##T(const T *t, int64_t n, int64_t stride, int64_t ignore, int64_t C,  \
                                int64_t *count) {                                                  \
        int64_t cnt = 0, bad = 0;                                                                  \
        for (int64_t i = 0; i < n; i++) {                                                          \
            int64_t v = (int64_t)t[i * stride];                                                    \
            int64_t keep = v != ignore;                                                            \
            cnt += keep;                                                                           \
            bad |= keep & ((uint64_t)v >= (uint64_t)C);                                            \
        }                                                                                          \
        *count = cnt;                                                                              \
        if (!bad)                                                                                  \
            return -1;                                                                             \
        for (int64_t i = 0;; i++) {                                                                \
            int64_t v = (int64_t)t[i * stride];                                                    \
            if (v != ignore && (uint64_t)v >= (uint64_t)C)                                         \
                return i;                                                                          \
        }                                                                                          \
    }
SCAN_RUN(int32_t)
SCAN_RUN(int64_t)
#undef SCAN_RUN

static void scan_block(const softce__context *cx, int64_t b, target_scan *out) {
    const softce__plan *p = cx->p;
    const softce_tensor *t = p->soft ? NULL : p->t[SOFTCE__TARGET]; /* hard targets */
    const softce_tensor *sw = p->t[SOFTCE__SAMPLE_W];
    const double *wd = cx->w && cx->tsize == 8 ? cx->w : NULL;
    const float *wf = cx->w && cx->tsize == 4 ? cx->w : NULL;
    const int inner = p->ndim - 1;
    const int64_t es = inner >= 0 ? p->es[SOFTCE__TARGET][inner] : 0;
    const int64_t ess = inner >= 0 ? p->es[SOFTCE__SAMPLE_W][inner] : 0;
    int64_t e = b * cx->block_rows, e1 = e + cx->block_rows;
    if (e1 > p->E)
        e1 = p->E;
    softce__cursor c;
    softce__cursor_seek(p, &c, e);
    out->first_bad = -1;
    out->bad_k = 0;
    out->bad_value = 0;
    out->wsum = 0.0;
    out->valid = 0.0;
    out->wapplied = 0.0;
    const softce_tensor *ki = p->topk ? p->t[SOFTCE__TARGET] : NULL;
    const int fast = t && !cx->w && !sw;
    const softce__index_scan *vscan = fast && es == 1 ? softce__index_scans() : NULL;
    while (e < e1) { /* runs along the innermost element dim */
        int64_t run = inner >= 0 ? p->shape[inner] - c.idx[inner] : 1;
        run = run < e1 - e ? run : e1 - e;
        if (fast) { /* every counted weight is 1: the sums are the count, exactly */
            const char *base = softce__slot_ptr(p, SOFTCE__TARGET, c.off[SOFTCE__TARGET]);
            const int i32 = t->dtype == SOFTCE_DTYPE_I32;
            int64_t cnt, bad = -1;
            int any_bad = 1; /* without a SIMD scan: the scalar loop below */
            if (vscan) /* contiguous: the SIMD scan, the scalar loop only to find a bad index */
                cnt = i32 ? vscan->i32((const int32_t *)(const void *)base, run, p->ignore_index,
                                       p->C, &any_bad)
                          : vscan->i64((const int64_t *)(const void *)base, run, p->ignore_index,
                                       p->C, &any_bad);
            if (any_bad)
                bad = i32 ? scan_run_int32_t((const int32_t *)(const void *)base, run, es,
                                             p->ignore_index, p->C, &cnt)
                          : scan_run_int64_t((const int64_t *)(const void *)base, run, es,
                                             p->ignore_index, p->C, &cnt);
            if (bad >= 0) {
                out->first_bad = e + bad;
                out->bad_value = softce__load_int(t->dtype, base, bad * es);
                return;
            }
            out->wsum += (double)cnt;
            out->valid += (double)cnt;
            out->wapplied += (double)cnt;
            e += run;
            softce__cursor_skip(p, &c, run);
            continue;
        }
        for (int64_t r = 0; r < run; r++) {
            double wt = 1.0;
            for (int64_t k = 0; ki && k < p->K; k++) { /* top-k indices */
                int64_t cls =
                    softce__load_int(ki->dtype, ki->data,
                                     c.off[SOFTCE__TARGET] + r * es + k * p->cs[SOFTCE__TARGET]);
                if (cls < 0 || cls >= p->C) {
                    out->first_bad = e + r;
                    out->bad_k = k;
                    out->bad_value = cls;
                    return;
                }
            }
            if (t) {
                int64_t cls = softce__load_int(t->dtype, t->data, c.off[SOFTCE__TARGET] + r * es);
                if (cls == p->ignore_index)
                    continue;
                if (cls < 0 || cls >= p->C) {
                    out->first_bad = e + r;
                    out->bad_value = cls;
                    return;
                }
                wt = wd ? wd[cls] : wf ? (double)wf[cls] : 1.0;
                out->wsum += wt;
            }
            double s =
                sw ? softce__load(sw->dtype, sw->data, c.off[SOFTCE__SAMPLE_W] + r * ess) : 1.0;
            out->valid += s != 0.0;
            out->wapplied += s * wt;
        }
        e += run;
        softce__cursor_skip(p, &c, run);
    }
}

/* The blocks' scans in block order (the same sums for any thread count): the first bad
   index as the error, and the total sums. */
static softce_status combine_scans(const softce__context *cx, const target_scan *scans,
                                   target_scan *total) {
    softce_status st = SOFTCE_OK;
    total->wsum = total->valid = total->wapplied = 0.0;
    for (int64_t b = 0; b < cx->nblocks && st == SOFTCE_OK; b++) {
        if (scans[b].first_bad >= 0 && cx->p->topk)
            st = softce__fail(SOFTCE_ERROR_TARGET,
                              "topk_index[%lld][%lld] = %lld is outside [0, %lld)",
                              (long long)scans[b].first_bad, (long long)scans[b].bad_k,
                              (long long)scans[b].bad_value, (long long)cx->p->C);
        else if (scans[b].first_bad >= 0)
            st = softce__fail(SOFTCE_ERROR_TARGET, "target[%lld] = %lld is outside [0, %lld)",
                              (long long)scans[b].first_bad, (long long)scans[b].bad_value,
                              (long long)cx->p->C);
        total->wsum += scans[b].wsum;
        total->valid += scans[b].valid;
        total->wapplied += scans[b].wapplied;
    }
    return st;
}

/* Validates class indices (before any output is written) and sums what the mean
   denominators need. */
static softce_status scan_targets(const softce__context *cx, int nt, target_scan *total) {
    target_scan *scans = malloc((size_t)cx->nblocks * sizeof *scans + 1);
    if (!scans)
        return softce__fail(SOFTCE_ERROR_OUT_OF_MEMORY, "cannot allocate the target scan");
    if (nt == 1) { /* no OpenMP region: small calls stay cheap */
        for (int64_t b = 0; b < cx->nblocks; b++)
            scan_block(cx, b, &scans[b]);
    } else {
#pragma omp parallel for schedule(static) num_threads(nt)
        for (int64_t b = 0; b < cx->nblocks; b++)
            scan_block(cx, b, &scans[b]);
    }
    softce_status st = combine_scans(cx, scans, total);
    free(scans);
    return st;
}

static softce_status denominator_of(const softce__context *cx, const target_scan *sc, double *den);

/* The denominator of a MEAN (options.denominator); checks options.empty = ERROR. Runs before
   anything is written. */
static softce_status mean_denominator(const softce__context *cx, int nt, double *den) {
    const softce__plan *p = cx->p;
    target_scan sc = {-1, 0, 0, (double)p->E, (double)p->E, (double)p->E};
    softce_status st = SOFTCE_OK;
    int need = p->E > 0 && p->op != SOFTCE__OP_LOG_SOFTMAX &&
               (!p->soft || p->topk ||
                (p->t[SOFTCE__SAMPLE_W] && p->reduction == SOFTCE_REDUCTION_MEAN &&
                 (p->denominator == SOFTCE_DENOMINATOR_VALID ||
                  p->denominator == SOFTCE_DENOMINATOR_WEIGHTS)));
    if (need && (st = scan_targets(cx, nt, &sc)) != SOFTCE_OK)
        return st;
    return denominator_of(cx, &sc, den);
}

/* The denominator from the scanned sums; checks options.empty = ERROR. */
static softce_status denominator_of(const softce__context *cx, const target_scan *sc, double *den) {
    const softce__plan *p = cx->p;
    const double sums[3] = {sc->wsum, sc->valid, sc->wapplied};
    *den =
        softce__pick_denominator(p->denominator, p->denominator_value, p->soft, (double)p->E, sums);
    if (p->reduction == SOFTCE_REDUCTION_MEAN && *den == 0.0 && p->empty == SOFTCE_EMPTY_ERROR &&
        p->op != SOFTCE__OP_LOG_SOFTMAX)
        return softce__fail(SOFTCE_ERROR_EMPTY_MEAN,
                            "the mean's denominator is 0 (%lld elements) and empty = ERROR",
                            (long long)p->E);
    return SOFTCE_OK;
}

/* ---- the call ------------------------------------------------------------------------ */

static int thread_count(const softce__plan *p, int64_t nblocks) {
    int nt = p->num_threads > 0 ? p->num_threads : omp_get_max_threads();
    if ((double)p->E * (double)p->C < SOFTCE__SERIAL_LOGITS)
        nt = 1;
    if (nt > nblocks)
        nt = (int)(nblocks > 0 ? nblocks : 1);
    return nt;
}

static int64_t chunk_len(const softce__plan *p, int64_t k) {
    int64_t left = p->C - k * SOFTCE__SPLIT_CHUNK;
    return left < SOFTCE__SPLIT_CHUNK ? left : SOFTCE__SPLIT_CHUNK;
}

/* bytes = a * b * c without overflow (0 on overflow: the caller reports out of memory). */
static size_t checked_size(size_t a, size_t b, size_t c) {
    size_t ab, abc;
    if (__builtin_mul_overflow(a, b, &ab) || __builtin_mul_overflow(ab, c, &abc))
        return 0;
    return abc;
}

/* Class weights in the compute type (contiguous), and their sum. */
static softce_status load_weights(softce__context *cx, void **owned) {
    const softce__plan *p = cx->p;
    const softce_tensor *w = p->t[SOFTCE__WEIGHT];
    *owned = NULL;
    cx->w = NULL;
    cx->wsum = (double)p->C;
    if (!w || p->op == SOFTCE__OP_LOG_SOFTMAX)
        return SOFTCE_OK;
    size_t bytes = checked_size((size_t)p->C, (size_t)cx->tsize, 1);
    void *buf = bytes ? malloc(bytes) : NULL;
    if (!buf)
        return softce__fail(SOFTCE_ERROR_OUT_OF_MEMORY, "cannot allocate %lld class weights",
                            (long long)p->C);
    softce__gather(w->dtype, w->data, p->cs[SOFTCE__WEIGHT], p->C, p->compute_f64, buf);
    cx->wsum = 0.0;
    for (int64_t i = 0; i < p->C; i++)
        cx->wsum += softce__row_value(cx, buf, i);
    *owned = buf;
    cx->w = buf;
    return SOFTCE_OK;
}

/* The reduced loss from partial sums, added in their (fixed) order. */
static void write_reduced_loss(const softce__plan *p, const double *parts, int64_t nparts,
                               double mean_denominator) {
    const softce_tensor *loss = p->t[SOFTCE__LOSS];
    if (!loss || p->reduction == SOFTCE_REDUCTION_NONE)
        return;
    double total = 0.0;
    for (int64_t b = 0; b < nparts; b++)
        total += parts[b];
    /* A mean over a zero denominator is NaN, whatever the numerator (as PyTorch: with label
       smoothing its two terms are inf and 0/0 there), or 0 with empty = ZERO. */
    if (p->reduction == SOFTCE_REDUCTION_MEAN)
        total = mean_denominator != 0.0         ? total / mean_denominator
                : p->empty == SOFTCE_EMPTY_ZERO ? 0.0
                                                : NAN;
    softce__store(loss->dtype, loss->data, 0, total);
}

static void setup(softce__context *cx, const softce__plan *p) {
    cx->p = p;
    cx->k = p->compute_f64 ? softce__kernels_f64() : softce__kernels_f32();
    /* the 1.1 per-element options live in the row kernels' path only */
    cx->col = !p->extended && softce__tiles_suitable(p) ? softce__kernels_col() : NULL;
    cx->tsize = p->compute_f64 ? 8 : 4;
    int64_t rows = SOFTCE__BLOCK_LOGITS / p->C;
    cx->block_rows = rows < 1 ? 1 : rows > SOFTCE__MAX_BLOCK_ROWS ? SOFTCE__MAX_BLOCK_ROWS : rows;
    cx->nblocks = (p->E + cx->block_rows - 1) / cx->block_rows;
    cx->x_direct = softce__row_direct(p, SOFTCE__LOGITS, cx->tsize);
    cx->p_direct = p->soft && !p->topk && softce__row_direct(p, SOFTCE__TARGET, cx->tsize);
    cx->gx_direct = softce__row_direct(p, SOFTCE__GRAD_LOGITS, cx->tsize);
    cx->gt_direct = softce__row_direct(p, SOFTCE__GRAD_TARGET, cx->tsize);
    cx->row16 = softce__row16_suitable(cx);
    cx->row16t = softce__row16t_suitable(cx);
    const softce_tensor *gx = p->t[SOFTCE__GRAD_LOGITS];
    cx->stream_gx =
        cx->col && gx && !softce__same_view(gx, p->t[SOFTCE__LOGITS]) &&
        p->E * p->C * (int64_t)softce__dtype_size(gx->dtype) >= SOFTCE__STREAM_MIN_BYTES;
    cx->scratch_per_thread = cx->col ? softce__tiles_scratch(cx) : softce__rows_scratch(cx);
}

/* Thread tid's part of the scratch (NULL when there is none). */
static char *thread_scratch(const softce__context *cx, int tid) {
    return cx->scratch ? cx->scratch + (size_t)tid * cx->scratch_per_thread : NULL;
}

static void run_block(const softce__context *cx, int64_t b, int tid) {
    int64_t e0 = b * cx->block_rows, e1 = e0 + cx->block_rows;
    if (e1 > cx->p->E)
        e1 = cx->p->E;
    char *mine = cx->scratch ? cx->scratch + (size_t)tid * cx->scratch_per_thread : NULL;
    cx->block_loss[b] =
        cx->col ? softce__tiles_block(cx, e0, e1, mine) : softce__rows_block(cx, e0, e1, mine);
}

/* Buffer idx of `kb` bytes where a fused call keeps e (NULL: not kept). */
static char *keep_at(char *keep, size_t kb, int64_t idx) {
    return keep ? keep + (size_t)idx * kb : NULL;
}

/* Split mode with at least as many rows as threads: whole rows per thread, no barrier. Each
   row runs phase A over its chunks, its combine, then phase B in reverse chunk order (the
   chunks phase A touched last are still in L2). Forward combines after the region. */
static void split_by_rows(const softce__context *cx, int nt, softce__split_row *rows,
                          softce__split_part *parts, char *keep) {
    const softce__plan *p = cx->p;
    const int64_t nch = softce__split_chunks(p);
    const size_t kb = softce__split_keep(cx);
    const int forward = p->op == SOFTCE__OP_FORWARD;
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
    for (int64_t e = 0; e < p->E; e++) {
        const int64_t tid = omp_get_thread_num();
        char *mine = thread_scratch(cx, (int)tid);
        softce__split_part *pe = &parts[e * nch];
        for (int64_t k = 0; k < nch; k++)
            softce__split_phase_a(cx, &rows[e], k * SOFTCE__SPLIT_CHUNK, chunk_len(p, k), &pe[k],
                                  mine, keep_at(keep, kb, tid * nch + k));
        if (forward)
            continue;
        softce__split_combine_a(cx, &rows[e], pe, nch, mine);
        for (int64_t k = nch - 1; k >= 0; k--)
            softce__split_phase_b(cx, &rows[e], k * SOFTCE__SPLIT_CHUNK, chunk_len(p, k), &pe[k],
                                  mine, keep_at(keep, kb, tid * nch + k));
    }
}

/* Split mode with fewer rows than threads: one parallel region over (row, chunk) items, each
   thread a contiguous range: phase A, one barrier, the serial per-row combine (in chunk order),
   then phase B over the same range in reverse (its first chunks are the last ones phase A
   touched, still in L2). Forward has no barrier (its combine runs after the region). */
static void split_by_items(const softce__context *cx, int nt, softce__split_row *rows,
                           softce__split_part *parts, char *keep) {
    const softce__plan *p = cx->p;
    const int64_t nch = softce__split_chunks(p), items = p->E * nch;
    const size_t kb = softce__split_keep(cx);
    const int forward = p->op == SOFTCE__OP_FORWARD;
#pragma omp parallel num_threads(nt) if (nt > 1)
    {
        const int64_t tid = omp_get_thread_num(), nth = omp_get_num_threads();
        const int64_t lo = items * tid / nth, hi = items * (tid + 1) / nth;
        char *mine = thread_scratch(cx, (int)tid);
        for (int64_t i = lo; i < hi; i++)
            softce__split_phase_a(cx, &rows[i / nch], i % nch * SOFTCE__SPLIT_CHUNK,
                                  chunk_len(p, i % nch), &parts[i], mine, keep_at(keep, kb, i));
        if (!forward) {
#pragma omp barrier
#pragma omp single
            for (int64_t e = 0; e < p->E; e++)
                softce__split_combine_a(cx, &rows[e], &parts[e * nch], nch, mine);
            for (int64_t i = hi - 1; i >= lo; i--)
                softce__split_phase_b(cx, &rows[i / nch], i % nch * SOFTCE__SPLIT_CHUNK,
                                      chunk_len(p, i % nch), &parts[i], mine, keep_at(keep, kb, i));
        }
    }
}

/* Split mode's phases. Every (row, chunk) item computes the same values whichever thread runs
   it, and each row combines its chunks in chunk order: results do not depend on the thread
   count or on which of the two schedules runs. by_rows: whole rows per thread (the keep
   buffers are laid out for the schedule chosen). */
static void run_split_phases(const softce__context *cx, int nt, int by_rows,
                             softce__split_row *rows, softce__split_part *parts, char *keep) {
    const softce__plan *p = cx->p;
    const int64_t nch = softce__split_chunks(p);
    if (by_rows)
        split_by_rows(cx, nt, rows, parts, keep);
    else
        split_by_items(cx, nt, rows, parts, keep);
    for (int64_t e = 0; p->op == SOFTCE__OP_FORWARD && e < p->E; e++)
        softce__split_combine_a(cx, &rows[e], &parts[e * nch], nch, thread_scratch(cx, 0));
}

static softce_status run_split(softce__context *cx, double denominator) {
    const softce__plan *p = cx->p;
    const int64_t items = p->E * softce__split_chunks(p);
    const int nt = thread_count(p, items), by_rows = p->E >= nt;
    softce__split_row *rows = malloc((size_t)p->E * sizeof *rows);
    softce__split_part *parts = malloc((size_t)items * sizeof *parts);
    double *losses = malloc((size_t)p->E * sizeof *losses);
    /* staging per thread, and where a fused call keeps e: one row per thread with whole rows
       per thread, else one buffer per item (fewer rows than threads); whole cache lines */
    const size_t kb = softce__split_keep(cx);
    const int64_t kept = by_rows ? (int64_t)nt * softce__split_chunks(p) : items;
    const size_t keep_bytes = checked_size((size_t)kept, kb, 1);
    cx->scratch_per_thread = softce__split_scratch(cx);
    /* one workspace: the staging of every thread, then the keep buffers (whole cache lines) */
    const size_t staging = checked_size((size_t)nt, cx->scratch_per_thread, 1);
    const int sized = (!kb || keep_bytes) && (!cx->scratch_per_thread || staging) &&
                      staging <= SIZE_MAX - keep_bytes;
    char *ws = sized && staging + keep_bytes ? softce__workspace_take(staging + keep_bytes) : NULL;
    cx->scratch = staging ? ws : NULL;
    char *keep = ws && keep_bytes ? ws + staging : NULL;
    softce_status st = SOFTCE_OK;
    if (!rows || !parts || !losses || !sized || (staging + keep_bytes && !ws))
        st = softce__fail(SOFTCE_ERROR_OUT_OF_MEMORY,
                          "cannot allocate the buffers of %lld row chunks", (long long)items);
    if (st == SOFTCE_OK) {
        for (int64_t e = 0; e < p->E; e++)
            softce__split_row_init(cx, e, &rows[e]);
        run_split_phases(cx, nt, by_rows, rows, parts, keep);
        int per_element = p->reduction == SOFTCE_REDUCTION_NONE && p->t[SOFTCE__LOSS];
        for (int64_t e = 0; e < p->E; e++) {
            softce__store_elem(p, SOFTCE__LSE_OUT, &rows[e].cur, softce__lse_value(rows[e].lse));
            softce__store_elem(p, SOFTCE__ZLOSS_OUT, &rows[e].cur, rows[e].zterm);
            if (per_element)
                softce__store_elem(p, SOFTCE__LOSS, &rows[e].cur, rows[e].loss);
            losses[e] = rows[e].loss;
        }
        write_reduced_loss(p, losses, p->E, denominator);
    }
    free(rows);
    free(parts);
    free(losses);
    softce__workspace_give(ws);
    cx->scratch = NULL;
    return st;
}

/* Forward of hard or top-k targets writing nothing per element during the compute (a
   reduced loss, no lse or extra outputs): each block's targets are checked right before its
   compute in the same parallel loop (one region; the targets are read again while in cache).
   A block with a bad index is not computed; the first bad index is reported after the loop,
   before anything is written. */
static int scan_in_compute(const softce__plan *p) {
    return p->op == SOFTCE__OP_FORWARD && !p->extended && (!p->soft || p->topk) &&
           p->reduction != SOFTCE_REDUCTION_NONE && !p->t[SOFTCE__LSE_OUT];
}

static void scan_and_run_block(const softce__context *cx, int64_t b, int tid, target_scan *scans) {
    scan_block(cx, b, &scans[b]);
    if (scans[b].first_bad < 0)
        run_block(cx, b, tid);
    else
        cx->block_loss[b] = 0.0;
}

static softce_status run_scanned_blocks(const softce__context *cx, int nt, double *den) {
    target_scan *scans = malloc((size_t)cx->nblocks * sizeof *scans + 1), total;
    if (!scans)
        return softce__fail(SOFTCE_ERROR_OUT_OF_MEMORY, "cannot allocate the target scan");
    if (nt == 1) {
        for (int64_t b = 0; b < cx->nblocks; b++)
            scan_and_run_block(cx, b, 0, scans);
    } else {
#pragma omp parallel for schedule(static) num_threads(nt)
        for (int64_t b = 0; b < cx->nblocks; b++)
            scan_and_run_block(cx, b, omp_get_thread_num(), scans);
    }
    softce_status st = combine_scans(cx, scans, &total);
    free(scans);
    return st == SOFTCE_OK ? denominator_of(cx, &total, den) : st;
}

softce_status softce__run(const softce__plan *p) {
    softce__context cx = {0};
    double denominator = 0.0;
    softce_status st = SOFTCE_OK;
    if (p->E == 0) { /* nothing to compute: a mean over nothing follows options.empty */
        cx.p = p;
        if ((st = mean_denominator(&cx, 1, &denominator)) == SOFTCE_OK)
            write_reduced_loss(p, NULL, 0, denominator);
        return st;
    }
    setup(&cx, p);
    int nt = thread_count(p, cx.nblocks);
    void *wbuf = NULL;
    const int split = softce__split_suitable(p);
    const int fused_scan = !split && scan_in_compute(p);
    if ((st = load_weights(&cx, &wbuf)) == SOFTCE_OK && !fused_scan)
        st = mean_denominator(&cx, nt, &denominator);
    cx.inv_d = p->reduction != SOFTCE_REDUCTION_MEAN                 ? 1.0
               : denominator == 0.0 && p->empty == SOFTCE_EMPTY_ZERO ? 0.0
                                                                     : 1.0 / denominator;
    if (st == SOFTCE_OK)
        st = softce__rows_prepare(&cx);
    if (st == SOFTCE_OK && split) {
        st = run_split(&cx, denominator);
        softce__rows_release(&cx);
        free(wbuf);
        return st;
    }
    if (st == SOFTCE_OK) {
        cx.block_loss = malloc((size_t)(cx.nblocks > 0 ? cx.nblocks : 1) * sizeof(double));
        /* per thread a multiple of 64 bytes (rows.c, tiles.c), the base on a cache line */
        size_t bytes = checked_size((size_t)nt, cx.scratch_per_thread, 1);
        if (cx.scratch_per_thread && bytes)
            cx.scratch = softce__workspace_take(bytes);
        if (!cx.block_loss || (cx.scratch_per_thread && !cx.scratch))
            st = softce__fail(SOFTCE_ERROR_OUT_OF_MEMORY,
                              "cannot allocate scratch for %d threads x %lld classes", nt,
                              (long long)p->C);
    }
    if (st == SOFTCE_OK && fused_scan) {
        st = run_scanned_blocks(&cx, nt, &denominator);
        if (st == SOFTCE_OK)
            write_reduced_loss(p, cx.block_loss, cx.nblocks, denominator);
    } else if (st == SOFTCE_OK) {
        if (nt == 1) {
            for (int64_t b = 0; b < cx.nblocks; b++)
                run_block(&cx, b, 0);
        } else {
#pragma omp parallel for schedule(static) num_threads(nt)
            for (int64_t b = 0; b < cx.nblocks; b++)
                run_block(&cx, b, omp_get_thread_num());
        }
        write_reduced_loss(p, cx.block_loss, cx.nblocks, denominator);
    }
    softce__workspace_give(cx.scratch);
    free(cx.block_loss);
    softce__rows_release(&cx);
    free(wbuf);
    return st;
}
