/*
 * Tensors of more than 2^31 elements (about 4 GiB of bf16): no index arithmetic may overflow.
 * Needs ~4.7 GB of RAM and a minute, so it only runs when SOFTCE_TEST_LARGE=1 (ctest label
 * "large", run by .ci/hardening.sh); otherwise it reports "skipped" (exit code 77).
 *
 * A: (2^27 + 1, 16) bf16 logits, i32 class indices, forward_backward in place, sum: tile mode.
 * B: (2^21 + 1, 1024) bf16 logits (same memory), i64 class indices, forward (sum), then
 *    log_softmax in place: row mode.
 * Every row follows one of a few patterns whose results are computed in double here, and every
 * output element is checked, so a wrapped index anywhere shows up as a wrong value.
 */
#include "xref.h"

#include <softce/softce.h>

#include <stdio.h>
#include <stdlib.h>

#define A_C 16
#define A_N (((int64_t)1 << 27) + 1)
#define B_C 1024
#define B_N (((int64_t)1 << 21) + 1)
#define B_PATTERNS 64

static int failures;

static void expect(int ok, const char *what, int64_t index, double got, double want) {
    if (!ok && failures++ < 10)
        fprintf(stderr, "%s[%lld]: got %.9g, want %.9g\n", what, (long long)index, got, want);
}

/* |got - want| within one bf16 rounding (8 significant bits) of want. */
static int bf16_close(double got, double want) {
    return fabs(got - want) <= 0x1.0p-7 * fabs(want) + 1e-12;
}

static double a_value(int64_t r, int c) { return (double)((c + r) % A_C) * 0.25 - 2.0; }

static void case_a(uint16_t *x) {
    int32_t *t = malloc((size_t)A_N * sizeof *t);
    double want_grad[A_C][A_C][A_C], want_loss[A_C][A_C], row[A_C], loss = 0.0, total = 0.0;
    for (int k = 0; k < A_C; k++) /* pattern: rotation k = r % 16, class j */
        for (int j = 0; j < A_C; j++) {
            for (int c = 0; c < A_C; c++)
                row[c] = a_value(k, c);
            want_loss[k][j] = xr_row(row, A_C, j, NULL, 0.0, 1.0, want_grad[k][j]);
        }
    for (int64_t r = 0; r < A_N; r++) {
        t[r] = (int32_t)((r / A_C) % A_C);
        for (int c = 0; c < A_C; c++)
            x[r * A_C + c] = xr_to_bf16(a_value(r, c));
        total += want_loss[r % A_C][t[r]];
    }
    softce_options o;
    softce_options_init(&o);
    o.reduction = SOFTCE_REDUCTION_SUM;
    const int64_t xs[2] = {A_N, A_C}, ts[1] = {A_N};
    softce_tensor X, T, L;
    softce_tensor_init(&X, SOFTCE_DTYPE_BF16, 2, xs, x);
    softce_tensor_init(&T, SOFTCE_DTYPE_I32, 1, ts, t);
    softce_tensor_init(&L, SOFTCE_DTYPE_F64, 0, NULL, &loss);
    softce_status st = softce_forward_backward(&o, &X, &T, NULL, &L, &X);
    expect(st == SOFTCE_OK, "A status", 0, st, 0);
    expect(fabs(loss - total) <= 1e-6 * total, "A loss", 0, loss, total);
    for (int64_t r = 0; r < A_N; r++) {
        const double *w = want_grad[r % A_C][t[r]];
        for (int c = 0; c < A_C; c++) {
            double g = xr_from_bf16(x[r * A_C + c]);
            expect(bf16_close(g, w[c]), "A grad", r * A_C + c, g, w[c]);
        }
    }
    free(t);
}

static double b_value(int64_t r, int64_t c) {
    return (double)((c * 5 + r) % B_PATTERNS) * 0.125 - 4.0;
}

static void case_b(uint16_t *x) {
    int64_t *t = malloc((size_t)B_N * sizeof *t);
    static double want[B_PATTERNS][B_C];
    double row[B_C], loss = 0.0, total = 0.0;
    xr_stats stats[B_PATTERNS];
    for (int k = 0; k < B_PATTERNS; k++) {
        for (int c = 0; c < B_C; c++)
            row[c] = b_value(k, c);
        stats[k] = xr_stats_of(row, B_C);
        for (int c = 0; c < B_C; c++)
            want[k][c] = xr_log_softmax(row[c], stats[k]);
    }
    for (int64_t r = 0; r < B_N; r++) {
        t[r] = (r * 7) % B_C;
        for (int64_t c = 0; c < B_C; c++)
            x[r * B_C + c] = xr_to_bf16(b_value(r, c));
        total -= want[r % B_PATTERNS][t[r]];
    }
    softce_options o;
    softce_options_init(&o);
    o.reduction = SOFTCE_REDUCTION_SUM;
    const int64_t xs[2] = {B_N, B_C}, ts[1] = {B_N};
    softce_tensor X, T, L;
    softce_tensor_init(&X, SOFTCE_DTYPE_BF16, 2, xs, x);
    softce_tensor_init(&T, SOFTCE_DTYPE_I64, 1, ts, t);
    softce_tensor_init(&L, SOFTCE_DTYPE_F64, 0, NULL, &loss);
    softce_status st = softce_forward(&o, &X, &T, &L, NULL);
    expect(st == SOFTCE_OK, "B forward status", 0, st, 0);
    expect(fabs(loss - total) <= 1e-6 * total, "B loss", 0, loss, total);
    st = softce_log_softmax(NULL, &X, &X);
    expect(st == SOFTCE_OK, "B log_softmax status", 0, st, 0);
    for (int64_t r = 0; r < B_N; r++)
        for (int64_t c = 0; c < B_C; c++) {
            double y = xr_from_bf16(x[r * B_C + c]), w = want[r % B_PATTERNS][c];
            expect(bf16_close(y, w), "B log_softmax", r * B_C + c, y, w);
        }
    free(t);
}

int main(void) {
    const char *on = getenv("SOFTCE_TEST_LARGE");
    if (!on || on[0] != '1') {
        printf("skipped: set SOFTCE_TEST_LARGE=1 to run (needs ~4.7 GB of RAM)\n");
        return 77;
    }
    size_t n = (size_t)(B_N * B_C > A_N * A_C ? B_N * B_C : A_N * A_C);
    uint16_t *x = malloc(n * sizeof *x);
    if (!x) {
        fprintf(stderr, "cannot allocate %zu bytes\n", n * sizeof *x);
        return 1;
    }
    case_a(x);
    case_b(x);
    free(x);
    printf("%s: %zu-element bf16 tensors (2^31 = %lld)\n", failures ? "FAILED" : "passed", n,
           1LL << 31);
    return failures != 0;
}
