/*
 * softce_ab: two builds of the library side by side in one process. Both shared objects are
 * dlopen'ed (RTLD_LOCAL, so each keeps its own symbols) and their calls alternate on the same
 * buffers, A B, B A, A B, ...; reported are each build's median time and the median (with
 * quartiles) of the paired ratios B/A. Drift of a shared host (often 20-30 % between minutes)
 * moves both halves of a pair alike, so the ratio resolves effects of a few per cent where
 * separate runs do not. Before timing, each build's outputs (loss; gradient for the fused ops)
 * are compared bit for bit. Method: docs/performance.md ("Comparing two builds").
 */
#include "bench.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { MAX_PAIRS = 1001, MAX_NDIM = 4 };

typedef struct build {
    const char *path;
    softce_status (*tensor_init)(softce_tensor *, softce_dtype, int32_t, const int64_t *, void *);
    void (*options_init)(softce_options *);
    softce_status (*forward)(const softce_options *, const softce_tensor *, const softce_tensor *,
                             const softce_tensor *, const softce_tensor *);
    softce_status (*forward_backward)(const softce_options *, const softce_tensor *,
                                      const softce_tensor *, const softce_tensor *,
                                      const softce_tensor *, const softce_tensor *);
    const char *(*version_string)(void);
    const char *(*isa_name)(void);
    const char *(*last_error)(void);
} build;

typedef enum { OP_FORWARD, OP_FUSED, OP_INPLACE } op_kind;

typedef struct config {
    bench_shape shape;
    softce_dtype dtype;
    int soft;
    op_kind op;
    int threads, pairs, warmup;
    int identical; /* --identical: exit status 3 when the outputs differ */
    int flush_mb;  /* --flush MB: write a line of every 64 bytes of MB MiB before each call */
} config;

/* --flush's buffer: written through before each timed call (untimed), so that each call finds
   its operands as after other work of that size (caches holding none of them, or part). */
static unsigned char *flush_buf;
static size_t flush_bytes;

static void usage(FILE *f) {
    fprintf(f,
            "usage: softce_ab LIB_A LIB_B [options]\n"
            "  LIB_A, LIB_B        paths of two libsoftce shared objects\n"
            "  --shape D0xD1[x..]  logits shape, classes along dim 1 (default 8x21x256x256)\n"
            "  --dtype f32|bf16    logits (and soft target) dtype (default f32)\n"
            "  --target hard|soft  (default hard)\n"
            "  --op forward|fused|fused_inplace   (default fused)\n"
            "  --threads N         options.num_threads (default 2)\n"
            "  --pairs N           timed pairs of calls, 1..%d (default 21)\n"
            "  --warmup N          untimed pairs before them (default 2)\n"
            "  --flush MB          before each call (untimed) write through MB MiB of another\n"
            "                      buffer, so that the call finds colder caches (default 0)\n"
            "  --identical         exit with status 3 if the outputs are not bit-identical\n",
            MAX_PAIRS);
}

static int load(build *b, const char *path) {
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        fprintf(stderr, "softce_ab: %s\n", dlerror());
        return -1;
    }
    b->path = path;
    /* function pointers from dlsym's void *: the idiom POSIX gives for it */
    *(void **)&b->tensor_init = dlsym(h, "softce_tensor_init");
    *(void **)&b->options_init = dlsym(h, "softce_options_init");
    *(void **)&b->forward = dlsym(h, "softce_forward");
    *(void **)&b->forward_backward = dlsym(h, "softce_forward_backward");
    *(void **)&b->version_string = dlsym(h, "softce_version_string");
    *(void **)&b->isa_name = dlsym(h, "softce_isa_name");
    *(void **)&b->last_error = dlsym(h, "softce_last_error");
    if (!b->tensor_init || !b->options_init || !b->forward || !b->forward_backward ||
        !b->version_string || !b->isa_name || !b->last_error) {
        fprintf(stderr, "softce_ab: %s lacks a softce_* function\n", path);
        return -1;
    }
    return 0;
}

static int parse_shape(const char *s, bench_shape *shape) {
    shape->name = s;
    shape->ndim = 0;
    while (*s) {
        char *end;
        long long d = strtoll(s, &end, 10);
        if (end == s || d < 1 || shape->ndim == MAX_NDIM || (*end && *end != 'x'))
            return -1;
        shape->dims[shape->ndim++] = d;
        s = *end ? end + 1 : end;
    }
    return shape->ndim >= 2 ? 0 : -1;
}

static int parse_int(const char *s, int lo, int hi, int *out) {
    char *end;
    long v = strtol(s, &end, 10);
    if (end == s || *end || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

/* Index of s in the n names, or -1. */
static int pick(const char *s, const char *const *names, int n) {
    for (int k = 0; k < n; k++)
        if (!strcmp(s, names[k]))
            return k;
    return -1;
}

static const char *const DTYPES[] = {"f32", "bf16"};
static const char *const TARGETS[] = {"hard", "soft"};
static const char *const OPS[] = {"forward", "fused", "fused_inplace"};

static int parse_args(int argc, char **argv, config *cfg) {
    static const bench_shape dflt = {"8x21x256x256", 4, {8, 21, 256, 256}};
    *cfg = (config){dflt, SOFTCE_DTYPE_F32, 0, OP_FUSED, 2, 21, 2, 0, 0};
    for (int i = 3; i < argc; i++) {
        const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(o, "--identical")) {
            cfg->identical = 1;
            continue;
        }
        int bad = !v, k = -1;
        if (bad) {
            /* an option without its value */
        } else if (!strcmp(o, "--shape")) {
            bad = parse_shape(v, &cfg->shape) != 0;
        } else if (!strcmp(o, "--dtype")) {
            bad = (k = pick(v, DTYPES, 2)) < 0;
            cfg->dtype = k == 1 ? SOFTCE_DTYPE_BF16 : SOFTCE_DTYPE_F32;
        } else if (!strcmp(o, "--target")) {
            bad = (k = pick(v, TARGETS, 2)) < 0;
            cfg->soft = k == 1;
        } else if (!strcmp(o, "--op")) {
            bad = (k = pick(v, OPS, 3)) < 0;
            cfg->op = k < 0 ? OP_FUSED : (op_kind)k;
        } else if (!strcmp(o, "--threads")) {
            bad = parse_int(v, 1, 1024, &cfg->threads) != 0;
        } else if (!strcmp(o, "--pairs")) {
            bad = parse_int(v, 1, MAX_PAIRS, &cfg->pairs) != 0;
        } else if (!strcmp(o, "--warmup")) {
            bad = parse_int(v, 0, 100, &cfg->warmup) != 0;
        } else if (!strcmp(o, "--flush")) {
            bad = parse_int(v, 0, 4096, &cfg->flush_mb) != 0;
        } else {
            bad = 1;
        }
        if (bad) {
            fprintf(stderr, "softce_ab: bad option %s %s\n", o, v ? v : "");
            return -1;
        }
        i++;
    }
    return 0;
}

/* One call of build b on p (in place: restored first, untimed); seconds, or -1 on an error. */
static double run(const build *b, const config *cfg, bench_problem *p) {
    softce_tensor x, t, loss, g;
    const bench_shape *s = &cfg->shape;
    int64_t tdims[MAX_NDIM] = {s->dims[0]};
    for (int32_t k = 2; k < s->ndim; k++)
        tdims[k - 1] = s->dims[k];
    if (cfg->op == OP_INPLACE)
        bench_restore(p, cfg->threads);
    b->tensor_init(&x, cfg->dtype, s->ndim, s->dims, p->logits);
    if (cfg->soft)
        b->tensor_init(&t, cfg->dtype, s->ndim, s->dims, p->soft);
    else
        b->tensor_init(&t, SOFTCE_DTYPE_I64, s->ndim - 1, tdims, p->hard);
    b->tensor_init(&loss, SOFTCE_DTYPE_F32, 0, NULL, &p->loss);
    b->tensor_init(&g, cfg->dtype, s->ndim, s->dims, cfg->op == OP_INPLACE ? p->logits : p->grad);
    softce_options o;
    b->options_init(&o);
    o.num_threads = cfg->threads;
    for (size_t i = 0; i < flush_bytes; i += 64)
        flush_buf[i]++;
    double t0 = bench_now();
    softce_status st = cfg->op == OP_FORWARD ? b->forward(&o, &x, &t, &loss, NULL)
                                             : b->forward_backward(&o, &x, &t, NULL, &loss, &g);
    double dt = bench_now() - t0;
    if (st != SOFTCE_OK) {
        fprintf(stderr, "softce_ab: %s: %s\n", b->path, b->last_error());
        return -1.0;
    }
    return dt;
}

/* Bit-for-bit comparison of the two builds' outputs: 1 identical, 0 not, -1 error. */
static int same_outputs(const build *ab, const config *cfg, bench_problem *p) {
    const size_t bytes = bench_logits_bytes(p);
    const int grad = cfg->op != OP_FORWARD;
    void *first = grad ? malloc(bytes) : NULL;
    if (grad && !first)
        return -1;
    float loss0 = 0.0f;
    int same = 1;
    for (int k = 0; k < 2 && same >= 0; k++) {
        if (run(&ab[k], cfg, p) < 0) {
            same = -1;
            break;
        }
        const void *out = cfg->op == OP_INPLACE ? p->logits : p->grad;
        if (k == 0) {
            loss0 = p->loss;
            if (grad)
                memcpy(first, out, bytes);
        } else {
            same = memcmp(&loss0, &p->loss, sizeof loss0) == 0 &&
                   (!grad || memcmp(first, out, bytes) == 0);
        }
    }
    free(first);
    return same;
}

static double quartile(const double *v, int n, int q) { /* v sorted; q = 1 or 3 */
    return v[(n - 1) * q / 4];
}

int main(int argc, char **argv) {
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        usage(stdout);
        return 0;
    }
    config cfg;
    build ab[2];
    if (argc < 3 || parse_args(argc, argv, &cfg) != 0) {
        usage(stderr);
        return 2;
    }
    if (load(&ab[0], argv[1]) || load(&ab[1], argv[2]))
        return 1;
    bench_problem p;
    if (bench_problem_init(&p, &cfg.shape, cfg.dtype) != 0) {
        fprintf(stderr, "softce_ab: out of memory for %s\n", cfg.shape.name);
        return 1;
    }
    flush_bytes = (size_t)cfg.flush_mb << 20;
    if (flush_bytes && !(flush_buf = calloc(flush_bytes, 1))) {
        fprintf(stderr, "softce_ab: out of memory for --flush %d\n", cfg.flush_mb);
        bench_problem_free(&p);
        return 1;
    }
    printf("# A: %s (softce %s, %s)\n# B: %s (softce %s, %s)\n", ab[0].path,
           ab[0].version_string(), ab[0].isa_name(), ab[1].path, ab[1].version_string(),
           ab[1].isa_name());
    const int same = same_outputs(ab, &cfg, &p);
    double t[2][MAX_PAIRS], ratio[MAX_PAIRS];
    int rc = same < 0;
    for (int r = -cfg.warmup; r < cfg.pairs && !rc; r++)
        for (int k = 0; k < 2 && !rc; k++) {
            const int w = (r & 1) ? 1 - k : k; /* A B, then B A, ... */
            double dt = run(&ab[w], &cfg, &p);
            rc = dt < 0;
            if (r >= 0)
                t[w][r] = dt * 1e3;
        }
    if (!rc) {
        for (int r = 0; r < cfg.pairs; r++)
            ratio[r] = t[1][r] / t[0][r];
        const int n = cfg.pairs;
        /* bench_median sorts its array: the ratio's quartiles are read from it after */
        const double ma = bench_median(t[0], n), mb = bench_median(t[1], n);
        const double mr = bench_median(ratio, n);
        printf("%s %s %s %s threads %d, %d pairs: A %.3f ms, B %.3f ms (medians); "
               "B/A %.3f [q1 %.3f, q3 %.3f]; outputs %s\n",
               cfg.shape.name, DTYPES[cfg.dtype == SOFTCE_DTYPE_BF16], TARGETS[cfg.soft],
               OPS[cfg.op], cfg.threads, n, ma, mb, mr, quartile(ratio, n, 1),
               quartile(ratio, n, 3), same ? "bit-identical" : "DIFFER");
    }
    bench_problem_free(&p);
    free(flush_buf);
    return rc ? rc : cfg.identical && !same ? 3 : 0;
}
