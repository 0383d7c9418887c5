/*
 * softce_bench: times softce_forward and softce_forward_backward (out of place and in place)
 * over a sweep of shapes, dtypes, target kinds and thread counts, and relates each median time
 * to a streaming roofline measured in the same run over the same buffer (--move: also to the
 * data movement of an out-of-place call alone). Method and results: docs/performance.md. Run
 * with --help for the options.
 */
#include "bench.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const bench_shape SHAPES[] = {
    {"65536x1000", 2, {65536, 1000}},
    {"4096x32000", 2, {4096, 32000}},
    {"8x262144", 2, {8, 262144}},
    {"1048576x10", 2, {1048576, 10}},
    {"seg8x21x256x256", 4, {8, 21, 256, 256}},
    /* --quick: the same five kinds, small enough for a smoke test */
    {"q512x1000", 2, {512, 1000}},
    {"q16x32000", 2, {16, 32000}},
    {"q2x65536", 2, {2, 65536}},
    {"q8192x10", 2, {8192, 10}},
    {"qseg2x21x32x32", 4, {2, 21, 32, 32}},
};
enum { N_SHAPES = sizeof SHAPES / sizeof SHAPES[0], N_FULL = 5, MAX_REPS = 1000, MAX_THR = 8 };

static const char *const DTYPES[] = {"f32", "bf16"};
static const char *const TARGETS[] = {"hard", "soft"};
static const char *const OPS[] = {"forward", "fused", "fused_inplace"};

typedef struct config {
    unsigned shapes, dtypes, targets, ops; /* bit masks over the tables above */
    int threads[MAX_THR], n_threads;
    int reps, warmup;
    int move; /* --move: also time the data movement alone of each target kind */
    double gap_ms; /* --gap: idle milliseconds before each timed pass (roofline and move too) */
    const char *csv_path;
} config;

typedef struct result {
    double median, min, max; /* seconds */
    double roof;             /* median of the roofline passes paired with the repetitions */
    float loss;
} result;

static void usage(FILE *f) {
    fprintf(f, "usage: softce_bench [options]\n"
               "  --quick            small shapes (smoke test)\n"
               "  --shape A[,B..]    shapes by name (see --list); default: all full-size\n"
               "  --dtype f32,bf16   logits dtypes (default both)\n"
               "  --target hard,soft target kinds (default both)\n"
               "  --op forward,fused,fused_inplace   (default all)\n"
               "  --threads N[,M..]  num_threads values (default 1,2)\n"
               "  --reps N           timed repetitions per case, median reported (default 5)\n"
               "  --warmup N         untimed repetitions before them (default 1)\n"
               "  --csv FILE         also write machine-readable results\n"
               "  --move             also time op 'move' per target kind: one streaming pass\n"
               "                     reading the logits (+ soft target), writing the gradient\n"
               "  --gap MS           sleep MS milliseconds before each timed pass (roofline and\n"
               "                     move too; default 0): the operands are then no longer hot\n"
               "                     where other tenants of the host use the shared cache\n"
               "  --list             print the shapes and exit\n");
}

/* Bit mask of the comma-separated names of `list` found in `table`; 0 if one is unknown. */
static unsigned parse_names(const char *list, const char *const *table, int n) {
    unsigned mask = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", list);
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        int k = 0;
        while (k < n && strcmp(tok, table[k]) != 0)
            ++k;
        if (k == n) {
            fprintf(stderr, "softce_bench: unknown name '%s'\n", tok);
            return 0;
        }
        mask |= 1u << k;
    }
    return mask;
}

static int parse_threads(const char *list, config *cfg) {
    char buf[128];
    snprintf(buf, sizeof buf, "%s", list);
    cfg->n_threads = 0;
    for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
        int v = atoi(tok);
        if (v < 1 || v > 256 || cfg->n_threads == MAX_THR)
            return -1;
        cfg->threads[cfg->n_threads++] = v;
    }
    return cfg->n_threads ? 0 : -1;
}

static int parse_args(int argc, char **argv, config *cfg) {
    const char *shape_names[N_SHAPES];
    for (int k = 0; k < N_SHAPES; ++k)
        shape_names[k] = SHAPES[k].name;
    *cfg = (config){(1u << N_FULL) - 1, 3, 3, 7, {1, 2}, 2, 5, 1, 0, 0.0, NULL};
    for (int i = 1; i < argc; ++i) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int ok = 1;
        if (!strcmp(a, "--quick"))
            cfg->shapes = ((1u << N_SHAPES) - 1) & ~((1u << N_FULL) - 1);
        else if (!strcmp(a, "--move"))
            cfg->move = 1;
        else if (!strcmp(a, "--list")) {
            for (int k = 0; k < N_SHAPES; ++k)
                printf("%s\n", SHAPES[k].name);
            exit(0);
        } else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            exit(0);
        } else if (!v)
            ok = 0;
        else if (!strcmp(a, "--shape"))
            ok = (cfg->shapes = parse_names(v, shape_names, N_SHAPES)) != 0;
        else if (!strcmp(a, "--dtype"))
            ok = (cfg->dtypes = parse_names(v, DTYPES, 2)) != 0;
        else if (!strcmp(a, "--target"))
            ok = (cfg->targets = parse_names(v, TARGETS, 2)) != 0;
        else if (!strcmp(a, "--op"))
            ok = (cfg->ops = parse_names(v, OPS, 3)) != 0;
        else if (!strcmp(a, "--threads"))
            ok = parse_threads(v, cfg) == 0;
        else if (!strcmp(a, "--reps"))
            ok = (cfg->reps = atoi(v)) >= 1 && cfg->reps <= MAX_REPS;
        else if (!strcmp(a, "--warmup"))
            ok = (cfg->warmup = atoi(v)) >= 0;
        else if (!strcmp(a, "--gap")) {
            char *end;
            cfg->gap_ms = strtod(v, &end);
            ok = end != v && *end == '\0' && cfg->gap_ms >= 0 && cfg->gap_ms <= 1000;
        } else if (!strcmp(a, "--csv"))
            cfg->csv_path = v;
        else
            ok = 0;
        if (!ok) {
            fprintf(stderr, "softce_bench: bad option %s %s\n", a, v ? v : "");
            usage(stderr);
            return -1;
        }
        i += strcmp(a, "--quick") != 0 && strcmp(a, "--move") != 0; /* the others take a value */
    }
    return 0;
}

enum { OP_MOVE = 3 }; /* not in OPS: only with --move */

/* One timed call of `op` on problem p (in place: grad_logits is exactly the logits). */
static softce_status call_op(bench_problem *p, int op, int target, int num_threads) {
    softce_options opts;
    softce_options_init(&opts);
    opts.num_threads = num_threads;
    softce_tensor x, t, loss, g;
    int64_t elem_shape[4] = {p->shape->dims[0], p->shape->dims[2], p->shape->dims[3], 0};
    softce_tensor_init(&x, p->dtype, p->shape->ndim, p->shape->dims, p->logits);
    if (target == 0)
        softce_tensor_init(&t, SOFTCE_DTYPE_I64, p->shape->ndim - 1, elem_shape, p->hard);
    else
        softce_tensor_init(&t, p->dtype, p->shape->ndim, p->shape->dims, p->soft);
    softce_tensor_init(&loss, SOFTCE_DTYPE_F32, 0, NULL, &p->loss);
    if (op == 0)
        return softce_forward(&opts, &x, &t, &loss, NULL);
    if (op == 2)
        return softce_forward_backward(&opts, &x, &t, NULL, &loss, &x);
    softce_tensor_init(&g, p->dtype, p->shape->ndim, p->shape->dims, p->grad);
    return softce_forward_backward(&opts, &x, &t, NULL, &loss, &g);
}

static void summarise(double *samples, int n, result *r) {
    r->min = r->max = samples[0];
    for (int k = 1; k < n; ++k) {
        r->min = samples[k] < r->min ? samples[k] : r->min;
        r->max = samples[k] > r->max ? samples[k] : r->max;
    }
    r->median = bench_median(samples, n);
}

/* Warm-up then timed repetitions; the logits are restored before each one, untimed. Each
 * repetition is paired with a roofline pass just before it, so that load from other processes
 * drifting during the run affects both alike. */
static int time_op(bench_problem *p, const config *cfg, int op, int target, int nt, result *r) {
    double samples[MAX_REPS], roof[MAX_REPS];
    for (int k = -cfg->warmup; k < cfg->reps; ++k) {
        bench_restore(p, nt);
        bench_idle(cfg->gap_ms);
        double rt = bench_roofline_pass(p, nt);
        bench_restore(p, nt);
        bench_idle(cfg->gap_ms);
        double t0 = bench_now(), dt;
        softce_status s = SOFTCE_OK;
        if (op == OP_MOVE) {
            dt = bench_move_pass(p, target, nt);
        } else {
            s = call_op(p, op, target, nt);
            dt = bench_now() - t0;
        }
        if (s != SOFTCE_OK) {
            fprintf(stderr, "softce_bench: %s: %s\n", softce_status_name(s), softce_last_error());
            return -1;
        }
        if (k >= 0) {
            samples[k] = dt;
            roof[k] = rt;
        }
    }
    summarise(samples, cfg->reps, r);
    r->roof = bench_median(roof, cfg->reps);
    r->loss = op == OP_MOVE ? NAN : p->loss;
    return 0;
}

static void time_roofline(bench_problem *p, const config *cfg, int nt, result *r) {
    double samples[MAX_REPS];
    for (int k = -cfg->warmup; k < cfg->reps; ++k) {
        bench_restore(p, nt); /* same cache state as before a timed call */
        bench_idle(cfg->gap_ms);
        double dt = bench_roofline_pass(p, nt);
        if (k >= 0)
            samples[k] = dt;
    }
    summarise(samples, cfg->reps, r);
    r->roof = r->median;
    r->loss = NAN;
}

static void dims_string(const bench_shape *s, char *buf, size_t size) {
    int len = 0;
    for (int32_t k = 0; k < s->ndim; ++k)
        len += snprintf(buf + len, size - (size_t)len, k ? "x%lld" : "%lld", (long long)s->dims[k]);
}

static void report(FILE *csv, const bench_problem *p, const char *target, const char *op, int nt,
                   const config *cfg, const result *r) {
    double bytes = (double)bench_logits_bytes(p), roof = r->roof;
    const char *dtype = DTYPES[p->dtype == SOFTCE_DTYPE_BF16];
    printf("%-16s %-5s %-5s %-14s %3d %10.3f %8.2f %10.3f %7.1f%%\n", p->shape->name, dtype, target,
           op, nt, 1e3 * r->median, bytes / r->median * 1e-9, 1e3 * roof, 100.0 * roof / r->median);
    fflush(stdout);
    if (!csv)
        return;
    char dims[64];
    dims_string(p->shape, dims, sizeof dims);
    fprintf(csv, "softce,%s,%s,%s,%s,%s,%d,%d,%.6f,%.6f,%.6f,%.0f,%.4f,%.6f,%.4f,%.4f,%.2f,%.9g\n",
            p->shape->name, dims, dtype, target, op, nt, cfg->reps, 1e3 * r->median, 1e3 * r->min,
            1e3 * r->max, bytes, bytes / r->median * 1e-9, 1e3 * roof, bytes / roof * 1e-9,
            r->median / roof, 100.0 * roof / r->median, (double)r->loss);
    fflush(csv);
}

/* Losses of one (shape, dtype, target) must agree across ops and thread counts. */
static int check_loss(float ref, float got, const char *what) {
    if (isfinite(got) && got > 0.0f && fabsf(got - ref) <= 1e-5f * fabsf(ref))
        return 0;
    fprintf(stderr, "softce_bench: %s: loss %.9g differs from %.9g\n", what, (double)got,
            (double)ref);
    return 1;
}

static int run_problem(bench_problem *p, const config *cfg, FILE *csv) {
    int bad = 0;
    float ref_loss[2] = {NAN, NAN};
    for (int ti = 0; ti < cfg->n_threads; ++ti) {
        int nt = cfg->threads[ti];
        result roof, r;
        time_roofline(p, cfg, nt, &roof);
        report(csv, p, "-", "roofline", nt, cfg, &roof);
        for (int target = 0; target < 2; ++target) {
            for (int op = 0; op < 3; ++op) {
                if (!(cfg->targets >> target & 1) || !(cfg->ops >> op & 1))
                    continue;
                if (time_op(p, cfg, op, target, nt, &r) != 0)
                    return -1;
                report(csv, p, TARGETS[target], OPS[op], nt, cfg, &r);
                if (isnan(ref_loss[target]))
                    ref_loss[target] = r.loss;
                bad += check_loss(ref_loss[target], r.loss, OPS[op]);
            }
            if (cfg->move && cfg->targets >> target & 1) {
                if (time_op(p, cfg, OP_MOVE, target, nt, &r) != 0)
                    return -1;
                report(csv, p, TARGETS[target], "move", nt, cfg, &r);
            }
        }
    }
    return bad;
}

/* The machine is shared: the load average says how much the numbers can be trusted. */
static void print_load(const char *when) {
    char line[128] = "?";
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (!fgets(line, sizeof line, f))
            snprintf(line, sizeof line, "?\n");
        fclose(f);
    }
    printf("# load average at %s: %s", when, line);
}

extern char **environ;

/* OpenMP's wait policy changes what a call costs: with OMP_WAIT_POLICY=passive every call
   wakes sleeping worker threads (peers.py, 8x262144 hard fused at 2 threads: 0.36 ms without
   it, 0.50 ms with it). Prints every OMP_* and GOMP_* variable set, as peers.py does. */
static void print_omp_env(void) {
    for (char **e = environ; *e; e++)
        if (strncmp(*e, "OMP_", 4) == 0 || strncmp(*e, "GOMP_", 5) == 0)
            printf("# %s\n", *e);
}

int main(int argc, char **argv) {
    config cfg;
    if (parse_args(argc, argv, &cfg) != 0)
        return 2;
    FILE *csv = cfg.csv_path ? fopen(cfg.csv_path, "w") : NULL;
    if (cfg.csv_path && !csv) {
        perror(cfg.csv_path);
        return 2;
    }
    if (csv)
        fprintf(csv, "impl,shape,dims,dtype,target,op,threads,reps,median_ms,min_ms,max_ms,"
                     "logits_bytes,gbps,roof_ms,roof_gbps,t_over_roof,pct_roof,loss\n");
    const char *isa = getenv("SOFTCE_FORCE_ISA");
    print_load("start");
    print_omp_env();
    printf("# libsoftce %s, SOFTCE_FORCE_ISA=%s, median of %d (after %d warm-up)\n",
           softce_version_string(), isa ? isa : "(unset)", cfg.reps, cfg.warmup);
    if (cfg.gap_ms > 0)
        printf("# idle gap of %g ms before each timed pass (--gap)\n", cfg.gap_ms);
    printf("%-16s %-5s %-5s %-14s %3s %10s %8s %10s %8s\n", "shape", "dtype", "tgt", "op", "thr",
           "median_ms", "GB/s", "roof_ms", "roof%");
    int bad = 0;
    for (int s = 0; s < N_SHAPES && bad >= 0; ++s) {
        for (int d = 0; d < 2 && bad >= 0; ++d) {
            if (!(cfg.shapes >> s & 1) || !(cfg.dtypes >> d & 1))
                continue;
            bench_problem p;
            if (bench_problem_init(&p, &SHAPES[s], d ? SOFTCE_DTYPE_BF16 : SOFTCE_DTYPE_F32)) {
                fprintf(stderr, "softce_bench: out of memory for %s\n", SHAPES[s].name);
                return 1;
            }
            int rc = run_problem(&p, &cfg, csv);
            bad = rc < 0 ? -1 : bad + rc;
            bench_problem_free(&p);
        }
    }
    if (csv)
        fclose(csv);
    print_load("end");
    return bad == 0 ? 0 : 1;
}
