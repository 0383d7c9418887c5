/*
 * demo.c — the main job of libsoftce in miniature.
 *
 * Trains a linear softmax classifier on synthetic data (Gaussian blobs, one per class) with
 * SOFT targets: each sample's target is a teacher's distribution over the classes (a softened
 * Bayes posterior of the blob it came from), as in knowledge distillation. Each mini-batch is
 * one softce_forward_backward() call, whose gradient overwrites the logits in place; the SGD
 * step is written here. Prints one line per epoch and exits non-zero if the loss did not fall.
 * Deterministic: its own random number generator, no time or thread dependence.
 *
 * SPDX-License-Identifier: MIT
 */
#include <softce/softce.h>

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

enum { FEATURES = 12, CLASSES = 6, TRAIN = 1200, TEST = 600, BATCH = 40, EPOCHS = 12 };

static const double blob_spread = 1.0;  /* standard deviation of the class means */
static const double noise = 1.0;        /* standard deviation around a class mean */
static const double teacher_temp = 2.0; /* > 1 softens the teacher's distribution */
static const float learning_rate = 0.05f;

typedef struct dataset {
    float x[TRAIN > TEST ? TRAIN : TEST][FEATURES];
    float teacher[TRAIN > TEST ? TRAIN : TEST][CLASSES];
    int label[TRAIN > TEST ? TRAIN : TEST];
    int count;
} dataset;

typedef struct model {
    float w[CLASSES][FEATURES];
    float b[CLASSES];
} model;

/* splitmix64: tiny, fast and good enough for synthetic data. */
static uint64_t rng_next(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in (0, 1]. */
static double rng_uniform(uint64_t *state) {
    return ((double)(rng_next(state) >> 11) + 1.0) / 9007199254740992.0;
}

/* Standard normal (Box-Muller; the second value is discarded for simplicity). */
static double rng_normal(uint64_t *state) {
    double u1 = rng_uniform(state), u2 = rng_uniform(state);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static void check(softce_status status, const char *what) {
    if (status != SOFTCE_OK) {
        fprintf(stderr, "demo: %s failed: %s (%s)\n", what, softce_status_name(status),
                softce_last_error());
        exit(2);
    }
}

static softce_tensor matrix(float *data, int64_t rows, int64_t cols) {
    softce_tensor t;
    int64_t shape[2] = {rows, cols};
    check(softce_tensor_init(&t, SOFTCE_DTYPE_F32, 2, shape, data), "softce_tensor_init");
    return t;
}

static softce_tensor scalar(float *data) {
    softce_tensor t;
    check(softce_tensor_init(&t, SOFTCE_DTYPE_F32, 0, NULL, data), "softce_tensor_init");
    return t;
}

/* Teacher: softmax over classes of -|x - mean_c|^2 / (2 noise^2 T), via softce_log_softmax. */
static void make_teacher(dataset *d, double means[CLASSES][FEATURES]) {
    for (int i = 0; i < d->count; i++) {
        for (int c = 0; c < CLASSES; c++) {
            double dist2 = 0.0;
            for (int f = 0; f < FEATURES; f++) {
                double diff = d->x[i][f] - means[c][f];
                dist2 += diff * diff;
            }
            d->teacher[i][c] = (float)(-dist2 / (2.0 * noise * noise * teacher_temp));
        }
    }
    softce_tensor t = matrix(&d->teacher[0][0], d->count, CLASSES);
    check(softce_log_softmax(NULL, &t, &t), "softce_log_softmax"); /* in place */
    for (int i = 0; i < d->count; i++)
        for (int c = 0; c < CLASSES; c++)
            d->teacher[i][c] = expf(d->teacher[i][c]);
}

static void make_data(dataset *d, int count, double means[CLASSES][FEATURES], uint64_t *rng) {
    d->count = count;
    for (int i = 0; i < count; i++) {
        int c = (int)(rng_next(rng) % CLASSES);
        d->label[i] = c;
        for (int f = 0; f < FEATURES; f++)
            d->x[i][f] = (float)(means[c][f] + noise * rng_normal(rng));
    }
    make_teacher(d, means);
}

static void predict(const model *m, const float *x, float *logits) {
    for (int c = 0; c < CLASSES; c++) {
        float z = m->b[c];
        for (int f = 0; f < FEATURES; f++)
            z += m->w[c][f] * x[f];
        logits[c] = z;
    }
}

/* One SGD step on the samples idx[0..n): returns the mean loss of the batch. */
static float train_batch(model *m, const dataset *d, const int *idx, int n,
                         const softce_options *opts) {
    static float logits[BATCH][CLASSES], target[BATCH][CLASSES];
    for (int i = 0; i < n; i++) {
        predict(m, d->x[idx[i]], logits[i]);
        for (int c = 0; c < CLASSES; c++)
            target[i][c] = d->teacher[idx[i]][c];
    }
    float loss = 0.0f;
    softce_tensor tl = matrix(&logits[0][0], n, CLASSES), tt = matrix(&target[0][0], n, CLASSES);
    softce_tensor tloss = scalar(&loss);
    /* Float target => soft target. grad_logits == logits: the gradient replaces the logits. */
    check(softce_forward_backward(opts, &tl, &tt, NULL, &tloss, &tl), "softce_forward_backward");
    for (int i = 0; i < n; i++) {
        for (int c = 0; c < CLASSES; c++) {
            float g = learning_rate * logits[i][c]; /* already divided by n (mean) */
            m->b[c] -= g;
            for (int f = 0; f < FEATURES; f++)
                m->w[c][f] -= g * d->x[idx[i]][f];
        }
    }
    return loss;
}

static float train_epoch(model *m, const dataset *d, int *order, uint64_t *rng,
                         const softce_options *opts) {
    for (int i = d->count - 1; i > 0; i--) { /* Fisher-Yates shuffle */
        int j = (int)(rng_next(rng) % (uint64_t)(i + 1));
        int tmp = order[i];
        order[i] = order[j];
        order[j] = tmp;
    }
    double total = 0.0;
    for (int start = 0; start < d->count; start += BATCH) {
        int n = d->count - start < BATCH ? d->count - start : BATCH;
        total += (double)train_batch(m, d, order + start, n, opts) * n;
    }
    return (float)(total / d->count);
}

/* Mean entropy of the teacher: the lowest loss any student can reach on these samples. */
static double teacher_entropy(const dataset *d) {
    double h = 0.0;
    for (int i = 0; i < d->count; i++)
        for (int c = 0; c < CLASSES; c++)
            h -= d->teacher[i][c] > 0.0f ? d->teacher[i][c] * log(d->teacher[i][c]) : 0.0;
    return h / d->count;
}

/* Loss (softce_forward) and accuracy against the true blob of each sample. */
static void evaluate(const model *m, const dataset *d, const softce_options *opts, float *loss,
                     float *accuracy) {
    static float logits[TEST][CLASSES];
    int correct = 0;
    for (int i = 0; i < d->count; i++) {
        predict(m, d->x[i], logits[i]);
        int best = 0;
        for (int c = 1; c < CLASSES; c++)
            best = logits[i][c] > logits[i][best] ? c : best;
        correct += best == d->label[i];
    }
    softce_tensor tl = matrix(&logits[0][0], d->count, CLASSES);
    softce_tensor tt = matrix((float *)&d->teacher[0][0], d->count, CLASSES);
    softce_tensor tloss = scalar(loss);
    check(softce_forward(opts, &tl, &tt, &tloss, NULL), "softce_forward");
    *accuracy = (float)correct / (float)d->count;
}

int main(void) {
    static dataset train, test;
    static model m; /* zero-initialised */
    static int order[TRAIN];
    static double means[CLASSES][FEATURES];
    uint64_t rng = 20260101u;

    for (int c = 0; c < CLASSES; c++)
        for (int f = 0; f < FEATURES; f++)
            means[c][f] = blob_spread * rng_normal(&rng);
    make_data(&train, TRAIN, means, &rng);
    make_data(&test, TEST, means, &rng);
    for (int i = 0; i < TRAIN; i++)
        order[i] = i;

    softce_options opts;
    softce_options_init(&opts); /* mean reduction, no smoothing, no class weights */
    opts.num_threads = 1;       /* batches this small are not worth a thread team */

    printf("libsoftce %s: %d classes, %d features, %d train / %d test samples\n",
           softce_version_string(), CLASSES, FEATURES, TRAIN, TEST);
    printf("soft targets from a teacher; lowest possible train loss (its entropy) %.4f\n",
           teacher_entropy(&train));
    float first = 0.0f, last = 0.0f, test_loss = 0.0f, test_acc = 0.0f;
    for (int epoch = 1; epoch <= EPOCHS; epoch++) {
        last = train_epoch(&m, &train, order, &rng, &opts);
        first = epoch == 1 ? last : first;
        evaluate(&m, &test, &opts, &test_loss, &test_acc);
        printf("epoch %2d  train loss %.4f  test loss %.4f  test acc %.3f\n", epoch, last,
               test_loss, test_acc);
    }
    if (!(last < first) || !(test_acc > 2.0f / CLASSES)) {
        fprintf(stderr, "demo: training did not converge (loss %.4f -> %.4f)\n", first, last);
        return 1;
    }
    return 0;
}
