/* A downstream program: built against an installed libsoftce by the install tests. */
#include <softce/softce.h>

#include <math.h>
#include <stdio.h>

/* Soft-target loss of one sample, in double, written independently of the library. */
static double reference_loss(const float *x, const float *q, int n) {
    double m = x[0], s = 0.0, dot = 0.0;
    for (int i = 1; i < n; i++)
        m = x[i] > m ? x[i] : m;
    for (int i = 0; i < n; i++)
        s += exp(x[i] - m);
    for (int i = 0; i < n; i++)
        dot += q[i] * (x[i] - m - log(s));
    return -dot;
}

int main(void) {
    float logits[3] = {1.0f, 2.0f, 3.0f}, target[3] = {0.2f, 0.3f, 0.5f}, loss = -1.0f;
    int64_t shape[1] = {3};
    softce_tensor x, t, l;
    if (softce_version() != SOFTCE_VERSION_NUMBER) {
        fprintf(stderr, "header %s but library %s\n", SOFTCE_VERSION_STRING,
                softce_version_string());
        return 1;
    }
    softce_tensor_init(&x, SOFTCE_DTYPE_F32, 1, shape, logits);
    softce_tensor_init(&t, SOFTCE_DTYPE_F32, 1, shape, target);
    softce_tensor_init(&l, SOFTCE_DTYPE_F32, 0, NULL, &loss);
    softce_status s = softce_forward(NULL, &x, &t, &l, NULL);
    double want = reference_loss(logits, target, 3);
    if (s != SOFTCE_OK || fabs(loss - want) > 1e-6 * fabs(want)) {
        fprintf(stderr, "softce_forward: %s %s, loss %.9g, want %.9g\n", softce_status_name(s),
                softce_last_error(), loss, want);
        return 1;
    }
    printf("consumer OK: libsoftce %s, loss %.6f\n", softce_version_string(), loss);
    return 0;
}
