/*
 * Concurrency stress: STRESS_THREADS pthreads (default 8) each make STRESS_ITERS calls
 * (default 4 x the number of problems), all at once, covering every problem (every entry
 * point) with num_threads 0..4, and compare every output bit for bit with a serial
 * (num_threads = 1) run made before the threads start. Between calls each thread makes a
 * failing call with a message of its own and checks that softce_last_error() stays its own
 * (thread-local) while the others run, and is cleared by its next successful call.
 */
#include "stress.h"

#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static st_problem *problems;
static int num_problems, iterations;
static pthread_barrier_t start_line;
static atomic_int failures, calls;

static void report(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void report(const char *fmt, ...) {
    if (atomic_fetch_add(&failures, 1) >= 20)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

static int env_int(const char *name, int fallback) {
    const char *s = getenv(name);
    return s && atoi(s) > 0 ? atoi(s) : fallback;
}

/* One call of problem `pi` with `nt` threads, compared with the serial reference. */
static void checked_call(int pi, int nt) {
    const st_problem *p = &problems[pi];
    void *out[ST_MAX_OUT];
    softce_status st = st_run(p, nt, out);
    atomic_fetch_add(&calls, 1);
    if (st != SOFTCE_OK)
        report("%s: num_threads %d: status %d", p->name, nt, (int)st);
    else if (softce_last_error()[0] != '\0')
        report("%s: num_threads %d: last_error not cleared", p->name, nt);
    for (int k = 0; k < p->n_out; k++) {
        if (st == SOFTCE_OK && memcmp(out[k], p->ref[k], p->out_bytes[k]) != 0)
            report("%s: num_threads %d: output %d differs from the serial run", p->name, nt, k);
        free(out[k]);
    }
}

/* A failing call whose message only this thread and iteration produce. */
static void own_error(int tid, int it) {
    const st_problem *p = &problems[0];
    softce_options o = p->o;
    o.num_threads = -(tid * 1000 + it + 1);
    float loss = 0.0f;
    softce_tensor l = p->out[0];
    l.data = &loss;
    char want[96];
    snprintf(want, sizeof want, "options: num_threads = %d is negative", o.num_threads);
    if (softce_forward(&o, &p->x, &p->t, &l, NULL) != SOFTCE_ERROR_OPTION)
        report("thread %d iteration %d: wrong status for a bad call", tid, it);
    sched_yield(); /* let the other threads set their own messages */
    if (strcmp(softce_last_error(), want) != 0 || loss != 0.0f)
        report("thread %d iteration %d: message or output not the thread's own", tid, it);
}

static void *worker(void *arg) {
    int tid = (int)(intptr_t)arg;
    pthread_barrier_wait(&start_line);
    for (int it = 0; it < iterations; it++) {
        int pi = (it + tid) % num_problems; /* every thread visits every problem */
        checked_call(pi, (it * 3 + tid) % 5);
        if (it % 4 == tid % 4)
            own_error(tid, it);
    }
    return NULL;
}

/* Serial references; also checks that num_threads = 2 and 0 agree when run alone. */
static int make_references(void) {
    for (int i = 0; i < num_problems; i++) {
        st_problem *p = &problems[i];
        if (st_run(p, 1, p->ref) != SOFTCE_OK) {
            fprintf(stderr, "%s: serial run failed: %s\n", p->name, softce_last_error());
            return 1;
        }
        checked_call(i, 2);
        checked_call(i, 0);
    }
    return atomic_load(&failures) != 0;
}

int main(void) {
    int nthreads = env_int("STRESS_THREADS", 8);
    num_problems = st_make_problems(&problems);
    iterations = env_int("STRESS_ITERS", 4 * num_problems);
    if (make_references() != 0)
        return 1;
    pthread_t *th = calloc((size_t)nthreads, sizeof *th);
    pthread_barrier_init(&start_line, NULL, (unsigned)nthreads);
    for (int i = 0; i < nthreads; i++)
        if (pthread_create(&th[i], NULL, worker, (void *)(intptr_t)i) != 0)
            return 1;
    for (int i = 0; i < nthreads; i++)
        pthread_join(th[i], NULL);
    pthread_barrier_destroy(&start_line);
    free(th);
    st_free_problems(problems, num_problems);
    int f = atomic_load(&failures);
    printf("stress: %d threads, %d problems, %d calls, %d failures\n", nthreads, num_problems,
           atomic_load(&calls), f);
    return f != 0;
}
